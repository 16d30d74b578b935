// Suite part (one process per thread count, since ORT-web's thread count is process-wide): Encoder.embed vs raw onnxruntime-web, ORT-web WASM vs onnxruntime-node native, int8 vs fp32, at batch 1 and 32, after the WebAssembly tier-up window (lower quartile of each block of calls); also records that window.
// Run alone: node --import tsx bench/suite/ort.ts [--threads 1] [--rounds 3]
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { Encoder, env, preprocessBatch, type ModelManifest, type RawPixels } from '../../src/runtime/index.js';
import { MODELS, arg, defaultModels, median, report } from './common.js';
import { loadFmnistSample } from '../../scripts/lib/fmnist.js';

const threads = Number(arg('threads', '1'));
const rounds = Number(arg('rounds', '3'));
env.numThreads = threads;
ortWeb.env.wasm.numThreads = threads;

const sample = await loadFmnistSample();
const images: RawPixels[] = Array.from({ length: 32 }, (_, k) => ({
  data: sample.images.slice(k * 784, (k + 1) * 784),
  width: 28,
  height: 28,
  channels: 1,
}));

interface Contenders {
  readonly id: string;
  readonly bytes: number;
  web: ortWeb.InferenceSession;
  native: ortNode.InferenceSession;
  encoder: Encoder;
  feeds: Record<1 | 32, { web: ortWeb.Tensor; native: ortNode.Tensor }>;
}

async function open(file: string): Promise<Contenders> {
  const m = JSON.parse(readFileSync(join(MODELS, file), 'utf8')) as ModelManifest;
  const bytes = new Uint8Array(readFileSync(join(MODELS, m.file)));
  const web = await ortWeb.InferenceSession.create(bytes, {
    executionProviders: ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const native = await ortNode.InferenceSession.create(bytes, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
  });
  const encoder = await Encoder.open({ manifest: m, bytes }, { device: 'wasm', batchSize: 32, selfCheck: false });
  const feeds = {} as Contenders['feeds'];
  for (const n of [1, 32] as const) {
    const x = preprocessBatch(images.slice(0, n), m.input);
    feeds[n] = {
      web: new ortWeb.Tensor('float32', x, [n, 1, 28, 28]),
      native: new ortNode.Tensor('float32', x, [n, 1, 28, 28]),
    };
  }
  return { id: m.id, bytes: bytes.byteLength, web, native, encoder, feeds };
}

/** Per-call times of the first `n` runs of a fresh session: the tier-up window users meet after load. */
async function tierUp(file: string, n: number): Promise<number[]> {
  const m = JSON.parse(readFileSync(join(MODELS, file), 'utf8')) as ModelManifest;
  const s = await ortWeb.InferenceSession.create(new Uint8Array(readFileSync(join(MODELS, m.file))), {
    executionProviders: ['wasm'],
  });
  const x = new ortWeb.Tensor('float32', preprocessBatch(images.slice(0, 1), m.input), [1, 1, 28, 28]);
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await s.run({ input: x });
    t.push(performance.now() - t0);
  }
  await s.release();
  return t;
}

const names = defaultModels();
// Measured first, in the fresh process, before anything else has warmed the WebAssembly code.
const curve = await tierUp(names.int8, 300);
const steady = median(curve.slice(200));
const settled = curve.findIndex((_, i) => i >= 5 && median(curve.slice(i - 5, i + 5)) <= 1.5 * steady);
report({
  row: `tierup/int8/b1/t${threads}`,
  value: median(curve.slice(0, 10)) / steady,
  detail: {
    first10MedianMs: median(curve.slice(0, 10)),
    steadyMs: steady,
    callsUntilWithin1_5x: settled,
    firstCallMs: curve[0]!,
  },
});

const models = [await open(names.int8), await open(names.fp32)];
const calls = { 1: 60, 32: 12 } as const;
type Who = 'web' | 'native' | 'encoder';
async function timeOne(c: Contenders, who: Who, n: 1 | 32, k: number): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < k; i++) {
    const t0 = performance.now();
    if (who === 'web') await c.web.run({ input: c.feeds[n].web });
    else if (who === 'native') await c.native.run({ input: c.feeds[n].native });
    else await c.encoder.embed(images.slice(0, n));
    t.push(performance.now() - t0);
  }
  // Lower quartile, not median: on a shared machine most of the spread is time the process was not
  // scheduled, which says nothing about either runtime.
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 4)]!;
}
// Discard the tier-up window: 300 batch-1 and 20 batch-32 calls per contender before timing.
for (const c of models)
  for (const who of ['web', 'native', 'encoder'] as const) {
    await timeOne(c, who, 1, 300);
    await timeOne(c, who, 32, 20);
  }
for (let r = 0; r < rounds; r++) {
  for (const n of [1, 32] as const) {
    const t: Record<string, number> = {};
    const order: Array<[Contenders, Who]> = models.flatMap((c) =>
      (['web', 'native', 'encoder'] as const).map((w) => [c, w] as [Contenders, Who]),
    );
    // Rotate so no contender always takes the same slot.
    for (let i = 0; i < order.length; i++) {
      const [c, who] = order[(i + r) % order.length]!;
      t[`${c.id}/${who}`] = await timeOne(c, who, n, calls[n]);
    }
    for (const c of models) {
      const q = c.id.endsWith('int8') ? 'int8' : 'fp32';
      const d = {
        webMs: t[`${c.id}/web`]!,
        nativeMs: t[`${c.id}/native`]!,
        encoderMs: t[`${c.id}/encoder`]!,
        threads,
        batch: n,
        model: c.id,
        bytes: c.bytes,
      };
      report({ row: `wasm-vs-native/${q}/b${n}/t${threads}`, value: d.webMs / d.nativeMs, detail: d });
      report({ row: `encoder-vs-raw/${q}/b${n}/t${threads}`, value: d.encoderMs / d.webMs, detail: d });
      report({ row: `web-ms/${q}/b${n}/t${threads}`, value: d.webMs, detail: d });
    }
    report({
      row: `int8-vs-fp32/web/b${n}/t${threads}`,
      value: t[`${models[1]!.id}/web`]! / t[`${models[0]!.id}/web`]!,
      detail: {
        fp32Ms: t[`${models[1]!.id}/web`]!,
        int8Ms: t[`${models[0]!.id}/web`]!,
        fp32Bytes: models[1]!.bytes,
        int8Bytes: models[0]!.bytes,
      },
    });
    report({
      row: `int8-vs-fp32/native/b${n}/t${threads}`,
      value: t[`${models[1]!.id}/native`]! / t[`${models[0]!.id}/native`]!,
      detail: {},
    });
  }
}
for (const c of models) {
  await c.encoder.dispose();
  await c.web.release();
  await c.native.release();
}
process.exit(0);
