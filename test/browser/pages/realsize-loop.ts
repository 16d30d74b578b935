// Browser page: the whole loop on a real-size encoder — open (WebGPU or WASM, self-check on; in-thread or in a module Worker), embed, teach a learner, save it to IndexedDB, restore it and predict the same.
// Query: model=URL device=wasm|webgpu worker=0|1 n=frames samples=self-check canaries
import { report } from '../harness-page.js';
import { syntheticImages } from '../../../src/cli/scenes.js';
import { Learner, type LearnerState } from '../../../src/finetune/index.js';
import { Encoder, env, type Device, type DeviceAttempt } from '../../../src/runtime/index.js';
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
  /** `diagnostics.selfCheck`: what the open checked with (`false` when it was off). */
  selfCheck: unknown;
  openMs: number;
  embedMs: number;
}

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
      selfCheck: diagnostics.selfCheck,
      openMs,
      embedMs,
    };
  } finally {
    await worker?.dispose();
  }
});
