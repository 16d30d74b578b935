// What the ONNX → TFLite op lowerings share: the lowered-value record, the context the graph walk hands them, ONNX attribute and constant readers.
import { EdgetuneError } from '../core/errors.js';
import { ELEM, tensorFloats, type OnnxNode, type OnnxTensor } from './onnx-proto.js';
import type { TflOpName, TflOptionField, TflQuant, TflTensor } from './tflite-write.js';

/** An ONNX activation once lowered: its TFLite tensor and its per-sample ONNX shape. */
export interface Value {
  readonly index: number;
  /** ONNX shape without batch: [C, H, W] or [K]. */
  readonly shape: readonly number[];
  readonly quant: TflQuant | undefined;
  /** A Flatten of a C×H×W map with H·W > 1: the map, so a following Gemm permutes its columns. */
  readonly flatFrom?: readonly number[];
}

/** A constant weight: float values, or int8 values with their per-channel scales (dequantized ONNX constants). */
export interface Weight {
  readonly values: Float64Array;
  readonly dims: readonly number[];
  readonly scales?: readonly number[];
  readonly axis?: number;
}

/** What the graph walk gives each op lowering. */
export interface LowerContext {
  /** The error to throw: what is wrong, and the op-by-op list of what the converter does not lower. */
  refuse(why: string): EdgetuneError;
  /** Adds a tensor, returning its index. */
  add(t: TflTensor): number;
  /** Adds an activation tensor: int8 with `quant`, float32 without. */
  act(name: string, shape: number[], quant: TflQuant | undefined): number;
  /** Appends an operator. */
  op(
    o: TflOpName,
    version: number,
    inputs: number[],
    outputs: number[],
    optionsType?: number,
    options?: TflOptionField[],
    optionsSlots?: number,
  ): void;
  /** The lowered value of an ONNX tensor (through Q → DQ pairs); refuses constants and unknown names. */
  get(name: string, n: OnnxNode): Value;
  /** The ops (other than Q/DQ) that read an ONNX tensor, directly or through its Q → DQ pair. */
  consumers(name: string): readonly OnnxNode[];
  /** The quantization the model gives an ONNX tensor (its QuantizeLinear), if any. */
  quantOf(name: string): TflQuant | undefined;
  /** `v` as float32: itself, or a DEQUANTIZE of it (written once per tensor). */
  dequantized(v: Value): Value;
  /** `v` as int8 with `q`: itself when it already is, a QUANTIZE of it otherwise. */
  quantized(v: Value, q: TflQuant): Value;
  /**
   * Records the lowered value of ONNX tensor `name`. A float value the QDQ model quantizes (a
   * QuantizeLinear reads it, and every consumer sees its dequantized copy) is quantized here too,
   * so consumers see the same rounded values as onnxruntime's.
   */
  finish(name: string, v: Value): void;
  /** A constant weight by name. */
  weight(name: string): Weight;
  /** The values of a constant (shapes, axes, quantization parameters). */
  scalar(name: string | undefined): number[];
  /** Whether the model is a static int8 QDQ model. */
  readonly int8: boolean;
}

/** One op's lowering. */
export type Lowering = (n: OnnxNode, cx: LowerContext) => void;

/** The values of a constant tensor as doubles (float, int8, uint8, int32, int64; raw or typed fields). */
export function numbers(t: OnnxTensor): Float64Array {
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

/** An ints attribute, or `undefined`. */
export const ints = (n: OnnxNode, name: string): number[] | undefined =>
  n.attrs.find((a) => a.name === name)?.ints?.map(Number);

/** An int attribute, or `dflt`. */
export const int = (n: OnnxNode, name: string, dflt: number): number => {
  const a = n.attrs.find((x) => x.name === name);
  return a?.i !== undefined ? Number(a.i) : dflt;
};

/** A float attribute, or `dflt`. */
export const float = (n: OnnxNode, name: string, dflt: number): number =>
  n.attrs.find((a) => a.name === name)?.f ?? dflt;

/** TFLite's SAME padding (before, after) of one spatial axis. */
export function samePads(size: number, k: number, s: number, d: number): [number, number] {
  const out = Math.ceil(size / s);
  const total = Math.max((out - 1) * s + (k - 1) * d + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

/** An ONNX per-sample shape ([C, H, W] or [K]) as a TFLite NHWC shape with batch 1. */
export const nhwc = (s: readonly number[]): number[] => (s.length === 3 ? [1, s[1]!, s[2]!, s[0]!] : [1, ...s]);
