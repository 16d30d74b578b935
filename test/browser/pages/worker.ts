// Browser page: the encoder in a real module Worker through comlink, compared with the same encoder on the main thread.
import { report } from '../harness-page.js';
import { EdgetuneWorker } from '../../../src/worker/index.js';
import { Encoder, env, isEdgetuneError } from '../../../src/runtime/index.js';
import { tinyCnn } from '../../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../../fixtures/models.js';

env.wasmPaths = '/node_modules/onnxruntime-web/dist/';

report(async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  const images = testImages(6);
  const main = await Encoder.open({ manifest, bytes: bytes.slice() }, { device: 'wasm' });
  const expected = await main.embed(images);
  await main.dispose();

  const worker = await EdgetuneWorker.start({
    url: '/bundle/src/worker/worker-script.ts',
    env: { wasmPaths: '/node_modules/onnxruntime-web/dist/' },
  });
  const phases: string[] = [];
  const enc = await worker.openEncoder(
    { manifest, bytes },
    { device: 'wasm', onProgress: (p) => phases.push(p.phase) },
  );
  const bitmap = await createImageBitmap(new ImageData(new Uint8ClampedArray(testImages(1, 16, 4)[0]!.data), 16, 16));
  const got = await enc.embed([...images, bitmap]);
  const maxDiff = Math.max(...expected.map((e, k) => Math.max(...e.map((v, j) => Math.abs(v - got[k]![j]!)))));

  // A typed error keeps its code across the boundary.
  const bad = bytes.slice();
  bad[50] = bad[50]! ^ 0xff;
  let crossed: unknown;
  try {
    await worker.openEncoder({ manifest, bytes: bad });
  } catch (e) {
    crossed = e;
  }
  // An abort from the page reaches the worker.
  const c = new AbortController();
  const many = testImages(400);
  const pending = enc.embed(many, { signal: c.signal });
  c.abort();
  let aborted: unknown;
  try {
    await pending;
  } catch (e) {
    aborted = e;
  }
  await enc.dispose();
  let afterDispose: unknown;
  try {
    await enc.embed(images);
  } catch (e) {
    afterDispose = e;
  }
  await worker.dispose();
  return {
    count: got.length,
    dim: got[0]!.length,
    maxDiff,
    backend: enc.backend,
    phases,
    crossedCode: isEdgetuneError(crossed) ? crossed.code : String(crossed),
    abortedCode: isEdgetuneError(aborted) ? aborted.code : String(aborted),
    disposedCode: isEdgetuneError(afterDispose) ? afterDispose.code : String(afterDispose),
    bitmapTransferred: bitmap.width === 0,
  };
});
