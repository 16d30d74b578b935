// Memory: peak JS heap and RSS while embedding and adapting 10k images, then an embed + observe + adapt soak whose RSS/heap slope after warm-up tells a leak from noise.
// Run: npm run bench:soak [-- --minutes 10] [--n 10000]   (--minutes 0: only the 10k pass)
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Learner } from '../src/finetune/index.js';
import { Encoder, type ModelManifest, type RawPixels } from '../src/runtime/index.js';
import { loadFmnistSample } from '../scripts/lib/fmnist.js';
import { MODELS, arg, defaultModels } from './suite/common.js';

const minutes = Number(arg('minutes', '2'));
const n = Number(arg('n', '10000'));
const MB = 1024 * 1024;
const m = JSON.parse(readFileSync(join(MODELS, defaultModels().int8), 'utf8')) as ModelManifest;
const s = await loadFmnistSample();
const image = (i: number): RawPixels => {
  const k = i % s.count;
  return { data: s.images.subarray(k * 784, (k + 1) * 784), width: 28, height: 28, channels: 1 };
};
const base = process.memoryUsage();
let peakRss = base.rss;
let peakHeap = base.heapUsed;
const sample = (): NodeJS.MemoryUsage => {
  const u = process.memoryUsage();
  peakRss = Math.max(peakRss, u.rss);
  peakHeap = Math.max(peakHeap, u.heapUsed);
  return u;
};

const enc = await Encoder.open(
  { manifest: m, bytes: new Uint8Array(readFileSync(join(MODELS, m.file))) },
  { device: 'wasm', batchSize: 32 },
);
const learner = new Learner({ dim: enc.dim, seed: 1 });
for (let i = 0; i < 50; i++) {
  const [e] = await enc.embed([image(i)]);
  learner.addLabeled(e!, s.classes[s.labels[i % s.count]!]!);
}
await learner.adapt();
sample();
// Pass 1: n images embedded in batches of 32, each observed; adapt whenever the learner asks.
const t0 = performance.now();
let adapts = 0;
for (let i = 0; i < n; i += 32) {
  const embs = await enc.embed(Array.from({ length: Math.min(32, n - i) }, (_, k) => image(50 + i + k)));
  let due = false;
  for (const e of embs) due = learner.observe(e).adaptDue || due;
  if (due) {
    await learner.adapt();
    adapts++;
  }
  sample();
}
console.log(
  `# memory, ${n} images (embed + observe + ${adapts} adapts) in ${((performance.now() - t0) / 1000).toFixed(0)} s, ${m.id} (${m.bytes} B), Node ${process.version}`,
);
console.log(
  `baseline rss ${(base.rss / MB).toFixed(1)} MB heap ${(base.heapUsed / MB).toFixed(1)} MB; peak rss ${(peakRss / MB).toFixed(1)} MB heap ${(peakHeap / MB).toFixed(1)} MB`,
);

if (minutes > 0) {
  // Soak: the same loop for `minutes`, one point every 5 s; the slope is fitted after the first fifth (warm-up).
  const pts: Array<{ t: number; rss: number; heap: number }> = [];
  const start = performance.now();
  let last = 0;
  let i = 0;
  while (performance.now() - start < minutes * 60_000) {
    const embs = await enc.embed(Array.from({ length: 32 }, (_, k) => image(i + k)));
    i += 32;
    let due = false;
    for (const e of embs) due = learner.observe(e).adaptDue || due;
    if (due) await learner.adapt();
    const now = performance.now() - start;
    if (now - last >= 5000) {
      last = now;
      const u = sample();
      pts.push({ t: now / 60_000, rss: u.rss / MB, heap: u.heapUsed / MB });
    }
  }
  const fit = pts.slice(Math.floor(pts.length / 5));
  const slope = (key: 'rss' | 'heap'): number => {
    const mt = fit.reduce((a, p) => a + p.t, 0) / fit.length;
    const mv = fit.reduce((a, p) => a + p[key], 0) / fit.length;
    let num = 0;
    let den = 0;
    for (const p of fit) {
      num += (p.t - mt) * (p[key] - mv);
      den += (p.t - mt) ** 2;
    }
    return num / den;
  };
  console.log(
    `soak ${minutes} min, ${i} images, ${learner.stats().adaptations} adapts: rss slope ${slope('rss').toFixed(2)} MB/min, heap slope ${slope('heap').toFixed(2)} MB/min after warm-up (${fit.length} points); rss ${fit[0]?.rss.toFixed(1)} → ${fit[fit.length - 1]?.rss.toFixed(1)} MB, heap ${fit[0]?.heap.toFixed(1)} → ${fit[fit.length - 1]?.heap.toFixed(1)} MB`,
  );
}
await enc.dispose();
learner.dispose();
process.exit(0);
