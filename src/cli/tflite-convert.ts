// ONNX → TFLite graph walk for the CNN op set the CLI's quantizer produces (static int8 QDQ or fp32): Q/DQ bookkeeping, the NHWC input and vector output; the ops themselves are lowered by tflite-lower.ts.
import { EdgetuneError } from '../core/errors.js';
import type { OutputPooling } from '../runtime/manifest.js';
import { ELEM, type OnnxModel, type OnnxNode } from './onnx-proto.js';
import { int, numbers, type LowerContext, type Value, type Weight } from './tflite-graph.js';
import { LOWERINGS } from './tflite-lower.js';
import { tfliteVerdict } from './tflite-verdict.js';
import {
  leBytes,
  serializeTflite,
  TFL_OPTIONS,
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

/** The nodes `output` depends on, in graph order (the other outputs' branches dropped). */
function reachingNodes(model: OnnxModel, output: string): OnnxNode[] {
  const producer = new Map<string, OnnxNode>();
  for (const n of model.nodes) for (const o of n.outputs) producer.set(o, n);
  const keep = new Set<OnnxNode>();
  const stack = [output];
  while (stack.length) {
    const n = producer.get(stack.pop()!);
    if (!n || keep.has(n)) continue;
    keep.add(n);
    stack.push(...n.inputs.filter((x) => x !== ''));
  }
  return model.nodes.filter((n) => keep.has(n));
}

/** How {@link convertToTflite} picks and shapes what it converts (the manifest's choices). */
export interface TfliteConvertOptions {
  /** Written into the file. @defaultValue `'edgetune'` */
  readonly description?: string;
  /** The output to convert, by name: required when the model has several. */
  readonly output?: string;
  /**
   * `mean`: the output is a [C, H, W] map averaged per channel, done in the graph (a MEAN), so the
   * .tflite outputs the C-d vector. `cls` is refused (token outputs are not converted).
   * @defaultValue `'none'`
   */
  readonly pooling?: OutputPooling;
  /** Height and width to fix a dynamic spatial input to (the manifest's `input.height`/`width`). */
  readonly height?: number;
  readonly width?: number;
}

/**
 * Converts a decoded ONNX model (one NCHW float input; the chosen output a vector per sample, or
 * a map pooled with `mean`) to a .tflite file: static int8 where the model carries
 * QuantizeLinear/DequantizeLinear pairs (activation scales and zero points, per-channel int8
 * weights and int32 biases taken over as they are; uint8 zero points shifted by −128), float32
 * for layers the QDQ model keeps in float and for fp32 models. Input and output stay float32,
 * NHWC. Nodes the chosen output does not depend on are dropped.
 *
 * @param model - the decoded model
 * @param options - output, pooling and spatial size to convert for
 * @throws EdgetuneError `UNSUPPORTED_OP` listing every op outside the convertible set, with the reason
 */
export function convertToTflite(model: OnnxModel, options: TfliteConvertOptions = {}): TfliteConversion {
  if (model.inputs.length !== 1)
    throw refuse(model, `the model has ${model.inputs.length} inputs (an encoder has one)`);
  const outName = options.output ?? (model.outputs.length === 1 ? model.outputs[0]!.name : undefined);
  if (outName === undefined || !model.outputs.some((o) => o.name === outName))
    throw refuse(
      model,
      `the model has ${model.outputs.length} outputs (${model.outputs.map((o) => o.name).join(', ')}); pick one${outName ? `, not ${outName}` : ''}`,
    );
  const nodes = reachingNodes(model, outName);
  const unsupported = nodes.filter(
    (n) => !TFLITE_CONVERTIBLE_OPS.includes(n.op) || (n.domain !== '' && n.domain !== 'ai.onnx'),
  );
  if (unsupported.length) throw refuse(model, `${unsupported.length} nodes use ops the converter does not lower`);
  const input = model.inputs[0]!;
  const dims = input.dims ?? [];
  const fixed = (d: number | string | undefined, dflt: number | undefined): number | undefined =>
    typeof d === 'number' && d > 0 ? d : dflt;
  const [c0, h0, w0] = [fixed(dims[1], undefined), fixed(dims[2], options.height), fixed(dims[3], options.width)];
  if (dims.length !== 4 || c0 === undefined || h0 === undefined || w0 === undefined)
    throw refuse(
      model,
      `the input ${input.name} is ${JSON.stringify(dims)}, not NCHW with fixed C (and H, W fixed or given)`,
    );
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
  for (const n of nodes) {
    if (n.op === 'Identity' && inits.has(n.inputs[0]!)) {
      // A constant shared under two names (the exporter's deduplicated biases).
      inits.set(n.outputs[0]!, inits.get(n.inputs[0]!)!);
    } else if (n.op === 'DequantizeLinear' && inits.has(n.inputs[0]!)) {
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

  const quantOfName = (name: string): TflQuant | undefined => quantOf.get(resolve(name)) ?? quantOf.get(name);
  const consumersOf = new Map<string, OnnxNode[]>();
  for (const n of nodes)
    if (n.op !== 'QuantizeLinear' && n.op !== 'DequantizeLinear')
      for (const x of n.inputs) consumersOf.set(resolve(x), [...(consumersOf.get(resolve(x)) ?? []), n]);

  // float32 ↔ int8 conversions, written once per tensor.
  const values = new Map<string, Value>();
  const floats = new Map<number, Value>();
  const dequantized = (v: Value): Value => {
    if (!v.quant) return v;
    let f = floats.get(v.index);
    if (!f) {
      const o = act(`${g.tensors[v.index]!.name}_float`, [...g.tensors[v.index]!.shape], undefined);
      op('DEQUANTIZE', 2, [v.index], [o]);
      f = { ...v, index: o, quant: undefined };
      floats.set(v.index, f);
    }
    return f;
  };
  const quantized = (v: Value, q: TflQuant): Value => {
    if (v.quant && v.quant.scale[0] === q.scale[0] && v.quant.zeroPoint[0] === q.zeroPoint[0]) return v;
    const o = act(`${g.tensors[v.index]!.name}_int8`, [...g.tensors[v.index]!.shape], q);
    // QUANTIZE v1: float32 → int8; v2 also requantizes int8 → int8.
    op('QUANTIZE', v.quant ? 2 : 1, [v.index], [o]);
    return { ...v, index: o, quant: q };
  };
  const finish = (name: string, v: Value): void => {
    const q = v.quant ? undefined : quantOf.get(name);
    values.set(name, q ? quantized(v, q) : v);
  };

  // Input: float32 NHWC, quantized when the model quantizes it.
  const inIdx = add({ name: input.name, shape: [1, h0, w0, c0], type: TFL_TYPE.FLOAT32 });
  g.inputs = [inIdx];
  finish(input.name, { index: inIdx, shape: [c0, h0, w0], quant: undefined });

  const get = (name: string, n: OnnxNode): Value => {
    const v = values.get(resolve(name));
    if (!v)
      throw refuse(
        model,
        `${n.op} ${n.name}: input ${name} is not an activation the converter has lowered (constants are only supported as Conv/Gemm weights)`,
      );
    return v;
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
    consumers: (name) => consumersOf.get(name) ?? [],
    quantOf: quantOfName,
    dequantized,
    quantized,
    finish,
    weight,
    scalar,
    int8,
  };
  for (const n of nodes) {
    if (n.op === 'QuantizeLinear' || n.op === 'DequantizeLinear') continue;
    if (n.op === 'Identity' && inits.has(n.inputs[0]!)) continue;
    LOWERINGS[n.op]!(n, cx);
  }
  let res = values.get(resolve(outName));
  if (!res) throw refuse(model, `the output ${outName} is not produced by a lowered op`);
  const pooling = options.pooling ?? 'none';
  if (pooling === 'cls')
    throw refuse(model, `the output ${outName} is pooled with cls (token outputs are not converted)`);
  if (pooling === 'mean' && res.shape.length === 3) {
    // The runtime pools the ONNX model's float output: the .tflite averages in float in the graph.
    const f = dequantized(res);
    const axesT = add({
      name: `${outName}_axes`,
      shape: [2],
      type: TFL_TYPE.INT32,
      data: leBytes(Int32Array.of(1, 2)),
    });
    const o = act(`${outName}_mean`, [1, res.shape[0]!], undefined);
    op('MEAN', 1, [f.index, axesT], [o], TFL_OPTIONS.ReducerOptions, [[0, 'bool', 0]], 1);
    res = { index: o, shape: [res.shape[0]!], quant: undefined };
  }
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
    bytes: serializeTflite(g, options.description ?? 'edgetune'),
    dtype: int8 ? 'int8' : 'fp32',
    ops,
    input: [1, h0, w0, c0],
    outputDim: res.shape[0]!,
  };
}
