// e2e test of examples/mobile at the kiosk profile (1280×800): the settings switch into kiosk mode, landscape layout, idle reset to the home screen with nothing kept, PIN to leave, an encrypted kiosk profile (no plaintext in IndexedDB), recovery from a damaged cached model, a missing WASM file named as a deployment problem, axe.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { serveExample } from '../../examples/mobile/serve.mjs';
import {
  DIST,
  axe,
  buildExample,
  classCounts,
  cropKind,
  launch,
  profile,
  type Scene,
  sceneShown,
  shot,
  waitReady,
  waitScene,
  writeY4m,
} from './fixtures/example-app.js';
import { hasChromium } from './harness.js';

async function teachSamples(page: Page, per: number): Promise<void> {
  for (const c of ['Trouser', 'Bag']) {
    await page.fill('#class-name', c);
    await page.click('#add-class');
    await page.waitForSelector(`#classes .cls[data-class="${c}"]`);
  }
  const done: Record<string, number> = { Trouser: 0, Bag: 0 };
  for (let guard = 0; guard < 300 && (done['Trouser']! < per || done['Bag']! < per); guard++) {
    const truth = (await page.getAttribute('#truth', 'data-label')) ?? '';
    const frame = await page.getAttribute('#truth', 'data-frame');
    if (truth in done && done[truth]! < per) {
      await page.click(`#classes .cls[data-class="${truth}"]`);
      done[truth]!++;
    } else await page.click('#next');
    await page.waitForFunction((f) => document.getElementById('truth')?.dataset['frame'] !== f, frame, {
      timeout: 20_000,
    });
  }
}

/** Holds the title for the admin gesture and answers the PIN prompt (no PIN set: just confirms). */
async function openAdminPanel(page: Page, pin?: string): Promise<void> {
  const title = (await page.locator('#title').boundingBox())!;
  await page.mouse.move(title.x + 10, title.y + 10);
  await page.mouse.down();
  await page.waitForTimeout(2500);
  await page.mouse.up();
  await page.waitForSelector('#dlg[open]');
  if (pin !== undefined) await page.fill('#dlg-input', pin);
  await page.click('#dlg-ok');
  await page.waitForSelector('#admin:not([hidden])');
}

/** Admin panel: captures the empty scene `scene` as the background reference. */
async function captureEmpty(page: Page, scene: Scene): Promise<void> {
  await openAdminPanel(page);
  await waitScene(page, scene);
  const before = await page.textContent('#bg-state');
  await page.click('#bg-capture');
  await page.waitForFunction((b) => document.getElementById('bg-state')?.textContent !== b, before);
  assert.equal(await page.getAttribute('body', 'data-background'), 'set');
  assert.equal(await sceneShown(page), scene, 'the camera moved on while capturing the empty scene');
}

/**
 * The kiosk camera test: Mug and Keys taught on background A (2 frames each, each checked to show its object),
 * then predictions on background C, never taught. With `background`, the admin captures the empty table A
 * before teaching and the empty cloth C before predicting (the kiosk was moved); without, nothing is set.
 */
async function cameraOnNewBackground(
  page: Page,
  background: boolean,
): Promise<{ hits: number; scored: number; tally: string; confidence: number; notSure: number }> {
  await page.click('#home-start');
  await page.click('#src-camera');
  await waitReady(page);
  await page.waitForFunction(() => (document.getElementById('video') as HTMLVideoElement).videoWidth > 0);
  for (const c of ['Mug', 'Keys']) {
    await page.fill('#class-name', c);
    await page.click('#add-class');
    await page.waitForSelector(`#classes .cls[data-class="${c}"]`);
  }
  if (background) {
    await captureEmpty(page, 'empty-A');
    assert.equal(await page.isVisible('#bg-tag'), true, 'no "Empty scene set" on the preview');
    await shot(page, 'kiosk-admin-background');
    await page.click('#admin-close');
  }
  for (const [scene, cls] of [
    ['mug-A', 'Mug'],
    ['keys-A', 'Keys'],
  ] as const) {
    for (let taught = 0, tries = 0; taught < 2 && tries < 20; tries++) {
      await waitScene(page, scene);
      await page.click('#next');
      await page.waitForSelector('body[data-frozen]', { state: 'attached' });
      if ((await cropKind(page, '#freeze')) !== cls.toLowerCase()) {
        await page.click('#next');
        continue;
      }
      await page.click(`#classes .cls[data-class="${cls}"]`);
      await page.waitForSelector('body:not([data-frozen])', { state: 'attached' });
      taught++;
    }
  }
  await page.waitForFunction(
    () => document.querySelector<HTMLElement>('#classes .cls[data-class="Keys"]')?.dataset['examples'] === '2',
    undefined,
    { timeout: 20_000 },
  );
  assert.deepEqual(await classCounts(page), { Mug: 2, Keys: 2 });
  if (background) {
    await captureEmpty(page, 'empty-C');
    await page.click('#admin-close');
  }
  let hits = 0;
  let scored = 0;
  let conf = 0;
  let notSure = 0;
  const seen: Record<string, number> = {};
  for (const scene of ['mug-C', 'keys-C'] as const) {
    await waitScene(page, scene);
    await page.waitForTimeout(400);
    for (let k = 0; k < 8; k++) {
      await page.waitForTimeout(250);
      if ((await sceneShown(page)) !== scene) break;
      const l = await page.getAttribute('#pred-label', 'data-label');
      scored++;
      const key = `${scene.split('-')[0]}→${l}`;
      seen[key] = (seen[key] ?? 0) + 1;
      if (l === (scene.startsWith('mug') ? 'Mug' : 'Keys')) hits++;
      conf += Number(await page.getAttribute('#pred-conf', 'data-confidence'));
      if ((await page.getAttribute('#pred-label', 'data-unknown')) === 'true') notSure++;
    }
  }
  const tally = Object.entries(seen)
    .map(([k, n]) => `${k} ×${n}`)
    .join(', ');
  return { hits, scored, tally, confidence: conf / Math.max(1, scored), notSure };
}

/**
 * Every string and byte array in the app's profile database, as text. Sent as source text: the test
 * runner's transform would wrap inner functions in a helper the page does not have.
 */
async function rawProfileText(page: Page, db: string): Promise<string> {
  return page.evaluate(`(async (name) => {
    const open = await new Promise((res, rej) => {
      const r = indexedDB.open(name);
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
    const parts = [];
    const walk = (v, depth) => {
      if (depth > 8 || v === null || v === undefined) return;
      if (typeof v === 'string') parts.push(v);
      else if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) {
        const b = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
        if (b.byteLength < 200000) parts.push(new TextDecoder('latin1').decode(b));
      } else if (typeof v === 'object') for (const x of Object.values(v)) walk(x, depth + 1);
    };
    for (const store of Array.from(open.objectStoreNames)) {
      const all = await new Promise((res) => {
        const q = open.transaction(store).objectStore(store).getAll();
        q.onsuccess = () => res(q.result);
      });
      parts.push('[' + store + ':' + all.length + ']');
      walk(all, 0);
    }
    open.close();
    return parts.join('\\n');
  })(${JSON.stringify(db)})`);
}

test('mobile example at the kiosk profile: kiosk switch, idle reset, PIN, encrypted profile, damaged-model recovery, missing WASM, axe', {
  skip: !hasChromium && 'no /usr/bin/chromium',
}, async (t) => {
  buildExample();
  const modelFile = readdirModel();
  let fault: 'none' | 'damaged' | 'no-wasm' | 'no-manifest' = 'none';
  const good = readFileSync(join(DIST, 'models', modelFile));
  const bad = Uint8Array.from(good, (b, i) => (i % 97 === 0 ? b ^ 0xff : b));
  const server = await serveExample({
    root: DIST,
    override: (path) => {
      if (fault === 'damaged' && path === `/models/${modelFile}`) return { body: bad };
      if (fault === 'no-wasm' && path.endsWith('.wasm'))
        return { status: 404, body: new TextEncoder().encode('not found') };
      if (fault === 'no-manifest' && path === `/models/${modelFile.replace(/\.onnx$/, '.json')}`)
        return { status: 404, body: new TextEncoder().encode('not found') };
      return undefined;
    },
  });
  // Background A to teach on, and C, a busy cloth in the objects' own colours, as the new background.
  const chrome = await launch(writeY4m(['mug-A', 'keys-A', 'empty-A', 'mug-C', 'keys-C', 'empty-C']));
  try {
    // ---- into kiosk mode with the settings switch, a PIN set first
    const ctx = await profile(chrome, 'kiosk');
    const page = await ctx.newPage();
    page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
    await page.goto(`${server.origin}/`);
    await waitReady(page);
    await page.click('#settings summary');
    await page.fill('#kiosk-pin', '2468');
    await page.press('#kiosk-pin', 'Tab');
    await page.fill('#kiosk-idle', '5');
    await page.press('#kiosk-idle', 'Tab');
    await page.waitForFunction(() =>
      (localStorage.getItem('edgetune-mobile-settings') ?? '').includes('"idleSeconds":5'),
    );
    await Promise.all([page.waitForEvent('load'), page.check('#kiosk-switch')]);
    await waitReady(page);
    assert.equal(await page.getAttribute('body', 'data-kiosk'), '1');
    assert.equal(await page.isVisible('#home'), true, 'kiosk starts on its home screen');
    assert.deepEqual(await axe(page), [], 'axe violations on the kiosk home screen');
    await shot(page, 'kiosk-home');
    await page.click('#home-start');
    // Landscape layout: a large preview beside the classes.
    const frame = (await page.locator('#frame').boundingBox())!;
    const side = (await page.locator('#classes-h').boundingBox())!;
    t.diagnostic(
      `kiosk layout: preview ${Math.round(frame.width)}×${Math.round(frame.height)} px, classes column at x=${Math.round(side.x)}`,
    );
    assert.ok(frame.width >= 600 && side.x > frame.x + frame.width - 1, 'not a landscape two-column layout');
    const target = (await page.locator('#next').boundingBox())!;
    assert.ok(target.height >= 64, `targets ${target.height} px high`);
    await teachSamples(page, 2);
    assert.deepEqual(await classCounts(page), { Trouser: 2, Bag: 2 });
    assert.deepEqual(await axe(page), [], 'axe violations on the kiosk teach screen');
    await shot(page, 'kiosk-teach');
    // Idle: back home, and (keeping nothing) the next visitor starts fresh.
    await page.waitForSelector('body[data-resets="1"]', { state: 'attached', timeout: 30_000 });
    assert.equal(await page.isVisible('#home'), true);
    await page.waitForFunction(() => document.querySelectorAll('#classes .cls').length === 0, undefined, {
      timeout: 10_000,
    });
    // Leaving needs the admin gesture and the PIN (then the admin panel's Leave button).
    const title = (await page.locator('#title').boundingBox())!;
    await page.click('#home-start');
    await page.mouse.move(title.x + 10, title.y + 10);
    await page.mouse.down();
    await page.waitForTimeout(2500);
    await page.mouse.up();
    await page.waitForSelector('#dlg[open]');
    await page.fill('#dlg-input', '1111');
    await page.click('#dlg-ok');
    await page.waitForSelector('#dlg-msg:not(:empty)');
    assert.match((await page.textContent('#dlg-msg')) ?? '', /Wrong PIN/);
    await shot(page, 'kiosk-admin');
    await page.fill('#dlg-input', '2468');
    await page.click('#dlg-ok');
    await page.waitForSelector('#admin:not([hidden])');
    assert.equal(await page.isDisabled('#bg-capture'), true, 'an empty scene can be captured with the camera off');
    await Promise.all([page.waitForEvent('load'), page.click('#admin-leave')]);
    await waitReady(page);
    assert.equal(await page.getAttribute('body', 'data-kiosk'), null, 'still in kiosk mode after the PIN');

    // ---- encrypted kiosk profile: restored after a reload, no class name in clear in IndexedDB
    await page.goto(`${server.origin}/?kiosk=1&store=encrypted&idle=600`);
    await waitReady(page);
    await page.click('#home-start');
    await teachSamples(page, 2);
    await page.waitForFunction(() => document.body.dataset['savedAt'] !== undefined, undefined, { timeout: 20_000 });
    await page.waitForTimeout(1500);
    await page.reload();
    await waitReady(page);
    assert.deepEqual(await classCounts(page), { Trouser: 2, Bag: 2 });
    const raw = await rawProfileText(page, 'edgetune-mobile');
    assert.ok(raw.includes('[checkpoints:') || raw.includes('[samples:'), raw.slice(0, 300));
    assert.equal(/Trouser|Bag/.test(raw), false, 'a class name is stored in clear');
    // The camera at kiosk size: the large preview with its viewfinder.
    await page.click('#home-start');
    await page.click('#src-camera');
    await waitReady(page);
    await waitScene(page, 'mug-A');
    assert.equal(await page.isVisible('#viewfinder'), true);
    assert.deepEqual(await axe(page), [], 'axe violations on the kiosk camera screen');
    await shot(page, 'kiosk-camera');
    await ctx.close();

    // ---- "capture the empty scene": accuracy on a new background with and without the reference
    const encoder = JSON.parse(readFileSync(join(DIST, 'models', 'app.json'), 'utf8')).camera.manifest as string;
    const runs: Record<string, Awaited<ReturnType<typeof cameraOnNewBackground>>> = {};
    for (const withBg of [false, true]) {
      const c = await profile(chrome, 'kiosk');
      const pg = await c.newPage();
      pg.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
      await pg.goto(`${server.origin}/?kiosk=1&idle=600`);
      await waitReady(pg);
      const r = await cameraOnNewBackground(pg, withBg);
      runs[String(withBg)] = r;
      t.diagnostic(
        `kiosk camera, taught on background A, predicted on new background C (busy cloth), ${encoder}, ${withBg ? 'with the empty scene captured (A, then C)' : 'no empty scene'}: ${r.hits}/${r.scored} right (${r.tally}), mean confidence ${r.confidence.toFixed(3)}, shown as "Not sure" ${r.notSure}×`,
      );
      if (withBg) {
        assert.deepEqual(await axe(pg), [], 'axe violations on the kiosk camera screen with an empty scene set');
        await waitScene(pg, 'mug-C');
        await pg.waitForTimeout(800);
        await pg.evaluate(() => window.scrollTo(0, 0));
        await shot(pg, 'kiosk-camera-background');
        // Clear: the visible state follows, and the reference is dropped in the worker too.
        await openAdminPanel(pg);
        await pg.click('#bg-clear');
        await pg.waitForSelector('body[data-background="none"]', { state: 'attached' });
        assert.equal(await pg.isVisible('#bg-tag'), false);
      }
      await c.close();
    }
    const w = runs['true']!;
    assert.ok(
      w.scored >= 8 && w.hits / w.scored >= 0.75,
      `with the empty scene: ${w.hits}/${w.scored} on background C`,
    );

    // ---- a damaged model cached by the service worker: dropped, and Retry fetches a good one
    fault = 'damaged';
    const ctx2 = await profile(chrome, 'phone');
    const p2 = await ctx2.newPage();
    await p2.goto(`${server.origin}/`);
    await p2.waitForSelector('body[data-state="error"]', { state: 'attached', timeout: 120_000 });
    assert.equal(await p2.getAttribute('#error', 'data-code'), 'CHECKSUM_MISMATCH');
    assert.equal(await p2.isVisible('#retry'), true);
    assert.match(
      (await p2.getAttribute('body', 'data-dropped')) ?? '',
      new RegExp(`cache:/models/${modelFile.replace('.', '\\.')}`),
    );
    assert.deepEqual(await axe(p2), [], 'axe violations on the error screen');
    await shot(p2, 'phone-error-damaged');
    fault = 'none';
    await p2.click('#retry');
    await waitReady(p2);
    await p2.reload();
    await waitReady(p2);
    await ctx2.close();

    // ---- online but the manifest is gone from the server: not "you are offline"
    fault = 'no-manifest';
    const ctx4 = await profile(chrome, 'kiosk');
    const p4 = await ctx4.newPage();
    await p4.goto(`${server.origin}/`);
    await p4.waitForSelector('body[data-state="error"]', { state: 'attached', timeout: 120_000 });
    assert.match((await p4.textContent('#error-title')) ?? '', /missing on the server/);
    assert.match((await p4.textContent('#error-text')) ?? '', /HTTP 404.*You are online/);
    assert.equal(await p4.isVisible('#retry'), true);
    await ctx4.close();

    // ---- a missing WASM file is a deployment problem, not "this browser cannot run the model"
    fault = 'no-wasm';
    const ctx3 = await profile(chrome, 'kiosk');
    const p3 = await ctx3.newPage();
    await p3.goto(`${server.origin}/`);
    await p3.waitForSelector('body[data-state="error"]', { state: 'attached', timeout: 120_000 });
    assert.match((await p3.textContent('#error-title')) ?? '', /deployment is incomplete/);
    assert.match((await p3.textContent('#error-text')) ?? '', /HTTP 404 for \/ort\/ort-wasm-simd-threaded\.wasm/);
    assert.equal(await p3.isVisible('#retry'), true);
    await shot(p3, 'kiosk-error-deployment');
    await ctx3.close();
  } finally {
    await chrome.close();
    await server.close();
  }
});

function readdirModel(): string {
  const app = JSON.parse(readFileSync(join(DIST, 'models', 'app.json'), 'utf8')) as { sample: { manifest: string } };
  return (JSON.parse(readFileSync(join(DIST, app.sample.manifest), 'utf8')) as { file: string }).file;
}
