// Loads the camera benchmark built by build.py and cuts each frame for the three protocols (whole frame, viewfinder, background reference).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RawPixels } from '../../src/runtime/index.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_DIR = join(ROOT, 'bench', 'camera', '.cache', 'camera-v1');

/** Which part of the frame the app hands to the encoder. */
export type Protocol = 'whole' | 'viewfinder' | 'bgref' | 'bgmask';
export const PROTOCOLS: readonly Protocol[] = ['whole', 'viewfinder', 'bgref', 'bgmask'];

export type Split = 'shot' | 'testA' | 'testB' | 'unknown';

export interface Item {
  readonly split: Split;
  readonly object: number;
  /** Class index, -1 for unknown objects. */
  readonly label: number;
  readonly rep: number;
  readonly background: string;
  /** Object box in the frame [x, y, w, h] (ground truth; only the viewfinder protocol uses it, through `viewfinder`). */
  readonly bbox: readonly [number, number, number, number];
  /** The square the app's viewfinder would crop: the object fills >= 50% of it. */
  readonly viewfinder: readonly [number, number, number, number];
}

export interface CameraBench {
  readonly frame: number;
  readonly items: readonly Item[];
  readonly objects: ReadonlyArray<{ name: string; file: string; known: boolean }>;
  readonly frames: Uint8Array;
  readonly empty: Uint8Array;
  readonly sha256: { frames: string; empty: string };
  readonly disjoint: { candidates: number; droppedAsPretrainingDuplicates: number; violations: string[] };
}

/** Reads a built benchmark; says how to build it when it is missing. */
export async function loadBench(dir = DEFAULT_DIR): Promise<CameraBench> {
  let meta: Omit<CameraBench, 'frames' | 'empty'>;
  try {
    meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as typeof meta;
  } catch {
    throw new Error(`no camera benchmark in ${dir}: build it with /usr/bin/python3 bench/camera/build.py`);
  }
  const frames = new Uint8Array(await readFile(join(dir, 'frames.u8')));
  const empty = new Uint8Array(await readFile(join(dir, 'empty.u8')));
  const n = meta.items.length * meta.frame * meta.frame * 3;
  if (frames.length !== n || empty.length !== n)
    throw new Error(`${dir}: frames.u8/empty.u8 are not ${meta.items.length} frames of ${meta.frame}²×3`);
  return { ...meta, frames, empty };
}

/** Pixels of frame i (HWC RGB bytes), a view into the file. */
export function framePixels(b: CameraBench, i: number, which: 'frames' | 'empty' = 'frames'): Uint8Array {
  const s = b.frame * b.frame * 3;
  return b[which].subarray(i * s, (i + 1) * s);
}

/** Copies the square box [x, y, w, h] out of an HWC RGB frame as RawPixels. */
export function crop(px: Uint8Array, side: number, box: readonly [number, number, number, number]): RawPixels {
  const [x0, y0, w, h] = box;
  const out = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++)
    out.set(px.subarray(((y0 + y) * side + x0) * 3, ((y0 + y) * side + x0 + w) * 3), y * w * 3);
  return { data: out, width: w, height: h, channels: 3 };
}

/** Where a frame differs from its empty scene: a square crop box and a per-4×4-block mask of the changed region. */
export interface Change {
  readonly box: [number, number, number, number];
  /** n×n blocks (n = side / 4), 1 = part of the changed region (dilated by one block). */
  readonly blocks: Uint8Array;
  readonly n: number;
}

const BLOCK = 4;

/**
 * Fixed camera with a background reference: where the frame differs from the empty scene.
 * Works on 4×4 blocks (mean absolute RGB difference, which averages sensor noise away), keeps the
 * largest 8-connected group of blocks above `threshold`, and returns its bounding square grown by
 * `margin`, clamped to the frame. With no changed block it returns the whole frame. This is what
 * the bench does itself until the runtime offers a background-reference option.
 */
export function changeOf(frame: Uint8Array, empty: Uint8Array, side: number, threshold = 18, margin = 0.12): Change {
  const B = BLOCK;
  const n = Math.floor(side / B);
  const diff = new Float32Array(n * n);
  for (let by = 0; by < n; by++) {
    for (let bx = 0; bx < n; bx++) {
      let s = 0;
      for (let y = by * B; y < by * B + B; y++) {
        for (let x = bx * B; x < bx * B + B; x++) {
          const o = (y * side + x) * 3;
          s +=
            Math.abs(frame[o]! - empty[o]!) +
            Math.abs(frame[o + 1]! - empty[o + 1]!) +
            Math.abs(frame[o + 2]! - empty[o + 2]!);
        }
      }
      diff[by * n + bx] = s / (B * B * 3);
    }
  }
  const seen = new Uint8Array(n * n);
  let best: number[] = [];
  for (let start = 0; start < n * n; start++) {
    if (seen[start] || diff[start]! < threshold) continue;
    const comp: number[] = [];
    const stack = [start];
    seen[start] = 1;
    while (stack.length) {
      const c = stack.pop()!;
      comp.push(c);
      const cy = Math.floor(c / n);
      const cx = c % n;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const y = cy + dy;
          const x = cx + dx;
          if (y < 0 || x < 0 || y >= n || x >= n) continue;
          const k = y * n + x;
          if (!seen[k] && diff[k]! >= threshold) {
            seen[k] = 1;
            stack.push(k);
          }
        }
      }
    }
    if (comp.length > best.length) best = comp;
  }
  const blocks = new Uint8Array(n * n);
  if (best.length === 0) return { box: [0, 0, side, side], blocks: blocks.fill(1), n };
  let x0 = n;
  let y0 = n;
  let x1 = 0;
  let y1 = 0;
  for (const c of best) {
    const y = Math.floor(c / n);
    const x = c % n;
    x0 = Math.min(x0, x);
    y0 = Math.min(y0, y);
    x1 = Math.max(x1, x + 1);
    y1 = Math.max(y1, y + 1);
    for (let dy = -1; dy <= 1; dy++)
      for (let dx = -1; dx <= 1; dx++)
        if (y + dy >= 0 && x + dx >= 0 && y + dy < n && x + dx < n) blocks[(y + dy) * n + x + dx] = 1;
  }
  const w = (x1 - x0) * B;
  const h = (y1 - y0) * B;
  const s = Math.min(side, Math.max(8, Math.round(Math.max(w, h) * (1 + 2 * margin))));
  const cx = x0 * B + w / 2;
  const cy = y0 * B + h / 2;
  const bx = Math.round(Math.min(Math.max(cx - s / 2, 0), side - s));
  const by = Math.round(Math.min(Math.max(cy - s / 2, 0), side - s));
  return { box: [bx, by, s, s], blocks, n };
}

/** The square crop box of {@link changeOf}. */
export function changedBox(frame: Uint8Array, empty: Uint8Array, side: number): [number, number, number, number] {
  return changeOf(frame, empty, side).box;
}

/** The frame with every pixel outside the changed region set to mid-grey (the "mask" variant of the background reference). */
export function maskUnchanged(frame: Uint8Array, side: number, c: Change): Uint8Array {
  const out = new Uint8Array(frame);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const by = Math.min(c.n - 1, Math.floor(y / BLOCK));
      const bx = Math.min(c.n - 1, Math.floor(x / BLOCK));
      if (!c.blocks[by * c.n + bx]) out.fill(128, (y * side + x) * 3, (y * side + x) * 3 + 3);
    }
  }
  return out;
}

/** The crop a protocol hands to the encoder for item i. */
export function protocolCrop(b: CameraBench, i: number, p: Protocol): RawPixels {
  const px = framePixels(b, i);
  const item = b.items[i]!;
  if (p === 'whole') return { data: px, width: b.frame, height: b.frame, channels: 3 };
  if (p === 'viewfinder') return crop(px, b.frame, item.viewfinder);
  const c = changeOf(px, framePixels(b, i, 'empty'), b.frame);
  return crop(p === 'bgmask' ? maskUnchanged(px, b.frame, c) : px, b.frame, c.box);
}

/** Intersection over union of two [x, y, w, h] boxes (how well the background reference found the object). */
export function iou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[0]! + a[2]!, b[0]! + b[2]!) - Math.max(a[0]!, b[0]!));
  const iy = Math.max(0, Math.min(a[1]! + a[3]!, b[1]! + b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = ix * iy;
  return inter / (a[2]! * a[3]! + b[2]! * b[3]! - inter);
}
