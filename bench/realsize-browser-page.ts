// Browser half of bench/realsize-browser.ts: opens one reference encoder by URL (no cache) on the main thread or in a module Worker, then times first embedding, batch 1 and batch 8.
// Query: model=URL device=wasm|webgpu threads=1|2 worker=0|1 reps=N base=URL (modelBaseUrl, worker test)
import { report } from '../test/browser/harness-page.js';
import { syntheticImages } from '../src/cli/scenes.js';
import { Encoder, env, type Device, type EncoderDiagnostics } from '../src/runtime/index.js';
import { EdgetuneWorker } from '../src/worker/index.js';

const q = new URLSearchParams(location.search);
const threads = Number(q.get('threads') ?? '1');
const reps = Number(q.get('reps') ?? '3');
const device = (q.get('device') ?? 'wasm') as Device;
const wasmPaths = '/node_modules/onnxruntime-web/dist/';
env.wasmPaths = wasmPaths;
env.numThreads = threads;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Embedder {
  embed(frames: ImageData[]): Promise<Float32Array[]>;
  readonly diagnostics: EncoderDiagnostics;
  dispose(): Promise<void>;
}

report(async () => {
  // ImageData: what a camera frame becomes, and what crosses to a Worker without a canvas.
  const scenes = syntheticImages(8, 320, 240, 5).map((f) => {
    const rgba = new Uint8ClampedArray(f.width * f.height * 4);
    for (let k = 0; k < f.width * f.height; k++) {
      for (let c = 0; c < 3; c++) rgba[k * 4 + c] = f.data[k * f.channels + c]!;
      rgba[k * 4 + 3] = 255;
    }
    return new ImageData(rgba, f.width, f.height);
  });
  // A Worker takes the pixel buffers (transferred, not copied): every call gets fresh copies.
  const frames = (n: number): ImageData[] =>
    scenes.slice(0, n).map((f) => new ImageData(new Uint8ClampedArray(f.data), f.width, f.height));
  const model = q.get('model')!;
  const base = q.get('base') ?? undefined;
  const inWorker = q.get('worker') === '1';
  let worker: EdgetuneWorker | undefined;
  const t0 = performance.now();
  let enc: Embedder;
  if (inWorker) {
    worker = await EdgetuneWorker.start({
      url: '/bundle/src/worker/worker-script.ts',
      env: { wasmPaths, numThreads: threads },
    });
    enc = await worker.openEncoder(model, { device, ...(base ? { modelBaseUrl: base } : {}) });
  } else enc = await Encoder.open(model, { device, ...(base ? { modelBaseUrl: base } : {}) });
  const openMs = performance.now() - t0;
  const t1 = performance.now();
  const first = await enc.embed(frames(1));
  const firstMs = performance.now() - t1;
  const time = async (n: number): Promise<number> => {
    const t: number[] = [];
    for (let r = 0; r < reps; r++) {
      const batch = frames(n);
      const s = performance.now();
      await enc.embed(batch);
      t.push(performance.now() - s);
    }
    return median(t);
  };
  const b1Ms = await time(1);
  const b8Ms = await time(8);
  const heap = (performance as { memory?: { usedJSHeapSize: number } }).memory?.usedJSHeapSize;
  const out = {
    isolated: globalThis.crossOriginIsolated === true,
    worker: inWorker,
    threads,
    device: enc.diagnostics.device,
    attempts: enc.diagnostics.attempts,
    openMs,
    firstMs,
    b1Ms,
    b8MsPerImage: b8Ms / 8,
    jsHeapMb: heap === undefined ? undefined : heap / 1e6,
    embedding: Array.from(first[0]!),
  };
  await enc.dispose();
  await worker?.dispose();
  return out;
});
