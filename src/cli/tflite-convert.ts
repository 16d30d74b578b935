// ONNX → TFLite for the CNN op set the CLI's quantizer produces: static int8 QDQ (or fp32) Conv/depthwise Conv, Relu, pools, MEAN, Flatten/Reshape, Gemm, Add; NHWC layout.
import { EdgetuneError } from '../core/errors.js';
import { ELEM, tensorFloats, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx-proto.js';
import { tfliteVerdict } from './tflite-verdict.js';
import {
  leBytes,
  serializeTflite,
  TFL_ACT,
  TFL_OPTIONS,
  TFL_PAD,
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
  'Conv',
  'Relu',
  'MaxPool',
  'AveragePool',
  'GlobalAveragePool',
  'ReduceMean',
  'Flatten',
  'Reshape',
  'Gemm',
  'Add',
  'Identity',
  'QuantizeLinear',
  'DequantizeLinear',
]);

interface Value {
  readonly index: number;
  /** ONNX shape without batch: [C, H, W] or [K]. */
  readonly shape: readonly number[];
  readonly quant: TflQuant | undefined;
  /** A Flatten of a C×H×W map with H·W > 1: the map, so a following Gemm permutes its columns. */
  readonly flatFrom?: readonly number[];
}

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

function numbers(t: OnnxTensor): Float64Array {
  if (t.elemType === ELEM.FLOAT) return Float64Array.from(tensorFloats(t));
  const count = t.dims.reduce((a, b) => a * b, 1);
  const raw = t.fields.find((f) => f.n === 9 && f.wire === 2)?.value as Uint8Array | undefined;
  if (raw) {
    const c = new Uint8Array(raw);
    if (t.elemType === ELEM.INT8) return Float64Array.from(new Int8Array(c.buffer));
    if (t.elemType === ELEM.UINT8) return Float64Array.from(c);
    if (t.elemType === ELEM.INT32) return Float64Array.from(new Int32Array(c.buffer));
    if (t.elemType === ELEM.INT64) return Float64Array.from(new BigInt64Array(c.buffer), Number);
  }
  // Typed repeated fields: int32_data (5) for int8/uint8/int32, int64_data (7).
  const out: number[] = [];
  for (const f of t.fields) {
    if ((f.n !== 5 && f.n !== 7) || (f.wire !== 0 && f.wire !== 2)) continue;
    if (f.wire === 0) out.push(Number(BigInt.asIntN(64, f.value as bigint)));
    else {
      const b = f.value as Uint8Array;
      let p = 0;
      while (p < b.length) {
        let v = 0n;
        let s = 0n;
        for (;;) {
          const x = b[p++]!;
          v |= BigInt(x & 0x7f) << s;
          s += 7n;
          if (x < 0x80) break;
        }
        out.push(Number(BigInt.asIntN(64, v)));
      }
    }
  }
  if (out.length !== count)
    throw new EdgetuneError('MODEL_CORRUPT', `Initializer ${t.name}: no data for ${count} values.`);
  return Float64Array.from(out);
}

const ints = (n: OnnxNode, name: string): number[] | undefined =>
  n.attrs.find((a) => a.name === name)?.ints?.map(Number);
const int = (n: OnnxNode, name: string, dflt: number): number => {
  const a = n.attrs.find((x) => x.name === name);
  return a?.i !== undefined ? Number(a.i) : dflt;
};

function samePads(size: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
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
  const nhwc = (s: readonly number[]): number[] => (s.length === 3 ? [1, s[1]!, s[2]!, s[0]!] : [1, ...s]);
  const v8 = (q: TflQuant | undefined): boolean => q !== undefined;
  // A weight: float values (dequantized when int8 goes to fp32) or int8 with scales.
  const weight = (
    name: string,
  ): { values: Float64Array; dims: readonly number[]; scales?: readonly number[]; axis?: number } => {
    const dq = constDq.get(name);
    if (dq) return dq;
    const t = inits.get(name);
    if (!t || t.elemType !== ELEM.FLOAT)
      throw refuse(model, `weight ${name} is neither a float constant nor a dequantized one`);
    return { values: numbers(t), dims: t.dims };
  };

  for (const n of model.nodes) {
    if (n.op === 'QuantizeLinear' || n.op === 'DequantizeLinear') continue;
    const out = n.outputs[0]!;
    if (n.op === 'Identity') {
      values.set(out, get(n.inputs[0]!, n));
      continue;
    }
    if (n.op === 'Conv') {
      let v = get(n.inputs[0]!, n);
      const w = weight(n.inputs[1]!);
      const [oc, icg, kh, kw] = w.dims as number[];
      const group = int(n, 'group', 1);
      const [c, h, wd] = v.shape as number[];
      const depthwise = group > 1 && group === c && icg === 1;
      if (group > 1 && !depthwise)
        throw refuse(model, `Conv ${n.name}: group ${group} is neither 1 nor the channel count`);
      if (w.dims.length !== 4) throw refuse(model, `Conv ${n.name}: only 2-D convolutions`);
      const [sh, sw] = ints(n, 'strides') ?? [1, 1];
      const [dh, dw] = ints(n, 'dilations') ?? [1, 1];
      const autoPad = n.attrs.find((a) => a.name === 'auto_pad');
      if (autoPad && !new TextDecoder().decode(autoPad.raw).includes('NOTSET'))
        throw refuse(model, `Conv ${n.name}: auto_pad; export with explicit pads`);
      const [pt, pl, pb, pr] = ints(n, 'pads') ?? [0, 0, 0, 0];
      let padding: number = TFL_PAD.VALID;
      let [ph, pw] = [h!, wd!];
      if (pt || pl || pb || pr) {
        const [st, sb] = samePads(h!, kh!, sh!, dh!);
        const [sl, sr] = samePads(wd!, kw!, sw!, dw!);
        if (st === pt && sb === pb && sl === pl && sr === pr) padding = TFL_PAD.SAME;
        else {
          const padsT = add({
            name: `${out}_pads`,
            shape: [4, 2],
            type: TFL_TYPE.INT32,
            data: leBytes(Int32Array.from([0, 0, pt!, pb!, pl!, pr!, 0, 0])),
          });
          ph = h! + pt! + pb!;
          pw = wd! + pl! + pr!;
          const padded = act(`${out}_padded`, [1, ph, pw, c!], v.quant);
          op('PAD', v8(v.quant) ? 2 : 1, [v.index, padsT], [padded], TFL_OPTIONS.PadOptions, [], 0);
          v = { index: padded, shape: [c!, ph, pw], quant: v.quant };
        }
      }
      const oh = padding === TFL_PAD.SAME ? Math.ceil(h! / sh!) : Math.floor((ph - dh! * (kh! - 1) - 1) / sh!) + 1;
      const ow = padding === TFL_PAD.SAME ? Math.ceil(wd! / sw!) : Math.floor((pw - dw! * (kw! - 1) - 1) / sw!) + 1;
      const q = outQuant(n, v);
      // OIHW → OHWI (CONV_2D) or → 1HW(C·m) (DEPTHWISE_CONV_2D).
      const count = oc! * icg! * kh! * kw!;
      const wOut = new Float64Array(count);
      for (let o = 0; o < oc!; o++)
        for (let i = 0; i < icg!; i++)
          for (let y = 0; y < kh!; y++)
            for (let x = 0; x < kw!; x++) {
              const src = ((o * icg! + i) * kh! + y) * kw! + x;
              const dst = depthwise ? (y * kw! + x) * oc! + o : ((o * kh! + y) * kw! + x) * icg! + i;
              wOut[dst] = w.values[src]!;
            }
      const wShape = depthwise ? [1, kh!, kw!, oc!] : [oc!, kh!, kw!, icg!];
      const axis = depthwise ? 3 : 0;
      const bName = n.inputs[2];
      const bias = bName ? weight(bName) : { values: new Float64Array(oc!) };
      const quantized = q !== undefined;
      if (quantized && !w.scales) throw refuse(model, `Conv ${n.name}: int8 activations but a float weight`);
      const wi = quantized
        ? add({
            name: n.inputs[1]!,
            shape: wShape,
            type: TFL_TYPE.INT8,
            data: leBytes(Int8Array.from(wOut)),
            quant: { scale: w.scales!, zeroPoint: w.scales!.map(() => 0), axis },
          })
        : add({
            name: n.inputs[1]!,
            shape: wShape,
            type: TFL_TYPE.FLOAT32,
            data: leBytes(
              Float32Array.from(wOut, (x, k) =>
                w.scales ? x * w.scales[depthwise ? k % oc! : Math.floor(k / (kh! * kw! * icg!))]! : x,
              ),
            ),
          });
      const sx = v.quant?.scale[0] ?? 1;
      const bScales = w.scales
        ? Array.from({ length: oc! }, (_, o) => sx * w.scales![w.scales!.length > 1 ? o : 0]!)
        : [];
      const bi = quantized
        ? add({
            name: `${out}_bias`,
            shape: [oc!],
            type: TFL_TYPE.INT32,
            data: leBytes(
              Int32Array.from(bias.values, (x, o) =>
                'scales' in bias && bias.scales ? x : Math.round(x / bScales[o]!),
              ),
            ),
            quant: { scale: bScales, zeroPoint: bScales.map(() => 0) },
          })
        : add({
            name: `${out}_bias`,
            shape: [oc!],
            type: TFL_TYPE.FLOAT32,
            data: leBytes(
              Float32Array.from(bias.values, (x, o) =>
                'scales' in bias && bias.scales ? x * bias.scales[bias.scales.length > 1 ? o : 0]! : x,
              ),
            ),
          });
      const o = act(out, [1, oh, ow, oc!], q);
      const common: TflOptionField[] = [
        [0, 'u8', padding],
        [1, 'i32', sw!],
        [2, 'i32', sh!],
      ];
      if (depthwise)
        op(
          'DEPTHWISE_CONV_2D',
          quantized ? 3 : dh !== 1 || dw !== 1 ? 2 : 1,
          [v.index, wi, bi],
          [o],
          TFL_OPTIONS.DepthwiseConv2DOptions,
          [...common, [3, 'i32', oc! / c!], [4, 'u8', TFL_ACT.NONE], [5, 'i32', dw!], [6, 'i32', dh!]],
          7,
        );
      else
        op(
          'CONV_2D',
          quantized ? 3 : 1,
          [v.index, wi, bi],
          [o],
          TFL_OPTIONS.Conv2DOptions,
          [...common, [3, 'u8', TFL_ACT.NONE], [4, 'i32', dw!], [5, 'i32', dh!]],
          6,
        );
      values.set(out, { index: o, shape: [oc!, oh, ow], quant: q });
      continue;
    }
    const v = get(n.inputs[0]!, n);
    if (n.op === 'Relu') {
      const q = v.quant ? (quantOf.get(out) ?? v.quant) : undefined;
      const o = act(out, nhwc(v.shape), q);
      op('RELU', v8(q) ? 2 : 1, [v.index], [o]);
      values.set(out, { ...v, index: o, quant: q });
    } else if (n.op === 'MaxPool' || n.op === 'AveragePool') {
      const [kh, kw] = ints(n, 'kernel_shape') ?? [1, 1];
      const [sh, sw] = ints(n, 'strides') ?? [1, 1];
      const [c, h, wd] = v.shape as number[];
      const pads = ints(n, 'pads') ?? [0, 0, 0, 0];
      if (int(n, 'ceil_mode', 0) || pads.some((p) => p !== 0))
        throw refuse(model, `${n.op} ${n.name}: padding or ceil_mode`);
      const oh = Math.floor((h! - kh!) / sh!) + 1;
      const ow = Math.floor((wd! - kw!) / sw!) + 1;
      // TFLite's int8 pooling keeps the input's scale and zero point.
      const o = act(out, [1, oh, ow, c!], v.quant);
      op(
        n.op === 'MaxPool' ? 'MAX_POOL_2D' : 'AVERAGE_POOL_2D',
        v8(v.quant) ? 2 : 1,
        [v.index],
        [o],
        TFL_OPTIONS.Pool2DOptions,
        [
          [0, 'u8', TFL_PAD.VALID],
          [1, 'i32', sw!],
          [2, 'i32', sh!],
          [3, 'i32', kw!],
          [4, 'i32', kh!],
        ],
        6,
      );
      values.set(out, { index: o, shape: [c!, oh, ow], quant: v.quant });
    } else if (n.op === 'GlobalAveragePool' || n.op === 'ReduceMean') {
      const axes = n.op === 'ReduceMean' ? (ints(n, 'axes') ?? (n.inputs[1] ? scalar(n.inputs[1]) : [])) : [2, 3];
      if (v.shape.length !== 3 || [...axes].sort().join() !== '2,3')
        throw refuse(model, `${n.op} ${n.name}: only the spatial mean`);
      const axesT = add({
        name: `${out}_axes`,
        shape: [2],
        type: TFL_TYPE.INT32,
        data: leBytes(Int32Array.from([1, 2])),
      });
      const q = v.quant ? quantOf.get(out) : undefined;
      const c = v.shape[0]!;
      let from = v.index;
      if (v.quant && !q) {
        // The QDQ model averages in float (no QuantizeLinear after it): so does the TFLite one.
        from = act(`${out}_float_in`, nhwc(v.shape), undefined);
        op('DEQUANTIZE', 2, [v.index], [from]);
      }
      const o = act(out, [1, c], q);
      op('MEAN', v8(q) ? 2 : 1, [from, axesT], [o], TFL_OPTIONS.ReducerOptions, [[0, 'bool', 0]], 1);
      values.set(out, { index: o, shape: [c], quant: q });
    } else if (n.op === 'Flatten' || n.op === 'Reshape') {
      if (n.op === 'Flatten' && int(n, 'axis', 1) !== 1) throw refuse(model, `Flatten ${n.name}: axis ≠ 1`);
      const size = v.shape.reduce((a, b) => a * b, 1);
      if (n.op === 'Reshape') {
        const target = scalar(n.inputs[1]);
        if (target.length !== 2 || (target[1] !== size && target[1] !== -1))
          throw refuse(model, `Reshape ${n.name}: only flattening to [N, K]`);
      }
      if (v.shape.length === 1 || v.shape.slice(1).every((d) => d === 1)) {
        if (v.shape.length === 1) values.set(out, v);
        else {
          const shapeT = add({
            name: `${out}_shape`,
            shape: [2],
            type: TFL_TYPE.INT32,
            data: leBytes(Int32Array.from([1, size])),
          });
          const o = act(out, [1, size], v.quant);
          op('RESHAPE', 1, [v.index, shapeT], [o], TFL_OPTIONS.ReshapeOptions, [[0, 'i32vec', [1, size]]], 1);
          values.set(out, { index: o, shape: [size], quant: v.quant });
        }
      } else {
        const shapeT = add({
          name: `${out}_shape`,
          shape: [2],
          type: TFL_TYPE.INT32,
          data: leBytes(Int32Array.from([1, size])),
        });
        const o = act(out, [1, size], v.quant);
        op('RESHAPE', 1, [v.index, shapeT], [o], TFL_OPTIONS.ReshapeOptions, [[0, 'i32vec', [1, size]]], 1);
        values.set(out, { index: o, shape: [size], quant: v.quant, flatFrom: v.shape });
      }
    } else if (n.op === 'Add') {
      const b = get(n.inputs[1]!, n);
      if (v.shape.join() !== b.shape.join())
        throw refuse(model, `Add ${n.name}: shapes ${v.shape} and ${b.shape} (broadcasting is not lowered)`);
      if (v8(v.quant) !== v8(b.quant)) throw refuse(model, `Add ${n.name}: one int8 and one float input`);
      const q = outQuant(n, v);
      const o = act(out, nhwc(v.shape), q);
      op('ADD', v8(q) ? 2 : 1, [v.index, b.index], [o], TFL_OPTIONS.AddOptions, [[0, 'u8', TFL_ACT.NONE]], 1);
      values.set(out, { index: o, shape: v.shape, quant: q, ...(v.flatFrom ? { flatFrom: v.flatFrom } : {}) });
    } else if (n.op === 'Gemm') {
      if (int(n, 'transA', 0) || v.shape.length !== 1)
        throw refuse(model, `Gemm ${n.name}: transA or a non-vector input`);
      const w = weight(n.inputs[1]!);
      const transB = int(n, 'transB', 0) === 1;
      const [r, cc] = w.dims as number[];
      const outDim = transB ? r! : cc!;
      const inDim = transB ? cc! : r!;
      const alpha = n.attrs.find((a) => a.name === 'alpha')?.f ?? 1;
      const beta = n.attrs.find((a) => a.name === 'beta')?.f ?? 1;
      if (alpha !== 1 || beta !== 1) throw refuse(model, `Gemm ${n.name}: alpha/beta ≠ 1`);
      const wOut = new Float64Array(outDim * inDim);
      const scaleOf = new Float64Array(outDim);
      for (let o = 0; o < outDim; o++) {
        scaleOf[o] = w.scales ? w.scales[w.scales.length > 1 ? o : 0]! : 1;
        for (let i = 0; i < inDim; i++) {
          // Columns of a flattened map are (c, h, w) in ONNX and (h, w, c) here.
          let col = i;
          if (v.flatFrom) {
            const [fc, fh, fw] = v.flatFrom as number[];
            const ci = i % fc!;
            const hw = Math.floor(i / fc!);
            col = ci * fh! * fw! + hw;
          }
          wOut[o * inDim + i] = w.values[transB ? o * inDim + col : col * outDim + o]!;
        }
      }
      const q = outQuant(n, v);
      const quantized = q !== undefined;
      if (quantized && !w.scales) throw refuse(model, `Gemm ${n.name}: int8 activations but a float weight`);
      const wi = quantized
        ? add({
            name: n.inputs[1]!,
            shape: [outDim, inDim],
            type: TFL_TYPE.INT8,
            data: leBytes(Int8Array.from(wOut)),
            quant: { scale: [...scaleOf], zeroPoint: [...scaleOf].map(() => 0), axis: 0 },
          })
        : add({
            name: n.inputs[1]!,
            shape: [outDim, inDim],
            type: TFL_TYPE.FLOAT32,
            data: leBytes(Float32Array.from(wOut, (x, k) => x * scaleOf[Math.floor(k / inDim)]!)),
          });
      const bias = n.inputs[2] ? weight(n.inputs[2]) : { values: new Float64Array(outDim) };
      const bf = Float64Array.from(
        { length: outDim },
        (_, o) =>
          bias.values[bias.values.length > 1 ? o : 0]! *
          ('scales' in bias && bias.scales ? bias.scales[bias.scales.length > 1 ? o : 0]! : 1),
      );
      const sx = v.quant?.scale[0] ?? 1;
      const bScales = [...scaleOf].map((s) => s * sx);
      const bi = quantized
        ? add({
            name: `${out}_bias`,
            shape: [outDim],
            type: TFL_TYPE.INT32,
            data: leBytes(Int32Array.from(bf, (x, o) => Math.round(x / bScales[o]!))),
            quant: { scale: bScales, zeroPoint: bScales.map(() => 0) },
          })
        : add({ name: `${out}_bias`, shape: [outDim], type: TFL_TYPE.FLOAT32, data: leBytes(Float32Array.from(bf)) });
      const o = act(out, [1, outDim], q);
      op(
        'FULLY_CONNECTED',
        quantized ? 4 : 1,
        [v.index, wi, bi],
        [o],
        TFL_OPTIONS.FullyConnectedOptions,
        [[0, 'u8', TFL_ACT.NONE]],
        3,
      );
      values.set(out, { index: o, shape: [outDim], quant: q });
    }
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
