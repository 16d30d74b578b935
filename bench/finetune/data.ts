// Fashion-MNIST for the fine-tuner harness: the shipped 5000-image sample, or the Debian t10k files when the sample is absent.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { FMNIST_SAMPLE_DIR, loadFmnistSample } from '../../scripts/lib/fmnist.js';

/** Images (count×784 bytes), labels and class names. */
export interface Dataset {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  classes: string[];
  source: string;
}

const DEBIAN = '/usr/share/datasets/fashion-mnist';
// Class names come from the shipped sample's description: the one list of them in the repo.
const CLASSES: string[] = (
  JSON.parse(await readFile(`${FMNIST_SAMPLE_DIR}/fmnist-test-5000.json`, 'utf8')) as { classes: string[] }
).classes;

/** `count` images and labels of a Debian IDX split from `start` (header: 16 bytes of images, 8 of labels). */
async function readIdx(split: 'train' | 't10k', note?: string, start = 0, count = 5000): Promise<Dataset> {
  const img = gunzipSync(await readFile(`${DEBIAN}/${split}-images-idx3-ubyte.gz`));
  const lab = gunzipSync(await readFile(`${DEBIAN}/${split}-labels-idx1-ubyte.gz`));
  return {
    images: new Uint8Array(img.buffer, img.byteOffset + 16 + start * 784, count * 784).slice(),
    labels: new Uint8Array(lab.buffer, lab.byteOffset + 8 + start, count).slice(),
    count,
    classes: CLASSES,
    source: `${DEBIAN}/${split} (${start ? `${start}…${start + count - 1}` : `first ${count}`}${note ? `; ${note}` : ''})`,
  };
}

/** Fashion-MNIST training images after the dev split's 5000 (from image 5000 on): dev-only streams longer than the harness's. */
export function loadDevExtra(count: number): Promise<Dataset> {
  return readIdx('train', 'dev, after the dev split', 5000, count);
}

/**
 * Loads the shipped sample, falling back to the first 5000 Debian test images. With `dev`, loads
 * 5000 images of the Fashion-MNIST *training* set instead: a split disjoint from the test sample,
 * on which the method's settings were tuned.
 */
export async function loadDataset(dev = false): Promise<Dataset> {
  if (dev) return readIdx('train', 'dev split');
  if (existsSync(`${FMNIST_SAMPLE_DIR}/fmnist-test-5000.json`)) {
    const s = await loadFmnistSample();
    return {
      images: s.images,
      labels: s.labels,
      count: s.count,
      classes: s.classes,
      source: 'models/data/fmnist-test-5000',
    };
  }
  return readIdx('t10k');
}
