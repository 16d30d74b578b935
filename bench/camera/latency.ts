// Batch-1 latency of shipped encoders: onnxruntime-web WASM (1 thread) vs onnxruntime-node native (1 thread), interleaved, medians and ratio.
//
//   node --import tsx bench/camera/latency.ts [models/rgb-cam-vicreg-int8.json ...]
//
// Each session first runs 300 warm-up calls: V8 tiers WASM up lazily, and the first ~100 int8 calls
// run 15-30x slower than steady state. Rounds alternate web and native so machine load hits both.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { ROOT } from './data.js';

interface M {
  id: string;
  file: string;
  bytes: number;
  input: { name: string; channels: number; height: number; width: number };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

async function main(): Promise<void> {
  const files = process.argv.slice(2);
  if (!files.length)
    files.push(
      join(ROOT, 'models', 'rgb-cam-vicreg-int8.json'),
      join(ROOT, 'models', 'rgb-cam-vicreg-fp32.json'),
      join(ROOT, 'models', 'fmnist-cnn-vicreg-int8.json'),
    );
  ortWeb.env.wasm.numThreads = 1;
  const ROUNDS = 7;
  const CALLS = 40;
  console.log(
    `batch 1, ${ROUNDS} interleaved rounds x ${CALLS} calls after 300 warm-up calls; median ms per call. Machine shared with other jobs (loaded).`,
  );
  console.log('| model | KiB | input | WASM 1 thread ms | native 1 thread ms | WASM / native |');
  console.log('|---|---:|---|---:|---:|---:|');
  for (const f of files) {
    const m = JSON.parse(await readFile(f, 'utf8')) as M;
    const bytes = await readFile(join(dirname(f), m.file));
    const shape = [1, m.input.channels, m.input.height, m.input.width];
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i) * 0.5);
    const web = await ortWeb.InferenceSession.create(bytes);
    const nat = await ortNode.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const feeds = {
      web: { [m.input.name]: new ortWeb.Tensor('float32', data, shape) },
      nat: { [m.input.name]: new ortNode.Tensor('float32', data, shape) },
    };
    for (let i = 0; i < 300; i++) {
      await web.run(feeds.web);
      await nat.run(feeds.nat);
    }
    const tw: number[] = [];
    const tn: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      let t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await web.run(feeds.web);
      tw.push((performance.now() - t0) / CALLS);
      t0 = performance.now();
      for (let i = 0; i < CALLS; i++) await nat.run(feeds.nat);
      tn.push((performance.now() - t0) / CALLS);
    }
    const [w, n] = [median(tw), median(tn)];
    console.log(
      `| ${m.id} | ${Math.round(bytes.length / 1024)} | ${shape.slice(1).join('×')} | ${w.toFixed(2)} | ${n.toFixed(2)} | ${(w / n).toFixed(1)} |`,
    );
    await web.release();
    await nat.release();
  }
}

await main();
