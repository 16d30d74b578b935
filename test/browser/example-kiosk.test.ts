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
  launch,
  profile,
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
  const chrome = await launch(writeY4m());
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
    // Leaving needs the admin gesture and the PIN.
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
    await Promise.all([page.waitForEvent('load'), page.click('#dlg-ok')]);
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
