// WASM-vs-native study on the shipped int8 encoder: whole-model time of onnxruntime-web WASM variants (graph optimisation level, CPU memory arena + pattern, first convolution in fp32, the fp32 twin) against onnxruntime-node native, one thread, blocks interleaved round-robin in one process.
// Run: /usr/bin/python3 bench/wasm-gap/variants.py models/fmnist-cnn-vicreg-int8.onnx .cache/wasm-gap && node --import tsx bench/wasm-gap/run.ts [--rounds 8] [--batch 32]
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { cosine } from '../../src/runtime/selfcheck.js';
import { MODELS, ROOT, arg, median } from '../suite/common.js';

const rounds = Number(arg('rounds', '8'));
const batch = Number(arg('batch', '32'));
ortWeb.env.wasm.numThreads = 1;
const shipped = join(MODELS, 'fmnist-cnn-vicreg-int8.onnx');
const firstFp32 = join(ROOT, '.cache', 'wasm-gap', 'first-conv-fp32.onnx');
const fp32 = join(MODELS, 'fmnist-cnn-vicreg-fp32.onnx');
if (!existsSync(firstFp32))
  throw new Error(`${firstFp32} missing: run bench/wasm-gap/variants.py first (see the header)`);

const x = Float32Array.from({ length: batch * 784 }, (_, k) => Math.sin(k * 0.37) * 0.8);
const shape = [batch, 1, 28, 28];
type Run = () => Promise<Float32Array>;
const web = async (file: string, opts: ortWeb.InferenceSession.SessionOptions): Promise<Run> => {
  const s = await ortWeb.InferenceSession.create(new Uint8Array(readFileSync(file)), {
    executionProviders: ['wasm'],
    ...opts,
  });
  const feeds = { [s.inputNames[0]!]: new ortWeb.Tensor('float32', x, shape) };
  return async () => (await s.run(feeds))[s.outputNames[0]!]!.data as Float32Array;
};
const native = async (file: string): Promise<Run> => {
  const s = await ortNode.InferenceSession.create(file, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const feeds = { [s.inputNames[0]!]: new ortNode.Tensor('float32', x, shape) };
  return async () => (await s.run(feeds))[s.outputNames[0]!]!.data as Float32Array;
};

const variants: Array<[string, Run]> = [
  ['native int8 (shipped)', await native(shipped)],
  ['native int8, first conv fp32', await native(firstFp32)],
  ['native fp32', await native(fp32)],
  ['wasm int8 (shipped), opt all', await web(shipped, { graphOptimizationLevel: 'all' })],
  ['wasm int8, opt extended', await web(shipped, { graphOptimizationLevel: 'extended' })],
  ['wasm int8, opt basic', await web(shipped, { graphOptimizationLevel: 'basic' })],
  [
    'wasm int8, mem arena + pattern on (ORT-web default: off)',
    await web(shipped, { graphOptimizationLevel: 'all', enableCpuMemArena: true, enableMemPattern: true }),
  ],
  ['wasm int8, first conv fp32', await web(firstFp32, { graphOptimizationLevel: 'all' })],
  ['wasm fp32', await web(fp32, { graphOptimizationLevel: 'all' })],
];
// Past the WebAssembly tier-up for every web variant (kernels differ per variant).
for (const [name, r] of variants) for (let i = 0; i < (name.startsWith('wasm') ? 60 : 10); i++) await r();
const ref = await variants[0]![1]();
const agree = new Map<string, number>();
for (const [name, r] of variants) {
  const out = await r();
  let worst = 1;
  for (let i = 0; i < batch; i++)
    worst = Math.min(worst, cosine(out.subarray(i * 256, (i + 1) * 256), ref.subarray(i * 256, (i + 1) * 256)));
  agree.set(name, worst);
}
const times = new Map<string, number[]>(variants.map(([n]) => [n, []]));
for (let r = 0; r < rounds; r++) {
  for (const [name, run] of variants) {
    const t: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t0 = performance.now();
      await run();
      t.push(performance.now() - t0);
    }
    times.get(name)!.push(median(t));
  }
}
const base = median(times.get('native int8 (shipped)')!);
const wasmShipped = median(times.get('wasm int8 (shipped), opt all')!);
console.log(
  `batch ${batch}, 1 thread, ${rounds} rounds × 10 calls per variant, interleaved; medians of block medians\n`,
);
console.log('| variant | ms | / native int8 | / shipped WASM | min cosine vs native int8 |');
console.log('|---|---:|---:|---:|---:|');
for (const [name] of variants) {
  const m = median(times.get(name)!);
  console.log(
    `| ${name} | ${m.toFixed(2)} | ${(m / base).toFixed(1)}× | ${(m / wasmShipped).toFixed(2)} | ${agree.get(name)!.toFixed(5)} |`,
  );
}
process.exit(0);
