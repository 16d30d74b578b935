// `edgetune quantize` on a model that comes dynamically quantized: keeps it as it is and reports what that path costs.
import { readFile } from 'node:fs/promises';
import { validateManifest } from '../runtime/manifest.js';
import { forRuntime } from '../runtime/pooling.js';
import { preprocessBatch } from '../runtime/preprocess.js';
import { batchCosines } from '../runtime/selfcheck.js';
import { readOnnx } from './onnx-proto.js';
import type { CliRuntime } from './ort.js';
import {
  calibrationImages,
  embedAll,
  type quantizeModel,
  readManifestAndModel,
  type QuantizeOptions,
  wasmMedians,
} from './quantize.js';

/** What {@link reportDynamic} measured on a dynamically quantized model (nothing is written). */
export interface DynamicQuantReport {
  readonly model: string;
  /** Always `dynamic-u8`: the model stays on the dynamic path. */
  readonly quantization: 'dynamic-u8';
  readonly bytes: number;
  readonly images: number;
  readonly imagesSource: string;
  readonly runtime: CliRuntime;
  /** Per image: cosine between its embedding alone (batch 1) and inside a batch of all the images. */
  readonly batchCosine: { readonly min: number; readonly mean: number; readonly batch: number };
  /** onnxruntime-web WASM, 1 thread, batch 1, median of `runs`. */
  readonly wasmMs?: { readonly dynamic: number; readonly runs: number };
  /** Op counts of the graph (DynamicQuantizeLinear, MatMulInteger, ConvInteger and what stays float). */
  readonly ops: Readonly<Record<string, number>>;
  readonly notes: readonly string[];
}

/**
 * True when the manifest says its model is dynamically quantized (`edgetune import` records `dynamic-u8` from the graph's
 * ops). Reads the manifest only; a manifest that hides it still meets {@link quantizeModel}'s check of the graph.
 */
export async function isDynamicModel(manifestPath: string): Promise<boolean> {
  const manifest = validateManifest(JSON.parse(await readFile(manifestPath, 'utf8')));
  return manifest.format === 'onnx' && manifest.quantization === 'dynamic-u8';
}

/**
 * Measures a dynamically quantized model as it is: how much an embedding moves with the rest of its batch,
 * and its WASM latency. It writes no model: static QDQ needs the fp32 export (`edgetune quantize` on it).
 *
 * @param manifestPath - the dynamically quantized model's manifest (as `edgetune import` wrote it)
 * @param options - the images (`calibrate` / `calibrateSample`, at least 2) and `speedRuns`
 */
export async function reportDynamic(manifestPath: string, options: QuantizeOptions): Promise<DynamicQuantReport> {
  const { manifest: m0, bytes } = await readManifestAndModel(manifestPath);
  const ops: Record<string, number> = {};
  for (const n of readOnnx(bytes).nodes) ops[n.op] = (ops[n.op] ?? 0) + 1;
  const manifest = forRuntime(m0);
  const { images, source } = await calibrationImages(options);
  if (images.length < 2)
    throw new Error(`Batch dependence needs at least 2 images (got ${images.length}); pass more with --calibrate.`);
  const tensor = preprocessBatch(images, manifest.input);
  const n = images.length;
  const per = tensor.length / n;
  const dim = manifest.output.dim;
  // In a batch: embedAll's batches of up to 8 (the size Encoder.embed uses); alone: one image per run.
  const inBatch = await embedAll(bytes, manifest, tensor, n);
  const alone = new Float32Array(n * dim);
  for (let k = 0; k < n; k++)
    alone.set((await embedAll(bytes, manifest, tensor.slice(k * per, (k + 1) * per), 1)).out, k * dim);
  const cos = batchCosines(alone, inBatch.out, dim);
  const runs = options.speedRuns ?? 5;
  const wasm = runs > 0 ? (await wasmMedians([bytes], manifest, tensor.slice(0, per), runs))[0]! : undefined;
  const batchCosine = {
    min: Math.min(...cos),
    mean: cos.reduce((a, b) => a + b, 0) / n,
    batch: Math.min(n, 8),
  };
  const notes = [
    `kept on the dynamic path: no file written. DynamicQuantizeLinear computes one activation scale per batch at run time, so an embedding depends on the other images in its batch (here: min cosine ${batchCosine.min.toFixed(5)} between an image alone and in a batch of ${batchCosine.batch})`,
    `cost on onnxruntime-web WASM${wasm === undefined ? '' : ` (this model: ${wasm.toFixed(1)} ms at batch 1, 1 thread)`}: the dynamic path's speed-up over fp32 depends on the model — a ViT-Ti/16 quantized hub-style ran 1.6–1.8× faster than its fp32 export, as fast as static QDQ (docs/models.md), while the small CNNs of PLATFORM-NOTES gained nothing; time the fp32 export beside it before choosing`,
    'static QDQ (`edgetune quantize` on the fp32 export of the same model, with --calibrate DIR): fixed scales, so embeddings do not depend on the batch, and 1.5–1.9× faster than fp32 on WASM for the reference models (docs/models.md)',
  ];
  return {
    model: m0.id,
    quantization: 'dynamic-u8',
    bytes: bytes.byteLength,
    images: n,
    imagesSource: source,
    runtime: inBatch.runtime,
    batchCosine,
    ...(wasm === undefined ? {} : { wasmMs: { dynamic: wasm, runs } }),
    ops,
    notes,
  };
}

/** The report as the CLI prints it. */
export function formatDynamicReport(r: DynamicQuantReport): string {
  const q = ['DynamicQuantizeLinear', 'MatMulInteger', 'ConvInteger'].filter((o) => ops(r, o) > 0);
  return [
    `quantize ${r.model}: already dynamically quantized (${q.map((o) => `${o}×${ops(r, o)}`).join(' ')}), ${(r.bytes / 1e6).toFixed(1)} MB`,
    `  images: ${r.imagesSource} (run on ${r.runtime})`,
    `  batch dependence: cosine alone vs in a batch of ${r.batchCosine.batch}: min ${r.batchCosine.min.toFixed(5)}, mean ${r.batchCosine.mean.toFixed(5)}`,
    r.wasmMs
      ? `  onnxruntime-web WASM, 1 thread, batch 1 (median of ${r.wasmMs.runs}): ${r.wasmMs.dynamic.toFixed(1)} ms`
      : '  speed: skipped (--speed-runs 0)',
    ...r.notes.map((x) => `  note: ${x}`),
  ].join('\n');
}

function ops(r: DynamicQuantReport, op: string): number {
  return r.ops[op] ?? 0;
}
