// `edgetune convert MANIFEST --tflite` (and `quantize … --tflite`): writes ID-tflite.tflite and its NHWC manifest next to the model.
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { validateManifest, type ModelManifest } from '../runtime/manifest.js';
import { readOnnx } from './onnx-proto.js';
import { readManifestAndModel } from './quantize.js';
import { convertToTflite } from './tflite-convert.js';

/** What {@link writeTflite} wrote. */
export interface TfliteWriteReport {
  readonly id: string;
  readonly file: string;
  readonly manifest: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly dtype: 'int8' | 'fp32';
  readonly ops: readonly string[];
  readonly input: readonly number[];
  readonly outputDim: number;
}

/**
 * Converts the ONNX model a manifest describes to TFLite and writes `ID-tflite.tflite` and
 * `ID-tflite.json` beside it (input spec in NHWC at the manifest's size, normalisation copied, the
 * manifest's output converted — a `mean`-pooled map averaged in the graph —, op list recorded).
 *
 * @param manifestPath - manifest of an fp32 or static int8 QDQ ONNX model
 * @throws EdgetuneError `UNSUPPORTED_OP` listing the ops the converter cannot lower
 */
export async function writeTflite(manifestPath: string): Promise<TfliteWriteReport> {
  const { manifest: m, bytes, dir } = await readManifestAndModel(manifestPath);
  if (m.format !== 'onnx') throw new Error(`Model ${m.id} is already ${m.format}.`);
  const r = convertToTflite(readOnnx(bytes), {
    description: `edgetune ${m.dtype} from ${m.file}`,
    output: m.output.name,
    pooling: m.output.pooling ?? 'none',
    height: m.input.height,
    width: m.input.width,
  });
  const id = `${m.id}-tflite`;
  const file = `${id}.tflite`;
  const sha256 = createHash('sha256').update(r.bytes).digest('hex');
  const [, h, w, c] = r.input;
  const out = {
    ...m,
    id,
    format: 'tflite',
    file,
    bytes: r.bytes.byteLength,
    sha256,
    input: { ...m.input, shape: [null, h, w, c], layout: 'NHWC', channels: c, height: h, width: w },
    // A mean-pooled map is averaged in the graph: the .tflite outputs the vector itself.
    output: { name: m.output.name, dim: r.outputDim, normalized: m.output.normalized },
    dtype: r.dtype,
    quantization:
      r.dtype === 'int8'
        ? 'tflite-full-int8 (per-tensor asymmetric int8 activations, per-channel symmetric int8 weights, int32 bias, float32 in/out)'
        : 'none',
    source: {
      file: m.file,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      calibration: r.dtype === 'int8' ? `scales and zero points of ${m.file}` : 'none (fp32)',
      ops: r.ops,
    },
  } as unknown as ModelManifest;
  validateManifest(out);
  await writeFile(join(dir, file), r.bytes);
  const manifest = join(dir, `${id}.json`);
  await writeFile(manifest, `${JSON.stringify(out, null, 2)}\n`);
  return {
    id,
    file: join(dir, file),
    manifest,
    bytes: r.bytes.byteLength,
    sha256,
    dtype: r.dtype,
    ops: r.ops,
    input: r.input,
    outputDim: r.outputDim,
  };
}

/** The report as the CLI prints it. */
export function formatTfliteWrite(r: TfliteWriteReport): string {
  return [
    `tflite ${r.id}: wrote ${r.file} (${r.bytes} bytes, ${r.dtype}, sha256 ${r.sha256}) and ${r.manifest}`,
    `  input [null,${r.input.slice(1).join(',')}] NHWC → ${r.outputDim}-d; ops ${r.ops.join(', ')}`,
  ].join('\n');
}
