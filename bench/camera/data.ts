// Loads the camera benchmark built by build.py and frames each item for the protocols (whole frame, viewfinder, and the SDK's background reference: crop or mask).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RegionOptions } from '../../src/runtime/preprocess.js';
import { createBackground, type RawPixels } from '../../src/runtime/preprocess.js';
import { type BackgroundReference, changedRegion } from '../../src/runtime/region.js';

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

/** One input as the app hands it to the SDK: the pixels and the region options of `embed` (`roi`, `background`). */
export interface Shot {
  readonly px: RawPixels;
  readonly region: RegionOptions;
}

/**
 * The empty scene of frame i as the SDK's own background reference (`createBackground`, default threshold and
 * margin), cropping only (`bgref`) or also masking (`bgmask`): the bench measures what a user of the SDK gets.
 */
export function backgroundOf(b: CameraBench, i: number, mask: boolean): BackgroundReference {
  return createBackground({ data: framePixels(b, i, 'empty'), width: b.frame, height: b.frame, channels: 3 }, { mask });
}

/** What a protocol hands to the encoder for item i: the whole frame, the viewfinder crop, or the frame with its background reference. */
export function protocolInput(b: CameraBench, i: number, p: Protocol): Shot {
  const px = framePixels(b, i);
  const item = b.items[i]!;
  const whole: RawPixels = { data: px, width: b.frame, height: b.frame, channels: 3 };
  if (p === 'whole') return { px: whole, region: {} };
  if (p === 'viewfinder') return { px: crop(px, b.frame, item.viewfinder), region: {} };
  return { px: whole, region: { background: backgroundOf(b, i, p === 'bgmask') } };
}

/** The SDK's changed box for item i (frame pixels, [x, y, w, h]), or the whole frame when nothing changed. */
export function changedBox(b: CameraBench, i: number): [number, number, number, number] {
  const r = changedRegion(backgroundOf(b, i, false), Float32Array.from(framePixels(b, i)), b.frame, b.frame, 3, i);
  return r ? [r.x, r.y, r.width, r.height] : [0, 0, b.frame, b.frame];
}

/** Intersection over union of two [x, y, w, h] boxes (how well the background reference found the object). */
export function iou(a: readonly number[], b: readonly number[]): number {
  const ix = Math.max(0, Math.min(a[0]! + a[2]!, b[0]! + b[2]!) - Math.max(a[0]!, b[0]!));
  const iy = Math.max(0, Math.min(a[1]! + a[3]!, b[1]! + b[3]!) - Math.max(a[1]!, b[1]!));
  const inter = ix * iy;
  return inter / (a[2]! * a[3]! + b[2]! * b[3]! - inter);
}
