// Turns what a web app has (ImageData, bitmaps, elements, canvases, raw pixels) into the model's normalised input tensor.
import { EdgetuneError } from '../core/errors.js';
import { assertPixelCap } from './inputs.js';
import type { InputSpec } from './manifest.js';
import {
  backgroundFromPixels,
  changedRegion,
  checkRoi,
  cropRect,
  extract,
  pad,
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

/**
 * Resizes HWC float pixels. Downscaling averages each output pixel's footprint (area/box filter,
 * no aliasing); upscaling interpolates bilinearly with pixel centres aligned (half-pixel).
 */
export function resize(src: Float32Array, sw: number, sh: number, c: number, dw: number, dh: number): Float32Array {
  if (sw === dw && sh === dh) return src;
  const out = new Float32Array(dw * dh * c);
  const fx = sw / dw;
  const fy = sh / dh;
  for (let y = 0; y < dh; y++) {
    for (let x = 0; x < dw; x++) {
      for (let ch = 0; ch < c; ch++) {
        let v: number;
        if (fx >= 1 && fy >= 1) v = boxSample(src, sw, c, ch, x * fx, (x + 1) * fx, y * fy, (y + 1) * fy);
        else v = bilinear(src, sw, sh, c, ch, (x + 0.5) * fx - 0.5, (y + 0.5) * fy - 0.5);
        out[(y * dw + x) * c + ch] = v;
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
): number {
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

/**
 * Preprocesses one input into `out` at `offset`, following the manifest: read pixels, convert
 * channels, resize to the model size, scale 0..255 to `range`, subtract `mean`, divide by `std`,
 * lay out as `layout`.
 *
 * @param input - one image
 * @param spec - the manifest's input spec
 * @param out - destination batch tensor
 * @param offset - element offset of this sample in `out`
 * @param index - position of the input in the caller's list (for error messages)
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
  const px = readPixels(input, index, { width: W, height: H });
  const hwc = fitToModel(toChannels(px, C), px, spec, index, region);
  const [lo, hi] = spec.range;
  const a = (hi - lo) / 255;
  for (let ch = 0; ch < C; ch++) {
    const mean = spec.mean[ch]!;
    const std = spec.std[ch]!;
    for (let k = 0; k < W * H; k++) {
      const v = (lo + a * hwc[k * C + ch]! - mean) / std;
      out[offset + (spec.layout === 'NCHW' ? ch * W * H + k : k * C + ch)] = v;
    }
  }
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

/** Region of interest, background crop and crop policy, then the resize to the model's size (HWC, 0..255). */
function fitToModel(
  hwc: Float32Array,
  px: Pixels,
  spec: InputSpec,
  index: number,
  region: RegionOptions,
): Float32Array {
  const { width: W, height: H, channels: C } = spec;
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
  if (region.background) {
    if (px.width !== px.sourceWidth)
      throw new EdgetuneError(
        'INPUT_TYPE',
        `Input ${index} is read at a reduced size; pass ImageData or raw pixels when using a background reference.`,
        { details: { index } },
      );
    const changed = changedRegion(region.background, hwc, px.width, px.height, C, index);
    if (changed) {
      // Keep the change inside the region of interest.
      const x0 = Math.max(r.x, changed.x);
      const y0 = Math.max(r.y, changed.y);
      const x1 = Math.min(r.x + r.width, changed.x + changed.width);
      const y1 = Math.min(r.y + r.height, changed.y + changed.height);
      if (x1 > x0 && y1 > y0) r = { x: x0, y: y0, width: x1 - x0, height: y1 - y0 };
    }
  }
  const policy = spec.crop ?? 'center';
  const rect = cropRect(r, W, H, policy, spec.cropFraction ?? 1);
  const part = extract(hwc, px.width, C, rect);
  if (policy !== 'pad') return resize(part, rect.width, rect.height, C, W, H);
  const f = Math.min(W / rect.width, H / rect.height);
  const fw = Math.max(1, Math.min(W, Math.round(rect.width * f)));
  const fh = Math.max(1, Math.min(H, Math.round(rect.height * f)));
  // Pad with the mean colour so padding normalises to zero.
  const [lo, hi] = spec.range;
  const fill = spec.mean.map((m) => ((m - lo) / (hi - lo)) * 255);
  return pad(resize(part, rect.width, rect.height, C, fw, fh), fw, fh, C, W, H, fill);
}

/**
 * Captures the empty scene of a fixed camera; pass it as `embed(frames, { background })` to crop
 * each frame to what differs from it.
 *
 * @param input - a frame of the empty scene (raw pixels or ImageData at the camera's resolution)
 * @param options - change threshold and margin
 */
export function createBackground(input: ImageInput, options: BackgroundOptions = {}): BackgroundReference {
  const px = readPixels(input, 0, { width: Number.POSITIVE_INFINITY, height: Number.POSITIVE_INFINITY });
  return backgroundFromPixels(toChannels(px, 3), px.width, px.height, 3, options);
}
