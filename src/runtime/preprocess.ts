// Turns what a web app has (ImageData, bitmaps, elements, canvases, raw pixels) into the model's normalised input tensor.
import { EdgetuneError } from '../core/errors.js';
import { assertPixelCap } from './inputs.js';
import type { InputSpec } from './manifest.js';
import {
  backgroundFromPixels,
  type Change,
  changeOf,
  checkRoi,
  cropRect,
  maskUnchanged,
  type BackgroundOptions,
  type BackgroundReference,
  type Rect,
} from './region.js';

/**
 * Raw pixels with a declared shape, row-major, channels interleaved (HWC).
 * `Uint8Array`/`Uint8ClampedArray` values are 0..255; `Float32Array` values are 0..1.
 */
export interface RawPixels {
  readonly data: Uint8Array | Uint8ClampedArray | Float32Array;
  readonly width: number;
  readonly height: number;
  /** 1 = gray, 3 = RGB, 4 = RGBA (alpha ignored). */
  readonly channels: 1 | 3 | 4;
}

/** Anything `embed()` accepts as one input. Canvas-backed kinds need a browser (or worker with OffscreenCanvas). */
export type ImageInput =
  | RawPixels
  | ImageData
  | ImageBitmap
  | HTMLImageElement
  | HTMLVideoElement
  | HTMLCanvasElement
  | OffscreenCanvas;

/** Pixels in a uniform form: 0..255 floats, HWC, 1/3/4 channels. */
interface Pixels {
  data: ArrayLike<number>;
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  scale: number; // multiply stored values by this to get 0..255
  /** The input's own size (canvas-backed inputs are read at a reduced size). */
  sourceWidth: number;
  sourceHeight: number;
}

/** Which part of an input reaches the model (see `EmbedOptions.roi` / `background`). */
export interface RegionOptions {
  /** Region of interest in the input's own pixels, e.g. the app's viewfinder box. */
  readonly roi?: Rect | undefined;
  /** Crop to what differs from this empty-scene reference (applied inside `roi` when both are given). */
  readonly background?: BackgroundReference | undefined;
}

function has(name: string): boolean {
  return typeof (globalThis as Record<string, unknown>)[name] === 'function';
}

function isRaw(x: unknown): x is RawPixels {
  return (
    typeof x === 'object' &&
    x !== null &&
    'data' in x &&
    'channels' in x &&
    'width' in x &&
    'height' in x &&
    !(has('ImageData') && x instanceof ImageData)
  );
}

function drawable(x: unknown): { source: CanvasImageSource; width: number; height: number } | undefined {
  if (has('HTMLVideoElement') && x instanceof HTMLVideoElement)
    return { source: x, width: x.videoWidth, height: x.videoHeight };
  if (has('HTMLImageElement') && x instanceof HTMLImageElement)
    return { source: x, width: x.naturalWidth, height: x.naturalHeight };
  if (has('ImageBitmap') && x instanceof ImageBitmap) return { source: x, width: x.width, height: x.height };
  if (has('HTMLCanvasElement') && x instanceof HTMLCanvasElement)
    return { source: x, width: x.width, height: x.height };
  if (has('OffscreenCanvas') && x instanceof OffscreenCanvas) return { source: x, width: x.width, height: x.height };
  return undefined;
}

function checkSize(width: number, height: number, index: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new EdgetuneError(
      'INPUT_SHAPE',
      `Input ${index} has no pixels (${String(width)}×${String(height)}); wait until an image or video frame has loaded before embedding it.`,
      { details: { index, width, height } },
    );
  }
}

/** Reads pixels out of any supported input. Canvas-backed sources are drawn once at their own size (capped) so resizing is ours and identical everywhere. */
function readPixels(input: ImageInput, index: number, target: { width: number; height: number }): Pixels {
  if (isRaw(input)) {
    const { data, width, height, channels } = input;
    checkSize(width, height, index);
    if (channels !== 1 && channels !== 3 && channels !== 4) {
      throw new EdgetuneError(
        'INPUT_SHAPE',
        `Input ${index} declares ${String(channels)} channels; use 1 (gray), 3 (RGB) or 4 (RGBA).`,
        { details: { index, channels } },
      );
    }
    assertPixelCap(width, height, index);
    if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray || data instanceof Float32Array)) {
      const kind =
        data === null
          ? 'null'
          : typeof data === 'object'
            ? ((data as object).constructor?.name ?? 'object')
            : typeof data;
      throw new EdgetuneError(
        'INPUT_TYPE',
        `Input ${index} has pixel data of type ${kind}; use Uint8Array, Uint8ClampedArray or Float32Array.`,
        { details: { index, kind } },
      );
    }
    if (data.length !== width * height * channels) {
      throw new EdgetuneError(
        'INPUT_SHAPE',
        `Input ${index} has ${data.length} values but declares ${width}×${height}×${channels} = ${width * height * channels}.`,
        { details: { index, length: data.length, width, height, channels } },
      );
    }
    if (data instanceof Float32Array) {
      for (let k = 0; k < data.length; k++) {
        if (!Number.isFinite(data[k]!))
          throw new EdgetuneError(
            'NON_FINITE',
            `Input ${index} contains ${data[k]} at position ${k}; pixels must be finite numbers in 0..1.`,
            { details: { index, position: k } },
          );
      }
      return { data, width, height, channels, scale: 255, sourceWidth: width, sourceHeight: height };
    }
    return { data, width, height, channels, scale: 1, sourceWidth: width, sourceHeight: height };
  }
  if (has('ImageData') && input instanceof ImageData) {
    checkSize(input.width, input.height, index);
    assertPixelCap(input.width, input.height, index);
    return {
      data: input.data,
      width: input.width,
      height: input.height,
      channels: 4,
      scale: 1,
      sourceWidth: input.width,
      sourceHeight: input.height,
    };
  }
  const d = drawable(input);
  if (d) {
    checkSize(d.width, d.height, index);
    if (!has('OffscreenCanvas'))
      throw new EdgetuneError(
        'INPUT_TYPE',
        `Input ${index} needs OffscreenCanvas to read its pixels, which this environment lacks; pass ImageData or raw pixels instead.`,
        { details: { index } },
      );
    // Cap the intermediate at 4× the model size: large photos would cost memory for nothing.
    const f = Math.min(1, (4 * target.width) / d.width, (4 * target.height) / d.height);
    const w = Math.max(1, Math.round(d.width * f));
    const h = Math.max(1, Math.round(d.height * f));
    const canvas = new OffscreenCanvas(w, h);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx)
      throw new EdgetuneError('INPUT_TYPE', `Input ${index}: could not get a 2D context to read pixels.`, {
        details: { index },
      });
    ctx.drawImage(d.source, 0, 0, w, h);
    const img = ctx.getImageData(0, 0, w, h);
    return { data: img.data, width: w, height: h, channels: 4, scale: 1, sourceWidth: d.width, sourceHeight: d.height };
  }
  const kind =
    input === null
      ? 'null'
      : typeof input === 'object'
        ? ((input as object).constructor?.name ?? 'object')
        : typeof input;
  throw new EdgetuneError(
    'INPUT_TYPE',
    `Input ${index} is a ${kind}; pass ImageData, ImageBitmap, an <img>/<video>/<canvas>, OffscreenCanvas, or { data, width, height, channels }.`,
    { details: { index, kind } },
  );
}

/** Converts to the model's channel count (BT.601 luma for gray; gray replicated for RGB), 0..255 floats, HWC. */
function toChannels(p: Pixels, channels: 1 | 3): Float32Array {
  const n = p.width * p.height;
  const out = new Float32Array(n * channels);
  const src = p.data;
  const c = p.channels;
  const s = p.scale;
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

/** Per-axis filter taps: output `i` reads source `index[i*k + j]` with weight `weight[i*k + j]` (weights sum to 1). */
interface Taps {
  readonly k: number;
  readonly index: Int32Array;
  readonly weight: Float64Array;
}

/**
 * Taps resizing `n` source samples to `d`: the area (box) filter, each output averaging its footprint,
 * or bilinear interpolation with half-pixel centres (clamped at the edges).
 */
function taps(n: number, d: number, box: boolean): Taps {
  const f = n / d;
  const k = box ? Math.ceil(f) + 1 : 2;
  const index = new Int32Array(d * k);
  const weight = new Float64Array(d * k);
  for (let i = 0; i < d; i++) {
    const o = i * k;
    if (box) {
      const x0 = i * f;
      const x1 = Math.min(n, (i + 1) * f);
      let t = 0;
      let sum = 0;
      for (let xx = Math.floor(x0); xx < Math.ceil(x1) && xx < n; xx++) {
        const w = Math.min(x1, xx + 1) - Math.max(x0, xx);
        if (w <= 0) continue;
        index[o + t] = xx;
        weight[o + t] = w;
        sum += w;
        t++;
      }
      for (let j = 0; j < t; j++) weight[o + j] = weight[o + j]! / sum;
      for (let j = t; j < k; j++) index[o + j] = index[o]!;
    } else {
      const c = Math.min(Math.max((i + 0.5) * f - 0.5, 0), n - 1);
      const x0 = Math.floor(c);
      index[o] = x0;
      weight[o] = 1 - (c - x0);
      index[o + 1] = Math.min(x0 + 1, n - 1);
      weight[o + 1] = c - x0;
    }
  }
  return { k, index, weight };
}

// Scratch reused by every call (preprocessing is synchronous, so one set serves all): the horizontally
// filtered rows, and one output row accumulated over its vertical taps.
let rowsScratch = new Float32Array(0);
let accScratch = new Float64Array(0);

/**
 * Resamples `rect` of `px` to `dw × dh` in `C` channels (0..255), one output row at a time:
 * a horizontal pass reads the source once (converting channels on the way), a vertical pass
 * accumulates each output row, and `emit(y, row)` receives it (`row` is HWC, reused between rows).
 * Area filter when shrinking both ways, else bilinear; the same as {@link resize}.
 */
function resampleRows(
  px: Pick<Pixels, 'data' | 'width' | 'channels' | 'scale'>,
  rect: Rect,
  dw: number,
  dh: number,
  C: number,
  emit: (y: number, row: Float64Array) => void,
): void {
  const box = rect.width >= dw && rect.height >= dh;
  const tx = taps(rect.width, dw, box);
  const ty = taps(rect.height, dh, box);
  const { k: kx, index: ix, weight: wx } = tx;
  const wx2 = new Float64Array(wx.length);
  const { k: ky, index: iy, weight: wy } = ty;
  let ymin = rect.height;
  let ymax = -1;
  for (let j = 0; j < iy.length; j++) {
    if (wy[j] === 0) continue;
    if (iy[j]! < ymin) ymin = iy[j]!;
    if (iy[j]! > ymax) ymax = iy[j]!;
  }
  const n = dw * C;
  const rowsNeeded = (ymax - ymin + 1) * n;
  if (rowsScratch.length < rowsNeeded) rowsScratch = new Float32Array(rowsNeeded);
  if (accScratch.length < n) accScratch = new Float64Array(n);
  const rows = rowsScratch;
  const acc = accScratch;
  const src = px.data;
  const cin = px.channels;
  const sw = px.width;
  const s = px.scale;
  // Horizontal pass over the source rows the vertical taps read. Tap offsets are pre-multiplied by the
  // source channel count, and zero-weight padding taps are dropped (per-output tap counts).
  const off = new Int32Array(ix.length);
  const cnt = new Int32Array(dw);
  for (let x = 0; x < dw; x++) {
    let c = 0;
    for (let j = x * kx; j < (x + 1) * kx; j++) {
      if (wx[j] === 0) continue;
      off[x * kx + c] = ix[j]! * cin;
      wx2[x * kx + c] = wx[j]!;
      c++;
    }
    cnt[x] = c;
  }
  for (let r = ymin; r <= ymax; r++) {
    const row = ((rect.y + r) * sw + rect.x) * cin;
    let t = (r - ymin) * n;
    for (let x = 0; x < dw; x++) {
      const j0 = x * kx;
      const j1 = j0 + cnt[x]!;
      if (cin === 1) {
        let a0 = 0;
        for (let j = j0; j < j1; j++) a0 += wx2[j]! * src[row + off[j]!]!;
        a0 *= s;
        rows[t++] = a0;
        if (C === 3) {
          rows[t++] = a0;
          rows[t++] = a0;
        }
      } else if (C === 1 || C === 3) {
        let a0 = 0;
        let a1 = 0;
        let a2 = 0;
        for (let j = j0; j < j1; j++) {
          const w = wx2[j]!;
          const p = row + off[j]!;
          a0 += w * src[p]!;
          a1 += w * src[p + 1]!;
          a2 += w * src[p + 2]!;
        }
        if (C === 1) rows[t++] = (0.299 * a0 + 0.587 * a1 + 0.114 * a2) * s;
        else {
          rows[t++] = a0 * s;
          rows[t++] = a1 * s;
          rows[t++] = a2 * s;
        }
      } else {
        // Any other channel count (public resize only): channels kept as they are.
        for (let ch = 0; ch < C; ch++) {
          let a = 0;
          for (let j = j0; j < j1; j++) a += wx2[j]! * src[row + off[j]! + ch]!;
          rows[t++] = a * s;
        }
      }
    }
  }
  // Vertical pass: each output row is the weighted sum of its source rows.
  for (let y = 0; y < dh; y++) {
    acc.fill(0, 0, n);
    for (let j = y * ky; j < (y + 1) * ky; j++) {
      const w = wy[j]!;
      if (w === 0) continue;
      const base = (iy[j]! - ymin) * n;
      for (let q = 0; q < n; q++) acc[q] = acc[q]! + w * rows[base + q]!;
    }
    emit(y, acc);
  }
}

/** Resamples into the model tensor at `offset`, placing the `fw × fh` result at (`ox`, `oy`) and normalising per channel. */
function resample(
  px: Pixels,
  rect: Rect,
  fw: number,
  fh: number,
  spec: InputSpec,
  out: Float32Array,
  offset: number,
  ox: number,
  oy: number,
): void {
  const { width: W, height: H, channels: C } = spec;
  const [lo, hi] = spec.range;
  const a = (hi - lo) / 255;
  const mean = spec.mean;
  const std = spec.std;
  const nchw = spec.layout === 'NCHW';
  resampleRows(px, rect, fw, fh, C, (y, row) => {
    const py = oy + y;
    for (let ch = 0; ch < C; ch++) {
      const m = mean[ch]!;
      const sd = std[ch]!;
      if (nchw) {
        const base = offset + ch * W * H + py * W + ox;
        for (let x = 0; x < fw; x++) out[base + x] = (lo + a * row[x * C + ch]! - m) / sd;
      } else {
        const base = offset + (py * W + ox) * C + ch;
        for (let x = 0; x < fw; x++) out[base + x * C] = (lo + a * row[x * C + ch]! - m) / sd;
      }
    }
  });
}

/**
 * Resizes HWC float pixels. Downscaling averages each output pixel's footprint (area/box filter,
 * no aliasing); upscaling interpolates bilinearly with pixel centres aligned (half-pixel).
 */
export function resize(src: Float32Array, sw: number, sh: number, c: number, dw: number, dh: number): Float32Array {
  if (sw === dw && sh === dh) return src;
  const out = new Float32Array(dw * dh * c);
  resampleRows(
    { data: src, width: sw, channels: c as 1 | 3 | 4, scale: 1 },
    { x: 0, y: 0, width: sw, height: sh },
    dw,
    dh,
    c,
    (y, row) => out.set(row.subarray(0, dw * c), y * dw * c),
  );
  return out;
}

/**
 * Preprocesses one input into `out` at `offset`, following the manifest: read pixels, convert
 * channels, resize to the model size, scale 0..255 to `range`, subtract `mean`, divide by `std`,
 * lay out as `layout`. Resizing, channel conversion and normalisation are one separable pass over the
 * source pixels (no float copy of the whole frame, scratch buffers reused between calls).
 *
 * @param input - one image
 * @param spec - the manifest's input spec
 * @param out - destination batch tensor
 * @param offset - element offset of this sample in `out`
 * @param index - position of the input in the caller's list (for error messages)
 * @param region - region of interest and background reference
 */
export function preprocessInto(
  input: ImageInput,
  spec: InputSpec,
  out: Float32Array,
  offset: number,
  index = 0,
  region: RegionOptions = {},
): void {
  const { width: W, height: H, channels: C } = spec;
  let px = readPixels(input, index, { width: W, height: H });
  let change: Change | undefined;
  if (region.background) {
    if (px.width !== px.sourceWidth)
      throw new EdgetuneError(
        'INPUT_TYPE',
        `Input ${index} is read at a reduced size; pass ImageData or raw pixels when using a background reference.`,
        { details: { index } },
      );
    // The background comparison reads the whole frame in the model's channels: convert once and resample from that.
    const hwc = toChannels(px, C);
    change = changeOf(region.background, hwc, px.width, px.height, C, index);
    px = { ...px, data: hwc, channels: C, scale: 1 };
  }
  const rect = modelRect(px, spec, index, region, change?.rect);
  // hwc is this call's own copy: unchanged pixels become the mean colour, which normalises to ~0.
  if (change) maskUnchanged(px.data as Float32Array, px.width, px.height, C, change, rect, meanColour(spec));
  const policy = spec.crop ?? 'center';
  let fw = W;
  let fh = H;
  if (policy === 'pad') {
    const f = Math.min(W / rect.width, H / rect.height);
    fw = Math.max(1, Math.min(W, Math.round(rect.width * f)));
    fh = Math.max(1, Math.min(H, Math.round(rect.height * f)));
    if (fw !== W || fh !== H) {
      // Pad with the mean colour (stored as float32 0..255, as a letterboxed pixel would be), so padding normalises to ~0.
      const [lo, hi] = spec.range;
      const a = (hi - lo) / 255;
      const nchw = spec.layout === 'NCHW';
      for (let ch = 0; ch < C; ch++) {
        const m = spec.mean[ch]!;
        const v = (lo + a * Math.fround(((m - lo) / (hi - lo)) * 255) - m) / spec.std[ch]!;
        if (nchw) out.fill(v, offset + ch * W * H, offset + (ch + 1) * W * H);
        else for (let k = 0; k < W * H; k++) out[offset + k * C + ch] = v;
      }
    }
  }
  resample(px, rect, fw, fh, spec, out, offset, Math.floor((W - fw) / 2), Math.floor((H - fh) / 2));
}

/** The model's mean colour as 0..255 input pixels (one value per channel): what normalises to zero. */
function meanColour(spec: InputSpec): number[] {
  const [lo, hi] = spec.range;
  return spec.mean.slice(0, spec.channels).map((m) => ((m - lo) / (hi - lo)) * 255);
}

/** Preprocesses a batch of inputs into one tensor (`inputs.length × C × H × W`). */
export function preprocessBatch(
  inputs: readonly ImageInput[],
  spec: InputSpec,
  startIndex = 0,
  region: RegionOptions = {},
): Float32Array {
  const size = spec.channels * spec.height * spec.width;
  const out = new Float32Array(inputs.length * size);
  inputs.forEach((x, k) => preprocessInto(x, spec, out, k * size, startIndex + k, region));
  return out;
}

/** Region of interest, background crop and crop policy: the rectangle of `px` that is resized to the model's size. */
function modelRect(px: Pixels, spec: InputSpec, index: number, region: RegionOptions, changed: Rect | undefined): Rect {
  const { width: W, height: H } = spec;
  const sx = px.width / px.sourceWidth;
  const sy = px.height / px.sourceHeight;
  let r: Rect = { x: 0, y: 0, width: px.width, height: px.height };
  if (region.roi) {
    const roi = checkRoi(region.roi, px.sourceWidth, px.sourceHeight, index);
    r = checkRoi(
      { x: roi.x * sx, y: roi.y * sy, width: roi.width * sx, height: roi.height * sy },
      px.width,
      px.height,
      index,
    );
  }
  if (changed) {
    // Keep the change inside the region of interest.
    const x0 = Math.max(r.x, changed.x);
    const y0 = Math.max(r.y, changed.y);
    const x1 = Math.min(r.x + r.width, changed.x + changed.width);
    const y1 = Math.min(r.y + r.height, changed.y + changed.height);
    if (x1 > x0 && y1 > y0) r = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
  }
  return cropRect(r, W, H, spec.crop ?? 'center', spec.cropFraction ?? 1);
}

/**
 * Captures the empty scene of a fixed camera; pass it as `embed(frames, { background })` to crop
 * each frame to what differs from it (and, with `mask: true`, to replace the unchanged pixels inside
 * that crop by the model's mean colour).
 *
 * @param input - a frame of the empty scene (raw pixels or ImageData at the camera's resolution)
 * @param options - change threshold, margin and mask
 */
export function createBackground(input: ImageInput, options: BackgroundOptions = {}): BackgroundReference {
  const px = readPixels(input, 0, { width: Number.POSITIVE_INFINITY, height: Number.POSITIVE_INFINITY });
  return backgroundFromPixels(toChannels(px, 3), px.width, px.height, 3, options);
}
