// Issue 14 (manifest file confinement in a page; abort of Encoder.open through edgetune/worker) and issue 16 ('auto' passes over a software WebGPU adapter) in real Chromium.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasChromium, launchChromium, pageResult, serve, type TestServer } from './harness.js';
import type { DeviceAttempt } from '../../src/runtime/index.js';

const skip = !hasChromium && 'no /usr/bin/chromium (npm test installs it)';

describe('runtime hardening in real Chromium', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await serve();
  });
  after(async () => {
    await server.close();
  });

  async function run<T>(mode: string, flags: { webgpu?: boolean } = {}): Promise<T> {
    const chrome = await launchChromium(flags);
    try {
      return await pageResult<T>(
        await chrome.open(server.pageUrl('test/browser/pages/hardening.ts', { mode })),
        240_000,
      );
    } finally {
      await chrome.close();
    }
  }

  test("issue 16: with WebGPU on SwiftShader, 'auto' picks WASM and records why; softwareGpu: true lets it be tried, and the speed comparison still picks WASM", async () => {
    type Side = { backend: string; attempts: DeviceAttempt[] };
    const out = await run<{
      adapter: { architecture?: string; isFallbackAdapter: boolean | null } | null;
      auto: Side;
      allowed: Side;
    }>('auto', { webgpu: true });
    assert.ok(out.adapter, 'this launch must expose a WebGPU adapter, or the test proves nothing');
    assert.equal(out.auto.backend, 'wasm', JSON.stringify(out.auto.attempts));
    const gpu = out.auto.attempts.find((a) => a.device === 'webgpu')!;
    assert.equal(gpu.status, 'unavailable');
    assert.match(gpu.reason!, /software renderer/);
    assert.match(gpu.reason!, /swiftshader|isFallbackAdapter/i);
    // Allowed, it is tried: correct (self-check passes) but timed far slower than WASM, so WASM still runs.
    const tried = out.allowed.attempts.find((a) => a.device === 'webgpu')!;
    assert.equal(tried.status, 'slower', JSON.stringify(out.allowed.attempts));
    assert.equal(out.allowed.backend, 'wasm');
  });

  test('issue 14: a manifest file outside its directory or origin is refused in the browser (relative URLs resolved against the page)', async () => {
    const out = await run<{ outcomes: Record<string, string>; fetched: string[] }>('files');
    const { null: good, ...bad } = out.outcomes;
    assert.equal(good, 'resolved', 'the shipped manifest as it is must open');
    for (const [file, code] of Object.entries(bad)) assert.equal(code, 'MANIFEST_INVALID', file);
    // Only the manifest was fetched for each refused file; the good one fetched its model next to it.
    const models = out.fetched.filter((u) => !u.endsWith('.json'));
    assert.equal(models.length, 1, models.join(', '));
    assert.match(models[0]!, /\/models\/fmnist-cnn-vicreg-int8\.onnx$/);
  });

  test('issue 14: abort of Encoder.open through edgetune/worker (at compile, and 1 ms after start) → ABORTED; the worker stays usable', async () => {
    const out = await run<{ outcomes: Record<string, string> }>('worker');
    assert.deepEqual(out.outcomes, { compile: 'ABORTED', 'compile-then': '2', '1ms': 'ABORTED', '1ms-then': '2' });
  });
});
