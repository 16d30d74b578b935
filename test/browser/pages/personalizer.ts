// Browser page: the personalizer behaviour suite on real IndexedDB, in this thread or in a Worker (?mode=thread|worker), plus the README snippet (?phase=readme-teach|readme-reload).
import { errorCode, fetchSample, report } from '../harness-page.js';
import { env as runtimeEnv } from '../../../src/runtime/env.js';
import { openPersonalizer, type PersonalizerOptions } from '../../../src/index.js';
import { CASES, image, ofClass, type PEnv } from '../../personalizer/behaviour.js';

const ORT = '/node_modules/onnxruntime-web/dist/';
const MODEL = '/models/fmnist-cnn-vicreg-int8.json';
const q = new URLSearchParams(location.search);
const mode = q.get('mode') === 'worker' ? 'worker' : 'thread';
runtimeEnv.wasmPaths = ORT;
const workerOptions = { url: '/bundle/src/worker/worker-script.ts', env: { wasmPaths: ORT } };

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
}

report(async () => {
  const sample = await fetchSample();
  const phase = q.get('phase') ?? 'cases';
  if (phase.startsWith('readme')) {
    // The README snippet, with the test's worker URL and images.
    const mugs = ofClass(sample, 1, 5).map((k) => image(sample, k));
    const plants = ofClass(sample, 8, 5).map((k) => image(sample, k));
    const frames = [...ofClass(sample, 1, 10, 20), ...ofClass(sample, 8, 10, 20)].map((k) => image(sample, k));
    const worker = mode === 'worker' ? workerOptions : false;
    // ---- README snippet (the lines between these markers are the ones in README.md) ----
    await using me = await openPersonalizer({ model: MODEL, storage: 'my-app', worker });
    if (phase === 'readme-teach') {
      for (const img of mugs) await me.teach(img, 'trouser');
      for (const img of plants) await me.teach(img, 'bag');
    }
    await me.idle();
    const labels = [];
    for (const frame of frames) labels.push((await me.predict(frame)).label);
    // ---- end of snippet ----
    return { labels, classes: (await me.classes()).sort(), inWorker: me.inWorker };
  }
  const penv: PEnv = {
    model: MODEL,
    sample,
    open: (profile, extra = {}) =>
      openPersonalizer({
        model: MODEL,
        storage: profile,
        device: 'wasm',
        ...(mode === 'worker' ? { worker: workerOptions } : {}),
        ...extra,
      } as PersonalizerOptions),
    async raw(profile) {
      const db = await req(indexedDB.open(profile));
      try {
        const out: Record<string, { keys: unknown[]; values: unknown[] }> = {};
        const names = Array.from(db.objectStoreNames);
        const tx = db.transaction(names, 'readonly');
        for (const s of names)
          out[s] = { keys: await req(tx.objectStore(s).getAllKeys()), values: await req(tx.objectStore(s).getAll()) };
        return out;
      } finally {
        db.close();
      }
    },
  };
  const results: { name: string; ok: boolean; error?: string }[] = [];
  for (const c of CASES) {
    try {
      await c.run(penv);
      results.push({ name: c.name, ok: true });
    } catch (e) {
      results.push({ name: c.name, ok: false, error: e instanceof Error ? `${e.message}\n${e.stack}` : String(e) });
    }
  }
  const inWorker = await (async () => {
    const p = await penv.open('p-mode-check');
    const w = p.inWorker;
    await p.dispose();
    return w;
  })();
  const badWorkerStorage = await errorCode(
    openPersonalizer({ model: MODEL, storage: { name: 'x', indexedDB }, worker: workerOptions }),
  );
  return { results, inWorker, badWorkerStorage };
});
