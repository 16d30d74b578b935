// Every shipped model file matches its manifest (bytes, SHA-256), manifests pass the runtime validator and index.json is consistent.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { validateManifest } from '../../src/runtime/manifest.js';

const MODELS = join(import.meta.dirname, '..', '..', 'models');

interface Index {
  default: string;
  models: string[];
}

const readJson = async <T>(file: string): Promise<T> => JSON.parse(await readFile(join(MODELS, file), 'utf8')) as T;

test('index.json lists manifests, its default is an int8 ONNX among them', async () => {
  const index = await readJson<Index>('index.json');
  assert.ok(index.models.length >= 2);
  assert.ok(index.models.includes(`${index.default}.json`), `default ${index.default} not in models`);
  const def = validateManifest(await readJson(`${index.default}.json`));
  assert.equal(def.format, 'onnx');
  assert.equal(def.dtype, 'int8');
});

test('every manifest: required fields, runtime validation, exact bytes and sha256 of its file', async () => {
  const index = await readJson<Index>('index.json');
  const onDisk = (await readdir(MODELS)).filter(
    (f) => f.endsWith('.json') && f !== 'index.json' && f !== 'package.json' && !f.endsWith('.calibration.json'),
  );
  // Manifests written by others (e.g. TFLite) are checked too when present.
  for (const file of new Set([...index.models, ...onDisk])) {
    const raw = await readJson<Record<string, unknown>>(file);
    for (const key of [
      'schema',
      'id',
      'format',
      'file',
      'bytes',
      'sha256',
      'input',
      'output',
      'dtype',
      'quantization',
      'ssl',
      'license',
      'metrics',
    ]) {
      assert.ok(key in raw, `${file}: missing ${key}`);
    }
    const m = validateManifest(raw);
    assert.equal(`${m.id}.json`, file, `${file}: id ${m.id} does not match its file name`);
    const bytes = await readFile(join(MODELS, m.file));
    assert.equal(bytes.length, m.bytes, `${file}: ${m.file} is ${bytes.length} bytes, manifest says ${m.bytes}`);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), m.sha256, `${file}: sha256 of ${m.file}`);
    const metrics = raw['metrics'] as Record<string, unknown>;
    // Fashion-MNIST encoders report probe accuracy; the RGB camera encoders report the camera bench.
    const keys =
      metrics['dataset'] === 'camera-bench-v1'
        ? ['camera5shotViewfinder', 'camera5shotBgref']
        : ['linearProbe', 'knn20'];
    for (const k of keys) {
      const v = metrics[k];
      assert.ok(typeof v === 'number' && v > 0.1 && v <= 1, `${file}: metrics.${k} = ${String(v)}`);
    }
  }
});

test('int8 ONNX models are at least 3.5x smaller than the fp32 default', async () => {
  const index = await readJson<Index>('index.json');
  const fp32Id = index.default.replace(/-int8$/, '-fp32');
  const fp32 = validateManifest(await readJson(`${fp32Id}.json`));
  const int8 = validateManifest(await readJson(`${index.default}.json`));
  assert.ok(fp32.bytes / int8.bytes >= 3.5, `fp32/int8 size ratio ${(fp32.bytes / int8.bytes).toFixed(2)}`);
});

test('the edgetune-models package (models/package.json) ships every indexed manifest, its model file and the data licence', async () => {
  const index = await readJson<Index>('index.json');
  const pkg = await readJson<{ name: string; files: string[] }>('package.json');
  assert.equal(pkg.name, 'edgetune-models');
  // npm's `files` entries here are plain names or one `*` per name.
  const shipped = (f: string): boolean =>
    pkg.files.some((p) => new RegExp(`^${p.replace(/[.]/g, '\\.').replace(/\*/g, '[^/]*')}$`).test(f));
  for (const file of index.models) {
    assert.ok(shipped(file), `${file} is not in models/package.json files`);
    const m = await readJson<{ file: string }>(file);
    assert.ok(shipped(m.file), `${m.file} (of ${file}) is not in models/package.json files`);
  }
  assert.ok(shipped('data/LICENSE-fashion-mnist.txt') && shipped('README.md'));
  assert.ok(!shipped('data/fmnist-test-5000.images.u8.gz'), 'the test sample is for our tests, not for apps');
});
