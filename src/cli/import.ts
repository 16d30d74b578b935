// `edgetune import`: reads a model's graph, writes its manifest next to it, and runs it once to learn the embedding size.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { inspectTflite } from '../runtime/backends/tflite.js';
import {
  validateManifest,
  type CropPolicy,
  type InputSpec,
  type ModelManifest,
  type OutputPooling,
} from '../runtime/manifest.js';
import { forRuntime, poolOutput } from '../runtime/pooling.js';
import { preprocessBatch } from '../runtime/preprocess.js';
import { canaryInputs } from '../runtime/selfcheck.js';
import { readOnnx, type OnnxModel } from './onnx-proto.js';
import { openSession, type CliRuntime } from './ort.js';

/** Normalisation presets: what hub encoders expect after scaling pixels to [0, 1]. */
export const PRESETS = Object.freeze({
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], cropFraction: 0.875 },
  // DINOv2's transform: resize 256, centre-crop 224, ImageNet statistics.
  dinov2: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], cropFraction: 0.875 },
  clip: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711], cropFraction: 1 },
  // MobileCLIP and many TF exports take plain 0..1 pixels.
  raw: { mean: [0, 0, 0], std: [1, 1, 1], cropFraction: 1 },
} as const);

/** A preset name. */
export type Preset = keyof typeof PRESETS;

/** Options of {@link importModel} (the CLI flags). */
export interface ImportOptions {
  readonly preset?: Preset | undefined;
  readonly size?: number | undefined;
  readonly crop?: CropPolicy | undefined;
  readonly output?: string | undefined;
  readonly pooling?: OutputPooling | undefined;
  readonly id?: string | undefined;
  readonly mean?: readonly number[] | undefined;
  readonly std?: readonly number[] | undefined;
  readonly license?: string | undefined;
}

/** What {@link importModel} did. */
export interface ImportResult {
  readonly manifest: ModelManifest;
  readonly manifestPath: string;
  readonly ran: CliRuntime | 'not run (TFLite runs in the browser only)';
  readonly notes: readonly string[];
}

/** A refusal: what could not be inferred and which flag supplies it. */
export class ImportRefused extends Error {
  override name = 'ImportRefused';
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Detects how a graph is quantized from its ops. */
export function quantizationOf(ops: Iterable<string>): { dtype: 'fp32' | 'int8'; quantization: string } {
  const set = new Set(ops);
  if (set.has('DynamicQuantizeLinear') || set.has('MatMulInteger') || set.has('ConvInteger'))
    return { dtype: 'int8', quantization: 'dynamic-u8' };
  if (set.has('QuantizeLinear') || set.has('DequantizeLinear') || set.has('QLinearConv') || set.has('QLinearMatMul'))
    return { dtype: 'int8', quantization: 'qdq-static' };
  return { dtype: 'fp32', quantization: 'none' };
}

function layoutOf(
  dims: readonly (number | string | undefined)[],
  name: string,
): { layout: 'NCHW' | 'NHWC'; channels: 1 | 3; h: number | undefined; w: number | undefined } {
  const num = (d: number | string | undefined): number | undefined => (typeof d === 'number' && d > 0 ? d : undefined);
  const c1 = num(dims[1]);
  const c3 = num(dims[3]);
  if (c1 === 1 || c1 === 3) return { layout: 'NCHW', channels: c1, h: num(dims[2]), w: num(dims[3]) };
  if (c3 === 1 || c3 === 3) return { layout: 'NHWC', channels: c3, h: num(dims[1]), w: num(dims[2]) };
  throw new ImportRefused(
    `Cannot tell the layout of input "${name}" ${JSON.stringify(dims)}: neither dimension 1 nor 3 is 1 or 3 channels. Re-export with a fixed channel dimension.`,
  );
}

function outputDims(dims: readonly (number | string | undefined)[] | undefined): (number | null)[] | undefined {
  if (!dims) return undefined;
  return dims.map((d, k) => (k === 0 ? null : typeof d === 'number' && d > 0 ? d : null));
}

/**
 * Imports a model: writes `ID.json` beside it.
 *
 * @param modelPath - .onnx or .tflite file
 * @param options - the CLI flags
 * @throws ImportRefused naming what cannot be inferred and the flag that supplies it
 */
export async function importModel(modelPath: string, options: ImportOptions): Promise<ImportResult> {
  const bytes = new Uint8Array(await readFile(modelPath));
  const tflite = bytes.byteLength >= 8 && String.fromCharCode(...bytes.subarray(4, 8)) === 'TFL3';
  const id =
    options.id ??
    basename(modelPath, extname(modelPath))
      .toLowerCase()
      .replace(/[^a-z0-9._-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '');
  if (!/^[a-z0-9][a-z0-9._-]*$/.test(id))
    throw new ImportRefused(
      options.id === undefined
        ? `Cannot derive a model id from "${basename(modelPath)}"; pass --id (lower-case letters, digits, . _ -).`
        : `--id ${JSON.stringify(id)} is not a valid model id: use lower-case letters, digits, . _ - (starting with a letter or digit).`,
    );
  const notes: string[] = [];
  const preset = options.preset;
  if (!preset && !(options.mean && options.std)) {
    throw new ImportRefused(
      'Cannot infer the normalisation from the graph: pass --preset imagenet|clip|dinov2|raw (see the model card), or --mean and --std (three numbers each, in 0..1 pixel units).',
    );
  }
  const norm = preset ? PRESETS[preset] : { mean: options.mean!, std: options.std!, cropFraction: 1 };
  const mean = options.mean ?? norm.mean;
  const std = options.std ?? norm.std;

  let inputName: string;
  let dims: readonly (number | string | undefined)[];
  let outputs: { name: string; dims: readonly (number | string | undefined)[] | undefined }[];
  let graph: OnnxModel | undefined;
  if (tflite) {
    const info = inspectTflite(bytes);
    if (info.inputs.length !== 1)
      throw new ImportRefused(
        `The TFLite model has ${info.inputs.length} inputs; edgetune encoders take one image input.`,
      );
    inputName = info.inputs[0]!.name;
    dims = info.inputs[0]!.shape;
    outputs = info.outputs.map((o) => ({ name: o.name, dims: o.shape }));
  } else {
    graph = readOnnx(bytes);
    const floats = graph.inputs.filter((i) => i.elemType === 1);
    if (graph.inputs.length !== 1 || floats.length !== 1) {
      throw new ImportRefused(
        `The model has inputs ${graph.inputs.map((i) => `${i.name}[${i.dims?.join(',') ?? '?'}]`).join(', ')}; edgetune encoders take exactly one float image input. Re-export the vision tower alone.`,
      );
    }
    inputName = floats[0]!.name;
    dims = floats[0]!.dims ?? [];
    outputs = graph.outputs.map((o) => ({ name: o.name, dims: o.dims }));
  }
  if (dims.length !== 4)
    throw new ImportRefused(
      `Input "${inputName}" has shape ${JSON.stringify(dims)}; an image input must have 4 dimensions (batch, channels, height, width or NHWC).`,
    );
  const { layout, channels, h, w } = layoutOf(dims, inputName);
  let height = h;
  let width = w;
  if (options.size !== undefined) {
    if ((h !== undefined && h !== options.size) || (w !== undefined && w !== options.size)) {
      throw new ImportRefused(
        `--size ${options.size} contradicts the graph, whose input "${inputName}" is fixed at ${h}×${w}.`,
      );
    }
    height = width = options.size;
  }
  if (height === undefined || width === undefined) {
    throw new ImportRefused(
      `Input "${inputName}" has a dynamic spatial size ${JSON.stringify(dims)}; pass --size (e.g. --size 224, the resolution the model was trained at).`,
    );
  }
  const batch = typeof dims[0] === 'number' && dims[0] > 0 ? dims[0] : null;
  if (batch !== null)
    notes.push(`the graph's batch dimension is fixed at ${batch}: the runtime embeds ${batch} input(s) per call`);
  const spatialNull = (k: number): boolean => typeof dims[k] !== 'number' || (dims[k] as number) <= 0;
  const shape: (number | null)[] =
    layout === 'NCHW'
      ? [batch, channels, spatialNull(2) ? null : height, spatialNull(3) ? null : width]
      : [batch, spatialNull(1) ? null : height, spatialNull(2) ? null : width, channels];

  let out = outputs[0];
  if (options.output !== undefined) {
    out = outputs.find((o) => o.name === options.output);
    if (!out)
      throw new ImportRefused(
        `The model has no output "${options.output}"; its outputs are ${outputs.map((o) => `${o.name}[${o.dims?.join(',') ?? '?'}]`).join(', ')}.`,
      );
  } else if (outputs.length !== 1 || !out) {
    throw new ImportRefused(
      `The model has ${outputs.length} outputs (${outputs.map((o) => `${o.name}[${o.dims?.join(',') ?? '?'}]`).join(', ')}); pick the embedding with --output NAME (hub ViTs: pooler_output, or last_hidden_state with --pooling cls|mean).`,
    );
  }
  const oshape = outputDims(out.dims);
  const rank = oshape?.length;
  let pooling = options.pooling;
  if (pooling === undefined) {
    if (rank === 2) pooling = 'none';
    else if (rank === 3)
      throw new ImportRefused(
        `Output "${out.name}" is a token sequence ${JSON.stringify(out.dims)}; pass --pooling cls (the CLS token) or --pooling mean (average of tokens), or pick a pooled output with --output.`,
      );
    else if (rank === 4)
      throw new ImportRefused(
        `Output "${out.name}" is a feature map ${JSON.stringify(out.dims)}; pass --pooling mean (global average) or pick a pooled output with --output.`,
      );
    else throw new ImportRefused(`Output "${out.name}" has an unknown shape; pass --pooling none|cls|mean.`);
  }
  if (pooling === 'cls' && rank !== 3)
    throw new ImportRefused(
      `--pooling cls needs a [batch, tokens, dim] output; "${out.name}" is ${JSON.stringify(out.dims)}.`,
    );
  if (pooling === 'mean' && rank !== 3 && rank !== 4)
    throw new ImportRefused(
      `--pooling mean needs a [batch, tokens, dim] or [batch, C, H, W] output; "${out.name}" is ${JSON.stringify(out.dims)}.`,
    );

  const input: InputSpec = {
    name: inputName,
    shape,
    layout,
    channels,
    height,
    width,
    range: [0, 1],
    mean: channels === 1 ? [mean[0]!] : [...mean],
    std: channels === 1 ? [std[0]!] : [...std],
    crop: options.crop ?? 'center',
    ...(options.crop === undefined || options.crop === 'center' ? { cropFraction: norm.cropFraction } : {}),
  };
  const q = graph ? quantizationOf(graph.nodes.map((n) => n.op)) : { dtype: 'int8' as const, quantization: 'tflite' };
  if (q.quantization === 'dynamic-u8')
    notes.push(
      'the model is dynamically quantized (DynamicQuantizeLinear): an embedding depends on the other images in its batch (one activation scale per batch), and its WASM speed-up over fp32 depends on the model (`edgetune quantize` on it times it); for batch-independent int8 run `edgetune quantize` on the fp32 export',
    );
  if (!options.license)
    notes.push('licence unknown: recorded as NOASSERTION; pass --license SPDX-ID from the model card');

  // The embedding size: from a real run (ONNX), or from the output shape (TFLite).
  const base = {
    schema: 'edgetune.manifest/1' as const,
    id,
    format: tflite ? ('tflite' as const) : ('onnx' as const),
    file: basename(modelPath),
    bytes: bytes.byteLength,
    sha256: sha256(bytes),
    input,
    dtype: q.dtype,
    quantization: q.quantization,
    license: options.license ?? 'NOASSERTION',
  };
  let dim: number;
  let normalized = false;
  let ran: ImportResult['ran'];
  if (tflite) {
    const last = out.dims?.[out.dims.length - 1];
    const d =
      pooling === 'none'
        ? (out.dims ?? []).slice(1).reduce<number>((a, x) => a * (typeof x === 'number' ? x : Number.NaN), 1)
        : rank === 4
          ? out.dims?.[layout === 'NHWC' ? 3 : 1]
          : last;
    if (typeof d !== 'number' || !Number.isFinite(d))
      throw new ImportRefused(`Cannot read the embedding size of output "${out.name}" ${JSON.stringify(out.dims)}.`);
    dim = d;
    ran = 'not run (TFLite runs in the browser only)';
  } else {
    const session = await openSession(bytes);
    try {
      const draft = forRuntime(validateManifest({ ...base, output: { name: out.name, dim: 1, normalized: false } }));
      const count = batch ?? 2;
      const tensor = preprocessBatch(canaryInputs(draft.input, count), draft.input);
      const res = await session.run(
        { [inputName]: { data: tensor, dims: [count, ...(draft.input.shape.slice(1) as number[])] } },
        [out.name],
      );
      const t = res[out.name]!;
      const realShape = [null, ...t.dims.slice(1)];
      const n = t.dims[0]!;
      dim = pooling === 'none' ? t.data.length / n : rank === 4 ? t.dims[1]! : t.dims[t.dims.length - 1]!;
      const pooled = poolOutput(t.data, n, { name: out.name, dim, normalized: false, shape: realShape, pooling });
      for (const v of pooled)
        if (!Number.isFinite(v))
          throw new ImportRefused(
            `Output "${out.name}" is not finite on a test image; the model is broken for this input spec (check --preset/--size).`,
          );
      normalized = [0, 1]
        .slice(0, n)
        .every((k) => Math.abs(Math.hypot(...pooled.subarray(k * dim, (k + 1) * dim)) - 1) < 1e-3);
      if (normalized) notes.push('the output is already L2-normalised');
      // Record the shape the model really produced at this size (dynamic dims made concrete).
      if (oshape) oshape.splice(0, oshape.length, ...realShape.map((d) => (d === null ? null : d)));
    } finally {
      await session.release();
    }
    ran = session.runtime;
  }
  const manifest = validateManifest({
    ...base,
    output: { name: out.name, dim, normalized, ...(oshape && pooling !== 'none' ? { shape: oshape } : {}), pooling },
  });
  const manifestPath = join(dirname(modelPath), `${id}.json`);
  await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  return { manifest, manifestPath, ran, notes };
}
