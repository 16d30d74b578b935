// Calibration and canary images for the CLI: PNG/JPEG files from a folder, or seeded synthetic scenes.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RawPixels } from '../runtime/preprocess.js';

const EXT = new Set(['.png', '.jpg', '.jpeg']);

async function walk(dir: string, out: string[]): Promise<void> {
  for (const name of (await readdir(dir)).sort()) {
    const p = join(dir, name);
    if ((await stat(p)).isDirectory()) await walk(p, out);
    else if (EXT.has(extname(name).toLowerCase())) out.push(p);
  }
}

/** Decodes one PNG or JPEG file to RGBA pixels. */
export async function decodeImage(path: string): Promise<RawPixels> {
  const buf = await readFile(path);
  if (extname(path).toLowerCase() === '.png') {
    const png = PNG.sync.read(buf);
    return { data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength), width: png.width, height: png.height, channels: 4 };
  }
  const img = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, maxMemoryUsageInMB: 1024 });
  return { data: img.data, width: img.width, height: img.height, channels: 4 };
}

/**
 * Lists up to `limit` images under `dir` (recursively, sorted, evenly spread over the list).
 *
 * @throws Error when the folder has no PNG/JPEG files
 */
export async function listImages(dir: string, limit: number): Promise<string[]> {
  const all: string[] = [];
  await walk(dir, all);
  if (all.length === 0) throw new Error(`No .png/.jpg/.jpeg images under ${dir}; put calibration images (photos like the ones the app will see) there.`);
  if (all.length <= limit) return all;
  return Array.from({ length: limit }, (_, k) => all[Math.floor((k * all.length) / limit)]!);
}

/** A seeded PRNG (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/**
 * Seeded synthetic RGB scenes (sky/ground gradient, coloured discs and boxes, texture): enough
 * variety to calibrate activation ranges when no photos are at hand.
 *
 * @param count - how many
 * @param width - image width @defaultValue 320
 * @param height - image height @defaultValue 240
 * @param seed - seed @defaultValue 1
 */
export function syntheticImages(count: number, width = 320, height = 240, seed = 1): RawPixels[] {
  const r = rng(seed);
  const out: RawPixels[] = [];
  for (let n = 0; n < count; n++) {
    const data = new Uint8Array(width * height * 3);
    const top = [r() * 255, r() * 255, r() * 255];
    const bottom = [r() * 255, r() * 255, r() * 255];
    const shapes = Array.from({ length: 2 + Math.floor(r() * 5) }, () => ({ x: r() * width, y: r() * height, s: (0.05 + r() * 0.3) * Math.min(width, height), c: [r() * 255, r() * 255, r() * 255], disc: r() < 0.5 }));
    const freq = 0.05 + r() * 0.4;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const t = y / height;
        let px = [0, 1, 2].map((c) => top[c]! * (1 - t) + bottom[c]! * t + 20 * Math.sin(freq * x + n) * Math.cos(freq * y));
        for (const s of shapes) {
          const inside = s.disc ? Math.hypot(x - s.x, y - s.y) < s.s : Math.abs(x - s.x) < s.s && Math.abs(y - s.y) < s.s * 0.6;
          if (inside) px = s.c.map((v) => v + 10 * (r() - 0.5));
        }
        for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(px[c]!)));
      }
    }
    out.push({ data, width, height, channels: 3 });
  }
  return out;
}

/** Writes RGB pixels as a PNG (used by tests and the docs to make calibration folders). */
export function encodePng(img: RawPixels): Uint8Array {
  const png = new PNG({ width: img.width, height: img.height });
  for (let k = 0; k < img.width * img.height; k++) {
    for (let c = 0; c < 3; c++) png.data[k * 4 + c] = Number(img.data[k * img.channels + (img.channels === 1 ? 0 : c)]);
    png.data[k * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}
