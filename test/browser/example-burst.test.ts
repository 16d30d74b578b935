// Node test of the camera burst of examples/mobile: near-duplicate frames are dropped, distinct ones kept, at most BURST_MAX, on real pixel data (drawn frames, camera-like noise).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BURST_MAX, Burst, NEAR_DUPLICATE, frameDistance } from '../../examples/mobile/src/camera.js';

const SIZE = 96;

/** An RGBA frame with a red square at `x` on a wooden background, plus sensor-like noise of ±`noise`. */
function frame(x: number, noise: number, seed: number): ImageData {
  const data = new Uint8ClampedArray(SIZE * SIZE * 4);
  let s = seed;
  const rnd = (): number => {
    s = (s * 1103515245 + 12345) >>> 0;
    return (s / 2 ** 32) * 2 - 1;
  };
  for (let y = 0; y < SIZE; y++) {
    for (let i = 0; i < SIZE; i++) {
      const inside = i >= x && i < x + 30 && y >= 30 && y < 70;
      const c = inside ? [190, 30, 40] : [185, 150 + 10 * Math.sin(y / 3), 105];
      const k = (y * SIZE + i) * 4;
      for (let ch = 0; ch < 3; ch++) data[k + ch] = c[ch]! + noise * rnd();
      data[k + 3] = 255;
    }
  }
  return { data, width: SIZE, height: SIZE, colorSpace: 'srgb' } as ImageData;
}

test('burst: the same frame grabbed twice (with sensor noise) is a near-duplicate; a moved object is not', () => {
  const a = frame(20, 2, 1);
  const again = frame(20, 2, 2);
  const moved = frame(40, 2, 3);
  assert.ok(frameDistance(a, again) < NEAR_DUPLICATE, `noise-only distance ${frameDistance(a, again)}`);
  assert.ok(frameDistance(a, moved) >= NEAR_DUPLICATE, `moved distance ${frameDistance(a, moved)}`);
  assert.equal(frameDistance(a, { data: new Uint8ClampedArray(4), width: 1, height: 1 }), Number.POSITIVE_INFINITY);
});

test('burst keeps distinct frames only, at most BURST_MAX, and counts what it dropped', () => {
  const b = new Burst();
  // A held button over a moving object: each video frame is grabbed twice or three times.
  for (let f = 0; f < 10; f++) for (let g = 0; g < 3; g++) b.offer(frame(5 + f * 8, 2, f * 10 + g));
  assert.equal(b.frames.length, BURST_MAX);
  assert.ok(b.full);
  assert.ok(b.dropped >= 2 * BURST_MAX, `dropped ${b.dropped}`);
  for (let i = 1; i < b.frames.length; i++) assert.ok(frameDistance(b.frames[i - 1]!, b.frames[i]!) >= NEAR_DUPLICATE);
  // A still scene gives one frame, however long the button is held.
  const still = new Burst();
  for (let g = 0; g < 12; g++) still.offer(frame(20, 2, g));
  assert.equal(still.frames.length, 1);
  assert.equal(still.dropped, 11);
});
