// The camera bench's background-reference protocol finds what changed against the empty scene, and its open-set score orders known above unknown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changeOf, crop, iou, maskUnchanged } from '../../bench/camera/data.js';
import { auroc, knn, ncm, unit } from '../../bench/camera/metrics.js';

const SIDE = 160;

function scene(seed: number, object?: { x: number; y: number; w: number; h: number }): Uint8Array {
  // A textured background (same texture for every seed) plus per-frame sensor noise.
  let s = seed >>> 0;
  const rnd = (): number => (s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32;
  const px = new Uint8Array(SIDE * SIDE * 3);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) {
      for (let c = 0; c < 3; c++) {
        const tex = 110 + 60 * Math.sin(x * 0.21 + c) * Math.cos(y * 0.17 - c);
        const inObj = object && x >= object.x && x < object.x + object.w && y >= object.y && y < object.y + object.h;
        const v = (inObj ? [220, 40, 40][c]! : tex) + (rnd() - 0.5) * 16;
        px[(y * SIDE + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return px;
}

test('background reference: the changed square covers the object, noise alone changes nothing', () => {
  const obj = { x: 50, y: 70, w: 40, h: 30 };
  const empty = scene(1);
  const c = changeOf(scene(2, obj), empty, SIDE);
  const [bx, by, bs] = c.box;
  assert.ok(
    bx <= obj.x && by <= obj.y && bx + bs >= obj.x + obj.w && by + bs >= obj.y + obj.h,
    `box ${c.box} misses the object`,
  );
  assert.ok(bs <= 60, `box side ${bs}: much larger than the 40 px object`);
  // A square around a 40×30 object: IoU is at most 1200/1600 even when tight.
  assert.ok(iou(c.box, [obj.x, obj.y, obj.w, obj.h]) > 0.35);
  // Fresh noise on the same empty scene is no change: the whole frame comes back.
  assert.deepEqual(changeOf(scene(3), empty, SIDE).box, [0, 0, SIDE, SIDE]);
});

test('background reference mask: pixels far from the change become grey, the object stays', () => {
  const obj = { x: 50, y: 70, w: 40, h: 30 };
  const frame = scene(2, obj);
  const c = changeOf(frame, scene(1), SIDE);
  const masked = maskUnchanged(frame, SIDE, c);
  const at = (x: number, y: number): number[] =>
    Array.from(masked.subarray((y * SIDE + x) * 3, (y * SIDE + x) * 3 + 3));
  assert.deepEqual(at(5, 5), [128, 128, 128]);
  assert.ok(at(70, 85)[0]! > 190, 'object pixel was masked');
  const cut = crop(masked, SIDE, c.box);
  assert.equal(cut.width, c.box[2]);
  assert.equal(cut.data.length, c.box[2] * c.box[3] * 3);
});

test('nearest class mean, k-NN and AUROC on separable embeddings', () => {
  const e = (a: number, b: number): Float32Array => unit(new Float32Array([a, b, 0.1]));
  const shots = [e(1, 0), e(0.9, 0.1), e(0, 1), e(0.1, 0.9)];
  const labels = [0, 0, 1, 1];
  const q = [e(0.95, 0.05), e(0.05, 0.95)];
  assert.deepEqual(ncm(shots, labels, 2, q).pred, [0, 1]);
  assert.deepEqual(knn(shots, labels, 2, q, 3).pred, [0, 1]);
  const known = ncm(shots, labels, 2, q).score;
  const unknown = ncm(shots, labels, 2, [e(-1, -1), unit(new Float32Array([0, 0, 1]))]).score;
  assert.equal(auroc(known, unknown), 1);
  assert.equal(auroc(unknown, known), 0);
});
