// Head training throughput at 1k/10k embeddings × 256/384/768 dims: edgetune's linear and adapter heads against the same head in tfjs layers on tfjs-backend-wasm (the faster tfjs backend), interleaved, one epoch each.
// Run: npm run bench:train-scale [-- --reps 2] [--sizes 1000,10000] [--dims 256,384,768]
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { arg, median, syntheticEmbeddings } from './suite/common.js';
import { trainEdgetune, type TrainSettings } from './suite/heads.js';

const reps = Number(arg('reps', '2'));
const sizes = arg('sizes', '1000,10000').split(',').map(Number);
const dims = arg('dims', '256,384,768').split(',').map(Number);
const require = createRequire(import.meta.url);
setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`);
await tf.setBackend('wasm');
await tf.ready();

console.log(
  `# head training, 1 epoch, batch 32, Adam; synthetic unit-norm clusters, 10 classes; tfjs ${tf.version.tfjs} wasm; median of ${reps}; Node ${process.version}\n`,
);
console.log('| n | dim | head | edgetune ms | µs/sample | tfjs-wasm ms | speed-up |');
console.log('|---:|---:|---|---:|---:|---:|---:|');
for (const n of sizes) {
  for (const dim of dims) {
    const d = syntheticEmbeddings(n, dim, 10);
    const flat = new Float32Array(n * dim);
    d.x.forEach((v, i) => flat.set(v, i * dim));
    for (const kind of ['linear', 'adapter'] as const) {
      const st: TrainSettings = { kind, hidden: 32, epochs: 1, batch: 32, lr: 0.01, seed: 1 };
      const e: number[] = [];
      const p: number[] = [];
      for (let r = 0; r < reps; r++) {
        const runE = (): void => {
          const t0 = performance.now();
          trainEdgetune(d, st);
          e.push(performance.now() - t0);
        };
        const runP = async (): Promise<void> => {
          const input = tf.input({ shape: [dim] });
          let a: tf.SymbolicTensor = input;
          if (kind === 'adapter') {
            const h = tf.layers
              .dense({ units: 32, activation: 'relu', kernelInitializer: 'heNormal' })
              .apply(input) as tf.SymbolicTensor;
            a = tf.layers
              .add()
              .apply([
                input,
                tf.layers
                  .dense({ units: dim, useBias: false, kernelInitializer: 'zeros' })
                  .apply(h) as tf.SymbolicTensor,
              ]) as tf.SymbolicTensor;
          }
          const m = tf.model({
            inputs: input,
            outputs: tf.layers
              .dense({ units: 10, activation: 'softmax', kernelInitializer: 'zeros' })
              .apply(a) as tf.SymbolicTensor,
          });
          m.compile({ optimizer: tf.train.adam(0.01, 0.9, 0.999, 1e-8), loss: 'categoricalCrossentropy' });
          const xs = tf.tensor2d(flat, [n, dim]);
          const ys = tf.oneHot(tf.tensor1d(Array.from(d.y), 'int32'), 10).toFloat();
          const t0 = performance.now();
          await m.fit(xs, ys, { epochs: 1, batchSize: 32, shuffle: true, verbose: 0 });
          p.push(performance.now() - t0);
          tf.dispose([xs, ys]);
          m.dispose();
        };
        if (r % 2) {
          await runP();
          runE();
        } else {
          runE();
          await runP();
        }
      }
      const me = median(e);
      const mp = median(p);
      console.log(
        `| ${n} | ${dim} | ${kind} | ${me.toFixed(0)} | ${((1000 * me) / n).toFixed(1)} | ${mp.toFixed(0)} | ${(mp / me).toFixed(2)}× |`,
      );
    }
  }
}
