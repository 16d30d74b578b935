import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { hasChromium, launchChromium, pageResult, serve, REPO_ROOT } from './harness.js';
import { cosine, type DeviceAttempt } from '../../src/runtime/index.js';

interface Out {
  id: string;
  backend: string;
  attempts: DeviceAttempt[];
  phases: string[];
  embeddings: number[][];
}

const indexPath = `${REPO_ROOT}/models/index.json`;
const skip = (!hasChromium && 'no /usr/bin/chromium') || (!existsSync(indexPath) && 'no shipped encoder (models/index.json)');

// The shipped default encoder gives its checked-in golden embeddings (onnxruntime-node, native) in the
// browser too, on every device that runs here, opened the way an app opens it: from its manifest URL.
describe('shipped default encoder in Chromium matches its goldens', { skip }, () => {
  const run = async (device: string, opts: { isolated?: boolean; webgpu?: boolean } = {}): Promise<Out> => {
    const server = await serve({ isolated: opts.isolated ?? false });
    const chrome = await launchChromium({ webgpu: opts.webgpu ?? false });
    try {
      const page = await chrome.open(server.pageUrl('test/browser/pages/shipped.ts', { device }));
      return await pageResult<Out>(page, 120_000);
    } finally {
      await chrome.close();
      await server.close();
    }
  };
  const check = (out: Out): void => {
    const golden = JSON.parse(readFileSync(`${REPO_ROOT}/models/golden/${out.id}.json`, 'utf8')) as { onnxruntimeNode: number[][] };
    assert.equal(out.embeddings.length, 8);
    out.embeddings.forEach((e, k) => {
      const c = cosine(e, golden.onnxruntimeNode[k]!);
      assert.ok(c >= 0.999, `image ${k}: cosine ${c} against the golden`);
    });
    assert.deepEqual(out.phases, ['download', 'verify', 'compile', ...(out.backend === 'wasm' ? [] : ['selfcheck']), 'warmup', 'ready']);
  };

  test('WASM, one thread', async () => {
    const out = await run('wasm');
    assert.equal(out.backend, 'wasm');
    check(out);
  });
  test('WASM, threads (cross-origin isolated)', async () => {
    const out = await run('wasm', { isolated: true });
    check(out);
  });
  test('WebGPU, after passing the self-check', async () => {
    const out = await run('webgpu,wasm', { webgpu: true });
    assert.equal(out.backend, 'webgpu', JSON.stringify(out.attempts));
    assert.ok(out.attempts[0]!.cosine! >= 0.999);
    check(out);
  });
});
