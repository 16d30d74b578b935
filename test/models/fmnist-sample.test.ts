// The checked-in Fashion-MNIST sample decodes, is class-stratified, matches the original test set, and refuses damaged files.
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { isEdgetuneError } from '../../src/core/errors.js';
import { FMNIST_SAMPLE_DIR, loadFmnistSample } from '../../scripts/lib/fmnist.js';

test('sample: 5000 images, 500 per class, real pixels', async () => {
  const s = await loadFmnistSample();
  assert.equal(s.count, 5000);
  assert.equal(s.images.length, 5000 * 28 * 28);
  assert.equal(s.classes.length, 10);
  assert.equal(s.classes[9], 'Ankle boot');
  const perClass = new Array<number>(10).fill(0);
  for (const l of s.labels) perClass[l] = (perClass[l] ?? 0) + 1;
  assert.deepEqual(perClass, new Array<number>(10).fill(500));
  // Fashion-MNIST images have a dark background and bright garment pixels.
  let sum = 0;
  for (const p of s.images) sum += p;
  const mean = sum / s.images.length / 255;
  assert.ok(mean > 0.2 && mean < 0.4, `mean pixel ${mean}`);
});

test('sample: rows are the listed test-set indices of the Debian IDX files', async (t) => {
  const idx = '/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz';
  let raw: Buffer;
  try {
    raw = gunzipSync(await readFile(idx));
  } catch {
    t.skip(`${idx} not installed (apt-get install dataset-fashion-mnist)`);
    return;
  }
  const labelsRaw = gunzipSync(await readFile('/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz'));
  const meta = JSON.parse(await readFile(join(FMNIST_SAMPLE_DIR, 'fmnist-test-5000.json'), 'utf8')) as {
    testIndices: number[];
  };
  const s = await loadFmnistSample();
  for (const row of [0, 1, 2499, 4999]) {
    const src = meta.testIndices[row]!;
    assert.deepEqual(
      s.images.subarray(row * 784, (row + 1) * 784),
      new Uint8Array(raw.subarray(16 + src * 784, 16 + (src + 1) * 784)),
    );
    assert.equal(s.labels[row], labelsRaw[8 + src]);
  }
});

test('sample: a damaged file is refused with CHECKSUM_MISMATCH', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'fmnist-'));
  try {
    for (const f of ['fmnist-test-5000.json', 'fmnist-test-5000.images.u8.gz'])
      await copyFile(join(FMNIST_SAMPLE_DIR, f), join(dir, f));
    const labels = await readFile(join(FMNIST_SAMPLE_DIR, 'fmnist-test-5000.labels.u8'));
    labels[17] = (labels[17]! + 1) % 10;
    await writeFile(join(dir, 'fmnist-test-5000.labels.u8'), labels);
    await assert.rejects(loadFmnistSample({ dir }), (e: unknown) => {
      assert.ok(isEdgetuneError(e));
      assert.equal(e.code, 'CHECKSUM_MISMATCH');
      assert.match(e.message, /fmnist-test-5000\.labels\.u8/);
      return true;
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
