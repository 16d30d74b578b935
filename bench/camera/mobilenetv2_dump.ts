// Reads the MobileNetV2 that the `nsfwjs` npm package ships (tfjs layers model, base64 uint8-quantized weights in
// UMD `.min.js` bundles) from node_modules and writes it in a form bench/camera/mobilenetv2_ref.py can rebuild:
//
//   node --import tsx bench/camera/mobilenetv2_dump.ts OUT_DIR
//
// OUT_DIR/topology.json  the Keras functional config (layers, inbound nodes) and the weight list (name, shape, offset)
// OUT_DIR/weights.f32    every weight dequantized (q * scale + min, as tfjs does) to float32, little endian, in list order
// OUT_DIR/check.json     tfjs (CPU backend) outputs for 4 seeded inputs: the 5 class probabilities and the
//                        1280-d pooled backbone features, for checking the rebuild. Nothing is fetched.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { min: number; scale: number; dtype: string };
}
interface ModelJson {
  modelTopology: { model_config: { config: { layers: unknown[] } } };
  weightsManifest: { paths: string[]; weights: WeightSpec[] }[];
}

const require = createRequire(import.meta.url);
// The package's `exports` map hides dist/models, so read the files by path.
const PKG = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'node_modules', 'nsfwjs');
const DIR = join(PKG, 'dist', 'models', 'mobilenet_v2');
const SIZE = 224;

function dequantize(specs: WeightSpec[], bytes: Uint8Array): { list: object[]; data: Float32Array } {
  const count = specs.reduce((a, s) => a + s.shape.reduce((p, d) => p * d, 1), 0);
  const data = new Float32Array(count);
  const list: object[] = [];
  let src = 0;
  let dst = 0;
  for (const s of specs) {
    const n = s.shape.reduce((p, d) => p * d, 1);
    if (s.quantization?.dtype !== 'uint8') throw new Error(`${s.name}: expected uint8 quantization`);
    const { min, scale } = s.quantization;
    for (let i = 0; i < n; i++) data[dst + i] = bytes[src + i]! * scale + min;
    list.push({ name: s.name, shape: s.shape, offset: dst });
    src += n;
    dst += n;
  }
  if (src !== bytes.length) throw new Error(`weight bytes: used ${src} of ${bytes.length}`);
  return { list, data };
}

/** Seeded inputs in [0, 1] (nsfwjs divides bytes by 255): smooth colour fields plus noise, NHWC. */
function inputs(n: number): Float32Array {
  let a = 1234;
  const rnd = (): number => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a / 4294967296;
  };
  const x = new Float32Array(n * SIZE * SIZE * 3);
  for (let b = 0; b < n; b++) {
    const f = [rnd() * 6, rnd() * 6, rnd() * 6];
    for (let i = 0; i < SIZE * SIZE; i++) {
      const r = Math.floor(i / SIZE) / SIZE;
      const c = (i % SIZE) / SIZE;
      for (let ch = 0; ch < 3; ch++) {
        const v = 0.5 + 0.35 * Math.sin(f[ch]! * (r + ch * c)) + 0.15 * (rnd() - 0.5);
        x[((b * SIZE * SIZE + i) * 3 + ch) | 0] = Math.min(1, Math.max(0, v));
      }
    }
  }
  return x;
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: mobilenetv2_dump.ts OUT_DIR');
  mkdirSync(out, { recursive: true });
  const mj = require(join(DIR, 'model.min.js')) as ModelJson;
  const shards = require(join(DIR, 'group1-shard1of1.min.js')) as string | Record<string, string>;
  const group = mj.weightsManifest[0]!;
  const b64 = typeof shards === 'string' ? shards : Object.values(shards).join('');
  const bytes = new Uint8Array(Buffer.from(b64, 'base64'));
  const { list, data } = dequantize(group.weights, bytes);
  writeFileSync(
    join(out, 'topology.json'),
    JSON.stringify({
      source: `node_modules/nsfwjs/dist/models/mobilenet_v2 (nsfwjs ${(require(join(PKG, 'package.json')) as { version: string }).version})`,
      inputSize: SIZE,
      inputRange: [0, 1],
      layers: mj.modelTopology.model_config.config.layers,
      weights: list,
    }),
  );
  writeFileSync(join(out, 'weights.f32'), new Uint8Array(data.buffer));

  // Reference outputs from tfjs itself, through the same artifacts (the dequantized weights tfjs would use).
  await tf.setBackend('cpu');
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: mj.modelTopology,
      weightSpecs: group.weights,
      weightData: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength),
    }),
  );
  const pooledModel = tf.model({
    inputs: model.inputs,
    outputs: model.getLayer('flatten_1').output as tf.SymbolicTensor,
  });
  const n = 4;
  const x = tf.tensor4d(inputs(n), [n, SIZE, SIZE, 3]);
  const probs = (model.predict(x) as tf.Tensor).arraySync() as number[][];
  const pooled = (pooledModel.predict(x) as tf.Tensor).arraySync() as number[][];
  writeFileSync(
    join(out, 'check.json'),
    JSON.stringify({ inputNHWC: Array.from(x.dataSync()), shape: [n, SIZE, SIZE, 3], probs, pooled }),
  );
  console.log(JSON.stringify({ out, weights: list.length, floats: data.length, probs0: probs[0] }));
}

await main();
