import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasChromium, launchChromium, pageResult, serve } from './harness.js';
import type { DeviceAttempt } from '../../src/runtime/index.js';

interface Out {
  uncheckedBackend: string;
  cosUnchecked: number[];
  checkedBackend: string;
  attempts: DeviceAttempt[];
  ours: { backend: string; attempts: DeviceAttempt[] };
}

// ONNX Runtime's default (JSEP) build mis-computes uint8 DequantizeLinear at zero point 128 on
// SwiftShader's WebGPU (PLATFORM-NOTES). It is a real backend that returns wrong numbers silently:
// the self-check must catch it, while our dedicated WebGPU build passes on the same model.
test('self-check in Chromium: the default ORT build on WebGPU is judged by its agreement with WASM; our WebGPU build passes', {
  skip: !hasChromium && 'no /usr/bin/chromium',
}, async () => {
  const server = await serve();
  const chrome = await launchChromium({ webgpu: true });
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/faulty-webgpu.ts'));
    const r = await pageResult<Out>(page, 120_000);
    assert.equal(r.uncheckedBackend, 'webgpu');
    const faulty = Math.min(...r.cosUnchecked) < 0.99;
    if (faulty) {
      // The bug is present: without the check the app would get wrong embeddings; with it, WASM runs.
      assert.equal(r.checkedBackend, 'wasm');
      assert.equal(r.attempts[0]!.status, 'rejected');
      assert.match(r.attempts[0]!.reason!, /self-check failed: cosine/);
    } else {
      // Fixed upstream: then the check must let it through (and SwiftShader then loses on speed to WASM).
      assert.notEqual(r.attempts[0]!.status, 'rejected');
    }
    assert.equal(r.ours.backend, 'webgpu', JSON.stringify(r.ours.attempts));
    assert.ok(r.ours.attempts[0]!.cosine! >= 0.999);
    console.log(
      `default build min cosine vs WASM: ${Math.min(...r.cosUnchecked).toFixed(4)} (${faulty ? 'rejected' : 'accepted'}); ours: ${r.ours.attempts[0]!.cosine!.toFixed(6)}`,
    );
  } finally {
    await chrome.close();
    await server.close();
  }
});
