// Whether a model's ONNX ops fall within what tfjs-tflite is known to run, op by op: the verdict `quantize --tflite` prints instead of writing a .tflite file.
import type { OnnxModel, OnnxNode } from './onnx-proto.js';

/**
 * How one ONNX op would reach TFLite:
 * - `verified`: lowers to builtins (and versions) the Python converter (models/pipeline/tflite/tfl_schema.py)
 *   or the CLI's converter (src/cli/tflite-lower.ts) writes and a Chromium test runs in
 *   `@tensorflow/tfjs-tflite` 0.0.1-alpha.10 (test/browser/tflite.test.ts, tflite-writer.test.ts);
 * - `unverified`: TFLite has builtins for it, but no model of ours has run them in tfjs-tflite;
 * - `none`: no builtin (TFLite would need a decomposition nobody has checked, or a custom op);
 * - `removed`: dropped by the conversion (constant folding, identity).
 */
export type TfliteStatus = 'verified' | 'unverified' | 'none' | 'removed';

/** One op type of the model and its TFLite lowering. */
export interface TfliteOpVerdict {
  readonly op: string;
  readonly count: number;
  readonly status: TfliteStatus;
  /** The TFLite builtins it becomes, or why there are none. */
  readonly lowering: string;
}

/** The whole model's verdict. */
export interface TfliteVerdict {
  /** `true` when every op is `verified` or `removed`: the op set is within what tfjs-tflite is known to run. */
  readonly withinVerifiedSet: boolean;
  readonly ops: readonly TfliteOpVerdict[];
}

// Builtins with the versions our converters emit, checked in tfjs-tflite by test/browser/tflite.test.ts and tflite-writer.test.ts.
const VERIFIED =
  'ADD, AVERAGE_POOL_2D, CONV_2D, DEPTHWISE_CONV_2D, DEQUANTIZE, FULLY_CONNECTED, HARD_SWISH, MAX_POOL_2D, MEAN, MUL, PAD, QUANTIZE, RELU, RESHAPE';

function lower(n: OnnxNode, model: OnnxModel): { status: TfliteStatus; lowering: string } {
  const inits = new Set(model.initializers.map((t) => t.name));
  const group = Number(n.attrs.find((a) => a.name === 'group')?.i ?? 1);
  switch (n.op) {
    case 'Conv':
      return group === 1
        ? { status: 'verified', lowering: 'CONV_2D (NCHW weights transposed to OHWI)' }
        : {
            status: 'verified',
            lowering: `DEPTHWISE_CONV_2D (group ${group} = channels; other groupings are refused)`,
          };
    case 'Gemm':
      return { status: 'verified', lowering: 'FULLY_CONNECTED' };
    case 'MatMul':
      return inits.has(n.inputs[1] ?? '')
        ? { status: 'verified', lowering: 'FULLY_CONNECTED (keep_num_dims for [B,T,D])' }
        : { status: 'unverified', lowering: 'BATCH_MATMUL (two activations: attention)' };
    case 'Add':
    case 'Relu':
    case 'MaxPool':
    case 'AveragePool':
    case 'Pad':
    case 'Reshape':
    case 'Flatten':
      return {
        status: 'verified',
        lowering: n.op === 'Flatten' ? 'RESHAPE' : n.op.toUpperCase().replace('POOL', '_POOL_2D'),
      };
    case 'GlobalAveragePool':
    case 'ReduceMean':
      return { status: 'verified', lowering: 'MEAN' };
    case 'Identity':
    case 'Constant':
    case 'Shape':
    case 'Unsqueeze':
    case 'Squeeze':
      return { status: 'removed', lowering: 'folded away (static shapes)' };
    case 'Mul':
      return inits.has(n.inputs[0] ?? '') || inits.has(n.inputs[1] ?? '')
        ? { status: 'unverified', lowering: 'MUL by a constant (the converter takes two activations only)' }
        : { status: 'verified', lowering: 'MUL (broadcasting [C,1,1] × [C,H,W]: squeeze-excitation)' };
    case 'Sub':
    case 'Div':
      return { status: 'unverified', lowering: `${n.op.toUpperCase()}` };
    case 'HardSwish':
      return { status: 'verified', lowering: 'HARD_SWISH' };
    case 'HardSigmoid':
      return { status: 'verified', lowering: 'no builtin: RELU6(6α·x + 6β) / 6 as MUL, ADD (fused RELU6), MUL' };
    case 'Sigmoid':
      return { status: 'unverified', lowering: 'LOGISTIC' };
    case 'Cast':
      return { status: 'unverified', lowering: 'CAST (or folded with the shape ops)' };
    case 'Softmax':
      return { status: 'unverified', lowering: 'SOFTMAX' };
    case 'Transpose':
      return { status: 'unverified', lowering: 'TRANSPOSE' };
    case 'Concat':
      return { status: 'unverified', lowering: 'CONCATENATION' };
    case 'Gather':
    case 'Slice':
      return { status: 'unverified', lowering: 'GATHER / STRIDED_SLICE' };
    case 'Sqrt':
    case 'Pow':
      return { status: 'unverified', lowering: n.op === 'Sqrt' ? 'SQRT' : 'POW or MUL' };
    case 'LayerNormalization':
      return { status: 'none', lowering: 'no builtin: MEAN, SUB, MUL, MEAN, ADD, RSQRT, MUL, ADD (decomposed)' };
    case 'Erf':
      return {
        status: 'none',
        lowering:
          'no ERF builtin; GELU needs the GELU builtin (newer than tfjs-tflite’s TFLite) or a tanh approximation',
      };
    case 'Expand':
    case 'ConstantOfShape':
    case 'Where':
    case 'Equal':
      return { status: 'none', lowering: 'dynamic-shape op: must be folded for a static TFLite graph' };
    default:
      return { status: 'none', lowering: 'no mapping known' };
  }
}

/**
 * The op-by-op TFLite verdict for an ONNX model.
 *
 * @param model - the decoded model
 */
export function tfliteVerdict(model: OnnxModel): TfliteVerdict {
  const byOp = new Map<string, { count: number; status: TfliteStatus; lowering: string }>();
  const rank: Record<TfliteStatus, number> = { none: 0, unverified: 1, verified: 2, removed: 3 };
  for (const n of model.nodes) {
    const v = lower(n, model);
    const had = byOp.get(n.op);
    // One op type can lower differently (Conv vs depthwise Conv): keep the worst.
    if (!had) byOp.set(n.op, { count: 1, ...v });
    else {
      had.count++;
      if (rank[v.status] < rank[had.status]) Object.assign(had, v);
    }
  }
  const ops = [...byOp]
    .map(([op, v]) => ({ op, ...v }))
    .sort((a, b) => rank[a.status] - rank[b.status] || b.count - a.count);
  return { withinVerifiedSet: ops.every((o) => o.status === 'verified' || o.status === 'removed'), ops };
}

/** The verdict as the CLI prints it. */
export function formatTfliteVerdict(id: string, v: TfliteVerdict): string {
  const lines = [
    `tflite ${id}: ${v.withinVerifiedSet ? 'every op is within the set verified in tfjs-tflite' : 'NOT CONVERTED: ops outside the set verified in tfjs-tflite'} (verified builtins: ${VERIFIED})`,
  ];
  for (const o of v.ops) lines.push(`  ${o.status.padEnd(10)} ${`${o.op}×${o.count}`.padEnd(24)} → ${o.lowering}`);
  lines.push(
    v.withinVerifiedSet
      ? '  `edgetune convert MANIFEST --tflite` writes the .tflite when every op is in its convertible set (src/cli/tflite-convert.ts)'
      : '  no .tflite written: run the ONNX model (WASM/WebGPU/WebNN), which onnxruntime-web runs as it is',
  );
  return lines.join('\n');
}
