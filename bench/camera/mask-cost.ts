// Cost of the background reference in preprocessing: one 640×480 camera frame to the 96-px RGB input, whole frame vs crop vs crop + mask, interleaved, medians and ratios.
//
//   node --import tsx bench/camera/mask-cost.ts [--width 640] [--height 480] [--rounds 9]
import type { InputSpec } from '../../src/runtime/manifest.js';
import { createBackground, preprocessInto, type RawPixels, type RegionOptions } from '../../src/runtime/preprocess.js';

const args = process.argv.slice(2);
const opt = (n: string, d: number): number => {
  const i = args.indexOf(n);
  return i >= 0 ? Number(args[i + 1]) : d;
};
const W = opt('--width', 640);
const H = opt('--height', 480);
const ROUNDS = opt('--rounds', 9);
const spec: InputSpec = {
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
// A textured room and the same room with a 200×160 object in it.
const room = new Uint8Array(W * H * 3);
for (let i = 0; i < W * H; i++)
  for (let c = 0; c < 3; c++) room[i * 3 + c] = (i * 7 + c * 31 + ((i / W) | 0) * 13) % 200;
const frame = Uint8Array.from(room);
for (let y = 160; y < 320; y++) for (let x = 220; x < 420; x++) frame.set([230, 40, 40], (y * W + x) * 3);
const px = (d: Uint8Array): RawPixels => ({ data: d, width: W, height: H, channels: 3 });
const cases: [string, RegionOptions][] = [
  ['whole frame', {}],
  ['crop (mask: false)', { background: createBackground(px(room), { mask: false }) }],
  ['crop + mask (default)', { background: createBackground(px(room)) }],
];
const out = new Float32Array(3 * 96 * 96);
const times: number[][] = cases.map(() => []);
for (let r = 0; r < ROUNDS + 1; r++) {
  cases.forEach(([, region], k) => {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) preprocessInto(px(frame), spec, out, 0, 0, region);
    if (r > 0) times[k]!.push((performance.now() - t0) / 20);
  });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const base = median(times[0]!);
console.log(
  `${W}×${H} RGB frame → 96×96, median ms per frame over ${ROUNDS} interleaved rounds of 20 (machine may be loaded)`,
);
console.log('| region | ms | × whole frame |\n|---|---:|---:|');
cases.forEach(([name], k) => {
  const m = median(times[k]!);
  console.log(`| ${name} | ${m.toFixed(2)} | ${(m / base).toFixed(2)} |`);
});
