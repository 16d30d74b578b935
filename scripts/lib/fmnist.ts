// Node reader for the checked-in Fashion-MNIST test sample (models/data/), verified against its SHA-256s.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { EdgetuneError } from '../../src/core/errors.js';

/** Directory holding the sample files and their JSON description. */
export const FMNIST_SAMPLE_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'models', 'data');

/** The decoded sample: `count` images of 28×28 uint8 pixels, row-major, and their labels. */
export interface FmnistSample {
  /** `count * 28 * 28` pixel bytes, image after image, row-major. */
  images: Uint8Array;
  /** `count` class indices into `classes`. */
  labels: Uint8Array;
  count: number;
  width: 28;
  height: 28;
  /** Class names, index = label. */
  classes: string[];
}

/** Options of {@link loadFmnistSample}. */
export interface LoadFmnistSampleOptions {
  /** Directory with the files. @defaultValue {@link FMNIST_SAMPLE_DIR} */
  dir?: string;
  /** File stem. @defaultValue `'fmnist-test-5000'` */
  stem?: string;
}

interface SampleFileMeta {
  file: string;
  sha256: string;
  bytes: number;
}

interface SampleMeta {
  count: number;
  width: number;
  height: number;
  classes: string[];
  files: { images: SampleFileMeta; labels: SampleFileMeta };
}

const sha256Hex = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

async function readVerified(dir: string, meta: SampleFileMeta): Promise<Uint8Array> {
  const path = join(dir, meta.file);
  const bytes = new Uint8Array(await readFile(path));
  const actual = sha256Hex(bytes);
  if (actual !== meta.sha256) {
    throw new EdgetuneError(
      'CHECKSUM_MISMATCH',
      `Fashion-MNIST sample file ${path} has sha256 ${actual}, expected ${meta.sha256}: the file is damaged or was replaced; regenerate it with /usr/bin/python3 models/pipeline/make_sample.py.`,
      { details: { path, expected: meta.sha256, actual } },
    );
  }
  return bytes;
}

/**
 * Loads the class-stratified Fashion-MNIST test sample from `models/data/`,
 * checking both files against the SHA-256s in its JSON before decoding.
 *
 * @throws EdgetuneError `CHECKSUM_MISMATCH` if a file's hash differs, `STATE_INVALID` if the sizes disagree.
 */
export async function loadFmnistSample(options: LoadFmnistSampleOptions = {}): Promise<FmnistSample> {
  const dir = options.dir ?? FMNIST_SAMPLE_DIR;
  const stem = options.stem ?? 'fmnist-test-5000';
  const meta = JSON.parse(await readFile(join(dir, `${stem}.json`), 'utf8')) as SampleMeta;
  if (meta.width !== 28 || meta.height !== 28) {
    throw new EdgetuneError(
      'STATE_INVALID',
      `Fashion-MNIST sample ${stem} is ${meta.width}x${meta.height}, expected 28x28.`,
    );
  }
  const [gz, labels] = await Promise.all([readVerified(dir, meta.files.images), readVerified(dir, meta.files.labels)]);
  const images = new Uint8Array(gunzipSync(gz));
  if (images.length !== meta.count * 28 * 28 || labels.length !== meta.count) {
    throw new EdgetuneError(
      'STATE_INVALID',
      `Fashion-MNIST sample ${stem}: ${images.length} pixel bytes and ${labels.length} labels do not make ${meta.count} images of 28x28.`,
    );
  }
  return { images, labels, count: meta.count, width: 28, height: 28, classes: meta.classes };
}
