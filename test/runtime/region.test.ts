// The background reference's change detection: colour-only changes count, specks of noise do not, and a
// split object keeps one box.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEdgetuneError } from '../../src/core/errors.js';
import { backgroundFromPixels, changedRegion } from '../../src/runtime/region.js';

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
