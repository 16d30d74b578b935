// ONNX → TFLite graph walk for the CNN op set the CLI's quantizer produces (static int8 QDQ or fp32): Q/DQ bookkeeping, the NHWC input and vector output; the ops themselves are lowered by tflite-lower.ts.
import { EdgetuneError } from '../core/errors.js';
import { ELEM, type OnnxModel, type OnnxNode } from './onnx-proto.js';
import { int, numbers, type LowerContext, type Value, type Weight } from './tflite-graph.js';
import { LOWERINGS } from './tflite-lower.js';
import { tfliteVerdict } from './tflite-verdict.js';
import {
  serializeTflite,
  TFL_TYPE,
  type TflGraph,
  type TflOpName,
  type TflOptionField,
  type TflQuant,
} from './tflite-write.js';

/** What {@link convertToTflite} wrote. */
export interface TfliteConversion {
  readonly bytes: Uint8Array;
  readonly dtype: 'int8' | 'fp32';
  /** Builtins with versions, in first-use order, e.g. `CONV_2D/v3`. */
  readonly ops: readonly string[];
  /** NHWC input shape with batch 1. */
  readonly input: readonly [number, number, number, number];
  readonly outputDim: number;
}

/** Ops this converter lowers (plus the Q/DQ pairs around them). */
export const TFLITE_CONVERTIBLE_OPS: readonly string[] = Object.freeze([
  ...Object.keys(LOWERINGS),
  'QuantizeLinear',
  'DequantizeLinear',
]);

interface ConstDq {
  readonly values: Float64Array;
  readonly dims: readonly number[];
  readonly scales: readonly number[];
  readonly axis: number;
}

function refuse(model: OnnxModel, why: string): EdgetuneError {
  const v = tfliteVerdict(model);
  const list = v.ops
    .filter((o) => !TFLITE_CONVERTIBLE_OPS.includes(o.op))
    .map((o) => `${o.op}×${o.count} (${o.status}: ${o.lowering})`);
  return new EdgetuneError(
    'UNSUPPORTED_OP',
    `Cannot write a .tflite: ${why}.${list.length ? ` Ops outside what the converter lowers: ${list.join('; ')}.` : ''} Run the ONNX model instead (onnxruntime-web runs it as it is).`,
    { details: { ops: list } },
  );
}

/**
 * Converts a decoded ONNX model (one NCHW float input, one vector output per sample) to a .tflite
 * file: static int8 when the model carries QuantizeLinear/DequantizeLinear pairs (activation
 * scales and zero points, per-channel int8 weights and int32 biases taken over as they are;
 * uint8 zero points shifted by −128), fp32 otherwise. Input and output stay float32, NHWC.
 *
 * @param model - the decoded model
 * @param description - written into the file
 * @throws EdgetuneError `UNSUPPORTED_OP` listing every op outside the convertible set, with the reason
 */
export function convertToTflite(model: OnnxModel, description = 'edgetune'): TfliteConversion {
  const unsupported = model.nodes.filter(
    (n) => !TFLITE_CONVERTIBLE_OPS.includes(n.op) || (n.domain !== '' && n.domain !== 'ai.onnx'),
  );
  if (unsupported.length) throw refuse(model, `${unsupported.length} nodes use ops the converter does not lower`);
  if (model.inputs.length !== 1 || model.outputs.length !== 1)
    throw refuse(
      model,
      `the model has ${model.inputs.length} inputs and ${model.outputs.length} outputs (an encoder has one of each)`,
    );
  const input = model.inputs[0]!;
  const dims = input.dims ?? [];
  if (dims.length !== 4 || !dims.slice(1).every((d) => typeof d === 'number' && d > 0))
    throw refuse(model, `the input ${input.name} is ${JSON.stringify(dims)}, not NCHW with fixed C, H, W`);
  const [c0, h0, w0] = dims.slice(1) as number[];
  const inits = new Map(model.initializers.map((t) => [t.name, t]));
  const scalar = (name: string | undefined): number[] => {
    const t = name ? inits.get(name) : undefined;
    if (!t) throw refuse(model, `quantization parameter ${name} is not a constant`);
    return [...numbers(t)];
  };
  const int8 = model.nodes.some((n) => n.op === 'QuantizeLinear');
  const g: TflGraph = { tensors: [], operators: [], inputs: [], outputs: [] };
  const add = (t: TflGraph['tensors'][number]): number => g.tensors.push(t) - 1;
  const act = (name: string, shape: number[], quant: TflQuant | undefined): number =>
    add({ name, shape, type: quant ? TFL_TYPE.INT8 : TFL_TYPE.FLOAT32, ...(quant ? { quant } : {}) });
  const op = (
    o: TflOpName,
    version: number,
    inputs: number[],
    outputs: number[],
    optionsType?: number,
    options?: TflOptionField[],
    optionsSlots?: number,
  ): void => {
    g.operators.push({
      op: o,
      version,
      inputs,
      outputs,
      ...(optionsType ? { optionsType, options: options ?? [], optionsSlots: optionsSlots ?? 0 } : {}),
    });
  };

  // Pass 1: constant DequantizeLinear (weights, biases) and activation Q → DQ pairs.
  const constDq = new Map<string, ConstDq>();
  const quantOf = new Map<string, TflQuant>();
  const alias = new Map<string, string>();
  const qInput = new Map<string, string>();
  for (const n of model.nodes) {
    if (n.op === 'DequantizeLinear' && inits.has(n.inputs[0]!)) {
      const t = inits.get(n.inputs[0]!)!;
      const scales = scalar(n.inputs[1]);
      const zps = n.inputs[2] ? scalar(n.inputs[2]) : scales.map(() => 0);
      if (zps.some((z) => z !== 0))
        throw refuse(model, `weight ${t.name} has a non-zero zero point (TFLite int8 weights are symmetric)`);
      constDq.set(n.outputs[0]!, { values: numbers(t), dims: t.dims, scales, axis: int(n, 'axis', 1) });
    } else if (n.op === 'QuantizeLinear') {
      const zt = inits.get(n.inputs[2] ?? '');
      const s = scalar(n.inputs[1]);
      const z = n.inputs[2] ? scalar(n.inputs[2]) : [0];
      if (s.length !== 1) throw refuse(model, `activation ${n.inputs[0]} is quantized per channel`);
      quantOf.set(n.inputs[0]!, { scale: s, zeroPoint: [z[0]! - (zt?.elemType === ELEM.UINT8 ? 128 : 0)] });
      qInput.set(n.outputs[0]!, n.inputs[0]!);
    } else if (n.op === 'DequantizeLinear') {
      const src = qInput.get(n.inputs[0]!);
      if (src === undefined) throw refuse(model, `DequantizeLinear ${n.name} does not follow a QuantizeLinear`);
      alias.set(n.outputs[0]!, src);
    }
  }
  const resolve = (name: string): string => alias.get(name) ?? name;

  // Input: float32 NHWC, quantized when the model quantizes it.
  const values = new Map<string, Value>();
  const inIdx = add({ name: input.name, shape: [1, h0!, w0!, c0!], type: TFL_TYPE.FLOAT32 });
  g.inputs = [inIdx];
  const qIn = quantOf.get(input.name);
  if (int8 && !qIn) throw refuse(model, `the input ${input.name} is not quantized although the model is`);
  if (qIn) {
    const qi = act(`${input.name}_int8`, [1, h0!, w0!, c0!], qIn);
    op('QUANTIZE', 1, [inIdx], [qi]);
    values.set(input.name, { index: qi, shape: [c0!, h0!, w0!], quant: qIn });
  } else values.set(input.name, { index: inIdx, shape: [c0!, h0!, w0!], quant: undefined });

  const get = (name: string, n: OnnxNode): Value => {
    const v = values.get(resolve(name));
    if (!v)
      throw refuse(
        model,
        `${n.op} ${n.name}: input ${name} is not an activation the converter has lowered (constants are only supported as Conv/Gemm weights)`,
      );
    return v;
  };
  const outQuant = (n: OnnxNode, v: Value): TflQuant | undefined => {
    if (!v.quant) return undefined;
    const q = quantOf.get(n.outputs[0]!);
    if (!q)
      throw refuse(
        model,
        `${n.op} ${n.name}: its output has no QuantizeLinear, so the int8 kernel has no output scale`,
      );
    return q;
  };
  // A weight: float values (dequantized when int8 goes to fp32) or int8 with scales.
  const weight = (name: string): Weight => {
    const dq = constDq.get(name);
    if (dq) return dq;
    const t = inits.get(name);
    if (!t || t.elemType !== ELEM.FLOAT)
      throw refuse(model, `weight ${name} is neither a float constant nor a dequantized one`);
    return { values: numbers(t), dims: t.dims };
  };

  const cx: LowerContext = {
    refuse: (why) => refuse(model, why),
    add,
    act,
    op,
    get,
    set: (name, v) => void values.set(name, v),
    outQuant,
    quantOf: (name) => quantOf.get(name),
    weight,
    scalar,
    int8,
  };
  for (const n of model.nodes) {
    if (n.op === 'QuantizeLinear' || n.op === 'DequantizeLinear') continue;
    LOWERINGS[n.op]!(n, cx);
  }
  const outName = model.outputs[0]!.name;
  const res = values.get(resolve(outName));
  if (!res) throw refuse(model, `the output ${outName} is not produced by a lowered op`);
  if (res.shape.length !== 1)
    throw refuse(model, `the output ${outName} is ${JSON.stringify(res.shape)} per sample, not a vector`);
  if (res.quant) {
    g.tensors[res.index]!.name = `${outName}_int8`;
    const fo = add({ name: outName, shape: [1, res.shape[0]!], type: TFL_TYPE.FLOAT32 });
    op('DEQUANTIZE', 2, [res.index], [fo]);
    g.outputs = [fo];
  } else {
    g.tensors[res.index]!.name = outName;
    g.outputs = [res.index];
  }
  const ops: string[] = [];
  for (const o of g.operators) if (!ops.includes(`${o.op}/v${o.version}`)) ops.push(`${o.op}/v${o.version}`);
  return {
    bytes: serializeTflite(g, description),
    dtype: int8 ? 'int8' : 'fp32',
    ops,
    input: [1, h0!, w0!, c0!],
    outputDim: res.shape[0]!,
  };
}
