import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { hasChromium, launchChromium, pageResult, serve } from './harness.js';
import { cosine, type DeviceAttempt, type DeviceChoice, type ThreadChoice } from '../../src/runtime/index.js';

interface Open {
  device: string;
  choice: DeviceChoice;
  attempts: DeviceAttempt[];
  openMs: number;
  embedding: number[];
}
interface PageOut {
  opens: Open[];
  wasmFiles: string[];
}

const skip = !hasChromium && 'no /usr/bin/chromium (npm test installs it)';

async function run(query: Record<string, string>): Promise<PageOut> {
  const server = await serve();
  const chrome = await launchChromium({ webgpu: true });
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/device-choice.ts', query));
    return await pageResult<PageOut>(page, 180_000);
  } finally {
    await chrome.close();
    await server.close();
  }
}

describe('device choice by speed in real Chromium (WebGPU here is SwiftShader, a software renderer)', { skip }, () => {
  test('auto picks WASM and says why; a second open reuses the remembered decision', async () => {
    const { opens, wasmFiles } = await run({ run: 'auto' });
    const [first, second] = opens;
    assert.equal(first!.device, 'wasm');
    assert.equal(first!.choice.how, 'only');
    assert.match(first!.choice.reason, /webgpu: the WebGPU adapter is a software renderer/);
    assert.equal(first!.choice.saved, true);
    assert.equal(second!.device, 'wasm');
    assert.equal(second!.choice.how, 'remembered');
    assert.match(second!.choice.reason, /remembered from an earlier open/);
    assert.equal(second!.attempts[0]!.device, 'wasm');
    assert.ok(
      second!.attempts.slice(1).every((a) => a.status === 'skipped'),
      JSON.stringify(second!.attempts),
    );
    assert.ok(cosine(first!.embedding, second!.embedding) > 0.99999);
    // Only the plain WASM build was fetched: no WebGPU runtime for a device that was passed over.
    assert.deepEqual([...new Set(wasmFiles)], ['ort-wasm-simd-threaded.wasm']);
  });

  test('with the software adapter allowed, WebGPU passes the self-check but is timed slower than WASM, and WASM is chosen by measurement', async (tc) => {
    const { opens, wasmFiles } = await run({ run: 'sw', softwareGpu: '1' });
    const [first, second] = opens;
    assert.equal(first!.device, 'wasm', JSON.stringify(first!.attempts));
    assert.equal(first!.choice.how, 'measured');
    const gpu = first!.attempts.find((a) => a.device === 'webgpu')!;
    assert.equal(gpu.status, 'slower');
    assert.ok(gpu.cosine! >= 0.999, `cosine ${gpu.cosine}`);
    assert.match(gpu.reason!, /correct but slower: batch-1 canary .* against WASM's/);
    const t = first!.choice.timings;
    assert.ok(t.webgpu! > 1.25 * t.wasm!, JSON.stringify(t));
    assert.match(first!.choice.reason, /WASM ran the batch-1 canary in .*webgpu took/);
    tc.diagnostic(
      `batch-1 canary ms: ${JSON.stringify(t)}; open ${first!.openMs.toFixed(0)} ms, remembered open ${second!.openMs.toFixed(0)} ms`,
    );
    // The second open does not compile WebGPU again.
    assert.equal(second!.choice.how, 'remembered');
    assert.ok(second!.openMs < first!.openMs, `${second!.openMs} vs ${first!.openMs} ms`);
    // The WASM reference ran in the WebGPU build already loaded: one runtime binary, not two.
    assert.deepEqual([...new Set(wasmFiles)], ['ort-wasm-simd-threaded.asyncify.wasm']);
  });
});

describe('WASM thread count by measurement in real Chromium (cross-origin isolated)', { skip }, () => {
  test('page loads time all cores, then 1 thread, then keep the faster; ORT runs with the chosen count', async (t) => {
    interface Load {
      device: string;
      threads: ThreadChoice;
      ortThreads: number;
      isolated: boolean;
      cores: number;
      embedding: number[];
    }
    const server = await serve({ isolated: true });
    const chrome = await launchChromium();
    try {
      const loads: Load[] = [];
      for (let i = 0; i < 3; i++) {
        const page = await chrome.open(server.pageUrl('test/browser/pages/thread-choice.ts'));
        loads.push(await pageResult<Load>(page, 120_000));
        await page.close();
      }
      const [a, b, c] = loads;
      assert.equal(a!.isolated, true);
      assert.ok(a!.cores >= 2, 'needs at least 2 cores to have a choice');
      const all = Math.min(4, a!.cores);
      assert.deepEqual([a!.threads.how, a!.threads.threads, a!.ortThreads], ['trial', all, all]);
      assert.deepEqual([b!.threads.how, b!.threads.threads, b!.ortThreads], ['trial', 1, 1]);
      assert.equal(c!.threads.how, 'measured');
      const tm = c!.threads.timings;
      assert.ok(tm[1]! > 0 && tm[all]! > 0, JSON.stringify(tm));
      const faster = tm[1]! <= tm[all]! ? 1 : all;
      assert.equal(c!.threads.threads, faster);
      assert.equal(c!.ortThreads, faster);
      assert.match(c!.threads.reason, /ran the canary fastest/);
      assert.ok(cosine(a!.embedding, b!.embedding) > 0.9999);
      t.diagnostic(`batch-4 canary ms by threads: ${JSON.stringify(tm)}; chosen ${faster}`);
    } finally {
      await chrome.close();
      await server.close();
    }
  });
});
