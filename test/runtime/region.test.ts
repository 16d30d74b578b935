// The background reference's change detection: colour-only changes count, specks of noise do not, a
// split object keeps one box, and a masking reference replaces what did not change inside the crop.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEdgetuneError } from '../../src/core/errors.js';
import type { InputSpec } from '../../src/runtime/manifest.js';
import { createBackground, preprocessBatch } from '../../src/runtime/preprocess.js';
import {
  type BackgroundReference,
  backgroundFromPixels,
  changedRegion,
  changeOf,
  maskUnchanged,
} from '../../src/runtime/region.js';

const W = 160;
const H = 120;

/** An RGB frame (HWC, 0..255) filled with one colour. */
function frame(rgb: readonly [number, number, number]): Float32Array {
  const f = new Float32Array(W * H * 3);
  for (let i = 0; i < W * H; i++) f.set(rgb, i * 3);
  return f;
}

function paint(f: Float32Array, x: number, y: number, w: number, h: number, rgb: readonly number[]): void {
  for (let yy = y; yy < y + h; yy++) for (let xx = x; xx < x + w; xx++) f.set(rgb, (yy * W + xx) * 3);
}

const cloth = [40, 60, 200] as const; // blue
// Red of (almost) the same gray level as the cloth: 0.299·r + 0.587·g + 0.114·b ≈ 70 for both.
const mug = [190, 22, 38] as const;

test('a colour-only change is found (same gray level as the background)', () => {
  const gray = (c: readonly number[]) => 0.299 * c[0]! + 0.587 * c[1]! + 0.114 * c[2]!;
  assert.ok(Math.abs(gray(cloth) - gray(mug)) < 5, 'the test colours share a gray level');
  const bg = backgroundFromPixels(frame(cloth), W, H, 3, { margin: 0 });
  const f = frame(cloth);
  paint(f, 60, 30, 40, 50, mug);
  const r = changedRegion(bg, f, W, H, 3, 0);
  assert.ok(r, 'the mug is found');
  assert.ok(Math.abs(r.x - 60) <= 2 && Math.abs(r.y - 30) <= 2, `box origin ${r.x},${r.y}`);
  assert.ok(Math.abs(r.width - 40) <= 3 && Math.abs(r.height - 50) <= 3, `box size ${r.width}×${r.height}`);
});

test('a small speck far from the object does not stretch the box; two large parts of one object share it', () => {
  const bg = backgroundFromPixels(frame(cloth), W, H, 3, { margin: 0 });
  const f = frame(cloth);
  paint(f, 60, 30, 40, 50, [250, 250, 250]);
  paint(f, 150, 110, 4, 4, [0, 0, 0]); // a flicker in the corner: 4 frame pixels ≈ 1–4 thumbnail cells
  const r = changedRegion(bg, f, W, H, 3, 0)!;
  assert.ok(r.x + r.width <= 104 && r.y + r.height <= 84, `the speck is ignored: ${JSON.stringify(r)}`);
  // A second part of comparable size (a handle separated by a background-coloured gap) joins the box.
  paint(f, 106, 40, 12, 30, [250, 250, 250]);
  const r2 = changedRegion(bg, f, W, H, 3, 0)!;
  assert.ok(r2.x + r2.width >= 116, `the handle is inside: ${JSON.stringify(r2)}`);
});

test('nothing changed gives no region; a gray frame is compared with a colour reference in gray', () => {
  const bg = backgroundFromPixels(frame(cloth), W, H, 3, { margin: 0 });
  assert.equal(changedRegion(bg, frame(cloth), W, H, 3, 0), undefined);
  const gray = new Float32Array(W * H).fill(0.299 * cloth[0] + 0.587 * cloth[1] + 0.114 * cloth[2]);
  assert.equal(changedRegion(bg, gray, W, H, 1, 0), undefined, 'the same scene in gray is unchanged');
  for (let y = 30; y < 80; y++) for (let x = 60; x < 100; x++) gray[y * W + x] = 250;
  const r = changedRegion(bg, gray, W, H, 1, 0)!;
  assert.ok(Math.abs(r.x - 60) <= 2 && Math.abs(r.width - 40) <= 3, `gray box ${JSON.stringify(r)}`);
  assert.throws(
    () => changedRegion(bg, frame(cloth).subarray(0, 80 * 60 * 3), 80, 60, 3, 2),
    (e) => isEdgetuneError(e, 'INPUT_SHAPE'),
  );
});

test('mask: inside the crop, unchanged pixels become the fill and changed ones stay; a crop-only reference masks nothing', () => {
  const empty = frame(cloth);
  // An L-shaped object: its bounding box holds a corner of unchanged cloth (x 60..79, y 30..59).
  const f = frame(cloth);
  paint(f, 80, 30, 20, 50, mug);
  paint(f, 40, 60, 40, 20, mug);
  const masking = backgroundFromPixels(empty, W, H, 3, { margin: 0 });
  assert.equal(masking.mask, true, 'masking is the default');
  const change = changeOf(masking, f, W, H, 3, 0)!;
  assert.ok(change.keep, 'a masking reference reports the changed cells');
  const out = Float32Array.from(f);
  maskUnchanged(out, W, H, 3, change, change.rect, [1, 2, 3]);
  const at = (x: number, y: number) => Array.from(out.subarray((y * W + x) * 3, (y * W + x) * 3 + 3));
  assert.deepEqual(at(50, 35), [1, 2, 3], 'cloth inside the box, far from the object, is masked');
  assert.deepEqual(at(90, 50), [...mug], 'object pixels are kept');
  assert.deepEqual(at(45, 70), [...mug], 'both arms of the object are kept');
  assert.deepEqual(at(78, 45), [...cloth], 'cloth right at the object edge (the rim) is kept');
  assert.deepEqual(at(5, 5), [...cloth], 'pixels outside the crop are not touched');
  // The same frame against a crop-only reference: the box is the same, nothing is masked.
  const cropOnly = backgroundFromPixels(empty, W, H, 3, { margin: 0, mask: false });
  assert.equal(cropOnly.mask, false);
  const c2 = changeOf(cropOnly, f, W, H, 3, 0)!;
  assert.deepEqual(c2.rect, change.rect);
  assert.equal(c2.keep, undefined);
  const untouched = Float32Array.from(f);
  maskUnchanged(untouched, W, H, 3, c2, c2.rect, [1, 2, 3]);
  assert.deepEqual(untouched, f);
});

test('mask through preprocessing: unchanged pixels reach the model as its mean (zero), the object as itself', () => {
  const spec: InputSpec = {
    name: 'input',
    shape: [null, 3, 32, 32],
    layout: 'NCHW',
    channels: 3,
    height: 32,
    width: 32,
    range: [0, 1],
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    crop: 'pad',
  };
  const raw = (x: Float32Array) => ({ data: Uint8Array.from(x), width: W, height: H, channels: 3 as const });
  const f = frame(cloth);
  paint(f, 80, 30, 20, 50, mug);
  paint(f, 40, 60, 40, 20, mug);
  const masked = preprocessBatch([raw(f)], spec, 0, {
    background: createBackground(raw(frame(cloth)), { margin: 0, mask: true }),
  });
  const cropped = preprocessBatch([raw(f)], spec, 0, {
    background: createBackground(raw(frame(cloth)), { margin: 0, mask: false }),
  });
  // The 60×50 box letterboxed into 32×32 (32×27, 2 rows of padding above): model pixel (3, 8) is frame ≈ (45, 38),
  // the unchanged corner; (28, 20) is frame ≈ (92, 67), on the object.
  const px = (t: Float32Array, x: number, y: number) => [0, 1, 2].map((c) => t[c * 32 * 32 + y * 32 + x]!);
  for (const v of px(masked, 3, 8)) assert.ok(Math.abs(v) < 0.02, `masked corner normalises to ~0, got ${v}`);
  const clothIn = px(cropped, 3, 8);
  assert.ok(Math.abs(clothIn[2]! - (200 / 255 - 0.406) / 0.225) < 0.05, `crop-only keeps the cloth: ${clothIn}`);
  assert.deepEqual(px(masked, 28, 20), px(cropped, 28, 20), 'the object is the same in both');
});

test('the mask option is checked, and a reference without its mask flag is refused', () => {
  assert.throws(
    () => backgroundFromPixels(frame(cloth), W, H, 3, { mask: 'yes' as unknown as boolean }),
    (e) => isEdgetuneError(e, 'INVALID_ARGUMENT'),
  );
  const { mask: _drop, ...old } = backgroundFromPixels(frame(cloth), W, H, 3);
  assert.throws(
    () => changeOf(old as unknown as BackgroundReference, frame(cloth), W, H, 3, 0),
    (e) => isEdgetuneError(e, 'INVALID_ARGUMENT'),
  );
});
