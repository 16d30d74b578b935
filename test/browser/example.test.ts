// Browser test of examples/mobile: build it, open it at a phone viewport, label sample images by tapping, see predictions, then reload offline and find the app and what it learned still there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { serveExample } from '../../examples/mobile/serve.mjs';
import { hasChromium, launchChromium, REPO_ROOT } from './harness.js';

const DIST = join(REPO_ROOT, 'examples', 'mobile', 'dist');
const CLASSES = ['Trouser', 'Bag', 'Sneaker'];
const PER_CLASS = 3;

async function frameId(page: Page): Promise<string> {
  return (await page.getAttribute('#truth', 'data-frame')) ?? '';
}

/** Clicks `selector` and waits until the app shows a different frame. */
async function clickAndAdvance(page: Page, selector: string): Promise<void> {
  const before = await frameId(page);
  await page.click(selector);
  await page.waitForFunction((b) => document.getElementById('truth')?.dataset['frame'] !== b, before, { timeout: 10_000 });
}

/** Waits until the app has started (or failed to) and fails with its error banner when it did not load. */
async function waitStarted(page: Page): Promise<void> {
  await page.waitForSelector('body[data-state]', { state: 'attached', timeout: 30_000 });
  const st = await page.getAttribute('body', 'data-state');
  assert.equal(st, 'ready', `app did not start: ${await page.textContent('#error')}`);
}

async function classCounts(page: Page): Promise<Record<string, number>> {
  return page.$$eval('#classes .cls', (els) => Object.fromEntries(els.map((e) => [(e as HTMLElement).dataset['class'] ?? '', Number(/\((\d+) example/.exec(e.getAttribute('aria-label') ?? '')?.[1] ?? -1)])));
}

test('mobile example: label sample images, predict, then start offline with the learned classes restored', { skip: !hasChromium && 'no /usr/bin/chromium' }, async (t) => {
  const built = spawnSync(process.execPath, [join(REPO_ROOT, 'examples', 'mobile', 'build.mjs'), '--quiet'], { cwd: REPO_ROOT, encoding: 'utf8' });
  assert.equal(built.status, 0, `build failed: ${built.stderr}`);
  assert.ok(existsSync(join(DIST, 'sw.js')) && existsSync(join(DIST, 'worker.js')) && existsSync(join(DIST, 'ort', 'ort-wasm-simd-threaded.wasm')));

  const server = await serveExample({ root: DIST });
  // Chromium's fake camera (a moving test pattern) stands in for a phone's rear camera; permission is granted without a prompt.
  const chrome = await launchChromium({ args: ['--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream'] });
  try {
    const page = await chrome.open('about:blank');
    await page.setViewportSize({ width: 360, height: 640 });
    await page.goto(`${server.origin}/`);
    await waitStarted(page);
    await page.waitForSelector('body[data-sw="ready"]', { timeout: 30_000 });
    await page.waitForSelector('body[data-model-cached]', { state: 'attached', timeout: 30_000 });
    assert.match((await page.textContent('#diag')) ?? '', /Loaded fromapp files cached by the service worker|Loaded fromnetwork/);

    // Where the encoder runs, and why.
    assert.match((await page.textContent('#device')) ?? '', /^wasm/);
    const attempts = await page.$$eval('#attempts li', (li) => li.map((x) => x.textContent ?? ''));
    assert.ok(attempts.some((a) => a.startsWith('wasm: ok')), attempts.join(' | '));
    assert.match((await page.textContent('#diag')) ?? '', /page is cross-origin isolated/);
    assert.equal(await page.isVisible('#error'), false, (await page.textContent('#error')) ?? '');

    for (const name of CLASSES) {
      await page.fill('#class-name', name);
      await page.click('#add-class');
      await page.waitForSelector(`#classes .cls[data-class="${name}"]`);
    }
    assert.match((await page.textContent('#pred-conf')) ?? '', /Label at least one image/);

    // Tap through the sample: label the images of our classes, skip the rest.
    const labeled: Record<string, number> = Object.fromEntries(CLASSES.map((c) => [c, 0]));
    for (let guard = 0; guard < 300 && Object.values(labeled).some((n) => n < PER_CLASS); guard++) {
      const truth = (await page.getAttribute('#truth', 'data-label')) ?? '';
      if (CLASSES.includes(truth) && labeled[truth]! < PER_CLASS) {
        await clickAndAdvance(page, `#classes .cls[data-class="${truth}"]`);
        labeled[truth]!++;
      } else {
        await clickAndAdvance(page, '#next');
      }
    }
    assert.deepEqual(await classCounts(page), labeled);
    assert.deepEqual(labeled, Object.fromEntries(CLASSES.map((c) => [c, PER_CLASS])));

    // Predictions with a confidence appear for the next images.
    const predicted = (await page.textContent('#pred-label')) ?? '';
    assert.ok(CLASSES.includes(predicted), `prediction "${predicted}"`);
    const conf = Number(await page.getAttribute('#pred-conf', 'data-confidence'));
    assert.ok(conf >= 1 / CLASSES.length && conf <= 1, `confidence ${conf}`);

    // On the shipped encoder, 3 labels per class already separate these classes on unseen sample images.
    let hits = 0;
    let scored = 0;
    for (let guard = 0; guard < 200 && scored < 20; guard++) {
      await clickAndAdvance(page, '#next');
      const truth = (await page.getAttribute('#truth', 'data-label')) ?? '';
      if (!CLASSES.includes(truth)) continue;
      scored++;
      if ((await page.textContent('#pred-label')) === truth) hits++;
    }
    const modelId = /Model([a-z0-9-]+)/.exec((await page.textContent('#diag')) ?? '')?.[1] ?? '';
    t.diagnostic(`${modelId}: ${hits}/${scored} unseen sample images of the 3 classes predicted right after 3 labels per class`);
    if (!modelId.startsWith('fixture-')) assert.ok(hits / scored >= 0.7, `${hits}/${scored} right on ${modelId}`);

    // The unlabeled stream reaches the learner in live mode.
    await page.click('#live');
    await page.waitForFunction(() => Number(document.getElementById('st-seen')?.textContent) >= 5, undefined, { timeout: 15_000 });
    await page.click('#live');
    await page.waitForFunction(() => document.getElementById('live')?.getAttribute('aria-pressed') === 'false');

    // Camera frames go through the same path: a captured frame gets a prediction.
    await page.click('#src-camera');
    await page.waitForFunction(() => {
      const v = document.getElementById('video') as HTMLVideoElement | null;
      return !!v && !v.hidden && v.readyState >= 2 && v.videoWidth > 0;
    }, undefined, { timeout: 10_000 });
    assert.equal(await page.getAttribute('#src-camera', 'aria-pressed'), 'true');
    await clickAndAdvance(page, '#next');
    assert.ok(CLASSES.includes((await page.textContent('#pred-label')) ?? ''), 'prediction for a camera frame');
    assert.equal(await page.getAttribute('#truth', 'data-label'), '');
    await clickAndAdvance(page, '#src-sample');
    assert.equal(await page.isVisible('#error'), false, (await page.textContent('#error')) ?? '');

    // Moving past frames feeds the learner; wait until the checkpoint holds the latest count.
    const seen = Number(await page.textContent('#st-seen'));
    await page.waitForFunction((n) => document.body.dataset['savedSeen'] === String(n), seen, { timeout: 10_000 });

    // Network off (and the server gone): the service worker starts the app; IndexedDB gives back the classes.
    await chrome.context.setOffline(true);
    await server.close();
    await page.reload();
    await waitStarted(page);
    assert.equal(await page.isVisible('#error'), false, (await page.textContent('#error')) ?? '');
    assert.equal(await page.getAttribute('body', 'data-restored'), String(CLASSES.length));
    // The model bytes came from edgetune/storage's IndexedDB cache this time.
    assert.match((await page.textContent('#diag')) ?? '', /Loaded fromIndexedDB model cache/);
    assert.deepEqual(await classCounts(page), labeled);
    assert.equal(Number(await page.textContent('#st-seen')), seen);
    assert.equal((await page.textContent('#net'))?.trim(), 'offline');
    assert.ok(CLASSES.includes((await page.textContent('#pred-label')) ?? ''), 'prediction after offline restart');

    // The WASM path needs exactly two ORT files.
    const ortFiles = [...new Set(server.requests.filter((p) => p.startsWith('/ort/')))].sort();
    assert.deepEqual(ortFiles, ['/ort/ort-wasm-simd-threaded.mjs', '/ort/ort-wasm-simd-threaded.wasm']);

    const timing = (await page.textContent('#timing')) ?? '';
    const load = /Load time(\d+) ms/.exec((await page.textContent('#diag')) ?? '')?.[1];
    t.diagnostic(`offline start: model load ${load} ms in the worker; ${timing}`);
    await page.screenshot({ path: join(REPO_ROOT, 'examples', 'mobile', 'screenshot.png') });

    // A second tab of the app (same profile) adds a class; the first tab takes it over from the shared checkpoint.
    const other = await chrome.context.newPage();
    await other.goto(`${server.origin}/`);
    await waitStarted(other);
    await other.fill('#class-name', 'Coat');
    await other.click('#add-class');
    await page.waitForSelector('#classes .cls[data-class="Coat"]', { timeout: 10_000 });
    await other.close();
  } finally {
    await chrome.close();
    await server.close().catch(() => undefined);
  }
});
