import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasChromium, launchChromium, pageResult, serve, type TestServer } from './harness.js';
import { Encoder, cosine, type DeviceAttempt } from '../../src/runtime/index.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../fixtures/models.js';

interface PageOut {
  backend: string;
  attempts: DeviceAttempt[];
  embeddings: number[][];
  canvasKinds: number[][];
  isolated: boolean;
  numThreads: number;
}

const skip = !hasChromium && 'no /usr/bin/chromium (npm test installs it)';

describe('runtime in real Chromium', { skip }, () => {
  let nodeEmbeddings: Float32Array[] = [];
  let plain: TestServer;
  let isolated: TestServer;

  before(async () => {
    const bytes = tinyCnn();
    await using enc = await Encoder.open({ manifest: await manifestFor(bytes), bytes });
    nodeEmbeddings = await enc.embed(testImages(5));
    plain = await serve();
    isolated = await serve({ isolated: true });
  });
  after(async () => {
    await plain.close();
    await isolated.close();
  });

  async function run(
    server: TestServer,
    device: string,
    flags: { webgpu?: boolean; webnn?: boolean } = {},
  ): Promise<PageOut> {
    const chrome = await launchChromium(flags);
    try {
      const page = await chrome.open(server.pageUrl('test/browser/pages/runtime.ts', { device }));
      return await pageResult<PageOut>(page, 120_000);
    } finally {
      await chrome.close();
    }
  }

  function assertSameAsNode(out: PageOut): void {
    assert.equal(out.embeddings.length, nodeEmbeddings.length);
    out.embeddings.forEach((e, k) =>
      assert.ok(cosine(e, nodeEmbeddings[k]!) >= 0.999, `sample ${k}: cosine ${cosine(e, nodeEmbeddings[k]!)}`),
    );
    // Raw RGBA, ImageData, OffscreenCanvas, <canvas>, ImageBitmap and <img> of the same pixels embed alike.
    assert.equal(out.canvasKinds.length, 6);
    for (const e of out.canvasKinds.slice(1)) assert.ok(cosine(e, out.canvasKinds[0]!) > 0.99999);
  }

  test('WASM single-threaded (not isolated) matches Node', async () => {
    const out = await run(plain, 'wasm');
    assert.equal(out.backend, 'wasm');
    assert.equal(out.isolated, false);
    assert.equal(out.numThreads, 1);
    assertSameAsNode(out);
  });

  test('WASM multi-threaded on a cross-origin-isolated page matches Node', async () => {
    const out = await run(isolated, 'wasm');
    assert.equal(out.isolated, true);
    assert.ok(out.numThreads >= 2, `threads ${out.numThreads}`);
    assertSameAsNode(out);
  });

  test('WebGPU (SwiftShader) alone passes the self-check and matches Node', async () => {
    // WebGPU alone: with WASM listed too, SwiftShader is timed slower and passed over (device-choice.test.ts).
    const out = await run(plain, 'webgpu', { webgpu: true });
    assert.equal(out.backend, 'webgpu', JSON.stringify(out.attempts));
    assert.ok(out.attempts[0]!.cosine! >= 0.999);
    assertSameAsNode(out);
  });

  test('auto with WebNN exposed: the browser refuses NPU and GPU contexts, each reason is recorded, and the chain falls through', async () => {
    const out = await run(plain, 'auto', { webnn: true });
    const [npu, gpu, webgpu, wasm] = out.attempts;
    assert.equal(npu!.status, 'unavailable');
    assert.match(npu!.reason!, /WebNN npu refused/);
    assert.equal(gpu!.status, 'unavailable');
    assert.match(gpu!.reason!, /WebNN gpu refused/);
    assert.equal(webgpu!.status, 'unavailable'); // WebGPU not enabled in this launch
    assert.equal(wasm!.status, 'ok');
    assert.equal(out.backend, 'wasm');
    assertSameAsNode(out);
  });

  test('auto without WebNN: navigator.ml missing is the recorded reason', async () => {
    const out = await run(plain, 'auto');
    assert.match(out.attempts[0]!.reason!, /navigator\.ml is missing/);
    assert.equal(out.backend, 'wasm');
  });
});
