// Which part of a frame reaches the model: a region of interest, the changes against a background reference (crop, and mask), and the crop policy.
import { EdgetuneError } from '../core/errors.js';
import type { CropPolicy } from './manifest.js';

/** A rectangle in the input's own pixel coordinates. */
export interface Rect {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

/** Thumbnail size used to compare frames with a background (cheap, and robust to sensor noise). */
const THUMB = 96;

/**
 * Changed regions smaller than this share of the largest one are dropped as noise (a flicker, a
 * passer-by's shadow at the edge); larger ones join the box (an object split by a band the colour of
 * the background).
 */
const KEEP_SHARE = 0.2;

/**
 * With `mask`, pixels this many thumbnail cells (≈1% of the frame's longer side each) away from the kept
 * changed regions are replaced: the object's edge, blurred or anti-aliased into the background, stays.
 */
const MASK_GROW = 2;

/** A colour thumbnail of a frame: `w × h × channels` values 0..255 (1 channel for gray input, else RGB). */
interface Thumb {
  readonly data: Float32Array;
  readonly w: number;
  readonly h: number;
  readonly channels: number;
  readonly width: number;
  readonly height: number;
}

function thumbSize(width: number, height: number): [number, number] {
  const f = Math.min(1, THUMB / Math.max(width, height));
  return [Math.max(1, Math.round(width * f)), Math.max(1, Math.round(height * f))];
}

function thumbnail(hwc: Float32Array, width: number, height: number, c: number): Thumb {
  const [w, h] = thumbSize(width, height);
  const channels = c === 1 ? 1 : 3;
  const data = new Float32Array(w * h * channels);
  const count = new Float32Array(w * h);
  for (let y = 0; y < height; y++) {
    const ty = Math.min(h - 1, Math.floor((y * h) / height));
    for (let x = 0; x < width; x++) {
      const tx = Math.min(w - 1, Math.floor((x * w) / width));
      const o = (y * width + x) * c;
      const t = ty * w + tx;
      for (let k = 0; k < channels; k++) data[t * channels + k]! += hwc[o + k]!;
      count[t]! += 1;
    }
  }
  for (let t = 0; t < count.length; t++) {
    const n = Math.max(1, count[t]!);
    for (let k = 0; k < channels; k++) data[t * channels + k] = data[t * channels + k]! / n;
  }
  return { data, w, h, channels, width, height };
}

/** The gray version of a colour thumbnail (Rec. 601 weights). */
function toGray(t: Thumb): Thumb {
  if (t.channels === 1) return t;
  const data = new Float32Array(t.w * t.h);
  for (let i = 0; i < data.length; i++)
    data[i] = 0.299 * t.data[i * 3]! + 0.587 * t.data[i * 3 + 1]! + 0.114 * t.data[i * 3 + 2]!;
  return { ...t, data, channels: 1 };
}

/**
 * Thumbnail cells that differ from the background: the largest 8-connected changed region, and any
 * other of at least {@link KEEP_SHARE} of its size. A cell changes when any channel moves by more than
 * `threshold`, so a red mug on a blue cloth of the same brightness is seen.
 */
function changedBox(
  bg: Thumb,
  t: Thumb,
  threshold: number,
): { x0: number; y0: number; x1: number; y1: number; cells: Uint8Array } | undefined {
  const n = t.w * t.h;
  const changed = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < t.channels; k++) {
      if (Math.abs(t.data[i * t.channels + k]! - bg.data[i * t.channels + k]!) > threshold) {
        changed[i] = 1;
        break;
      }
    }
  }
  // Label 8-connected components with an explicit stack; keep each one's size and box.
  const label = new Int32Array(n).fill(-1);
  const stack = new Int32Array(n);
  const comps: { size: number; x0: number; y0: number; x1: number; y1: number }[] = [];
  for (let start = 0; start < n; start++) {
    if (changed[start] === 0 || label[start] !== -1) continue;
    const comp = { size: 0, x0: t.w, y0: t.h, x1: -1, y1: -1 };
    const id = comps.length;
    comps.push(comp);
    let top = 0;
    stack[top++] = start;
    label[start] = id;
    while (top > 0) {
      const i = stack[--top]!;
      const x = i % t.w;
      const y = (i - x) / t.w;
      comp.size++;
      if (x < comp.x0) comp.x0 = x;
      if (x > comp.x1) comp.x1 = x;
      if (y < comp.y0) comp.y0 = y;
      if (y > comp.y1) comp.y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= t.h) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= t.w) continue;
          const j = ny * t.w + nx;
          if (changed[j] === 1 && label[j] === -1) {
            label[j] = id;
            stack[top++] = j;
          }
        }
      }
    }
  }
  let largest = 0;
  for (const c of comps) largest = Math.max(largest, c.size);
  if (largest === 0) return undefined;
  const box = { x0: t.w, y0: t.h, x1: -1, y1: -1 };
  const kept = comps.map((c) => c.size >= KEEP_SHARE * largest);
  comps.forEach((c, id) => {
    if (!kept[id]) return;
    box.x0 = Math.min(box.x0, c.x0);
    box.y0 = Math.min(box.y0, c.y0);
    box.x1 = Math.max(box.x1, c.x1);
    box.y1 = Math.max(box.y1, c.y1);
  });
  // The cells of the kept regions (what a mask keeps).
  const cells = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (label[i]! >= 0 && kept[label[i]!]) cells[i] = 1;
  return { ...box, cells };
}

/** One pass of `grow`: a cell is set when any cell within `r` steps of it along a row (or a column) is. */
function growPass(cells: Uint8Array, w: number, r: number, columns: boolean): Uint8Array {
  const out = new Uint8Array(cells.length);
  const h = cells.length / w;
  const step = columns ? w : 1;
  const n = columns ? h : w;
  for (let i = 0; i < cells.length; i++) {
    const at = columns ? Math.floor(i / w) : i % w;
    for (let d = Math.max(0, at - r); d <= Math.min(n - 1, at + r); d++)
      if (cells[i + (d - at) * step] === 1) {
        out[i] = 1;
        break;
      }
  }
  return out;
}

/** `cells` (w × h, 1 = kept) grown by `r` cells in every direction (a square neighbourhood, two separable passes). */
function grow(cells: Uint8Array, w: number, r: number): Uint8Array {
  return growPass(growPass(cells, w, r, false), w, r, true);
}

/**
 * The empty scene of a fixed camera, captured once: {@link Encoder.embed} with `{ background }`
 * crops each frame to the bounding box of what differs from it, so the model sees the object,
 * not the room; with `mask`, the pixels inside that box that did not change are replaced too.
 * Build it with {@link createBackground}.
 */
export interface BackgroundReference {
  readonly kind: 'edgetune.background';
  /** Size of the frame it was captured from; frames must have this size. */
  readonly width: number;
  readonly height: number;
  /** Per-thumbnail-pixel difference (0..255, in any colour channel) that counts as changed. */
  readonly threshold: number;
  /** Margin added around the changed box, as a share of its size. */
  readonly margin: number;
  /** Whether unchanged pixels inside the box are replaced by the model's mean colour (see `BackgroundOptions.mask`). */
  readonly mask: boolean;
  /** @internal */
  readonly thumb: Thumb;
}

/** Options of {@link createBackground}. */
export interface BackgroundOptions {
  /** Difference (0..255) in any colour channel that counts as a change. @defaultValue 25 */
  readonly threshold?: number;
  /** Margin around the changed box, share of its size. @defaultValue 0.1 */
  readonly margin?: number;
  /**
   * Mask as well as crop: inside the changed box, replace the pixels that did not change against the
   * empty scene (beyond a rim of about 2% of the frame around what changed) by the model's mean colour,
   * which it reads as zero, so the room seen around and through the object does not reach the
   * embedding. On by default because it measured best for every encoder on the camera benchmark
   * (`bench/camera`, 5-shot, unseen backgrounds: the RGB camera encoder 89.5% masked vs 81.0% cropped;
   * see the model card). Parts of the object that have the background's colour are masked too: pass
   * `false` to only crop when objects match the scene.
   * @defaultValue true
   */
  readonly mask?: boolean;
}

/** @internal Builds a background reference from HWC 0..255 pixels (see `createBackground` in preprocess). */
export function backgroundFromPixels(
  hwc: Float32Array,
  width: number,
  height: number,
  c: number,
  options: BackgroundOptions = {},
): BackgroundReference {
  const threshold = options.threshold ?? 25;
  const margin = options.margin ?? 0.1;
  const mask = options.mask ?? true;
  if (!(threshold > 0 && threshold < 255))
    throw new EdgetuneError('INVALID_ARGUMENT', `Background threshold must be in (0, 255) levels (got ${threshold}).`);
  if (!(margin >= 0 && margin <= 1))
    throw new EdgetuneError('INVALID_ARGUMENT', `Background margin must be in [0, 1] (got ${margin}).`);
  if (typeof mask !== 'boolean')
    throw new EdgetuneError('INVALID_ARGUMENT', `Background mask must be true or false (got ${String(mask)}).`);
  return {
    kind: 'edgetune.background',
    width,
    height,
    threshold,
    margin,
    mask,
    thumb: thumbnail(hwc, width, height, c),
  };
}

/** Refuses anything but an intact {@link createBackground} result (e.g. a hand-made or damaged object) with `INVALID_ARGUMENT`. */
function checkBackground(bg: BackgroundReference): void {
  const b = bg as Partial<BackgroundReference> | null;
  const t = typeof b === 'object' && b !== null ? (b.thumb as Partial<Thumb> | null | undefined) : undefined;
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
  const ok =
    b?.kind === 'edgetune.background' &&
    int(b.width) &&
    int(b.height) &&
    typeof b.threshold === 'number' &&
    b.threshold > 0 &&
    b.threshold < 255 &&
    typeof b.margin === 'number' &&
    b.margin >= 0 &&
    b.margin <= 1 &&
    typeof b.mask === 'boolean' &&
    typeof t === 'object' &&
    t !== null &&
    int(t.w) &&
    int(t.h) &&
    (t.channels === 1 || t.channels === 3) &&
    t.data instanceof Float32Array &&
    t.data.length === t.w * t.h * t.channels &&
    t.width === b.width &&
    t.height === b.height;
  if (!ok || thumbSize(b.width!, b.height!).join() !== `${t!.w},${t!.h}`) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      'The background option is not a reference made by createBackground() (or it was damaged); capture it again with createBackground(emptyScene).',
      { details: { option: 'background' } },
    );
  }
}

/** What differs from a background in one frame: the box to crop to, and (for a masking reference) which pixels changed. */
export interface Change {
  /** Bounding box of the kept changed regions plus the margin, in frame pixels. */
  readonly rect: Rect;
  /** Thumbnail cells (`w × h`, 1 = keep) of the changed regions grown by {@link MASK_GROW}; set when the reference masks. */
  readonly keep?: { readonly cells: Uint8Array; readonly w: number; readonly h: number };
}

/** What differs from the background in a frame (HWC, 0..255, `c` channels), or `undefined` when nothing does. */
export function changeOf(
  bg: BackgroundReference,
  hwc: Float32Array,
  width: number,
  height: number,
  c: number,
  index: number,
): Change | undefined {
  checkBackground(bg);
  if (width !== bg.width || height !== bg.height) {
    throw new EdgetuneError(
      'INPUT_SHAPE',
      `Input ${index} is ${width}×${height} but the background reference was captured at ${bg.width}×${bg.height}; capture the background again at the camera's current resolution.`,
      { details: { index, width, height } },
    );
  }
  const t = thumbnail(hwc, width, height, c);
  // A gray model's frames against a colour reference (or the reverse): compare in gray.
  const same = t.channels === bg.thumb.channels;
  const box = changedBox(same ? bg.thumb : toGray(bg.thumb), same ? t : toGray(t), bg.threshold);
  if (box === undefined) return undefined;
  const { x0, y0, x1, y1 } = box;
  const sx = width / t.w;
  const sy = height / t.h;
  const mx = (x1 - x0 + 1) * bg.margin;
  const my = (y1 - y0 + 1) * bg.margin;
  const left = Math.max(0, Math.floor((x0 - mx) * sx));
  const top = Math.max(0, Math.floor((y0 - my) * sy));
  const right = Math.min(width, Math.ceil((x1 + 1 + mx) * sx));
  const bottom = Math.min(height, Math.ceil((y1 + 1 + my) * sy));
  const rect = { x: left, y: top, width: right - left, height: bottom - top };
  if (!bg.mask) return { rect };
  return { rect, keep: { cells: grow(box.cells, t.w, MASK_GROW), w: t.w, h: t.h } };
}

/** The bounding box (frame pixels) of what differs from the background, or `undefined` when nothing does. */
export function changedRegion(
  bg: BackgroundReference,
  hwc: Float32Array,
  width: number,
  height: number,
  c: number,
  index: number,
): Rect | undefined {
  return changeOf(bg, hwc, width, height, c, index)?.rect;
}

/**
 * Masks in place: every pixel of `hwc` inside `rect` whose thumbnail cell is not kept by `change` is set
 * to `fill` (one value per channel, 0..255). A no-op for a change without `keep` (a crop-only reference).
 */
export function maskUnchanged(
  hwc: Float32Array,
  width: number,
  height: number,
  c: number,
  change: Change,
  rect: Rect,
  fill: readonly number[],
): void {
  const keep = change.keep;
  if (keep === undefined) return;
  const { cells, w, h } = keep;
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    // The same pixel-to-cell mapping as the thumbnail.
    const row = Math.min(h - 1, Math.floor((y * h) / height)) * w;
    for (let x = rect.x; x < rect.x + rect.width; x++) {
      if (cells[row + Math.min(w - 1, Math.floor((x * w) / width))] === 1) continue;
      const o = (y * width + x) * c;
      for (let k = 0; k < c; k++) hwc[o + k] = fill[k]!;
    }
  }
}

/** Checks a region of interest against the frame and returns it in integer pixels. */
export function checkRoi(roi: Rect, width: number, height: number, index: number): Rect {
  const { x, y, width: w, height: h } = roi;
  const ok =
    [x, y, w, h].every(Number.isFinite) &&
    x >= 0 &&
    y >= 0 &&
    w > 0 &&
    h > 0 &&
    x + w <= width + 1e-6 &&
    y + h <= height + 1e-6;
  if (!ok) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `roi ${JSON.stringify(roi)} does not lie inside input ${index} (${width}×${height}); give x, y, width, height in the input's own pixels.`,
      { details: { index, roi } },
    );
  }
  const left = Math.floor(x);
  const top = Math.floor(y);
  return {
    x: left,
    y: top,
    width: Math.max(1, Math.min(width - left, Math.round(w))),
    height: Math.max(1, Math.min(height - top, Math.round(h))),
  };
}

/** The part of `region` the crop policy keeps before resizing to `W × H` (`pad` keeps all of it). */
export function cropRect(region: Rect, W: number, H: number, policy: CropPolicy, fraction: number): Rect {
  if (policy !== 'center') return region;
  const target = W / H;
  let w = region.width;
  let h = region.height;
  if (w / h > target) w = h * target;
  else h = w / target;
  w = Math.max(1, Math.round(w * fraction));
  h = Math.max(1, Math.round(h * fraction));
  return {
    x: region.x + Math.floor((region.width - w) / 2),
    y: region.y + Math.floor((region.height - h) / 2),
    width: w,
    height: h,
  };
}

/** Copies a rectangle out of HWC pixels. */
export function extract(hwc: Float32Array, width: number, c: number, r: Rect): Float32Array {
  if (r.x === 0 && r.y === 0 && r.width === width && hwc.length === r.width * r.height * c) return hwc;
  const out = new Float32Array(r.width * r.height * c);
  for (let y = 0; y < r.height; y++) {
    const src = ((r.y + y) * width + r.x) * c;
    out.set(hwc.subarray(src, src + r.width * c), y * r.width * c);
  }
  return out;
}

/**
 * Letterboxes: places `src` (already resized to fit) centred on a `W × H` canvas filled with `fill`
 * (one value per channel, 0..255).
 */
export function pad(
  src: Float32Array,
  sw: number,
  sh: number,
  c: number,
  W: number,
  H: number,
  fill: readonly number[],
): Float32Array {
  const out = new Float32Array(W * H * c);
  for (let k = 0; k < W * H; k++) for (let ch = 0; ch < c; ch++) out[k * c + ch] = fill[ch]!;
  const ox = Math.floor((W - sw) / 2);
  const oy = Math.floor((H - sh) / 2);
  for (let y = 0; y < sh; y++) out.set(src.subarray(y * sw * c, (y + 1) * sw * c), ((oy + y) * W + ox) * c);
  return out;
}
