// Browser page: every storage behaviour case (the same ones Node runs on fake-indexeddb) on Chromium's real IndexedDB, Web Locks and BroadcastChannel.
import { report } from '../harness-page.js';
import { CASES } from '../../storage/behaviour.js';

report(async () => {
  const results: { name: string; ok: boolean; error?: string }[] = [];
  const env = { factory: indexedDB, keyRange: IDBKeyRange, iterations: 1000 };
  for (const c of CASES) {
    try {
      await c.run(env);
      results.push({ name: c.name, ok: true });
    } catch (e) {
      results.push({
        name: c.name,
        ok: false,
        error: e instanceof Error ? `${e.message}\n${e.stack ?? ''}` : String(e),
      });
    }
  }
  return { results, locks: 'locks' in navigator, secure: isSecureContext };
});
