// The ONNX → TFLite op lowering table: one function per ONNX op, writing NHWC builtins — int8 where the QDQ model quantizes both sides of the op, float32 (DEQUANTIZE … QUANTIZE around it) where onnxruntime runs it in float.
import type { OnnxNode } from './onnx-proto.js';
import { float, int, ints, nhwc, samePads, type LowerContext, type Lowering, type Value } from './tflite-graph.js';
import { leBytes, TFL_ACT, TFL_OPTIONS, TFL_PAD, TFL_TYPE, type TflOptionField } from './tflite-write.js';

const v8 = (v: { quant: unknown }): boolean => v.quant !== undefined;

/**
 * One int32 bias value at scale `target` (input scale × weight scale): an int32 bias the QDQ model
 * already holds at that scale is taken as it is; one at another scale (its input's quantization
 * changed) and a float bias are rounded to it.
 */
function int32Bias(x: number, scales: readonly number[] | undefined, o: number, target: number): number {
  if (!scales) return Math.round(x / target);
  const s = scales[scales.length > 1 ? o : 0]!;
  return Math.abs(s - target) <= 1e-6 * target ? x : Math.round((x * s) / target);
}

function lowerConv(n: OnnxNode, cx: LowerContext): void {
  const out = n.outputs[0]!;
  const w = cx.weight(n.inputs[1]!);
  // int8 when the QDQ model quantizes input, weight and output; otherwise float (a layer kept in float).
  const qIn = cx.quantOf(n.inputs[0]!);
  const q = w.scales && qIn ? cx.quantOf(out) : undefined;
  const v0 = cx.get(n.inputs[0]!, n);
  let v = q && qIn ? cx.quantized(v0, qIn) : cx.dequantized(v0);
  const [oc, icg, kh, kw] = w.dims as number[];
  const group = int(n, 'group', 1);
  const [c, h, wd] = v.shape as number[];
  const depthwise = group > 1 && group === c && icg === 1;
  if (group > 1 && !depthwise) throw cx.refuse(`Conv ${n.name}: group ${group} is neither 1 nor the channel count`);
  if (w.dims.length !== 4) throw cx.refuse(`Conv ${n.name}: only 2-D convolutions`);
  const [sh, sw] = ints(n, 'strides') ?? [1, 1];
  const [dh, dw] = ints(n, 'dilations') ?? [1, 1];
  const autoPad = n.attrs.find((a) => a.name === 'auto_pad');
  if (autoPad && !new TextDecoder().decode(autoPad.raw).includes('NOTSET'))
    throw cx.refuse(`Conv ${n.name}: auto_pad; export with explicit pads`);
  const [pt, pl, pb, pr] = ints(n, 'pads') ?? [0, 0, 0, 0];
  let padding: number = TFL_PAD.VALID;
  let [ph, pw] = [h!, wd!];
  if (pt || pl || pb || pr) {
    const [st, sb] = samePads(h!, kh!, sh!, dh!);
    const [sl, sr] = samePads(wd!, kw!, sw!, dw!);
    if (st === pt && sb === pb && sl === pl && sr === pr) padding = TFL_PAD.SAME;
    else {
      const padsT = cx.add({
        name: `${out}_pads`,
        shape: [4, 2],
        type: TFL_TYPE.INT32,
        data: leBytes(Int32Array.from([0, 0, pt!, pb!, pl!, pr!, 0, 0])),
      });
      ph = h! + pt! + pb!;
      pw = wd! + pl! + pr!;
      const padded = cx.act(`${out}_padded`, [1, ph, pw, c!], v.quant);
      cx.op('PAD', v8(v) ? 2 : 1, [v.index, padsT], [padded], TFL_OPTIONS.PadOptions, [], 0);
      v = { index: padded, shape: [c!, ph, pw], quant: v.quant };
    }
  }
  const oh = padding === TFL_PAD.SAME ? Math.ceil(h! / sh!) : Math.floor((ph - dh! * (kh! - 1) - 1) / sh!) + 1;
  const ow = padding === TFL_PAD.SAME ? Math.ceil(wd! / sw!) : Math.floor((pw - dw! * (kw! - 1) - 1) / sw!) + 1;
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
  const bias = bName ? cx.weight(bName) : { values: new Float64Array(oc!) };
  const quantized = q !== undefined;
  const wi = quantized
    ? cx.add({
        name: n.inputs[1]!,
        shape: wShape,
        type: TFL_TYPE.INT8,
        data: leBytes(Int8Array.from(wOut)),
        quant: { scale: w.scales!, zeroPoint: w.scales!.map(() => 0), axis },
      })
    : cx.add({
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
  const bScales = w.scales ? Array.from({ length: oc! }, (_, o) => sx * w.scales![w.scales!.length > 1 ? o : 0]!) : [];
  const bi = quantized
    ? cx.add({
        name: `${out}_bias`,
        shape: [oc!],
        type: TFL_TYPE.INT32,
        data: leBytes(
          Int32Array.from(bias.values, (x, o) =>
            int32Bias(x, 'scales' in bias ? bias.scales : undefined, o, bScales[o]!),
          ),
        ),
        quant: { scale: bScales, zeroPoint: bScales.map(() => 0) },
      })
    : cx.add({
        name: `${out}_bias`,
        shape: [oc!],
        type: TFL_TYPE.FLOAT32,
        data: leBytes(
          Float32Array.from(bias.values, (x, o) =>
            'scales' in bias && bias.scales ? x * bias.scales[bias.scales.length > 1 ? o : 0]! : x,
          ),
        ),
      });
  const o = cx.act(out, [1, oh, ow, oc!], q);
  const common: TflOptionField[] = [
    [0, 'u8', padding],
    [1, 'i32', sw!],
    [2, 'i32', sh!],
  ];
  if (depthwise)
    cx.op(
      'DEPTHWISE_CONV_2D',
      quantized ? 3 : dh !== 1 || dw !== 1 ? 2 : 1,
      [v.index, wi, bi],
      [o],
      TFL_OPTIONS.DepthwiseConv2DOptions,
      [...common, [3, 'i32', oc! / c!], [4, 'u8', TFL_ACT.NONE], [5, 'i32', dw!], [6, 'i32', dh!]],
      7,
    );
  else
    cx.op(
      'CONV_2D',
      quantized ? 3 : 1,
      [v.index, wi, bi],
      [o],
      TFL_OPTIONS.Conv2DOptions,
      [...common, [3, 'u8', TFL_ACT.NONE], [4, 'i32', dw!], [5, 'i32', dh!]],
      6,
    );
  cx.finish(out, { index: o, shape: [oc!, oh, ow], quant: q });
}

function lowerRelu(n: OnnxNode, cx: LowerContext): void {
  const v = cx.get(n.inputs[0]!, n);
  const out = n.outputs[0]!;
  // int8 RELU (requantizing to the output's scale when the model gives it one) or float.
  const q = v.quant ? (cx.quantOf(out) ?? v.quant) : undefined;
  const o = cx.act(out, nhwc(v.shape), q);
  cx.op('RELU', q ? 2 : 1, [v.index], [o]);
  cx.finish(out, { ...v, index: o, quant: q });
}

function lowerPool(n: OnnxNode, cx: LowerContext): void {
  const v = cx.get(n.inputs[0]!, n);
  const out = n.outputs[0]!;
  const [kh, kw] = ints(n, 'kernel_shape') ?? [1, 1];
  const [sh, sw] = ints(n, 'strides') ?? [1, 1];
  const [c, h, wd] = v.shape as number[];
  const pads = ints(n, 'pads') ?? [0, 0, 0, 0];
  if (int(n, 'ceil_mode', 0) || pads.some((p) => p !== 0)) throw cx.refuse(`${n.op} ${n.name}: padding or ceil_mode`);
  const oh = Math.floor((h! - kh!) / sh!) + 1;
  const ow = Math.floor((wd! - kw!) / sw!) + 1;
  // TFLite's int8 pooling keeps the input's scale and zero point.
  const o = cx.act(out, [1, oh, ow, c!], v.quant);
  cx.op(
    n.op === 'MaxPool' ? 'MAX_POOL_2D' : 'AVERAGE_POOL_2D',
    v8(v) ? 2 : 1,
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
  cx.finish(out, { index: o, shape: [c!, oh, ow], quant: v.quant });
}

function lowerMean(n: OnnxNode, cx: LowerContext): void {
  const v = cx.get(n.inputs[0]!, n);
  const out = n.outputs[0]!;
  const axes = n.op === 'ReduceMean' ? (ints(n, 'axes') ?? (n.inputs[1] ? cx.scalar(n.inputs[1]) : [])) : [2, 3];
  if (v.shape.length !== 3 || [...axes].sort().join() !== '2,3')
    throw cx.refuse(`${n.op} ${n.name}: only the spatial mean`);
  // ONNX keeps the reduced axes (GlobalAveragePool always, ReduceMean by default): [C, 1, 1] for a
  // following Conv or Mul (squeeze-excitation); dropped when only Flatten/Reshape read the mean.
  const consumers = cx.consumers(out);
  const keep =
    (n.op === 'GlobalAveragePool' || int(n, 'keepdims', 1) === 1) &&
    !(consumers.length > 0 && consumers.every((c) => c.op === 'Flatten' || c.op === 'Reshape'));
  const axesT = cx.add({
    name: `${out}_axes`,
    shape: [2],
    type: TFL_TYPE.INT32,
    data: leBytes(Int32Array.from([1, 2])),
  });
  // The QDQ model averages in float unless both sides are quantized: so does the TFLite one.
  const q = v.quant ? cx.quantOf(out) : undefined;
  const from = q ? v : cx.dequantized(v);
  const c = v.shape[0]!;
  const o = cx.act(out, keep ? [1, 1, 1, c] : [1, c], q);
  cx.op('MEAN', q ? 2 : 1, [from.index, axesT], [o], TFL_OPTIONS.ReducerOptions, [[0, 'bool', keep ? 1 : 0]], 1);
  cx.finish(out, { index: o, shape: keep ? [c, 1, 1] : [c], quant: q });
}

/** A RESHAPE of `v` to [1, size]. */
function reshapeToVector(cx: LowerContext, v: Value, out: string, size: number): number {
  const shapeT = cx.add({
    name: `${out}_shape`,
    shape: [2],
    type: TFL_TYPE.INT32,
    data: leBytes(Int32Array.from([1, size])),
  });
  const o = cx.act(out, [1, size], v.quant);
  cx.op('RESHAPE', 1, [v.index, shapeT], [o], TFL_OPTIONS.ReshapeOptions, [[0, 'i32vec', [1, size]]], 1);
  return o;
}

function lowerFlatten(n: OnnxNode, cx: LowerContext): void {
  const v = cx.get(n.inputs[0]!, n);
  const out = n.outputs[0]!;
  if (n.op === 'Flatten' && int(n, 'axis', 1) !== 1) throw cx.refuse(`Flatten ${n.name}: axis ≠ 1`);
  const size = v.shape.reduce((a, b) => a * b, 1);
  if (n.op === 'Reshape') {
    const target = cx.scalar(n.inputs[1]);
    if (target.length !== 2 || (target[1] !== size && target[1] !== -1))
      throw cx.refuse(`Reshape ${n.name}: only flattening to [N, K]`);
  }
  if (v.shape.length === 1) cx.finish(out, v);
  else {
    const o = reshapeToVector(cx, v, out, size);
    // A map with H·W > 1 flattens (h, w, c) here and (c, h, w) in ONNX: a following Gemm permutes its columns.
    const spatial = !v.shape.slice(1).every((d) => d === 1);
    cx.finish(out, { index: o, shape: [size], quant: v.quant, ...(spatial ? { flatFrom: v.shape } : {}) });
  }
}

/** The broadcast of two per-sample ONNX shapes of one rank, or `undefined`. */
function broadcast(a: readonly number[], b: readonly number[]): number[] | undefined {
  if (a.length !== b.length) return undefined;
  const out: number[] = [];
  for (let k = 0; k < a.length; k++) {
    if (a[k] !== b[k] && a[k] !== 1 && b[k] !== 1) return undefined;
    out.push(Math.max(a[k]!, b[k]!));
  }
  return out;
}

/** Add and Mul of two activations, with ONNX broadcasting ([C, H, W] × [C, 1, 1] for squeeze-excitation). */
function lowerBinary(n: OnnxNode, cx: LowerContext): void {
  const out = n.outputs[0]!;
  const a = cx.get(n.inputs[0]!, n);
  const b = cx.get(n.inputs[1]!, n);
  const shape = broadcast(a.shape, b.shape);
  if (!shape) throw cx.refuse(`${n.op} ${n.name}: shapes [${a.shape}] and [${b.shape}] do not broadcast`);
  const same = a.shape.join() === b.shape.join();
  const q = a.quant && b.quant ? cx.quantOf(out) : undefined;
  const [x, y] = q ? [a, b] : [cx.dequantized(a), cx.dequantized(b)];
  const o = cx.act(out, nhwc(shape), q);
  const options: TflOptionField[] = [[0, 'u8', TFL_ACT.NONE]];
  if (n.op === 'Add') cx.op('ADD', q ? 2 : 1, [x.index, y.index], [o], TFL_OPTIONS.AddOptions, options, 1);
  else {
    // int8 MUL v3 is the kernel for a real multiplier sa·sb/so ≥ 1 (TFLite's op versioning).
    const ratio = q ? (a.quant!.scale[0]! * b.quant!.scale[0]!) / q.scale[0]! : 0;
    cx.op('MUL', q ? (ratio >= 1 ? 3 : 2) : 1, [x.index, y.index], [o], TFL_OPTIONS.MulOptions, options, 1);
  }
  cx.finish(out, { index: o, shape, quant: q, ...(same && a.flatFrom ? { flatFrom: a.flatFrom } : {}) });
}

function lowerHardSwish(n: OnnxNode, cx: LowerContext): void {
  const v = cx.get(n.inputs[0]!, n);
  const out = n.outputs[0]!;
  // int8 HARD_SWISH (v1 serves int8 too) when the model quantizes both sides, float otherwise.
  const q = v.quant ? cx.quantOf(out) : undefined;
  const x = q ? v : cx.dequantized(v);
  const o = cx.act(out, nhwc(v.shape), q);
  cx.op('HARD_SWISH', 1, [x.index], [o]);
  cx.finish(out, { ...v, index: o, quant: q });
}

/** A float32 constant of one value, broadcast against any activation. */
function floatScalar(cx: LowerContext, name: string, value: number): number {
  return cx.add({ name, shape: [1], type: TFL_TYPE.FLOAT32, data: leBytes(Float32Array.of(value)) });
}

/**
 * HardSigmoid has no TFLite builtin: max(0, min(1, α·x + β)) = RELU6(6α·x + 6β) / 6, written as
 * MUL (skipped when 6α = 1, PyTorch's α = 1/6), ADD with a fused RELU6, MUL by 1/6, in float.
 * ONNX's defaults are α = 0.2, β = 0.5 (PyTorch's export writes α = 1/6 and leaves β at 0.5).
 */
function lowerHardSigmoid(n: OnnxNode, cx: LowerContext): void {
  const v = cx.dequantized(cx.get(n.inputs[0]!, n));
  const out = n.outputs[0]!;
  const alpha = float(n, 'alpha', 0.2);
  const beta = float(n, 'beta', 0.5);
  const shape = nhwc(v.shape);
  const none: TflOptionField[] = [[0, 'u8', TFL_ACT.NONE]];
  let x = v.index;
  if (Math.abs(6 * alpha - 1) > 1e-6) {
    const t = cx.act(`${out}_scaled`, shape, undefined);
    cx.op('MUL', 1, [x, floatScalar(cx, `${out}_6alpha`, 6 * alpha)], [t], TFL_OPTIONS.MulOptions, none, 1);
    x = t;
  }
  const clipped = cx.act(`${out}_relu6`, shape, undefined);
  cx.op(
    'ADD',
    1,
    [x, floatScalar(cx, `${out}_6beta`, 6 * beta)],
    [clipped],
    TFL_OPTIONS.AddOptions,
    [[0, 'u8', TFL_ACT.RELU6]],
    1,
  );
  const o = cx.act(out, shape, undefined);
  cx.op('MUL', 1, [clipped, floatScalar(cx, `${out}_sixth`, 1 / 6)], [o], TFL_OPTIONS.MulOptions, none, 1);
  cx.finish(out, { index: o, shape: v.shape, quant: undefined });
}

function lowerGemm(n: OnnxNode, cx: LowerContext): void {
  const out = n.outputs[0]!;
  const w = cx.weight(n.inputs[1]!);
  const qIn = cx.quantOf(n.inputs[0]!);
  const q = w.scales && qIn ? cx.quantOf(out) : undefined;
  const v0 = cx.get(n.inputs[0]!, n);
  const v = q && qIn ? cx.quantized(v0, qIn) : cx.dequantized(v0);
  if (int(n, 'transA', 0) || v.shape.length !== 1) throw cx.refuse(`Gemm ${n.name}: transA or a non-vector input`);
  const transB = int(n, 'transB', 0) === 1;
  const [r, cc] = w.dims as number[];
  const outDim = transB ? r! : cc!;
  const inDim = transB ? cc! : r!;
  const alpha = n.attrs.find((a) => a.name === 'alpha')?.f ?? 1;
  const beta = n.attrs.find((a) => a.name === 'beta')?.f ?? 1;
  if (alpha !== 1 || beta !== 1) throw cx.refuse(`Gemm ${n.name}: alpha/beta ≠ 1`);
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
  const quantized = q !== undefined;
  const wi = quantized
    ? cx.add({
        name: n.inputs[1]!,
        shape: [outDim, inDim],
        type: TFL_TYPE.INT8,
        data: leBytes(Int8Array.from(wOut)),
        quant: { scale: [...scaleOf], zeroPoint: [...scaleOf].map(() => 0), axis: 0 },
      })
    : cx.add({
        name: n.inputs[1]!,
        shape: [outDim, inDim],
        type: TFL_TYPE.FLOAT32,
        data: leBytes(Float32Array.from(wOut, (x, k) => x * scaleOf[Math.floor(k / inDim)]!)),
      });
  const bias = n.inputs[2] ? cx.weight(n.inputs[2]) : { values: new Float64Array(outDim) };
  const bf = Float64Array.from(
    { length: outDim },
    (_, o) =>
      bias.values[bias.values.length > 1 ? o : 0]! *
      ('scales' in bias && bias.scales ? bias.scales[bias.scales.length > 1 ? o : 0]! : 1),
  );
  const sx = v.quant?.scale[0] ?? 1;
  const bScales = [...scaleOf].map((s) => s * sx);
  const bi = quantized
    ? cx.add({
        name: `${out}_bias`,
        shape: [outDim],
        type: TFL_TYPE.INT32,
        data: leBytes(Int32Array.from(bf, (x, o) => Math.round(x / bScales[o]!))),
        quant: { scale: bScales, zeroPoint: bScales.map(() => 0) },
      })
    : cx.add({ name: `${out}_bias`, shape: [outDim], type: TFL_TYPE.FLOAT32, data: leBytes(Float32Array.from(bf)) });
  const o = cx.act(out, [1, outDim], q);
  cx.op(
    'FULLY_CONNECTED',
    quantized ? 4 : 1,
    [v.index, wi, bi],
    [o],
    TFL_OPTIONS.FullyConnectedOptions,
    [[0, 'u8', TFL_ACT.NONE]],
    3,
  );
  cx.finish(out, { index: o, shape: [outDim], quant: q });
}

/** The ONNX ops the converter lowers (besides QuantizeLinear/DequantizeLinear, which the graph walk folds into int8 tensors). */
export const LOWERINGS: Readonly<Record<string, Lowering>> = Object.freeze({
  Conv: lowerConv,
  Relu: lowerRelu,
  MaxPool: lowerPool,
  AveragePool: lowerPool,
  GlobalAveragePool: lowerMean,
  ReduceMean: lowerMean,
  Flatten: lowerFlatten,
  Reshape: lowerFlatten,
  Gemm: lowerGemm,
  Add: lowerBinary,
  Mul: lowerBinary,
  HardSwish: lowerHardSwish,
  HardSigmoid: lowerHardSigmoid,
  Identity: (n: OnnxNode, cx: LowerContext) => cx.finish(n.outputs[0]!, cx.get(n.inputs[0]!, n)),
});
