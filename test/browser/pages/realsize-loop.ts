// Browser page: the whole loop on a real-size encoder — open (WebGPU or WASM, self-check on; in-thread or in a module Worker), embed, teach a learner, save it to IndexedDB, restore it and predict the same, also on views of the scenes it was not taught (mirrored, cropped).
// Query: model=URL device=wasm|webgpu worker=0|1 n=frames samples=self-check canaries views=0|1 (untaught views; default 1)
import { report } from '../harness-page.js';
import { syntheticImages } from '../../../src/cli/scenes.js';
import { Learner, type LearnerState } from '../../../src/finetune/index.js';
import { Encoder, env, type Device, type DeviceAttempt } from '../../../src/runtime/index.js';
import type { RawPixels } from '../../../src/runtime/preprocess.js';
import { openStorage } from '../../../src/storage/index.js';
import { EdgetuneWorker } from '../../../src/worker/index.js';

const q = new URLSearchParams(location.search);
const wasmPaths = '/node_modules/onnxruntime-web/dist/';
env.wasmPaths = wasmPaths;

/** What the test reads back. */
export interface LoopOut {
  device: string;
  attempts: DeviceAttempt[];
  phases: string[];
  embeddings: number[][];
  /** Worker runs: the same frames embedded by an in-thread WASM encoder of the same model. */
  inThread?: number[][];
  labels: string[];
  before: { label: string; confidence: number }[];
  after: { label: string; confidence: number }[];
  savedVersion: number;
  /** Untaught views of each frame (see {@link VIEWS}): the frame's label, and what the restored learner predicts. */
  views: { view: string; label: string; predicted: string; confidence: number }[];
  /** `diagnostics.selfCheck`: what the open checked with (`false` when it was off). */
  selfCheck: unknown;
  openMs: number;
  embedMs: number;
}

/** A horizontally mirrored copy. */
function mirror(f: RawPixels): RawPixels {
  const c = f.channels ?? 4;
  const out = new Uint8Array(f.data.length);
  for (let y = 0; y < f.height; y++)
    for (let x = 0; x < f.width; x++)
      for (let k = 0; k < c; k++) out[(y * f.width + x) * c + k] = f.data[(y * f.width + (f.width - 1 - x)) * c + k]!;
  return { ...f, data: out };
}

/** The `w`×`h` window at (`x0`, `y0`). */
function crop(f: RawPixels, x0: number, y0: number, w: number, h: number): RawPixels {
  const c = f.channels ?? 4;
  const out = new Uint8Array(w * h * c);
  for (let y = 0; y < h; y++)
    out.set(f.data.subarray(((y0 + y) * f.width + x0) * c, ((y0 + y) * f.width + x0 + w) * c), y * w * c);
  return { ...f, width: w, height: h, data: out };
}

/** Views of a 320×240 frame the learner is never taught: what a camera sees of the same scene from elsewhere. */
const VIEWS: readonly [string, (f: RawPixels) => RawPixels][] = [
  ['mirror', mirror],
  ['centre 75%', (f) => crop(f, 40, 30, 240, 180)],
  ['top-left 80%', (f) => crop(f, 0, 0, 256, 192)],
  ['mirrored bottom-right 80%', (f) => mirror(crop(f, 64, 48, 256, 192))],
];

report(async (): Promise<LoopOut> => {
  const device = (q.get('device') ?? 'wasm') as Device;
  const inWorker = q.get('worker') === '1';
  const n = Number(q.get('n') ?? '2');
  const model = q.get('model')!;
  const phases: string[] = [];
  const open = {
    device,
    softwareGpu: true,
    selfCheck: { samples: Number(q.get('samples') ?? '1') },
    warmup: 1,
    onProgress: (p: { phase: string }) => {
      if (phases[phases.length - 1] !== p.phase) phases.push(p.phase);
    },
  } as const;
  // Plain copies each time: a Worker takes (transfers) the pixel buffers it is given.
  const frames = () => syntheticImages(n, 320, 240, 5).map((f) => ({ ...f, data: new Uint8Array(f.data) }));
  const labels = Array.from({ length: n }, (_, k) => `kind-${k % 2}`);
  const classes = [...new Set(labels)];
  const worker = inWorker
    ? await EdgetuneWorker.start({ url: '/bundle/src/worker/worker-script.ts', env: { wasmPaths } })
    : undefined;
  try {
    const t0 = performance.now();
    const enc = worker ? await worker.openEncoder(model, open) : await Encoder.open(model, open);
    const openMs = performance.now() - t0;
    const t1 = performance.now();
    const embedded = await enc.embed(frames());
    const embedMs = performance.now() - t1;
    const viewFrames =
      q.get('views') === '0'
        ? []
        : frames().flatMap((f, k) => VIEWS.map(([view, make]) => ({ view, label: labels[k]!, image: make(f) })));
    const viewEmbeddings = viewFrames.length > 0 ? await enc.embed(viewFrames.map((v) => v.image)) : [];
    const { diagnostics } = enc;
    await enc.dispose();
    let inThread: number[][] | undefined;
    if (worker) {
      const local = await Encoder.open(model, { device: 'wasm', warmup: 1 });
      inThread = (await local.embed(frames())).map((e) => Array.from(e));
      await local.dispose();
    }

    // Teach (NCM head: one round), save to IndexedDB, close; reopen the store, restore, predict again.
    const name = `realsize-loop-${inWorker ? 'worker' : 'page'}`;
    const options = { dim: embedded[0]!.length, classes, head: 'ncm', seed: 1 } as const;
    const pick = (p: { label: string; confidence: number }) => ({ label: p.label, confidence: p.confidence });
    let before: LoopOut['before'];
    let after: LoopOut['after'];
    let savedVersion: number;
    let viewPredictions: { label: string; confidence: number }[];
    if (worker) {
      const learner = await worker.createLearner(options);
      for (let k = 0; k < n; k++) await learner.addLabeled(embedded[k]!, labels[k]!);
      await learner.adapt();
      before = await Promise.all(embedded.map(async (e) => pick(await learner.predict(e))));
      const storage = await worker.openStorage({ name });
      savedVersion = (await storage.checkpoints<LearnerState>('loop').save(await learner.getState())).version;
      await learner.dispose();
      await storage.dispose();
      const again = await worker.openStorage({ name });
      const restored = await worker.restoreLearner((await again.checkpoints<LearnerState>('loop').load())!.payload);
      after = await Promise.all(embedded.map(async (e) => pick(await restored.predict(e))));
      viewPredictions = await Promise.all(viewEmbeddings.map(async (e) => pick(await restored.predict(e))));
      await restored.dispose();
      await again.dispose();
    } else {
      const learner = new Learner(options);
      embedded.forEach((e, k) => learner.addLabeled(e, labels[k]!));
      await learner.adapt();
      before = embedded.map((e) => pick(learner.predict(e)));
      const storage = await openStorage({ name });
      savedVersion = (await storage.checkpoints<LearnerState>('loop').save(learner.getState())).version;
      await storage.dispose();
      const again = await openStorage({ name });
      const restored = Learner.fromState((await again.checkpoints<LearnerState>('loop').load())!.payload);
      after = embedded.map((e) => pick(restored.predict(e)));
      viewPredictions = viewEmbeddings.map((e) => pick(restored.predict(e)));
      await again.dispose();
    }
    return {
      device: diagnostics.device,
      attempts: [...diagnostics.attempts],
      phases,
      embeddings: embedded.map((e) => Array.from(e)),
      ...(inThread && { inThread }),
      labels,
      before,
      after,
      savedVersion,
      views: viewFrames.map((v, k) => ({
        view: v.view,
        label: v.label,
        predicted: viewPredictions[k]!.label,
        confidence: viewPredictions[k]!.confidence,
      })),
      selfCheck: diagnostics.selfCheck,
      openMs,
      embedMs,
    };
  } finally {
    await worker?.dispose();
  }
});
