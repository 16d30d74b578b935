// Suite part (a fresh process per setting, since tier-up happens once per process): what Encoder.open's warm-up costs and what it buys — open time, and the first batch-1 embeds after open resolves.
// Run alone: node --import tsx bench/suite/warmup.ts --warmup auto|1
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Encoder, type ModelManifest, type WarmupOption } from '../../src/runtime/index.js';
import { loadFmnistSample } from '../../scripts/lib/fmnist.js';
import { MODELS, arg, defaultModels, median, report } from './common.js';

const w = arg('warmup', 'auto');
const warmup: WarmupOption = w === 'auto' ? 'auto' : Number(w);
const m = JSON.parse(readFileSync(join(MODELS, defaultModels().int8), 'utf8')) as ModelManifest;
const bytes = new Uint8Array(readFileSync(join(MODELS, m.file)));
const s = await loadFmnistSample();
const t0 = performance.now();
const enc = await Encoder.open({ manifest: m, bytes }, { device: 'wasm', warmup, selfCheck: false });
const openMs = performance.now() - t0;
const t: number[] = [];
for (let i = 0; i < 50; i++) {
  const img = { data: s.images.slice(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 as const };
  const a = performance.now();
  await enc.embed([img]);
  t.push(performance.now() - a);
}
const d = enc.diagnostics.warmup!;
report({
  row: `warmup/${w}`,
  value: median(t.slice(0, 10)),
  detail: {
    openMs,
    first10MedianMs: median(t.slice(0, 10)),
    first50SumMs: t.reduce((x, y) => x + y, 0),
    last10MedianMs: median(t.slice(40)),
    warmupRuns: d.runs,
    warmupMs: d.ms,
    stopped: d.stopped,
  },
});
await enc.dispose();
process.exit(0);
