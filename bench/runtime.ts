// Runtime benchmark: edgetune's Encoder (onnxruntime-web WASM, incl. preprocessing) against onnxruntime-node (native) on the same model and inputs, in one process; prints ratios.
// Run: npm run bench  (or: node --import tsx bench/runtime.ts [--iters 5])
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { Encoder, preprocessBatch, type ModelManifest, type RawPixels } from '../src/runtime/index.js';
import { tinyCnn } from '../test/fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../test/fixtures/models.js';

const root = join(import.meta.dirname, '..');
const iters = Number(process.argv[process.argv.indexOf('--iters') + 1]) || 5;

interface Model {
  label: string;
  manifest: ModelManifest;
  bytes: Uint8Array;
}

async function models(): Promise<Model[]> {
  const out: Model[] = [];
  const indexPath = join(root, 'models', 'index.json');
  if (existsSync(indexPath)) {
    const index = JSON.parse(readFileSync(indexPath, 'utf8')) as { default: string; models: string[] };
    for (const file of index.models) {
      const manifest = JSON.parse(readFileSync(join(root, 'models', file), 'utf8')) as ModelManifest;
      if (manifest.format !== 'onnx') continue;
      if (!manifest.id.startsWith(index.default.replace(/-int8$/, ''))) continue; // default encoder, int8 and fp32
      out.push({
        label: manifest.id,
        manifest,
        bytes: new Uint8Array(readFileSync(join(root, 'models', manifest.file))),
      });
    }
  }
  if (out.length === 0) {
    const bytes = tinyCnn({ size: 28, dim: 16 });
    out.push({
      label: 'test tiny CNN (no shipped model yet)',
      manifest: await manifestFor(bytes, { size: 28 }),
      bytes,
    });
  }
  return out;
}

function images(n: number, m: ModelManifest): RawPixels[] {
  return testImages(n, m.input.width, m.input.channels === 3 ? 3 : 1);
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  await fn(); // warm-up
  const t: number[] = [];
  for (let k = 0; k < iters; k++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

const N = 256;
console.log(`# edgetune runtime benchmark — ${N} images per run, median of ${iters} runs, Node ${process.version}\n`);
console.log(
  '| model | bytes | onnxruntime-node native (img/s) | edgetune WASM embed (img/s) | native / edgetune | preprocessing share |',
);
console.log('|---|---:|---:|---:|---:|---:|');
for (const m of await models()) {
  const imgs = images(N, m.manifest);
  const native = await ortNode.InferenceSession.create(m.bytes);
  const shape = [N, ...(m.manifest.input.shape.slice(1) as number[])];
  const x = preprocessBatch(imgs, m.manifest.input);
  const tNative = await time(() => native.run({ [m.manifest.input.name]: new ortNode.Tensor('float32', x, shape) }));
  await using enc = await Encoder.open({ manifest: m.manifest, bytes: m.bytes }, { device: 'wasm', batchSize: 32 });
  const tEmbed = await time(() => enc.embed(imgs));
  const tPre = await time(async () => preprocessBatch(imgs, m.manifest.input));
  await native.release();
  const ips = (ms: number): string => ((N / ms) * 1000).toFixed(0);
  console.log(
    `| ${m.label} | ${m.bytes.byteLength} | ${ips(tNative)} | ${ips(tEmbed)} | ${(tEmbed / tNative).toFixed(2)}× | ${((tPre / tEmbed) * 100).toFixed(1)}% |`,
  );
}
