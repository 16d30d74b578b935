// ViT-Ti/16 on onnxruntime-web WASM (Node, 1 thread, batch 1): fp32 vs hub-style dynamic int8 vs the CLI's static QDQ, runs interleaved in one process.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { wasmMedians } from '../src/cli/quantize.js';
import { validateManifest } from '../src/runtime/index.js';
import { forRuntime } from '../src/runtime/pooling.js';
import { preparedManifests, referenceDir } from '../test/cli/reference.js';
import { dynamicQuantize } from '../test/fixtures/dynamic-quant.js';

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] || 15);
const { fp32, int8 } = await preparedManifests('vit-ti16');
const manifest = forRuntime(validateManifest(JSON.parse(readFileSync(fp32, 'utf8'))));
const fp = new Uint8Array(readFileSync(join(referenceDir(), 'vit-ti16.onnx')));
const qdq = new Uint8Array(readFileSync(join(int8, '..', 'vit-ti16-int8.onnx')));
const dyn = dynamicQuantize(fp).bytes;
const sample = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i));
const [a, b, c] = (await wasmMedians([fp, dyn, qdq], manifest, sample, runs)) as [number, number, number];
const mb = (x: Uint8Array): string => (x.byteLength / 1e6).toFixed(1);
console.log(`vit-ti16, onnxruntime-web WASM 1 thread, batch 1, median of ${runs} interleaved runs`);
console.log(`  fp32 ${mb(fp)} MB: ${a.toFixed(1)} ms`);
console.log(
  `  dynamic int8 (DynamicQuantizeLinear + MatMulInteger) ${mb(dyn)} MB: ${b.toFixed(1)} ms (${(a / b).toFixed(2)}× vs fp32)`,
);
console.log(`  static QDQ int8 (edgetune quantize) ${mb(qdq)} MB: ${c.toFixed(1)} ms (${(a / c).toFixed(2)}× vs fp32)`);
