// Memory left behind by failed Encoder.open calls (issue 14): RSS after N opens that fail at warm-up (wrong output.dim), against a baseline of N opens that succeed and are disposed, in the same process.
import { readFileSync } from 'node:fs';
import { Encoder } from '../src/runtime/index.js';

const id = process.argv[2] ?? 'fmnist-cnn-vicreg-int8';
const n = Number(process.argv[3] ?? 200);
const manifest = JSON.parse(readFileSync(new URL(`../models/${id}.json`, import.meta.url), 'utf8')) as {
  output: { dim: number };
};
const bytes = new Uint8Array(readFileSync(new URL(`../models/${id}.onnx`, import.meta.url)));
const bad = { ...manifest, output: { ...manifest.output, dim: manifest.output.dim + 1 } };
const gc = (globalThis as { gc?: () => void }).gc;
const rss = (): number => {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
};

async function phase(name: string, fn: () => Promise<void>): Promise<number> {
  const r0 = rss();
  for (let k = 0; k < n; k++) await fn();
  const grown = rss() - r0;
  console.log(`${name}: RSS +${grown.toFixed(1)} MB over ${n} opens (${((grown / n) * 1024).toFixed(0)} KB per open)`);
  return grown;
}

// Warm the runtime first so its one-time allocations are not counted.
await (await Encoder.open({ manifest, bytes }, { device: 'wasm' })).dispose();
const ok = await phase('open + dispose (baseline)', async () =>
  (await Encoder.open({ manifest, bytes }, { device: 'wasm' })).dispose(),
);
const failed = await phase('open failing at warm-up', async () => {
  await Encoder.open({ manifest: bad, bytes }, { device: 'wasm' }).then(
    () => Promise.reject(new Error('expected a failure')),
    () => undefined,
  );
});
console.log(
  `model ${id} (${(bytes.byteLength / 1024).toFixed(0)} KB); failed − baseline: ${(((failed - ok) / n) * 1024).toFixed(0)} KB per open`,
);
