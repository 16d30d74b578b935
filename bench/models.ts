// Shipped encoders on onnxruntime-web WASM in Node: fp32 vs int8 latency and size ratios (one process, same inputs).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-web';
import { loadFmnistSample } from '../scripts/lib/fmnist.js';

const MODELS = join(import.meta.dirname, '..', 'models');
const BATCHES = [1, 32];
const REPS = Number(process.env['BENCH_REPS'] ?? 40);

interface Manifest {
  id: string;
  file: string;
  bytes: number;
}

async function timeModel(file: string, x: Float32Array, n: number): Promise<number> {
  const session = await ort.InferenceSession.create(await readFile(join(MODELS, file)), {
    executionProviders: ['wasm'],
  });
  const feeds = { input: new ort.Tensor('float32', x.subarray(0, n * 784), [n, 1, 28, 28]) };
  // Past V8's WebAssembly tier-up first: a fresh process runs its first ~40-60 calls on baseline code, 10-70x slower.
  for (let i = 0; i < (n === 1 ? 300 : 20); i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < REPS; i++) {
    const t = performance.now();
    await session.run(feeds);
    times.push(performance.now() - t);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

const index = JSON.parse(await readFile(join(MODELS, 'index.json'), 'utf8')) as { default: string };
const load = async (id: string): Promise<Manifest> =>
  JSON.parse(await readFile(join(MODELS, `${id}.json`), 'utf8')) as Manifest;
const int8 = await load(index.default);
const fp32 = await load(index.default.replace(/-int8$/, '-fp32'));
const sample = await loadFmnistSample();
const x = new Float32Array(64 * 784);
for (let i = 0; i < x.length; i++) x[i] = (sample.images[i]! / 255 - 0.286) / 0.353;
console.log(
  `onnxruntime-web ${ort.env.versions.web} wasm, threads=${ort.env.wasm.numThreads ?? 1}, median of ${REPS} runs`,
);
console.log(`size  fp32 ${fp32.bytes} B  int8 ${int8.bytes} B  fp32/int8 = ${(fp32.bytes / int8.bytes).toFixed(2)}x`);
for (const n of BATCHES) {
  // Alternate the order so neither model always runs on a warmer machine.
  const a1 = await timeModel(fp32.file, x, n);
  const b1 = await timeModel(int8.file, x, n);
  const b2 = await timeModel(int8.file, x, n);
  const a2 = await timeModel(fp32.file, x, n);
  const f = (a1 + a2) / 2;
  const q = (b1 + b2) / 2;
  console.log(
    `batch ${String(n).padStart(2)}: fp32 ${f.toFixed(3)} ms  int8 ${q.toFixed(3)} ms  fp32/int8 latency = ${(f / q).toFixed(2)}x`,
  );
}
