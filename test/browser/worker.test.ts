import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasChromium, launchChromium, pageResult, serve } from './harness.js';

test('encoder in a real module Worker: same embeddings as the main thread, typed errors, abort, transfer, dispose', { skip: !hasChromium && 'no /usr/bin/chromium' }, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/worker.ts'));
    const r = await pageResult<Record<string, unknown>>(page, 120_000);
    assert.equal(r['count'], 7);
    assert.equal(r['dim'], 16);
    assert.ok((r['maxDiff'] as number) < 1e-6, `max diff ${r['maxDiff']}`);
    assert.equal(r['backend'], 'wasm');
    assert.deepEqual(r['phases'], ['verify', 'compile', 'warmup', 'ready']);
    assert.equal(r['crossedCode'], 'CHECKSUM_MISMATCH');
    assert.equal(r['abortedCode'], 'ABORTED');
    assert.equal(r['disposedCode'], 'DISPOSED');
    assert.equal(r['bitmapTransferred'], true);
  } finally {
    await chrome.close();
    await server.close();
  }
});
