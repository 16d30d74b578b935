// Real-browser tests of the personalizer in headless Chromium: one behaviour suite in-thread and in a Worker, and the README snippet across a page reload.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasChromium, launchChromium, pageResult, serve } from './harness.js';

const skip = !hasChromium && 'no /usr/bin/chromium';

for (const mode of ['thread', 'worker'] as const) {
  test(`personalizer in Chromium (${mode}): every behaviour case passes on real IndexedDB, Web Locks and BroadcastChannel`, {
    skip,
    timeout: 300_000,
  }, async () => {
    const server = await serve();
    const chrome = await launchChromium();
    try {
      const page = await chrome.open(server.pageUrl('test/browser/pages/personalizer.ts', { mode }));
      const r = await pageResult<{
        results: { name: string; ok: boolean; error?: string }[];
        inWorker: boolean;
        badWorkerStorage: string;
      }>(page, 290_000);
      const failed = r.results.filter((x) => !x.ok);
      assert.deepEqual(failed, [], failed.map((f) => `${f.name}: ${f.error}`).join('\n'));
      assert.ok(r.results.length >= 7, `ran ${r.results.length} cases`);
      assert.equal(r.inWorker, mode === 'worker');
      if (mode === 'worker') assert.equal(r.badWorkerStorage, 'INVALID_ARGUMENT');
    } finally {
      await chrome.close();
      await server.close();
    }
  });

  test(`README snippet in Chromium (${mode}): teach two classes from images, predict, reload the page and predict the same`, {
    skip,
    timeout: 180_000,
  }, async () => {
    const server = await serve();
    const chrome = await launchChromium();
    try {
      const page = await chrome.open(
        server.pageUrl('test/browser/pages/personalizer.ts', { mode, phase: 'readme-teach' }),
      );
      const first = await pageResult<{ labels: string[]; classes: string[]; inWorker: boolean }>(page, 170_000);
      assert.equal(first.inWorker, mode === 'worker');
      assert.deepEqual(first.classes, ['bag', 'trouser']);
      const right = first.labels.filter((l, i) => l === (i < 10 ? 'trouser' : 'bag')).length;
      assert.ok(right >= 17, `${right}/20 held-out images right`);
      // Same origin, same profile: the reloaded page restores what the first one learned.
      await page.goto(server.pageUrl('test/browser/pages/personalizer.ts', { mode, phase: 'readme-reload' }));
      const second = await pageResult<{ labels: string[]; classes: string[] }>(page, 170_000);
      assert.deepEqual(second.classes, ['bag', 'trouser']);
      assert.deepEqual(second.labels, first.labels, 'the same predictions after the reload');
    } finally {
      await chrome.close();
      await server.close();
    }
  });
}

test('worker lost in Chromium: a worker dying mid-embed rejects every pending call with WORKER_LOST; dispose while busy terminates; the app restarts it; detached inputs are INPUT_TYPE', {
  skip,
  timeout: 180_000,
}, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/worker-lost.ts'));
    const r = await pageResult<Record<string, unknown>>(page, 170_000);
    assert.deepEqual(r['pendingCodes'], ['WORKER_LOST', 'WORKER_LOST']);
    assert.equal(r['laterCode'], 'WORKER_LOST');
    assert.equal(r['laterOpen'], 'WORKER_LOST');
    assert.deepEqual(r['lostEvents'], ['WORKER_LOST']);
    assert.equal(r['restartedDim'], 16);
    assert.ok(['DISPOSED', 'ABORTED'].includes(r['busyCode'] as string), `busy embed on dispose: ${r['busyCode']}`);
    assert.equal(r['afterDispose'], 'DISPOSED');
    assert.equal(r['detached'], 'INPUT_TYPE');
    assert.equal(r['detachedCopy'], 'INPUT_TYPE');
    assert.equal(r['closedBitmap'], 'INPUT_TYPE');
    assert.equal(r['notArray'], 'INPUT_TYPE');
    assert.equal(r['stillWorks'], 16);
    assert.equal(r['throwHandlerUntouched'], true, "comlink's global throw handler is not replaced");
  } finally {
    await chrome.close();
    await server.close();
  }
});
