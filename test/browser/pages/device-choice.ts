// Browser page: opens the test-built tiny CNN twice with 'auto' and a real IndexedDB storage as cache, reporting both opens' device choice, attempts, and which ORT WASM binaries the page fetched.
import { report } from '../harness-page.js';
import { Encoder, env } from '../../../src/runtime/index.js';
import { openStorage } from '../../../src/storage/index.js';
import { tinyCnn } from '../../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../../fixtures/models.js';

const q = new URLSearchParams(location.search);
env.wasmPaths = '/node_modules/onnxruntime-web/dist/';

report(async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  const softwareGpu = q.get('softwareGpu') === '1';
  const storage = await openStorage({ name: `choice-${q.get('run') ?? '0'}` });
  try {
    const opens = [];
    for (let i = 0; i < 2; i++) {
      const t0 = performance.now();
      const enc = await Encoder.open({ manifest, bytes }, { cache: storage, softwareGpu });
      const openMs = performance.now() - t0;
      const [e] = await enc.embed(testImages(1));
      opens.push({
        device: enc.device,
        choice: enc.diagnostics.choice,
        attempts: enc.diagnostics.attempts,
        openMs,
        embedding: Array.from(e!),
      });
      await enc.dispose();
    }
    const wasmFiles = performance
      .getEntriesByType('resource')
      .map((r) => r.name.split('/').pop()!)
      .filter((n) => n.endsWith('.wasm'));
    return { opens, wasmFiles };
  } finally {
    await storage.dispose();
  }
});
