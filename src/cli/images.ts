// Calibration and canary images for the CLI: PNG/JPEG files from a folder, or seeded synthetic scenes.
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import type { RawPixels } from '../runtime/preprocess.js';

export { syntheticImages } from './scenes.js';

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
    return {
      data: new Uint8Array(png.data.buffer, png.data.byteOffset, png.data.byteLength),
      width: png.width,
      height: png.height,
      channels: 4,
    };
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
  if (all.length === 0)
    throw new Error(
      `No .png/.jpg/.jpeg images under ${dir}; put calibration images (photos like the ones the app will see) there.`,
    );
  if (all.length <= limit) return all;
  return Array.from({ length: limit }, (_, k) => all[Math.floor((k * all.length) / limit)]!);
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
