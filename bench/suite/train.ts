// Suite part: head training, edgetune's linear and adapter heads against the same head in @tensorflow/tfjs layers on the CPU and WASM backends (same data, epochs, batch, Adam, init); ratios per repeat, interleaved.
// Run alone: node --import tsx bench/suite/train.ts [--reps 3]
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { arg, fmnistEmbeddings, median, report, type EmbeddingSet } from './common.js';
import { accuracy, trainEdgetune, type TrainSettings } from './heads.js';

const reps = Number(arg('reps', '3'));
const require = createRequire(import.meta.url);
setWasmPaths(`${dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'))}/dist/`);

function slice(s: EmbeddingSet, from: number, to: number): EmbeddingSet {
  return { x: s.x.slice(from, to), y: s.y.slice(from, to), dim: s.dim, classes: s.classes };
}

function tfModel(dim: number, classes: number, st: TrainSettings): tf.LayersModel {
  const input = tf.input({ shape: [dim] });
  let a: tf.SymbolicTensor = input;
  if (st.kind === 'adapter') {
    // Same residual adapter as edgetune's: a = x + W2·relu(W1·x + b1), W2 zero-initialised, no bias on W2.
    const h = tf.layers
      .dense({ units: st.hidden, activation: 'relu', kernelInitializer: 'heNormal' })
      .apply(input) as tf.SymbolicTensor;
    const r = tf.layers.dense({ units: dim, useBias: false, kernelInitializer: 'zeros' }).apply(h) as tf.SymbolicTensor;
    a = tf.layers.add().apply([input, r]) as tf.SymbolicTensor;
  }
  const out = tf.layers
    .dense({ units: classes, activation: 'softmax', kernelInitializer: 'zeros' })
    .apply(a) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: out });
  m.compile({ optimizer: tf.train.adam(st.lr, 0.9, 0.999, 1e-8), loss: 'categoricalCrossentropy' });
  return m;
}

async function trainTfjs(
  backend: 'cpu' | 'wasm',
  train: EmbeddingSet,
  test: EmbeddingSet,
  st: TrainSettings,
): Promise<{ ms: number; acc: number }> {
  await tf.setBackend(backend);
  await tf.ready();
  const flat = (s: EmbeddingSet): Float32Array => {
    const f = new Float32Array(s.x.length * s.dim);
    s.x.forEach((v, i) => f.set(v, i * s.dim));
    return f;
  };
  const xs = tf.tensor2d(flat(train), [train.x.length, train.dim]);
  const ys = tf.oneHot(tf.tensor1d(Array.from(train.y), 'int32'), train.classes).toFloat();
  const m = tfModel(train.dim, train.classes, st);
  const t0 = performance.now();
  await m.fit(xs, ys, { epochs: st.epochs, batchSize: st.batch, shuffle: true, verbose: 0 });
  const ms = performance.now() - t0;
  const tx = tf.tensor2d(flat(test), [test.x.length, test.dim]);
  const pred = tf.tidy(() => (m.predict(tx) as tf.Tensor).argMax(1));
  const p = await pred.data();
  let ok = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === test.y[i]) ok++;
  tf.dispose([xs, ys, tx, pred]);
  m.dispose();
  return { ms, acc: ok / test.x.length };
}

const all = await fmnistEmbeddings();
const train = slice(all, 0, 2000);
const test = slice(all, 2000, 5000);
for (const kind of ['linear', 'adapter'] as const) {
  const st: TrainSettings = { kind, hidden: 32, epochs: 10, batch: 32, lr: 0.01, seed: 1 };
  const et: number[] = [];
  for (let r = 0; r < reps; r++) {
    // Rotate the order so no contender always runs on the warmest (or most contended) slot.
    const order = (['edgetune', 'cpu', 'wasm'] as const).map((_, i, a) => a[(i + r) % a.length]!);
    const res: Record<string, { ms: number; acc: number; cpu: number }> = {};
    for (const who of order) {
      const c0 = process.cpuUsage();
      if (who === 'edgetune') {
        const t0 = performance.now();
        const h = trainEdgetune(train, st);
        const ms = performance.now() - t0;
        res[who] = { ms, acc: accuracy(test, h.predict), cpu: 0 };
        et.push(ms);
      } else res[who] = { ...(await trainTfjs(who, train, test, st)), cpu: 0 };
      // Process CPU time (all threads) beside wall time: on a shared machine it is the steadier of the two.
      const c = process.cpuUsage(c0);
      res[who]!.cpu = (c.user + c.system) / 1000;
    }
    const e = res['edgetune']!;
    for (const peer of ['cpu', 'wasm'] as const) {
      const q = res[peer]!;
      report({
        row: `train/${kind}/tfjs-${peer}`,
        value: q.ms / e.ms,
        detail: {
          edgetuneMs: e.ms,
          peerMs: q.ms,
          edgetuneCpuMs: e.cpu,
          peerCpuMs: q.cpu,
          edgetuneAcc: e.acc,
          peerAcc: q.acc,
          n: train.x.length,
          dim: train.dim,
          epochs: st.epochs,
          batch: st.batch,
        },
      });
      report({ row: `train/${kind}/tfjs-${peer}/cpu`, value: q.cpu / e.cpu, detail: {} });
    }
  }
  process.stderr.write(`train ${kind}: edgetune median ${median(et).toFixed(0)} ms\n`);
}
