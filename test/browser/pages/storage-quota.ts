// Browser page for the quota test (Node lowers this origin's quota over CDP first): fills storage until the browser refuses, then checks the previous state.
import { report } from '../harness-page.js';
import { sha256Hex } from '../../../src/core/hash.js';
import { isEdgetuneError } from '../../../src/core/errors.js';
import { openStorage } from '../../../src/storage/index.js';

function bytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 24;
  }
  return out;
}

report(async () => {
  const store = await openStorage({ name: 'quota' });
  const est0 = await store.estimate();
  const c = store.checkpoints<{ v: number; blob: Uint8Array }>();
  const m = bytes(1_500_000, 1);
  await store.putModel('cached-encoder', { sha256: await sha256Hex(m) }, m);
  let lastCommitted = 0;
  let quotaError: { code: string; message: string } | undefined;
  const evicted: string[] = [];
  store.on('evicted', (e) => evicted.push(...e.ids));
  // Random (incompressible) payloads of growing size until the browser refuses one.
  for (let i = 1; i <= 60 && !quotaError; i++) {
    try {
      const r = await c.save({ v: i, blob: bytes(400_000 * i, 100 + i) });
      lastCommitted = r.version;
    } catch (e) {
      if (isEdgetuneError(e, 'QUOTA_EXCEEDED')) quotaError = { code: e.code, message: e.message };
      else throw e;
    }
  }
  const cur = await c.load();
  const intact =
    cur !== undefined &&
    cur.payload.v === lastCommitted &&
    (await sha256Hex(cur.payload.blob)) === (await sha256Hex(bytes(400_000 * lastCommitted, 100 + lastCommitted)));
  // The profile still takes small writes after the refusal.
  await store.meta.set('after-quota', 'still writable');
  const after = await store.meta.get('after-quota');
  const est = await store.estimate();
  const persisted = await store.persist();
  const listed = (await c.list()).map((v) => v.version);
  await store.dispose();
  return {
    quota0: est0.quota,
    quota: est.quota,
    usage: est.usage,
    lastCommitted,
    currentVersion: cur?.version,
    intact,
    quotaError,
    evicted,
    after,
    persisted,
    listed,
  };
});
