// Browser page: the whole loop (load the default encoder, embed a batch, label, observe the stream, adapt) in-thread or in a Worker while a
// requestAnimationFrame loop runs; reports the longest frame gap and the Long Tasks the main thread suffered. With ?bench=1 also times
// embed round trips (worker vs in-thread) and steady TFLite vs ONNX latency on the same encoder.
import { fetchSample, report } from '../harness-page.js';
import { Encoder, env, registerTfliteBackend, type ImageInput } from '../../../src/runtime/index.js';
import { Learner } from '../../../src/finetune/index.js';
import { EdgetuneWorker } from '../../../src/worker/index.js';

const q = new URLSearchParams(location.search);
const ORT = '/node_modules/onnxruntime-web/dist/';
const TFLITE = '/node_modules/@tensorflow/tfjs-tflite/wasm/';
env.wasmPaths = ORT;
env.tfliteWasmPath = TFLITE;
registerTfliteBackend();
const WORKER = {
  url: '/bundle/src/worker/worker-classic.ts',
  moduleUrl: '/bundle/src/worker/worker-script.ts',
  type: 'classic' as const,
  env: { wasmPaths: ORT, tfliteWasmPath: TFLITE },
  tflite: true,
};

function inputs(raw: Uint8Array, from: number, n: number): ImageInput[] {
  return Array.from({ length: n }, (_, k) => ({
    data: raw.slice((from + k) * 784, (from + k + 1) * 784),
    width: 28,
    height: 28,
    channels: 1 as const,
  }));
}

/** What the main thread went through during one run of the loop. */
export interface MainThreadWatch {
  readonly frames: number;
  readonly maxFrameGapMs: number;
  readonly longTasks: number;
  readonly maxLongTaskMs: number;
  readonly longTaskTotalMs: number;
}

/** One run of the loop, as the page reports it. */
export interface LoopRun extends MainThreadWatch {
  readonly mode: 'thread' | 'worker';
  readonly n: number;
  readonly loadMs: number;
  readonly embedMs: number;
  readonly learnMs: number;
  readonly totalMs: number;
  readonly streamCorrect: number;
  readonly adaptSteps: number;
}

/** What the page reports: the runs, and with ?bench=1 the per-call timings (ms). */
export interface ResponsiveResult {
  readonly longTaskSupported: boolean;
  readonly runs: LoopRun[];
  readonly bench: Record<string, number> | undefined;
}

/** Watches the main thread: frame gaps of a rAF loop and Long Tasks (≥ 50 ms). */
function watch(): () => MainThreadWatch {
  let frames = 0;
  let last = performance.now();
  let maxGap = 0;
  let running = true;
  const tick = (t: number): void => {
    maxGap = Math.max(maxGap, t - last);
    last = t;
    frames++;
    if (running) requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
  const tasks: number[] = [];
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) tasks.push(e.duration);
  });
  obs.observe({ type: 'longtask' });
  return () => {
    running = false;
    for (const e of obs.takeRecords()) tasks.push(e.duration);
    obs.disconnect();
    maxGap = Math.max(maxGap, performance.now() - last);
    return {
      frames,
      maxFrameGapMs: maxGap,
      longTasks: tasks.length,
      maxLongTaskMs: Math.max(0, ...tasks),
      longTaskTotalMs: tasks.reduce((a, b) => a + b, 0),
    };
  };
}

/** The same loop either side: the worker's objects have the same methods, awaited. */
async function loop(
  mode: 'thread' | 'worker',
  data: { images: Uint8Array; labels: Uint8Array },
  n: number,
): Promise<LoopRun> {
  const index = (await (await fetch('/models/index.json')).json()) as { default: string };
  const url = `/models/${index.default}.json`;
  const stop = watch();
  const t0 = performance.now();
  const worker = mode === 'worker' ? await EdgetuneWorker.start(WORKER) : undefined;
  const enc = worker ? await worker.openEncoder(url, { device: 'wasm' }) : await Encoder.open(url, { device: 'wasm' });
  const tLoad = performance.now();
  const emb = await enc.embed(inputs(data.images, 0, n));
  const tEmbed = performance.now();
  const classes = Array.from({ length: 10 }, (_, k) => `c${k}`);
  const options = { dim: enc.dim, classes, seed: 1, adaptEvery: 1_000_000 };
  const learner = worker ? await worker.createLearner(options) : new Learner(options);
  const perClass = new Array<number>(10).fill(0);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    const y = data.labels[i]!;
    if (perClass[y]! < 5) {
      perClass[y]!++;
      await learner.addLabeled(emb[i]!, classes[y]!);
    } else {
      const o = await learner.observe(emb[i]!);
      if (o.label === classes[y]) correct++;
    }
  }
  const adapt = await learner.adapt();
  const tAdapt = performance.now();
  await learner.dispose();
  await enc.dispose();
  await worker?.dispose();
  return {
    mode,
    n,
    ...stop(),
    loadMs: tLoad - t0,
    embedMs: tEmbed - tLoad,
    learnMs: tAdapt - tEmbed,
    totalMs: tAdapt - t0,
    streamCorrect: correct,
    adaptSteps: adapt.steps,
  };
}

/** Mean ms per call of `fn` after `warm` unmeasured calls. */
async function perCall(fn: () => Promise<unknown>, calls: number, warm = 10): Promise<number> {
  for (let i = 0; i < warm; i++) await fn();
  const t = performance.now();
  for (let i = 0; i < calls; i++) await fn();
  return (performance.now() - t) / calls;
}

/** Round trip per embed call (1 image) in-thread vs worker, and TFLite vs ONNX batch-1 latency, same encoder, all WASM. */
async function timings(data: { images: Uint8Array }, calls: number): Promise<Record<string, number>> {
  const index = (await (await fetch('/models/index.json')).json()) as { default: string };
  const onnxUrl = `/models/${index.default}.json`;
  const tfliteUrl = `/models/${index.default}-tflite.json`;
  const one = (): ImageInput[] => inputs(data.images, 7, 1);
  const out: Record<string, number> = {};
  const onnx = await Encoder.open(onnxUrl, { device: 'wasm' });
  out['onnxThreadMs'] = await perCall(() => onnx.embed(one()), calls);
  await onnx.dispose();
  const tfl = await Encoder.open(tfliteUrl, { device: 'wasm' });
  out['tfliteThreadMs'] = await perCall(() => tfl.embed(one()), calls);
  await tfl.dispose();
  const worker = await EdgetuneWorker.start(WORKER);
  const wOnnx = await worker.openEncoder(onnxUrl, { device: 'wasm' });
  out['onnxWorkerMs'] = await perCall(() => wOnnx.embed(one()), calls);
  const wTfl = await worker.openEncoder(tfliteUrl, { device: 'wasm' });
  out['tfliteWorkerMs'] = await perCall(() => wTfl.embed(one()), calls);
  await worker.dispose();
  return out;
}

report(async (): Promise<ResponsiveResult> => {
  const data = await fetchSample();
  const n = Number(q.get('n') ?? '256');
  const modes = (q.get('modes') ?? 'thread,worker').split(',') as Array<'thread' | 'worker'>;
  const runs: LoopRun[] = [];
  for (const m of modes) runs.push(await loop(m, data, n));
  const bench = q.get('bench') === '1' ? await timings(data, Number(q.get('calls') ?? '200')) : undefined;
  return { longTaskSupported: PerformanceObserver.supportedEntryTypes.includes('longtask'), runs, bench };
});
