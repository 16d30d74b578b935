// The straightforward preprocessing path (one float copy of the frame, per-channel box/bilinear sampling, then normalise), kept as the reference the fast one-pass path is checked and benchmarked against.
import type { InputSpec } from '../../src/runtime/manifest.js';
import type { RawPixels } from '../../src/runtime/preprocess.js';
import { checkRoi, cropRect, extract, pad, type Rect } from '../../src/runtime/region.js';

function toChannels(p: RawPixels, channels: 1 | 3): Float32Array {
  const n = p.width * p.height;
  const out = new Float32Array(n * channels);
  const src = p.data;
  const c = p.channels;
  const s = p.data instanceof Float32Array ? 255 : 1;
  for (let k = 0; k < n; k++) {
    const o = k * c;
    if (c === 1) {
      const v = src[o]! * s;
      if (channels === 1) out[k] = v;
      else out[k * 3] = out[k * 3 + 1] = out[k * 3 + 2] = v;
    } else {
      const r = src[o]! * s;
      const g = src[o + 1]! * s;
      const b = src[o + 2]! * s;
      if (channels === 1) out[k] = 0.299 * r + 0.587 * g + 0.114 * b;
      else {
        out[k * 3] = r;
        out[k * 3 + 1] = g;
        out[k * 3 + 2] = b;
      }
    }
  }
  return out;
}

function boxSample(
  src: Float32Array,
  sw: number,
  c: number,
  ch: number,
  x0: number,
  x1: number,
  y0: number,
  y1: number,
) {
  let sum = 0;
  let area = 0;
  for (let yy = Math.floor(y0); yy < Math.ceil(y1); yy++) {
    const wy = Math.min(y1, yy + 1) - Math.max(y0, yy);
    if (wy <= 0) continue;
    for (let xx = Math.floor(x0); xx < Math.ceil(x1); xx++) {
      const wx = Math.min(x1, xx + 1) - Math.max(x0, xx);
      if (wx <= 0) continue;
      sum += src[(yy * sw + xx) * c + ch]! * wx * wy;
      area += wx * wy;
    }
  }
  return sum / area;
}

function bilinear(src: Float32Array, sw: number, sh: number, c: number, ch: number, x: number, y: number): number {
  const cx = Math.min(Math.max(x, 0), sw - 1);
  const cy = Math.min(Math.max(y, 0), sh - 1);
  const x0 = Math.floor(cx);
  const y0 = Math.floor(cy);
  const x1 = Math.min(x0 + 1, sw - 1);
  const y1 = Math.min(y0 + 1, sh - 1);
  const ax = cx - x0;
  const ay = cy - y0;
  const p = (xx: number, yy: number): number => src[(yy * sw + xx) * c + ch]!;
  return (1 - ay) * ((1 - ax) * p(x0, y0) + ax * p(x1, y0)) + ay * ((1 - ax) * p(x0, y1) + ax * p(x1, y1));
}

/** Area filter when shrinking both ways, else bilinear with half-pixel centres (what `resize` documents). */
export function referenceResize(src: Float32Array, sw: number, sh: number, c: number, dw: number, dh: number) {
  if (sw === dw && sh === dh) return src;
  const out = new Float32Array(dw * dh * c);
  const fx = sw / dw;
  const fy = sh / dh;
  for (let y = 0; y < dh; y++)
    for (let x = 0; x < dw; x++)
      for (let ch = 0; ch < c; ch++)
        out[(y * dw + x) * c + ch] =
          fx >= 1 && fy >= 1
            ? boxSample(src, sw, c, ch, x * fx, Math.min(sw, (x + 1) * fx), y * fy, Math.min(sh, (y + 1) * fy))
            : bilinear(src, sw, sh, c, ch, (x + 0.5) * fx - 0.5, (y + 0.5) * fy - 0.5);
  return out;
}

/** Raw pixels → one normalised sample, the plain way (roi and the three crop policies; no background). */
export function referencePreprocess(input: RawPixels, spec: InputSpec, roi?: Rect): Float32Array {
  const { width: W, height: H, channels: C } = spec;
  const hwc = toChannels(input, C);
  const r = roi
    ? checkRoi(roi, input.width, input.height, 0)
    : { x: 0, y: 0, width: input.width, height: input.height };
  const policy = spec.crop ?? 'center';
  const rect = cropRect(r, W, H, policy, spec.cropFraction ?? 1);
  const part = extract(hwc, input.width, C, rect);
  let fitted: Float32Array;
  if (policy !== 'pad') fitted = referenceResize(part, rect.width, rect.height, C, W, H);
  else {
    const f = Math.min(W / rect.width, H / rect.height);
    const fw = Math.max(1, Math.min(W, Math.round(rect.width * f)));
    const fh = Math.max(1, Math.min(H, Math.round(rect.height * f)));
    const [lo, hi] = spec.range;
    const fill = spec.mean.map((m) => ((m - lo) / (hi - lo)) * 255);
    fitted = pad(referenceResize(part, rect.width, rect.height, C, fw, fh), fw, fh, C, W, H, fill);
  }
  const out = new Float32Array(C * W * H);
  const [lo, hi] = spec.range;
  const a = (hi - lo) / 255;
  for (let ch = 0; ch < C; ch++)
    for (let k = 0; k < W * H; k++)
      out[spec.layout === 'NCHW' ? ch * W * H + k : k * C + ch] =
        (lo + a * fitted[k * C + ch]! - spec.mean[ch]!) / spec.std[ch]!;
  return out;
}
