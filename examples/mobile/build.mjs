// Builds the mobile example into examples/mobile/dist/: app and worker bundles, ORT's WASM, the sample and camera models, the data sample, icons, a service worker that precaches all of it, and brotli/gzip copies for serve.mjs.
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { brotliCompressSync, constants as zc, gunzipSync, gzipSync, deflateSync } from 'node:zlib';
import { build } from 'esbuild';
import { copyAssets } from '../../scripts/copy-assets.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const out = join(here, 'dist');
const args = new Set(process.argv.slice(2));
/** `--accelerators` also ships ORT's WebGPU/WebNN (JSEP) files and lets the encoder try them; the default build is WASM only. */
const accelerators = args.has('--accelerators');
const quiet = args.has('--quiet');
const log = (...a) => {
  if (!quiet) console.log(...a);
};

// The shipped sample's description holds the class names (one list of them in the repo).
const FMNIST_CLASSES = JSON.parse(readFileSync(join(root, 'models/data/fmnist-test-5000.json'), 'utf8')).classes;

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'models', 'data'), { recursive: true });
mkdirSync(join(out, 'icons'), { recursive: true });

// ---- model: the shipped default encoder when models/index.json exists, else a seeded 28×28 test CNN ----
/** `--models=DIR` reads the model index from another folder (default: the repo's models/). */
const modelsDir = resolve(
  [...args].find((a) => a.startsWith('--models='))?.slice('--models='.length) ?? join(root, 'models'),
);

/** One model as the app sees it (id, what it was trained on, input), from its manifest. */
function modelRef(manifestFile, manifest) {
  const size = `${manifest.input?.width ?? '?'}×${manifest.input?.height ?? '?'} ${manifest.input?.channels === 3 ? 'RGB' : 'grayscale'}`;
  const trainedOn =
    manifest.trainedOn ??
    (Array.isArray(manifest.training?.data)
      ? `${manifest.training.data.join(', ')} (${size} composites)`
      : undefined) ??
    manifest.training?.dataset ??
    (String(manifest.id).startsWith('fmnist')
      ? 'Fashion-MNIST (28×28 grayscale photos of clothing)'
      : (manifest.metrics?.dataset ?? 'unknown data'));
  return {
    manifest: `models/${manifestFile}`,
    id: manifest.id,
    trainedOn: String(trainedOn),
    dtype: manifest.dtype ?? '?',
    dim: manifest.output?.dim ?? 0,
    bytes: manifest.bytes,
    input: {
      width: manifest.input?.width ?? 28,
      height: manifest.input?.height ?? 28,
      channels: manifest.input?.channels ?? 1,
    },
  };
}

/** The ONNX manifest for `file` (the worker runs ONNX only: tfjs-tflite cannot load in a module worker), looking for an ONNX twin of a TFLite one. */
function onnxManifest(idx, file) {
  const manifest = JSON.parse(readFileSync(join(modelsDir, file), 'utf8'));
  if (manifest.format === 'onnx') return { file, manifest };
  const twin = (Array.isArray(idx.models) ? idx.models : [])
    .map((m) => (typeof m === 'string' ? m : (m?.manifest ?? (m?.id ? `${m.id}.json` : ''))))
    .filter((f) => f && existsSync(join(modelsDir, f)))
    .map((f) => ({ file: f, manifest: JSON.parse(readFileSync(join(modelsDir, f), 'utf8')) }))
    .find(
      ({ manifest: m }) =>
        m.format === 'onnx' && m.dtype === manifest.dtype && String(m.id).startsWith(String(manifest.id).split('-')[0]),
    );
  if (!twin)
    throw new Error(
      `The model ${manifest.id} is ${manifest.format} and no ONNX model of the same family is listed in models/index.json.`,
    );
  return twin;
}

/**
 * Sample mode runs the default model (the Fashion-MNIST encoder); camera mode runs `defaults.camera`
 * of models/index.json when it names one (an RGB natural-image encoder), else the default too.
 */
async function placeModels() {
  const index = join(modelsDir, 'index.json');
  if (existsSync(index)) {
    const idx = JSON.parse(readFileSync(index, 'utf8'));
    const sample = onnxManifest(
      idx,
      defaultManifestFile(idx.defaults?.sample ? { default: idx.defaults.sample } : idx),
    );
    const cameraName = idx.defaults?.camera;
    const camera = cameraName ? onnxManifest(idx, defaultManifestFile({ default: cameraName })) : sample;
    for (const m of [sample, camera]) {
      copyFileSync(join(modelsDir, m.file), join(out, 'models', m.file));
      copyFileSync(join(modelsDir, m.manifest.file), join(out, 'models', m.manifest.file));
    }
    return {
      sample: modelRef(sample.file, sample.manifest),
      camera: modelRef(camera.file, camera.manifest),
      shipped: true,
    };
  }
  // No shipped model yet: build the fixture CNN from the test helpers (bundled to a temporary ESM file so plain Node can run it).
  const tmp = join(tmpdir(), `edgetune-mobile-fixture-${process.pid}.mjs`);
  await build({
    stdin: {
      contents: `export { tinyCnn } from './test/fixtures/onnx-builder.ts'; export { manifestFor } from './test/fixtures/models.ts';`,
      resolveDir: root,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    outfile: tmp,
    logLevel: 'silent',
  });
  const { tinyCnn, manifestFor } = await import(pathToFileURL(tmp).href);
  rmSync(tmp, { force: true });
  const bytes = tinyCnn({ size: 28, dim: 32, seed: 7 });
  const manifest = await manifestFor(bytes, { id: 'fixture-tiny-cnn-28', size: 28, dim: 32 });
  writeFileSync(join(out, 'models', `${manifest.id}.json`), JSON.stringify(manifest, null, 2));
  writeFileSync(join(out, 'models', manifest.file), bytes);
  const ref = modelRef(`${manifest.id}.json`, manifest);
  return { sample: ref, camera: ref, shipped: false };
}

function defaultManifestFile(idx) {
  // Accept the index shapes we know of: { default: "id" }, { default: { manifest } }, or a list with a `default` flag.
  const pick = (v) =>
    typeof v === 'string'
      ? v.endsWith('.json')
        ? v
        : `${v}.json`
      : v && typeof v === 'object'
        ? (v.manifest ?? (v.id ? `${v.id}.json` : undefined))
        : undefined;
  const models = Array.isArray(idx) ? idx : Array.isArray(idx.models) ? idx.models : [];
  const flagged = models.find((m) => m && m.default === true);
  const file = pick(idx.default) ?? pick(flagged) ?? pick(models[0]);
  if (!file) throw new Error(`models/index.json names no default model: ${JSON.stringify(idx).slice(0, 200)}`);
  return file;
}

// ---- data sample: the shipped Fashion-MNIST sample, else 1000 test images from Debian's dataset-fashion-mnist ----
function placeSample() {
  const dataDir = join(root, 'models', 'data');
  const shipped = existsSync(dataDir) ? readdirSync(dataDir).find((f) => /^fmnist-test-\d+\.json$/.test(f)) : undefined;
  if (shipped) {
    const desc = JSON.parse(readFileSync(join(dataDir, shipped), 'utf8'));
    for (const f of readdirSync(dataDir).filter((f) => f.startsWith(shipped.replace(/\.json$/, ''))))
      copyFileSync(join(dataDir, f), join(out, 'models', 'data', f));
    if (typeof desc.licenseFile === 'string' && existsSync(join(dataDir, desc.licenseFile)))
      copyFileSync(join(dataDir, desc.licenseFile), join(out, 'models', 'data', desc.licenseFile));
    return { descriptor: `models/data/${shipped}`, count: desc.count ?? desc.n ?? '?', shipped: true };
  }
  const debian = '/usr/share/datasets/fashion-mnist';
  if (!existsSync(join(debian, 't10k-images-idx3-ubyte.gz')))
    throw new Error(
      'No data sample: models/data/fmnist-test-*.json is missing and Debian dataset-fashion-mnist is not installed.',
    );
  const n = 1000;
  const images = gunzipSync(readFileSync(join(debian, 't10k-images-idx3-ubyte.gz'))).subarray(16, 16 + n * 784);
  const labels = gunzipSync(readFileSync(join(debian, 't10k-labels-idx1-ubyte.gz'))).subarray(8, 8 + n);
  const base = `fmnist-test-${n}`;
  writeFileSync(join(out, 'models', 'data', `${base}.images.u8.gz`), gzipSync(images, { level: 9 }));
  writeFileSync(join(out, 'models', 'data', `${base}.labels.u8.gz`), gzipSync(labels, { level: 9 }));
  const desc = {
    name: 'fashion-mnist-test',
    count: n,
    height: 28,
    width: 28,
    channels: 1,
    images: `${base}.images.u8.gz`,
    labels: `${base}.labels.u8.gz`,
    classes: FMNIST_CLASSES,
    license: 'MIT',
    source: 'Fashion-MNIST t10k (Debian dataset-fashion-mnist), first 1000',
  };
  writeFileSync(join(out, 'models', 'data', `${base}.json`), JSON.stringify(desc, null, 2));
  return { descriptor: `models/data/${base}.json`, count: n, shipped: false };
}

// ---- icons: drawn here as PNG (installability wants 192 and 512 px PNGs) plus an SVG ----
function crc32(buf) {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function png(size, pixel) {
  const raw = Buffer.alloc((size * 4 + 1) * size);
  for (let y = 0; y < size; y++) {
    raw[y * (size * 4 + 1)] = 0;
    for (let x = 0; x < size; x++) raw.set(pixel((x + 0.5) / size, (y + 0.5) / size), y * (size * 4 + 1) + 1 + x * 4);
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
/** The mark: a ring (the lens) around a dot (the learned point), on teal; `pad` shrinks it into the maskable safe zone. */
function iconPixel(pad) {
  return (u, v) => {
    const x = (u - 0.5) / (1 - 2 * pad);
    const y = (v - 0.5) / (1 - 2 * pad);
    const r = Math.hypot(x, y);
    const ring = Math.abs(r - 0.3) < 0.06;
    const dot = Math.hypot(x - 0.1, y + 0.1) < 0.1;
    return ring || dot ? [255, 255, 255, 255] : [17, 94, 89, 255];
  };
}
function writeIcons() {
  writeFileSync(join(out, 'icons', 'icon-192.png'), png(192, iconPixel(0)));
  writeFileSync(join(out, 'icons', 'icon-512.png'), png(512, iconPixel(0)));
  writeFileSync(join(out, 'icons', 'maskable-512.png'), png(512, iconPixel(0.1)));
  copyFileSync(join(here, 'public', 'icon.svg'), join(out, 'icons', 'icon.svg'));
}

// ---- ORT: the WASM path needs the wasm binary and its JS loader (imported from wasmPaths once the app sets that path) ----
// Copied from the installed onnxruntime-web by the same helper an app uses (edgetune's package carries no WASM).
function copyOrt() {
  return copyAssets(out, { ort: accelerators ? 'all' : 'wasm', from: root });
}

function walk(dir, acc = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, acc);
    else acc.push(p);
  }
  return acc;
}

const t0 = Date.now();
const models = await placeModels();
const sample = placeSample();
// Which manifest each mode runs, for people deploying the build (the app has it compiled in).
writeFileSync(
  join(out, 'models', 'app.json'),
  JSON.stringify({ sample: models.sample, camera: models.camera }, null, 2),
);
writeIcons();
const ort = copyOrt();
for (const f of ['index.html', 'styles.css', 'manifest.webmanifest'])
  copyFileSync(join(here, 'public', f), join(out, f));

const common = {
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  logLevel: 'warning',
  absWorkingDir: root,
  legalComments: 'none',
};
// WASM-only builds never import the WebGPU/WebNN ORT builds or tfjs-tflite; leaving them external keeps them out of the worker bundle.
const external = accelerators ? ['@tensorflow/*'] : ['onnxruntime-web/webgpu', 'onnxruntime-web/all', '@tensorflow/*'];
await build({
  ...common,
  entryPoints: { app: join(here, 'src', 'app.ts') },
  outdir: out,
  // The page runs the personalizer in the worker: the runtimes' dynamic imports (in-thread path) are never taken here.
  external: ['onnxruntime-web', 'onnxruntime-web/*', '@tensorflow/*'],
  define: {
    __EDGETUNE_ACCELERATORS__: String(accelerators),
    __EDGETUNE_MODELS__: JSON.stringify({ sample: models.sample, camera: models.camera }),
    __EDGETUNE_SAMPLE__: JSON.stringify(sample.descriptor),
  },
});
await build({
  ...common,
  entryPoints: { worker: join(root, 'src', 'worker', 'worker-script.ts') },
  outdir: out,
  external,
  // Without --accelerators the bare 'onnxruntime-web' import (WebNN build) is also left out.
  plugins: accelerators
    ? []
    : [
        {
          name: 'wasm-only',
          setup(b) {
            b.onResolve({ filter: /^onnxruntime-web$/ }, (a) => ({ path: a.path, external: true }));
          },
        },
      ],
});

// The service worker precaches every file of the build under a cache named by the content hash, so a new build replaces the old cache.
const files = walk(out)
  .map((p) => relative(out, p).split('\\').join('/'))
  .sort();
const h = createHash('sha256');
for (const f of files) h.update(f).update(readFileSync(join(out, f)));
const version = h.digest('hex').slice(0, 12);
await build({
  ...common,
  entryPoints: { sw: join(here, 'src', 'sw.ts') },
  outdir: out,
  define: {
    __PRECACHE__: JSON.stringify(['./', ...files.filter((f) => f !== 'index.html')]),
    __VERSION__: JSON.stringify(version),
  },
});

// Precompressed copies beside each file (`x.br`, `x.gz`), made once per content and kept in node_modules/.cache: serve.mjs sends them by Accept-Encoding.
const COMPRESS = /\.(html|js|mjs|css|json|webmanifest|svg|wasm|onnx|tflite)$/;
const cacheDir = join(root, 'node_modules', '.cache', 'edgetune-mobile');
mkdirSync(cacheDir, { recursive: true });
let compressed = { raw: 0, br: 0 };
for (const f of walk(out).filter((p) => COMPRESS.test(p))) {
  const raw = readFileSync(f);
  const key = createHash('sha256').update(raw).digest('hex').slice(0, 24);
  for (const [ext, make] of [
    [
      'br',
      () =>
        brotliCompressSync(raw, {
          params: { [zc.BROTLI_PARAM_QUALITY]: raw.length > 1e6 ? 9 : 11, [zc.BROTLI_PARAM_SIZE_HINT]: raw.length },
        }),
    ],
    ['gz', () => gzipSync(raw, { level: 9 })],
  ]) {
    const cached = join(cacheDir, `${key}.${ext}`);
    if (!existsSync(cached)) writeFileSync(cached, make());
    copyFileSync(cached, `${f}.${ext}`);
    if (ext === 'br') compressed = { raw: compressed.raw + raw.length, br: compressed.br + statSync(cached).size };
  }
}

const sizes = Object.fromEntries(
  walk(out)
    .filter((p) => !/\.(br|gz)$/.test(p) || p.includes('models/data'))
    .map((p) => [relative(out, p), statSync(p).size]),
);
const total = Object.values(sizes).reduce((a, b) => a + b, 0);
log(
  `built examples/mobile/dist in ${Date.now() - t0} ms (cache ${version}, ${files.length + 1} files, ${(total / 1e6).toFixed(2)} MB)`,
);
log(
  `  sample model: ${models.sample.id}, camera model: ${models.camera.id}${models.shipped ? '' : ' (test fixture: models/index.json not found)'}`,
);
log(`  brotli: ${(compressed.raw / 1e6).toFixed(2)} MB of compressible files → ${(compressed.br / 1e6).toFixed(2)} MB`);
log(`  sample: ${sample.descriptor}${sample.shipped ? '' : ' (from Debian dataset-fashion-mnist)'}`);
for (const o of ort) log(`  ${o.file}: ${(o.bytes / 1e6).toFixed(2)} MB`);
for (const f of ['app.js', 'worker.js', 'sw.js']) log(`  ${f}: ${(sizes[f] / 1e3).toFixed(1)} kB`);
