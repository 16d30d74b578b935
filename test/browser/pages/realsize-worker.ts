// Browser page: a real-size encoder opened in a module Worker from a manifest whose model file lives in another folder (modelBaseUrl), and what the worker says to resolveFile or no base.
import { report } from '../harness-page.js';
import { syntheticImages } from '../../../src/cli/scenes.js';
import { isEdgetuneError, type ResolveFile } from '../../../src/runtime/index.js';
import { EdgetuneWorker } from '../../../src/worker/index.js';

const q = new URLSearchParams(location.search);
const codeOf = async (p: Promise<unknown>): Promise<string> => {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isEdgetuneError(e) ? e.code : String(e);
  }
};

report(async () => {
  const worker = await EdgetuneWorker.start({
    url: '/bundle/src/worker/worker-script.ts',
    env: { wasmPaths: '/node_modules/onnxruntime-web/dist/' },
  });
  const model = q.get('model')!;
  const base = q.get('base')!;
  const withoutBase = await codeOf(worker.openEncoder(model, { device: 'wasm' }));
  // A function cannot be structured-cloned: the client refuses it with a typed error naming the string form.
  const resolveFile: ResolveFile = (f) => `${base}${f}`;
  const withFunction = await codeOf(
    worker.openEncoder(model, { device: 'wasm', ...({ resolveFile } as Record<string, unknown>) }),
  );
  const enc = await worker.openEncoder(model, { device: 'wasm', modelBaseUrl: base });
  const frames = syntheticImages(3, 320, 240, 5).map((f) => ({ ...f, data: new Uint8Array(f.data) }));
  const embeddings = (await enc.embed(frames)).map((e) => Array.from(e));
  await enc.dispose();
  await worker.dispose();
  return { withoutBase, withFunction, embeddings };
});
