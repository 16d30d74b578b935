// Seeded image corruptions at severities 1–5, applied to 28×28 grayscale bytes before the encoder.
import { Rng } from '../../src/finetune/rng.js';

/** Corruptions of the harness. */
export type Corruption =
  | 'gaussian-noise'
  | 'blur'
  | 'contrast'
  | 'brightness'
  | 'rotation'
  | 'translation'
  | 'occlusion';

/** Every corruption, in table order. */
export const CORRUPTIONS: readonly Corruption[] = [
  'gaussian-noise',
  'blur',
  'contrast',
  'brightness',
  'rotation',
  'translation',
  'occlusion',
];

const W = 28;
const N = W * W;

// Per severity 1..5 (index 0..4).
const NOISE_SIGMA = [0.08, 0.12, 0.18, 0.26, 0.38];
const BLUR_SIGMA = [0.6, 0.9, 1.2, 1.6, 2.1];
const CONTRAST = [0.7, 0.55, 0.4, 0.3, 0.2];
const BRIGHT = [0.1, 0.2, 0.3, 0.4, 0.5];
const ROT_DEG = [8, 15, 25, 35, 45];
const SHIFT_PX = [1, 2, 3, 4, 5];
const OCCLUDE = [6, 8, 10, 12, 14];

const clamp = (v: number): number => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));

function sample(img: Float64Array, x: number, y: number): number {
  // Bilinear, zero (background) outside the image.
  const x0 = Math.floor(x),
    y0 = Math.floor(y);
  const fx = x - x0,
    fy = y - y0;
  const at = (xx: number, yy: number): number => (xx < 0 || yy < 0 || xx >= W || yy >= W ? 0 : img[yy * W + xx]!);
  return (
    (1 - fy) * ((1 - fx) * at(x0, y0) + fx * at(x0 + 1, y0)) +
    fy * ((1 - fx) * at(x0, y0 + 1) + fx * at(x0 + 1, y0 + 1))
  );
}

function blur(src: Float64Array, sigma: number): Float64Array {
  const r = Math.ceil(3 * sigma);
  const k: number[] = [];
  let s = 0;
  for (let i = -r; i <= r; i++) {
    const v = Math.exp(-(i * i) / (2 * sigma * sigma));
    k.push(v);
    s += v;
  }
  const kk = k.map((v) => v / s);
  const tmp = new Float64Array(N);
  const out = new Float64Array(N);
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++) {
      let a = 0;
      for (let i = -r; i <= r; i++) {
        const xx = Math.min(W - 1, Math.max(0, x + i));
        a += kk[i + r]! * src[y * W + xx]!;
      }
      tmp[y * W + x] = a;
    }
  for (let y = 0; y < W; y++)
    for (let x = 0; x < W; x++) {
      let a = 0;
      for (let i = -r; i <= r; i++) {
        const yy = Math.min(W - 1, Math.max(0, y + i));
        a += kk[i + r]! * tmp[yy * W + x]!;
      }
      out[y * W + x] = a;
    }
  return out;
}

/**
 * Applies `kind` at `severity` (1..5) to every image; `seed` fixes the random parts (noise,
 * rotation sign, shift direction, occluder position) per image, so a run is reproducible.
 *
 * @param images - count×784 bytes
 */
export function corrupt(images: Uint8Array, kind: Corruption, severity: number, seed: number): Uint8Array {
  const out = new Uint8Array(images.length);
  const count = images.length / N;
  const s = severity - 1;
  const rng = new Rng(seed ^ (CORRUPTIONS.indexOf(kind) * 7919 + severity * 104729));
  for (let n = 0; n < count; n++) {
    const src = Float64Array.from(images.subarray(n * N, (n + 1) * N));
    let dst: Float64Array = src;
    switch (kind) {
      case 'gaussian-noise':
        dst = src.map((v) => v + rng.normal() * NOISE_SIGMA[s]! * 255);
        break;
      case 'blur':
        dst = blur(src, BLUR_SIGMA[s]!);
        break;
      case 'contrast': {
        const m = src.reduce((a, b) => a + b, 0) / N;
        dst = src.map((v) => (v - m) * CONTRAST[s]! + m);
        break;
      }
      case 'brightness':
        dst = src.map((v) => v + BRIGHT[s]! * 255);
        break;
      case 'rotation': {
        const a = ((rng.next() < 0.5 ? -1 : 1) * ROT_DEG[s]! * Math.PI) / 180;
        const c = Math.cos(a),
          si = Math.sin(a),
          h = (W - 1) / 2;
        dst = new Float64Array(N);
        for (let y = 0; y < W; y++)
          for (let x = 0; x < W; x++)
            dst[y * W + x] = sample(src, c * (x - h) + si * (y - h) + h, -si * (x - h) + c * (y - h) + h);
        break;
      }
      case 'translation': {
        const a = rng.next() * 2 * Math.PI;
        const dx = Math.round(Math.cos(a) * SHIFT_PX[s]!),
          dy = Math.round(Math.sin(a) * SHIFT_PX[s]!);
        dst = new Float64Array(N);
        for (let y = 0; y < W; y++) for (let x = 0; x < W; x++) dst[y * W + x] = sample(src, x - dx, y - dy);
        break;
      }
      case 'occlusion': {
        const z = OCCLUDE[s]!;
        const x0 = rng.int(W - z + 1),
          y0 = rng.int(W - z + 1);
        dst = Float64Array.from(src);
        for (let y = y0; y < y0 + z; y++) for (let x = x0; x < x0 + z; x++) dst[y * W + x] = 128;
        break;
      }
    }
    for (let i = 0; i < N; i++) out[n * N + i] = clamp(dst[i]!);
  }
  return out;
}
