import { test } from 'node:test';
import assert from 'node:assert/strict';
import { preprocessBatch, type RawPixels } from '../../src/runtime/preprocess.js';
import type { InputSpec } from '../../src/runtime/manifest.js';
import { referencePreprocess } from './preprocess-reference.js';

// A camera-like frame: gradients, a disc and noise, so every filter tap matters.
function frame(width: number, height: number, channels: 1 | 3 | 4, seed = 7): RawPixels {
  const data = new Uint8Array(width * height * channels);
  let s = seed;
  for (let y = 0; y < height; y++)
    for (let x = 0; x < width; x++)
      for (let c = 0; c < channels; c++) {
        s = (s * 1103515245 + 12345) >>> 0;
        const disc = (x - width / 3) ** 2 + (y - height / 2) ** 2 < (height / 4) ** 2 ? 90 : 0;
        data[(y * width + x) * channels + c] = Math.min(255, ((x * 255) / width + disc + (s >>> 28) * 4 + 30 * c) | 0);
      }
  return { data, width, height, channels };
}

const spec = (size: number, channels: 1 | 3, extra: Partial<InputSpec> = {}): InputSpec => ({
  name: 'input',
  shape: [null, channels, size, size],
  layout: 'NCHW',
  channels,
  height: size,
  width: size,
  range: [0, 1],
  mean: channels === 3 ? [0.485, 0.456, 0.406] : [0.5],
  std: channels === 3 ? [0.229, 0.224, 0.225] : [0.25],
  ...extra,
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - b[k]!));
  return m;
}

// Normalised units: 1e-4 is ~0.006 of one grey level at std 0.229 (float rounding of a different summation order).
const TOL = 1e-4;

const cases: [string, RawPixels, InputSpec][] = [
  ['640×480 RGBA → 224² RGB, centre crop', frame(640, 480, 4), spec(224, 3)],
  [
    '640×480 RGB → 96² RGB, stretch, NHWC',
    frame(640, 480, 3),
    spec(96, 3, { crop: 'stretch', layout: 'NHWC', shape: [null, 96, 96, 3] }),
  ],
  ['640×480 RGBA → 224² RGB, pad', frame(640, 480, 4), spec(224, 3, { crop: 'pad' })],
  ['640×480 RGB → 224² RGB, centre crop 0.875', frame(640, 480, 3), spec(224, 3, { cropFraction: 0.875 })],
  ['300×200 RGBA → 28² gray (luma)', frame(300, 200, 4), spec(28, 1)],
  ['100×60 gray → 224² RGB (upscale, bilinear)', frame(100, 60, 1), spec(224, 3)],
  [
    '200×100 RGB → 224² RGB stretch (shrink x, grow y: bilinear)',
    frame(400, 100, 3),
    spec(224, 3, { crop: 'stretch' }),
  ],
  ['28×28 gray → 28² gray (identity)', frame(28, 28, 1), spec(28, 1, { range: [-1, 1] })],
];

for (const [name, input, s] of cases) {
  test(`fast preprocessing matches the plain reference: ${name}`, () => {
    const fast = preprocessBatch([input], s);
    const ref = referencePreprocess(input, s);
    const d = maxDiff(fast, ref);
    assert.ok(d < TOL, `max |fast - reference| = ${d}`);
  });
}

test('fast preprocessing matches the reference inside a region of interest, and batches do not leak scratch between samples', () => {
  const s = spec(96, 3);
  const roi = { x: 101, y: 37, width: 333, height: 251 };
  const a = frame(640, 480, 4, 1);
  const b = frame(640, 480, 4, 2);
  const both = preprocessBatch([a, b], s, 0, { roi });
  const n = 3 * 96 * 96;
  assert.ok(maxDiff(both.subarray(0, n), referencePreprocess(a, s, roi)) < TOL);
  assert.ok(maxDiff(both.subarray(n), referencePreprocess(b, s, roi)) < TOL);
  // A big frame then a small one: reused scratch must not carry values over.
  preprocessBatch([frame(1280, 720, 4)], spec(224, 3));
  assert.ok(maxDiff(preprocessBatch([frame(50, 40, 3)], s), referencePreprocess(frame(50, 40, 3), s)) < TOL);
});

test('Float32 0..1 frames go through the same fast path as bytes', () => {
  const bytes = frame(160, 120, 3);
  const floats: RawPixels = { ...bytes, data: Float32Array.from(bytes.data, (v) => v / 255) };
  assert.ok(maxDiff(preprocessBatch([floats], spec(64, 3)), preprocessBatch([bytes], spec(64, 3))) < TOL);
});

test('a crop whose edge lands a rounding error past the last row stays finite (273×320 photo, 0.875 centre crop to 224²)', () => {
  // (y + 1) · 239/224 came out as 239.00000000000003 in the earlier resize, which read one row past the image.
  for (const [w, h] of [
    [273, 320],
    [320, 273],
    [239, 239],
    [1000, 333],
  ] as const) {
    const t = preprocessBatch([frame(w, h, 4)], spec(224, 3, { crop: 'center', cropFraction: 0.875 }));
    assert.ok(t.every(Number.isFinite), `${w}×${h}: every value finite`);
  }
});
