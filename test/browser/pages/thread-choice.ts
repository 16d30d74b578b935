// Browser page: one open of the test-built tiny CNN on WASM ('auto') with a real IndexedDB storage as cache, reporting how the WASM thread count was chosen on this page load and what ORT runs with.
import { report } from '../harness-page.js';
import { Encoder, env } from '../../../src/runtime/index.js';
import { openStorage } from '../../../src/storage/index.js';
import { tinyCnn } from '../../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../../fixtures/models.js';

env.wasmPaths = '/node_modules/onnxruntime-web/dist/';

report(async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  const storage = await openStorage({ name: 'thread-choice' });
  try {
    const enc = await Encoder.open({ manifest, bytes }, { cache: storage });
    const [e] = await enc.embed(testImages(1));
    const ort = await import('onnxruntime-web/wasm');
    const out = {
      device: enc.device,
      threads: enc.diagnostics.threads,
      ortThreads: ort.env.wasm.numThreads,
      isolated: crossOriginIsolated,
      cores: navigator.hardwareConcurrency,
      embedding: Array.from(e!),
    };
    await enc.dispose();
    return out;
  } finally {
    await storage.dispose();
  }
});
