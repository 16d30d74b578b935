// Real-browser tests of the TFLite path: converter output (fp32, int8) run through Encoder + tfjs-tflite in headless Chromium agrees with the ONNX of the same model run in Node; damaged files, too-new op versions and module Workers fail with typed errors; the shipped default encoder's int8 TFLite agrees with its int8 ONNX.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { hasChromium, launchChromium, pageResult, REPO_ROOT, serve, type TestServer } from './harness.js';
import { Encoder, cosine, type ModelManifest } from '../../src/runtime/index.js';
import { loadFmnistSample } from '../../scripts/lib/fmnist.js';

const PY = '/usr/bin/python3';
const TOOLS = join(REPO_ROOT, 'models/pipeline/tflite');
const OUT = join(REPO_ROOT, 'build/tflite-test');
const DATA = '/usr/share/datasets/fashion-mnist';
const N_IMAGES = 64;
/** Test-CNN variants: global-average-pool head, flatten of a 4×4 map, residual block + view() flatten, and the shipped architecture (models/pipeline/model.py). */
const HEADS = ['gap', 'flatten', 'residual', 'pipeline'] as const;

const pyOk =
  existsSync(PY) && spawnSync(PY, ['-c', 'import torch, onnx, flatbuffers, numpy'], { encoding: 'utf8' }).status === 0;
const skip = !hasChromium
  ? 'no /usr/bin/chromium (npm test installs it)'
  : !pyOk
    ? 'needs /usr/bin/python3 with python3-torch, python3-onnx, python3-flatbuffers'
    : !existsSync(join(DATA, 'train-images-idx3-ubyte.gz'))
      ? 'needs Debian dataset-fashion-mnist'
      : false;

interface Outcome {
  url: string;
  backend?: string;
  embeddings?: number[][];
  error?: { code: string; message: string };
}
interface PageOut {
  results: Outcome[];
  damaged: Outcome[];
  moduleWorker?: { code: string; message: string };
}
type Image = { data: Uint8Array; width: number; height: number; channels: 1 };

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: OUT });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}\n${r.stderr}`);
}

/** `n` images spread evenly over the checked-in Fashion-MNIST test sample, 784 bytes each. */
async function sampleImages(n: number): Promise<Uint8Array> {
  const sample = await loadFmnistSample();
  const out = new Uint8Array(n * 784);
  const step = Math.floor(sample.count / n);
  for (let k = 0; k < n; k++) out.set(sample.images.subarray(k * step * 784, (k * step + 1) * 784), k * 784);
  return out;
}

function asImages(raw: Uint8Array): Image[] {
  return Array.from({ length: raw.length / 784 }, (_, k) => ({
    data: raw.subarray(k * 784, (k + 1) * 784),
    width: 28,
    height: 28,
    channels: 1 as const,
  }));
}

/** The ONNX twin of a TFLite manifest: same preprocessing, NCHW. */
function onnxManifest(tfl: ModelManifest, bytes: Uint8Array, sha256: string, id: string): ModelManifest {
  const { channels: c, height: h, width: w } = tfl.input;
  return {
    ...tfl,
    id,
    format: 'onnx',
    file: `${id}.onnx`,
    bytes: bytes.byteLength,
    sha256,
    input: { ...tfl.input, layout: 'NCHW', shape: [null, c, h, w] },
  };
}

async function embedOnnxInNode(manifest: ModelManifest, bytes: Uint8Array, images: Image[]): Promise<Float32Array[]> {
  await using enc = await Encoder.open({ manifest, bytes }, { device: 'wasm', normalize: false });
  return await enc.embed(images);
}

function cosines(a: ArrayLike<number>[], b: ArrayLike<number>[]): { min: number; mean: number } {
  assert.equal(a.length, b.length);
  const cs = a.map((e, k) => cosine(e, b[k]!));
  return { min: Math.min(...cs), mean: cs.reduce((s, v) => s + v, 0) / cs.length };
}

async function openPage(server: TestServer, query: Record<string, string>): Promise<PageOut> {
  const chrome = await launchChromium();
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/tflite.ts', query));
    return await pageResult<PageOut>(page, 180_000);
  } finally {
    await chrome.close();
  }
}

describe('TFLite in real Chromium (tfjs-tflite)', { skip }, () => {
  let server: TestServer;
  let out: PageOut;
  let images: Image[] = [];
  const byUrl = (name: string): Outcome => {
    const o = out.results.find((r) => r.url.endsWith(`/${name}.json`));
    assert.ok(o, `no result for ${name}`);
    assert.equal(o.error, undefined, JSON.stringify(o.error));
    assert.equal(o.backend, 'tfjs-tflite/wasm');
    return o;
  };
  const onnx = async (name: string, tfliteName: string): Promise<Float32Array[]> => {
    const bytes = new Uint8Array(readFileSync(join(OUT, `${name}.onnx`)));
    const tfl = JSON.parse(readFileSync(join(OUT, `${tfliteName}.json`), 'utf8')) as ModelManifest;
    const { sha256Hex } = await import('../../src/core/hash.js');
    return embedOnnxInNode(onnxManifest(tfl, bytes, await sha256Hex(bytes), name), bytes, images);
  };

  before(async () => {
    mkdirSync(OUT, { recursive: true });
    const raw = await sampleImages(N_IMAGES);
    images = asImages(raw);
    writeFileSync(join(OUT, 'images.u8'), raw);
    const calib = join(DATA, 'train-images-idx3-ubyte.gz');
    for (const head of HEADS) {
      run(PY, [join(TOOLS, 'make_test_cnn.py'), `${head}.onnx`, '--head', head, '--seed', '1']);
      run(PY, [join(TOOLS, 'convert.py'), `${head}.onnx`, '--out', `${head}-fp32.tflite`]);
      run(PY, [
        join(TOOLS, 'convert.py'),
        `${head}.onnx`,
        '--out',
        `${head}-int8.tflite`,
        '--int8',
        '--calib-images',
        calib,
        '--calib-count',
        '256',
        '--qdq-onnx',
        `${head}-qdq.onnx`,
      ]);
    }
    // MEAN is not in the backend's own version table, so only tfjs-tflite itself can refuse version 99.
    run(PY, [join(TOOLS, 'convert.py'), 'gap.onnx', '--out', 'gap-mean99.tflite', '--op-version', 'MEAN=99']);
    server = await serve();
    const models = [...HEADS.flatMap((h) => [`${h}-fp32`, `${h}-int8`]), 'gap-mean99']
      .map((m) => `/build/tflite-test/${m}.json`)
      .join(',');
    out = await openPage(server, {
      images: '/build/tflite-test/images.u8',
      models,
      damaged: '/build/tflite-test/gap-int8.json',
      moduleWorker: '/build/tflite-test/gap-fp32.json',
    });
  });
  after(async () => {
    await server?.close();
  });

  for (const head of HEADS) {
    test(`${head} head: fp32 TFLite matches the fp32 ONNX in Node (cosine ≥ 0.999)`, async (t) => {
      const c = cosines(byUrl(`${head}-fp32`).embeddings!, await onnx(head, `${head}-fp32`));
      t.diagnostic(
        `${head} fp32 TFLite vs fp32 ONNX over ${N_IMAGES} sample images: min ${c.min.toFixed(6)} mean ${c.mean.toFixed(6)}`,
      );
      assert.ok(c.min >= 0.999, `min cosine ${c.min}`);
    });

    test(`${head} head: int8 TFLite matches the int8 QDQ ONNX with the same quantization (cosine ≥ 0.99) and stays close to fp32`, async (t) => {
      const int8 = byUrl(`${head}-int8`).embeddings!;
      const vsQdq = cosines(int8, await onnx(`${head}-qdq`, `${head}-int8`));
      const vsFp32 = cosines(int8, await onnx(head, `${head}-int8`));
      t.diagnostic(
        `${head} int8 TFLite vs int8 QDQ ONNX: min ${vsQdq.min.toFixed(6)} mean ${vsQdq.mean.toFixed(6)}; vs fp32 ONNX: min ${vsFp32.min.toFixed(6)} mean ${vsFp32.mean.toFixed(6)}`,
      );
      assert.ok(vsQdq.min >= 0.99, `int8 vs int8 ONNX min cosine ${vsQdq.min}`);
      assert.ok(vsFp32.min >= 0.99, `int8 vs fp32 ONNX min cosine ${vsFp32.min}`);
    });
  }

  test('on a cross-origin-isolated page (threaded WASM build) the int8 model gives the same embeddings', async () => {
    const isolated = await serve({ isolated: true });
    try {
      const threaded = (
        await openPage(isolated, { images: '/build/tflite-test/images.u8', models: '/build/tflite-test/gap-int8.json' })
      ).results[0]!;
      assert.equal(threaded.error, undefined, JSON.stringify(threaded.error));
      assert.ok(cosines(threaded.embeddings!, byUrl('gap-int8').embeddings!).min >= 0.9999);
    } finally {
      await isolated.close();
    }
  });

  test('damaged .tflite files are MODEL_CORRUPT (bad root offset, truncated, garbage)', () => {
    assert.deepEqual(
      out.damaged.map((d) => [d.url, d.error?.code]),
      [
        ['bad-root', 'MODEL_CORRUPT'],
        ['truncated', 'MODEL_CORRUPT'],
        ['garbage', 'MODEL_CORRUPT'],
      ],
    );
  });

  test('an op version this tfjs-tflite build lacks is UNSUPPORTED_OP, listing the ops', () => {
    const o = out.results.find((r) => r.url.endsWith('/gap-mean99.json'))!;
    assert.equal(o.error?.code, 'UNSUPPORTED_OP', JSON.stringify(o));
    assert.match(o.error!.message, /MEAN\/v99/);
  });

  test('in a module Worker the backend refuses with BACKEND_UNAVAILABLE and says why', () => {
    assert.equal(out.moduleWorker?.code, 'BACKEND_UNAVAILABLE', JSON.stringify(out.moduleWorker));
    assert.match(out.moduleWorker!.message, /module Workers lack/);
  });

  test('the shipped default encoder: int8 TFLite agrees with the shipped int8 ONNX (cosine ≥ 0.99)', async (t) => {
    // EDGETUNE_MODELS_DIR (inside the repo) lets the check run on another copy of the zoo.
    const models = resolve(REPO_ROOT, process.env['EDGETUNE_MODELS_DIR'] ?? 'models');
    const index = join(models, 'index.json');
    const raw = existsSync(index)
      ? (JSON.parse(readFileSync(index, 'utf8')) as { default?: string | { id?: string } }).default
      : undefined;
    const id = typeof raw === 'string' ? raw : raw?.id;
    const base = id?.replace(/-(int8|fp32)$/, '');
    const manifests = readdirSync(models)
      .filter((f) => f.endsWith('.json') && f !== 'index.json')
      .map((f) => ({ f, m: JSON.parse(readFileSync(join(models, f), 'utf8')) as ModelManifest }))
      .filter(({ m }) => m.schema === 'edgetune.manifest/1' && base !== undefined && m.id.startsWith(base));
    const tfl = manifests.find(({ m }) => m.format === 'tflite' && m.dtype === 'int8');
    const onnxInt8 = manifests.find(({ m }) => m.format === 'onnx' && m.dtype === 'int8');
    if (!tfl || !onnxInt8) {
      t.skip(`no shipped int8 TFLite and int8 ONNX yet (models/index.json default: ${id ?? 'none'})`);
      return;
    }
    const onnxBytes = new Uint8Array(readFileSync(join(models, onnxInt8.m.file)));
    const expected = await embedOnnxInNode(onnxInt8.m, onnxBytes, images);
    const page = await openPage(server, {
      images: '/build/tflite-test/images.u8',
      models: `/${relative(REPO_ROOT, models)}/${tfl.f}`,
    });
    const o = page.results[0]!;
    assert.equal(o.error, undefined, JSON.stringify(o.error));
    assert.equal(o.backend, 'tfjs-tflite/wasm');
    const c = cosines(o.embeddings!, expected);
    t.diagnostic(
      `${tfl.m.id} int8 TFLite (browser) vs ${onnxInt8.m.id} int8 ONNX (Node) over ${N_IMAGES} sample images: min ${c.min.toFixed(6)} mean ${c.mean.toFixed(6)}`,
    );
    assert.ok(c.min >= 0.99, `min cosine ${c.min}`);
  });
});
