// Responsiveness: the whole loop in a Worker vs in-thread while a requestAnimationFrame loop runs. Timings are reported, not asserted
// (npm run bench:worker prints them as ratios); the test checks the loop really ran on both sides with the same learning result.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { hasChromium, launchChromium, pageResult, serve, REPO_ROOT } from './harness.js';
import type { ResponsiveResult } from './pages/responsive.js';

const skip =
  (!hasChromium && 'no /usr/bin/chromium') || (!existsSync(`${REPO_ROOT}/models/index.json`) && 'no shipped encoder');

test('load + embed + learn in a Worker keeps frames coming; the same work in-thread is measured alongside', {
  skip,
}, async (t) => {
  const server = await serve();
  const chrome = await launchChromium();
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/responsive.ts', { n: '256' }));
    const r = await pageResult<ResponsiveResult>(page, 180_000);
    assert.equal(r.longTaskSupported, true);
    const [thread, worker] = r.runs;
    for (const run of r.runs) {
      t.diagnostic(
        `${run.mode}: ${run.frames} frames in ${run.totalMs.toFixed(0)} ms, longest frame gap ${run.maxFrameGapMs.toFixed(0)} ms, ${run.longTasks} long tasks (longest ${run.maxLongTaskMs.toFixed(0)} ms, total ${run.longTaskTotalMs.toFixed(0)} ms)`,
      );
      assert.ok(run.frames > 0, `${run.mode}: the rAF loop never ran`);
    }
    // Same data, same seed: the learning outcome does not depend on where it ran.
    assert.equal(worker!.streamCorrect, thread!.streamCorrect);
    assert.equal(worker!.adaptSteps, thread!.adaptSteps);
    assert.ok(thread!.streamCorrect > 0.5 * (256 - 50), `stream accuracy ${thread!.streamCorrect}/206`);
  } finally {
    await chrome.close();
    await server.close();
  }
});
