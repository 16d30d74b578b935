// The camera bench's background-reference protocols are the SDK's own (crop, and mask), and its open-set score orders known above unknown.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type CameraBench, changedBox, type Item, iou, protocolInput } from '../../bench/camera/data.js';
import { auroc, knn, ncm, unit } from '../../bench/camera/metrics.js';
import type { InputSpec } from '../../src/runtime/manifest.js';
import { preprocessBatch } from '../../src/runtime/preprocess.js';

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

/** A one-frame bench: the scene with the object, its empty twin (other noise), and the item's boxes. */
function bench(frame: Uint8Array, empty: Uint8Array, bbox: [number, number, number, number]): CameraBench {
  const item: Item = {
    split: 'testB',
    object: 0,
    label: 0,
    rep: 0,
    background: 'test',
    bbox,
    viewfinder: [40, 60, 60, 60],
  };
  return {
    frame: SIDE,
    items: [item],
    objects: [{ name: 'box', file: '', known: true }],
    frames: frame,
    empty,
    sha256: { frames: '', empty: '' },
    disjoint: { candidates: 0, droppedAsPretrainingDuplicates: 0, violations: [] },
  };
}

const SPEC: InputSpec = {
  name: 'input',
  shape: [null, 3, 96, 96],
  layout: 'NCHW',
  channels: 3,
  height: 96,
  width: 96,
  range: [0, 1],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
};

test('bgref/bgmask are the SDK background reference: its box covers the object, noise alone changes nothing', () => {
  const obj = { x: 50, y: 70, w: 40, h: 30 };
  const b = bench(scene(2, obj), scene(1), [obj.x, obj.y, obj.w, obj.h]);
  const [bx, by, bw, bh] = changedBox(b, 0);
  assert.ok(
    bx <= obj.x && by <= obj.y && bx + bw >= obj.x + obj.w && by + bh >= obj.y + obj.h,
    `box ${[bx, by, bw, bh]} misses the object`,
  );
  assert.ok(bw <= 52 && bh <= 40, `box ${bw}×${bh}: much larger than the 40×30 object`);
  assert.ok(iou([bx, by, bw, bh], [obj.x, obj.y, obj.w, obj.h]) > 0.6);
  // Fresh noise on the same empty scene is no change: the whole frame comes back.
  assert.deepEqual(changedBox(bench(scene(3), scene(1), [0, 0, 1, 1]), 0), [0, 0, SIDE, SIDE]);
  const ref = protocolInput(b, 0, 'bgref');
  const mask = protocolInput(b, 0, 'bgmask');
  assert.equal(ref.region.background?.mask, false);
  assert.equal(mask.region.background?.mask, true);
  assert.equal(ref.px.width, SIDE, 'the whole frame goes to the SDK, which crops it');
});

test('bgmask differs from bgref only where the frame did not change', () => {
  // A frame-shaped object (48×48 with a 24×24 hole): the background seen through the hole is inside the crop.
  const obj = { x: 50, y: 50, w: 48, h: 48 };
  const frame = scene(2, obj);
  const bare = scene(2);
  for (let y = 62; y < 86; y++) frame.set(bare.subarray((y * SIDE + 62) * 3, (y * SIDE + 86) * 3), (y * SIDE + 62) * 3);
  const b = bench(frame, scene(1), [obj.x, obj.y, obj.w, obj.h]);
  const t = (p: 'bgref' | 'bgmask') => {
    const x = protocolInput(b, 0, p);
    return preprocessBatch([x.px], SPEC, 0, x.region);
  };
  const ref = t('bgref');
  const masked = t('bgmask');
  let same = 0;
  let zero = 0;
  for (let i = 0; i < ref.length; i++) {
    if (ref[i] === masked[i]) same++;
    else if (Math.abs(masked[i]!) < 0.02) zero++;
  }
  assert.ok(same > 0.3 * ref.length, `the object's pixels are the same in both (${same} of ${ref.length})`);
  // The rest is the mean colour (zero after normalising), but where resizing blends it with the kept rim.
  const other = ref.length - same;
  assert.ok(zero > 0.6 * other, `${zero} of ${other} changed values are the masked mean colour`);
  assert.ok(zero > 0.05 * ref.length, `the background in the hole was masked (${zero} values)`);
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
