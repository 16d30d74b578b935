// Suite part: preprocessing a 640×480 RGBA camera frame to the model tensor (224² and 96² RGB, centre crop, ImageNet mean/std), the one-pass path in src/runtime/preprocess.ts against the plain reference path (a float copy of the frame, per-channel box sampling, then normalise), interleaved call by call.
// Run alone: node --import tsx bench/suite/preprocess.ts [--reps 30]
import type { InputSpec } from '../../src/runtime/manifest.js';
import { preprocessBatch, type RawPixels } from '../../src/runtime/preprocess.js';
import { referencePreprocess } from '../../test/runtime/preprocess-reference.js';
import { arg, median, report } from './common.js';

const reps = Number(arg('reps', '30'));
const frame: RawPixels = {
  data: Uint8Array.from({ length: 640 * 480 * 4 }, (_, k) => (k * 2654435761) >>> 24),
  width: 640,
  height: 480,
  channels: 4,
};
const spec = (size: number): InputSpec => ({
  name: 'input',
  shape: [null, 3, size, size],
  layout: 'NCHW',
  channels: 3,
  height: size,
  width: size,
  range: [0, 1],
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
});

for (const size of [224, 96]) {
  const s = spec(size);
  // Past tier-up for both paths before timing.
  for (let i = 0; i < 5; i++) {
    preprocessBatch([frame], s);
    referencePreprocess(frame, s);
  }
  const fast: number[] = [];
  const ref: number[] = [];
  for (let i = 0; i < reps; i++) {
    let t = performance.now();
    preprocessBatch([frame], s);
    fast.push(performance.now() - t);
    t = performance.now();
    referencePreprocess(frame, s);
    ref.push(performance.now() - t);
  }
  report({
    row: `preprocess/640x480-${size}`,
    value: median(ref) / median(fast),
    detail: { fastMs: median(fast), referenceMs: median(ref), reps },
  });
}
process.exit(0);
