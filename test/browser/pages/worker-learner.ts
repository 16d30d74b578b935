// Browser page: the learner and storage through the worker — the same answers as in-thread, progress and abort across the boundary, state saved in the worker read by the page.
import { errorCode, report } from '../harness-page.js';
import { EdgetuneWorker } from '../../../src/worker/index.js';
import { Learner, type LearnerEvent } from '../../../src/finetune/index.js';
import { openStorage } from '../../../src/storage/index.js';
import { tinyCnn } from '../../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../../fixtures/models.js';

const ORT = '/node_modules/onnxruntime-web/dist/';

/** Clustered embeddings: class k is centred on axis k, with seeded noise. */
function clustered(n: number, dim: number, classes: number, seed: number): { x: Float32Array[]; y: number[] } {
  let s = seed >>> 0;
  const rnd = (): number => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32 - 0.5;
  const x: Float32Array[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    const e = new Float32Array(dim).map(() => rnd() * 0.6);
    e[k] = e[k]! + 1;
    x.push(e);
    y.push(k);
  }
  return { x, y };
}

report(async () => {
  const dim = 16;
  const labels = ['a', 'b', 'c'];
  const options = { dim, classes: labels, seed: 7, adaptEvery: 1_000_000 };
  const train = clustered(30, dim, 3, 1);
  const stream = clustered(120, dim, 3, 2);

  const worker = await EdgetuneWorker.start({ url: '/bundle/src/worker/worker-script.ts', env: { wasmPaths: ORT } });
  // The same calls in-thread and in the worker.
  const local = new Learner(options);
  const remote = await worker.createLearner(options);
  const events: string[] = [];
  const off = remote.on((e: LearnerEvent) => events.push(e.type));
  const readyBefore = remote.ready;
  for (let i = 0; i < train.x.length; i++) {
    local.addLabeled(train.x[i]!, labels[train.y[i]!]!);
    await remote.addLabeled(train.x[i]!, labels[train.y[i]!]!);
  }
  let sameObservations = 0;
  for (const e of stream.x) {
    const a = local.observe(e);
    const b = await remote.observe(e);
    if (a.label === b.label && Math.abs(a.confidence - b.confidence) < 1e-9 && a.accepted === b.accepted)
      sameObservations++;
  }
  const phases: string[] = [];
  const adaptLocal = await local.adapt();
  const adaptRemote = await remote.adapt({ onProgress: (p) => phases.push(p.phase) });
  const probe = stream.x[5]!;
  const pLocal = local.predict(probe);
  const pRemote = await remote.predict(probe);
  const statsRemote = await remote.stats();

  // Abort from the page reaches adapt() in the worker: a learner whose first fit runs 100000 epochs is stopped at the first
  // one (the learner yields between epochs, so the abort message gets in), and the round is undone.
  const slow = await worker.createLearner({ ...options, firstEpochs: 100_000 });
  for (let i = 0; i < train.x.length; i++) await slow.addLabeled(train.x[i]!, labels[train.y[i]!]!);
  const c = new AbortController();
  const abortCode = await errorCode(
    slow.adapt({ signal: c.signal, onProgress: (p) => p.phase === 'train' && c.abort() }),
  );
  const slowStats = await slow.stats();
  await slow.dispose();
  const unknownLabel = await errorCode(remote.removeClass('zebra'));
  const nonFinite = await errorCode(remote.observe(new Float32Array(dim).fill(Number.NaN)));

  // Storage in the worker: save the learner's state there; the page's own connection reads it.
  const storage = await worker.openStorage({ name: 'worker-learner' });
  const ckptEvents: number[] = [];
  const offCkpt = storage.on('checkpoint', (e) => ckptEvents.push(e.version));
  const pSaved = await remote.predict(probe);
  const state = await remote.getState();
  const saveProgress: string[] = [];
  const saved = await storage.checkpoints('demo').save(state, { onProgress: (p) => saveProgress.push(p.phase) });
  const page = await openStorage({ name: 'worker-learner' });
  const seenByPage = await page.checkpoints('demo').load();
  await page.dispose();
  const restored = await worker.restoreLearner(seenByPage!.payload as typeof state);
  const pRestored = await restored.predict(probe);
  await storage.meta.set('k', { v: 1 });
  const meta = await storage.meta.get<{ v: number }>('k');
  const abortedSave = await errorCode(storage.checkpoints('demo').save(state, { signal: AbortSignal.abort() }));
  const listed = await storage.checkpoints('demo').list();

  // A model cached through the worker's storage opens offline from it.
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  await storage.putModel(manifest.id, { ...manifest }, bytes);
  const cachedEnc = await worker.openEncoder({ cache: storage, id: manifest.id }, { device: 'wasm' });
  const img = testImages(1)[0]!;
  const pixels = img.data;
  const [emb] = await cachedEnc.embed([img]);
  const pixelsMoved = pixels.byteLength === 0;
  const missing = await errorCode(worker.openEncoder({ cache: storage, id: 'nope' }));
  off();
  offCkpt();

  await remote.dispose();
  const afterDispose = await errorCode(remote.predict(probe));
  await storage.dispose();
  const storageAfterDispose = await errorCode(storage.meta.keys());
  await worker.dispose();
  const workerAfterDispose = await errorCode(worker.createLearner(options));
  return {
    readyBefore,
    readyAfter: remote.ready,
    classes: remote.classes,
    sameObservations,
    observations: stream.x.length,
    adaptSteps: [adaptLocal.steps, adaptRemote.steps],
    phases: [...new Set(phases)],
    samePrediction: pLocal.label === pRemote.label && Math.abs(pLocal.confidence - pRemote.confidence) < 1e-9,
    restoredPrediction: pRestored.label === pSaved.label && Math.abs(pRestored.confidence - pSaved.confidence) < 1e-9,
    abortedFitted: slowStats.fitted,
    seen: statsRemote.seen,
    events,
    abortCode,
    unknownLabel,
    nonFinite,
    savedVersion: saved.version,
    ckptEvents,
    saveProgress: [...new Set(saveProgress)],
    meta,
    abortedSave,
    versions: listed.map((v) => v.version),
    cachedBackend: cachedEnc.backend,
    embDim: emb?.length,
    pixelsMoved,
    missing,
    afterDispose,
    storageAfterDispose,
    workerAfterDispose,
  };
});
