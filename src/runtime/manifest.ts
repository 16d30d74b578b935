// The model manifest: its type, and validation that names the bad field.
import { EdgetuneError } from '../core/errors.js';
import { MAX_EMBEDDING_DIM, MAX_FIXED_BATCH, MAX_MODEL_INPUT_SIDE, MAX_MODEL_INPUT_VALUES } from './inputs.js';

/** Model file formats the runtime can open. */
export const MODEL_FORMATS = Object.freeze({ onnx: 'onnx', tflite: 'tflite' } as const);
/** A model file format. */
export type ModelFormat = keyof typeof MODEL_FORMATS;

/** Input tensor layouts. */
export type InputLayout = 'NCHW' | 'NHWC';

/** Numeric type of a model's weights. */
export type ModelDtype = 'fp32' | 'fp16' | 'int8';

/** How the model's input is laid out and normalised. */
export interface InputSpec {
  /** Input tensor name. */
  readonly name: string;
  /**
   * Shape with `null` for a dynamic dimension, e.g. `[null, 1, 28, 28]`. A fixed batch (e.g. `1`
   * for a batch-1 export) makes the encoder run at most that many inputs per call; `null` spatial
   * dimensions mean the model takes any size and is fed `height` × `width`.
   */
  readonly shape: readonly (number | null)[];
  readonly layout: InputLayout;
  /** 1 = grayscale, 3 = RGB. */
  readonly channels: 1 | 3;
  readonly height: number;
  readonly width: number;
  /** Pixel bytes 0..255 are first scaled linearly to this range. */
  readonly range: readonly [number, number];
  /** Per-channel mean subtracted after scaling. */
  readonly mean: readonly number[];
  /** Per-channel standard deviation divided by after the mean. */
  readonly std: readonly number[];
  /**
   * How a frame whose aspect differs from the model's becomes `height` × `width`: `center` takes
   * the largest centred region of the model's aspect, `stretch` squashes the whole frame, `pad`
   * fits the whole frame and pads with the mean colour. @defaultValue 'center'
   */
  readonly crop?: CropPolicy;
  /**
   * With `crop: 'center'`, the share of the shorter side kept (resize-256 + centre-crop-224 is
   * `0.875`). @defaultValue 1
   */
  readonly cropFraction?: number;
}

/** How non-matching aspect ratios are handled; see {@link InputSpec.crop}. */
export type CropPolicy = 'center' | 'stretch' | 'pad';

/** How a multi-value output becomes one embedding per input; see {@link OutputSpec.pooling}. */
export type OutputPooling = 'cls' | 'mean' | 'none';

/** What the model outputs. */
export interface OutputSpec {
  /** Output tensor name. */
  readonly name: string;
  /** Embedding size. */
  readonly dim: number;
  /** True when the model already L2-normalises its embeddings. */
  readonly normalized: boolean;
  /**
   * The output tensor's shape with `null` for the batch, e.g. `[null, 257, 384]` (tokens) or
   * `[null, 576, 7, 7]` (feature map); needed when `pooling` is not `none`.
   */
  readonly shape?: readonly (number | null)[];
  /**
   * `cls`: the first token of a `[B, T, D]` output; `mean`: the average over tokens (`[B, T, D]`)
   * or over the spatial positions of a `[B, C, H, W]` map; `none`: the output as it is.
   * @defaultValue 'none'
   */
  readonly pooling?: OutputPooling;
}

/** A model manifest (`edgetune.manifest/1`); see docs/manifest.md. */
export interface ModelManifest {
  readonly schema: 'edgetune.manifest/1';
  readonly id: string;
  readonly format: ModelFormat;
  /** Relative path of the model file, resolved against the manifest's URL or path and confined to its directory (see `resolveFile`). */
  readonly file: string;
  /** Exact byte size of the file. */
  readonly bytes: number;
  /** Lower-case hex SHA-256 of the file. */
  readonly sha256: string;
  readonly input: InputSpec;
  readonly output: OutputSpec;
  readonly dtype: ModelDtype;
  readonly quantization: string;
  readonly ssl?: { readonly method: string; readonly family: string };
  readonly license: string;
  readonly metrics?: Readonly<Record<string, number | string>>;
}

function fail(field: string, why: string, value: unknown): never {
  let shown: string;
  try {
    shown = JSON.stringify(value) ?? String(value);
  } catch {
    shown = String(value);
  }
  throw new EdgetuneError(
    'MANIFEST_INVALID',
    `Manifest field "${field}" ${why} (got ${shown.slice(0, 80)}). See docs/manifest.md.`,
    {
      details: { field, value },
    },
  );
}

/** Crop policies a manifest may name. */
export const CROP_POLICIES: readonly CropPolicy[] = Object.freeze(['center', 'stretch', 'pad']);
/** Output poolings a manifest may name. */
export const OUTPUT_POOLINGS: readonly OutputPooling[] = Object.freeze(['cls', 'mean', 'none']);

// After scaling to `range` and normalising, pixel values should span a few units (raw 0..255 models: 255): a spread far
// below or above that means mean/std are in other units than the range (e.g. 0..255 with [0, 1]).
function checkNormalisation(range: readonly [number, number], mean: readonly number[], std: readonly number[]): void {
  for (let c = 0; c < mean.length; c++) {
    const lo = (range[0] - mean[c]!) / std[c]!;
    const hi = (range[1] - mean[c]!) / std[c]!;
    const spread = hi - lo;
    if (spread < 0.5 || spread > 300 || Math.max(Math.abs(lo), Math.abs(hi)) > 300) {
      fail(
        'input.mean',
        `and input.std do not fit input.range [${range.join(', ')}]: channel ${c} would map pixels to ${lo.toFixed(3)}..${hi.toFixed(3)}; mean/std must be in the units of the range (for range [0, 1] ImageNet's mean is 0.485, not 123.7)`,
        { mean, std },
      );
    }
  }
}

function checkOutput(output: Record<string, unknown>): void {
  const pooling = output['pooling'];
  if (pooling !== undefined && !OUTPUT_POOLINGS.includes(pooling as OutputPooling))
    fail('output.pooling', `must be one of ${OUTPUT_POOLINGS.join(', ')}`, pooling);
  const shape = output['shape'];
  if (
    shape !== undefined &&
    (!Array.isArray(shape) ||
      shape.length < 2 ||
      shape.length > 4 ||
      !shape.every((d, k) => (k === 0 && d === null) || posInt(d)))
  )
    fail('output.shape', 'must be [null|batch, ...] with 1 to 3 positive integer dimensions', shape);
  if (Array.isArray(shape) && (shape.slice(1) as number[]).reduce((a, d) => a * d, 1) > MAX_MODEL_INPUT_VALUES)
    fail('output.shape', `must hold at most ${MAX_MODEL_INPUT_VALUES} values per sample`, shape);
  if (pooling === undefined || pooling === 'none') return;
  if (!Array.isArray(shape)) fail('output.shape', `is required with pooling "${String(pooling)}"`, shape);
  const dims = shape as number[];
  const d = dims.length === 3 ? dims[2] : dims.length === 4 ? dims[1] : undefined;
  if (d === undefined)
    fail('output.pooling', `needs a [B, T, D] or [B, C, H, W] output (output.shape has rank ${dims.length})`, pooling);
  if (pooling === 'cls' && dims.length !== 3) fail('output.pooling', '"cls" needs a [B, T, D] token output', pooling);
  if (d !== output['dim']) fail('output.dim', `must equal the pooled size ${d} of output.shape`, output['dim']);
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Checks that `value` is a valid manifest and returns it typed.
 *
 * @param value - parsed JSON
 * @throws EdgetuneError `MANIFEST_INVALID` naming the first bad field
 */
export function validateManifest(value: unknown): ModelManifest {
  if (!isObj(value)) fail('(root)', 'must be a JSON object', value);
  const m = value;
  if (m['schema'] !== 'edgetune.manifest/1') fail('schema', 'must be "edgetune.manifest/1"', m['schema']);
  if (typeof m['id'] !== 'string' || !/^[a-z0-9][a-z0-9._-]*$/.test(m['id']))
    fail('id', 'must match [a-z0-9][a-z0-9._-]*', m['id']);
  if (m['format'] !== 'onnx' && m['format'] !== 'tflite') fail('format', 'must be "onnx" or "tflite"', m['format']);
  if (typeof m['file'] !== 'string' || m['file'].length === 0) fail('file', 'must be a non-empty string', m['file']);
  if (!posInt(m['bytes'])) fail('bytes', 'must be a positive integer', m['bytes']);
  if (typeof m['sha256'] !== 'string' || !/^[0-9a-f]{64}$/.test(m['sha256']))
    fail('sha256', 'must be 64 lower-case hex characters', m['sha256']);
  const input = m['input'];
  if (!isObj(input)) fail('input', 'must be an object', input);
  if (typeof input['name'] !== 'string' || !input['name'])
    fail('input.name', 'must be a non-empty string', input['name']);
  const shape = input['shape'];
  const spatial = input['layout'] === 'NHWC' ? [1, 2] : [2, 3];
  if (
    !Array.isArray(shape) ||
    shape.length !== 4 ||
    !shape.every((d, k) => ((k === 0 || spatial.includes(k)) && d === null) || posInt(d))
  )
    fail(
      'input.shape',
      'must be [null|batch, d1, d2, d3] with positive integers (null only for the batch and spatial dimensions)',
      shape,
    );
  if (input['layout'] !== 'NCHW' && input['layout'] !== 'NHWC')
    fail('input.layout', 'must be "NCHW" or "NHWC"', input['layout']);
  if (input['channels'] !== 1 && input['channels'] !== 3) fail('input.channels', 'must be 1 or 3', input['channels']);
  if (!posInt(input['height'])) fail('input.height', 'must be a positive integer', input['height']);
  if (!posInt(input['width'])) fail('input.width', 'must be a positive integer', input['width']);
  // Bounded before anything is allocated from them (canaries, batch tensors, fixed-batch padding).
  if ((input['height'] as number) > MAX_MODEL_INPUT_SIDE)
    fail('input.height', `must be at most ${MAX_MODEL_INPUT_SIDE}`, input['height']);
  if ((input['width'] as number) > MAX_MODEL_INPUT_SIDE)
    fail('input.width', `must be at most ${MAX_MODEL_INPUT_SIDE}`, input['width']);
  if ((input['channels'] as number) * (input['height'] as number) * (input['width'] as number) > MAX_MODEL_INPUT_VALUES)
    fail(
      'input.shape',
      `must hold at most ${MAX_MODEL_INPUT_VALUES} values per sample (channels × height × width)`,
      shape,
    );
  if (typeof shape[0] === 'number' && shape[0] > MAX_FIXED_BATCH)
    fail('input.shape', `must have a fixed batch (first dimension) of at most ${MAX_FIXED_BATCH}, or null`, shape);
  const [, a, b, c] = shape as [null, number | null, number | null, number | null];
  const expected =
    input['layout'] === 'NCHW'
      ? [input['channels'], input['height'], input['width']]
      : [input['height'], input['width'], input['channels']];
  if ([a, b, c].some((d, k) => d !== null && d !== expected[k]))
    fail('input.shape', `must agree with layout/channels/height/width (${String(expected)})`, shape);
  const range = input['range'];
  if (!Array.isArray(range) || range.length !== 2 || !finite(range[0]) || !finite(range[1]) || range[0] >= range[1])
    fail('input.range', 'must be [low, high] with low < high', range);
  for (const key of ['mean', 'std'] as const) {
    const arr = input[key];
    if (!Array.isArray(arr) || arr.length !== input['channels'] || !arr.every(finite))
      fail(`input.${key}`, 'must have one finite number per channel', arr);
  }
  if (!(input['std'] as number[]).every((s) => s > 0)) fail('input.std', 'must be positive', input['std']);
  checkNormalisation(input['range'] as [number, number], input['mean'] as number[], input['std'] as number[]);
  if (input['crop'] !== undefined && !CROP_POLICIES.includes(input['crop'] as CropPolicy))
    fail('input.crop', `must be one of ${CROP_POLICIES.join(', ')}`, input['crop']);
  const frac = input['cropFraction'];
  if (frac !== undefined && !(finite(frac) && frac > 0 && frac <= 1))
    fail('input.cropFraction', 'must be a number in (0, 1]', frac);
  const output = m['output'];
  if (!isObj(output)) fail('output', 'must be an object', output);
  if (typeof output['name'] !== 'string' || !output['name'])
    fail('output.name', 'must be a non-empty string', output['name']);
  if (!posInt(output['dim']) || output['dim'] > MAX_EMBEDDING_DIM)
    fail('output.dim', `must be a positive integer up to ${MAX_EMBEDDING_DIM}`, output['dim']);
  if (typeof output['normalized'] !== 'boolean') fail('output.normalized', 'must be a boolean', output['normalized']);
  checkOutput(output);
  if (m['dtype'] !== 'fp32' && m['dtype'] !== 'fp16' && m['dtype'] !== 'int8')
    fail('dtype', 'must be "fp32", "fp16" or "int8"', m['dtype']);
  if (typeof m['quantization'] !== 'string') fail('quantization', 'must be a string', m['quantization']);
  if (typeof m['license'] !== 'string' || !m['license']) fail('license', 'must be a non-empty SPDX id', m['license']);
  if (
    m['ssl'] !== undefined &&
    (!isObj(m['ssl']) || typeof m['ssl']['method'] !== 'string' || typeof m['ssl']['family'] !== 'string')
  )
    fail('ssl', 'must be { method: string, family: string }', m['ssl']);
  if (m['metrics'] !== undefined && !isObj(m['metrics'])) fail('metrics', 'must be an object', m['metrics']);
  return value as unknown as ModelManifest;
}
