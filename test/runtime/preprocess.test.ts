import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preprocessBatch, resize } from '../../src/runtime/preprocess.js';
import type { InputSpec } from '../../src/runtime/manifest.js';
import { isEdgetuneError } from '../../src/core/errors.js';

const gray = (size: number, mean = 0.25, std = 0.5): InputSpec => ({
  name: 'input',
  shape: [null, 1, size, size],
  layout: 'NCHW',
  channels: 1,
  height: size,
  width: size,
  range: [0, 1],
  mean: [mean],
  std: [std],
});

test('same-size gray input: (x/255 - mean)/std per pixel', () => {
  const data = Uint8Array.from({ length: 16 }, (_, k) => k * 17);
  const out = preprocessBatch([{ data, width: 4, height: 4, channels: 1 }], gray(4));
  for (let k = 0; k < 16; k++) assert.ok(Math.abs(out[k]! - (data[k]! / 255 - 0.25) / 0.5) < 1e-6);
});

test('range [-1, 1] scales bytes before mean/std', () => {
  const spec = { ...gray(1, 0, 1), range: [-1, 1] as const };
  const out = preprocessBatch(
    [
      { data: Uint8Array.of(0), width: 1, height: 1, channels: 1 },
      { data: Uint8Array.of(255), width: 1, height: 1, channels: 1 },
    ],
    spec,
  );
  assert.deepEqual(Array.from(out), [-1, 1]);
});

test('RGB and RGBA become gray by BT.601 luma; alpha is ignored', () => {
  const rgb = Uint8Array.of(200, 100, 50);
  const rgba = Uint8Array.of(200, 100, 50, 7);
  const expect = (0.299 * 200 + 0.587 * 100 + 0.114 * 50) / 255;
  const spec = gray(1, 0, 1);
  const a = preprocessBatch([{ data: rgb, width: 1, height: 1, channels: 3 }], spec);
  const b = preprocessBatch([{ data: rgba, width: 1, height: 1, channels: 4 }], spec);
  assert.ok(Math.abs(a[0]! - expect) < 1e-6);
  assert.equal(a[0], b[0]);
});

test('gray into an RGB model replicates the channel; NHWC and NCHW orders differ as they should', () => {
  const data = Uint8Array.of(0, 51, 102, 153); // 2x2 gray
  const base = {
    name: 'input',
    channels: 3 as const,
    height: 2,
    width: 2,
    range: [0, 1] as const,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  };
  const nchw = preprocessBatch([{ data, width: 2, height: 2, channels: 1 }], {
    ...base,
    shape: [null, 3, 2, 2],
    layout: 'NCHW',
  });
  const nhwc = preprocessBatch([{ data, width: 2, height: 2, channels: 1 }], {
    ...base,
    shape: [null, 2, 2, 3],
    layout: 'NHWC',
  });
  const v = Array.from(data, (x) => x / 255);
  assert.deepEqual(
    Array.from(nchw).map((x) => +x.toFixed(6)),
    [...v, ...v, ...v].map((x) => +x.toFixed(6)),
  );
  assert.deepEqual(
    Array.from(nhwc).map((x) => +x.toFixed(6)),
    v.flatMap((x) => [x, x, x]).map((x) => +x.toFixed(6)),
  );
});

test('downscaling by 2 averages each 2x2 block (area filter reference)', () => {
  const src = Float32Array.from({ length: 16 }, (_, k) => k);
  const out = resize(src, 4, 4, 1, 2, 2);
  const block = (x: number, y: number): number =>
    (src[y * 8 + x * 2]! + src[y * 8 + x * 2 + 1]! + src[y * 8 + 4 + x * 2]! + src[y * 8 + 4 + x * 2 + 1]!) / 4;
  assert.deepEqual(Array.from(out), [block(0, 0), block(1, 0), block(0, 1), block(1, 1)]);
});

test('non-integer downscale keeps the mean of a constant image and of a gradient', () => {
  const src = Float32Array.from({ length: 30 * 30 }, (_, k) => k % 30);
  const out = resize(src, 30, 30, 1, 28, 28);
  const mean = (a: Float32Array): number => a.reduce((s, x) => s + x, 0) / a.length;
  assert.ok(Math.abs(mean(out) - mean(src)) < 1e-3);
});

test('upscaling interpolates bilinearly with half-pixel centres', () => {
  const out = resize(Float32Array.of(0, 100), 2, 1, 1, 4, 1);
  assert.deepEqual(Array.from(out), [0, 25, 75, 100]);
});

test('Float32 pixels in 0..1 give the same tensor as bytes', () => {
  const bytes = Uint8Array.from({ length: 9 }, (_, k) => k * 30);
  const floats = Float32Array.from(bytes, (x) => x / 255);
  const a = preprocessBatch([{ data: bytes, width: 3, height: 3, channels: 1 }], gray(3));
  const b = preprocessBatch([{ data: floats, width: 3, height: 3, channels: 1 }], gray(3));
  for (let k = 0; k < 9; k++) assert.ok(Math.abs(a[k]! - b[k]!) < 1e-6);
});

test('bad inputs: wrong length → INPUT_SHAPE, NaN → NON_FINITE, unknown kinds → INPUT_TYPE, empty → INPUT_SHAPE', () => {
  const spec = gray(4);
  assert.throws(
    () => preprocessBatch([{ data: new Uint8Array(15), width: 4, height: 4, channels: 1 }], spec),
    (e) => isEdgetuneError(e, 'INPUT_SHAPE'),
  );
  assert.throws(
    () => preprocessBatch([{ data: Float32Array.of(0, Number.NaN, 0, 0), width: 2, height: 2, channels: 1 }], spec),
    (e) => isEdgetuneError(e, 'NON_FINITE'),
  );
  assert.throws(
    () => preprocessBatch(['img.png' as never], spec),
    (e) => isEdgetuneError(e, 'INPUT_TYPE'),
  );
  assert.throws(
    () => preprocessBatch([{ data: new Int16Array(16), width: 4, height: 4, channels: 1 } as never], spec),
    (e) => isEdgetuneError(e, 'INPUT_TYPE'),
  );
  assert.throws(
    () => preprocessBatch([{ data: new Uint8Array(0), width: 0, height: 0, channels: 1 }], spec),
    (e) => isEdgetuneError(e, 'INPUT_SHAPE'),
  );
});
