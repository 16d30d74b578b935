// Browser page: opens the test-built tiny CNN with the device preference from the query string and reports embeddings and diagnostics.
import { report } from '../harness-page.js';
import { Encoder, env, type Device } from '../../../src/runtime/index.js';
import { tinyCnn } from '../../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../../fixtures/models.js';

const q = new URLSearchParams(location.search);
env.wasmPaths = '/node_modules/onnxruntime-web/dist/';

report(async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  const device = (q.get('device') ?? 'auto').split(',') as Device[];
  const enc = await Encoder.open({ manifest, bytes }, { device: q.get('device') === 'auto' ? 'auto' : device });
  const images = testImages(5);
  const embeddings = (await enc.embed(images)).map((e) => Array.from(e));
  const ort = await import('onnxruntime-web/wasm');
  // Canvas-backed inputs must give the same embedding as the same pixels passed raw.
  const rgba = testImages(1, 16, 4)[0]!;
  const imageData = new ImageData(new Uint8ClampedArray(rgba.data), 16, 16);
  const off = new OffscreenCanvas(16, 16);
  off.getContext('2d')!.putImageData(imageData, 0, 0);
  const el = document.createElement('canvas');
  el.width = el.height = 16;
  el.getContext('2d')!.putImageData(imageData, 0, 0);
  const bitmap = await createImageBitmap(imageData);
  // An <img> decoded from a lossless PNG of the same pixels.
  const img = new Image();
  img.src = el.toDataURL('image/png');
  await img.decode();
  const kinds = await enc.embed([rgba, imageData, off, el, bitmap, img]);
  const result = {
    backend: enc.backend,
    attempts: enc.diagnostics.attempts,
    embeddings,
    canvasKinds: kinds.map((e) => Array.from(e)),
    isolated: crossOriginIsolated,
    numThreads: ort.env.wasm.numThreads,
  };
  await enc.dispose();
  return result;
});
