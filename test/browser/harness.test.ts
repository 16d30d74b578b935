import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasChromium, launchChromium, pageResult, serve } from './harness.js';

test('browser harness: isolated page, WebGPU and WebNN flags are seen by the page', {
  skip: !hasChromium && 'no /usr/bin/chromium',
}, async () => {
  const server = await serve({ isolated: true });
  const chrome = await launchChromium({ webgpu: true, webnn: true });
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/smoke.ts'));
    const r = await pageResult<{ isolated: boolean; webgpu: boolean; webnn: boolean; idb: string }>(page);
    assert.deepEqual(r, { isolated: true, webgpu: true, webnn: true, idb: 'object' });
  } finally {
    await chrome.close();
    await server.close();
  }
});
