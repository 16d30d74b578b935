import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasChromium, launchChromium, pageResult, serve } from './harness.js';

test('encoder in a real module Worker: same embeddings as the main thread, typed errors, abort, transfer, dispose', {
  skip: !hasChromium && 'no /usr/bin/chromium',
}, async () => {
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

test('learner and storage in a real module Worker: same answers as in-thread, progress, abort, events, shared IndexedDB, typed errors, dispose', {
  skip: !hasChromium && 'no /usr/bin/chromium',
}, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/worker-learner.ts'));
    const r = await pageResult<Record<string, unknown>>(page, 120_000);
    assert.equal(r['readyBefore'], false);
    assert.equal(r['readyAfter'], true);
    assert.deepEqual(r['classes'], ['a', 'b', 'c']);
    assert.equal(r['sameObservations'], r['observations'], 'every observation in the worker equals the in-thread one');
    const [stepsLocal, stepsRemote] = r['adaptSteps'] as number[];
    assert.ok(stepsLocal! > 0 && stepsLocal === stepsRemote);
    assert.deepEqual(r['phases'], ['prepare', 'train', 'guard', 'ready']);
    assert.equal(r['samePrediction'], true);
    assert.equal(
      r['restoredPrediction'],
      true,
      'a learner restored from the checkpoint the page read predicts the same',
    );
    assert.equal(r['seen'], 120);
    assert.ok((r['events'] as string[]).includes('adapted'), JSON.stringify(r['events']));
    assert.equal(r['abortCode'], 'ABORTED');
    assert.equal(r['abortedFitted'], false, 'the aborted first fit was undone');
    assert.equal(r['unknownLabel'], 'UNKNOWN_LABEL');
    assert.equal(r['nonFinite'], 'NON_FINITE');
    assert.equal(r['savedVersion'], 1);
    assert.deepEqual(r['ckptEvents'], [1]);
    assert.ok((r['saveProgress'] as string[]).includes('write'), JSON.stringify(r['saveProgress']));
    assert.deepEqual(r['meta'], { v: 1 });
    assert.equal(r['abortedSave'], 'ABORTED');
    assert.deepEqual(r['versions'], [1], 'the aborted save wrote nothing');
    assert.equal(r['cachedBackend'], 'wasm');
    assert.equal(r['embDim'], 16);
    assert.equal(r['pixelsMoved'], true, 'input pixels are transferred, not copied');
    assert.equal(r['missing'], 'MODEL_NOT_FOUND');
    assert.equal(r['afterDispose'], 'DISPOSED');
    assert.equal(r['storageAfterDispose'], 'DISPOSED');
    assert.equal(r['workerAfterDispose'], 'DISPOSED');
  } finally {
    await chrome.close();
    await server.close();
  }
});
