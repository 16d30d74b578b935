// Browser page for the two-tab test: waits for the go signal, then adapts (read-modify-write under the lock) n times alongside another tab.
import { report } from '../harness-page.js';
import { openStorage } from '../../../src/storage/index.js';

const q = new URLSearchParams(location.search);
const who = q.get('who') ?? 'x';
const n = Number(q.get('n') ?? '10');
const w = globalThis as unknown as { __go?: boolean; __ready?: boolean };

report(async () => {
  const store = await openStorage({ name: 'tabs' });
  const heard: number[] = [];
  store.on('checkpoint', (e) => {
    if (e.source === 'remote') heard.push(e.version);
  });
  w.__ready = true;
  while (!w.__go) await new Promise((r) => setTimeout(r, 5));
  const c = store.checkpoints<{ items: string[]; emb: Float32Array }>();
  const versions: number[] = [];
  for (let i = 0; i < n; i++) {
    const r = await c.update((cur) => ({
      items: [...(cur?.payload.items ?? []), `${who}${i}`],
      emb: new Float32Array(128 * 64).fill(i),
    }));
    versions.push(r.version);
    await store.samples().add([{ who, i }]);
    // Yield so the other tab's lock request interleaves.
    await new Promise((r) => setTimeout(r, Math.random() * 5));
  }
  await new Promise((r) => setTimeout(r, 200));
  const final = await c.load();
  await store.dispose();
  return { versions, heard: heard.length, finalVersion: final?.version ?? 0, items: final?.payload.items ?? [] };
});
