// Serialises an in-memory TFLite graph (tensors, constant buffers, builtin ops) to a .tflite flatbuffer (schema.fbs, identifier "TFL3").
import { Builder } from 'flatbuffers';

/** TensorType values (tensorflow/lite/schema/schema.fbs). */
export const TFL_TYPE = { FLOAT32: 0, INT32: 2, INT8: 9 } as const;

/** BuiltinOperator values of the ops the converter writes. */
export const TFL_OP = {
  ADD: 0,
  AVERAGE_POOL_2D: 1,
  CONV_2D: 3,
  DEPTHWISE_CONV_2D: 4,
  DEQUANTIZE: 6,
  FULLY_CONNECTED: 9,
  LOGISTIC: 14,
  MAX_POOL_2D: 17,
  MUL: 18,
  RELU: 19,
  RELU6: 21,
  RESHAPE: 22,
  PAD: 34,
  MEAN: 40,
  QUANTIZE: 114,
  HARD_SWISH: 117,
  /** Not written by the converter: tests densify sparse constants with it. */
  DENSIFY: 124,
} as const;

/** A builtin's name. */
export type TflOpName = keyof typeof TFL_OP;

/** BuiltinOptions union ids. */
export const TFL_OPTIONS = {
  Conv2DOptions: 1,
  DepthwiseConv2DOptions: 2,
  Pool2DOptions: 5,
  FullyConnectedOptions: 8,
  AddOptions: 11,
  ReshapeOptions: 17,
  MulOptions: 21,
  PadOptions: 22,
  ReducerOptions: 27,
} as const;

/** ActivationFunctionType values. */
export const TFL_ACT = { NONE: 0, RELU: 1, RELU6: 3 } as const;

/** Padding values. */
export const TFL_PAD = { SAME: 0, VALID: 1 } as const;

/** Affine quantization: real = scale · (q − zeroPoint), per `axis` when there are several scales. */
export interface TflQuant {
  readonly scale: readonly number[];
  readonly zeroPoint: readonly number[];
  readonly axis?: number;
}

/** One level of a sparse tensor: dense with its size, or CSR with segments and indices (stored as int32, uint16 or uint8). */
export type TflSparseLevel =
  | { readonly format: 'DENSE'; readonly size: number }
  | {
      readonly format: 'SPARSE_CSR';
      readonly segments: readonly number[];
      readonly indices: readonly number[];
      readonly indexType?: 'int32' | 'uint16' | 'uint8';
    };

/** A constant stored sparse (schema `SparsityParameters`): `data` then holds only the kept values, in traversal order. */
export interface TflSparsity {
  readonly traversalOrder: readonly number[];
  readonly blockMap?: readonly number[];
  /** One per traversal level (the tensor's dimensions, then its block dimensions). */
  readonly levels: readonly TflSparseLevel[];
}

/** One tensor: an activation (no data) or a constant. */
export interface TflTensor {
  name: string;
  readonly shape: readonly number[];
  readonly type: number;
  readonly data?: Uint8Array;
  readonly quant?: TflQuant;
  /** Written as the tensor's `sparsity` (the CLI's converter writes dense tensors; tests write sparse ones). */
  readonly sparsity?: TflSparsity;
}

/** One options field: its slot in the options table, kind and value. */
export type TflOptionField = readonly [
  slot: number,
  kind: 'i32' | 'u8' | 'bool' | 'i32vec',
  value: number | readonly number[],
];

/** One operator. */
export interface TflOperator {
  readonly op: TflOpName;
  readonly version: number;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
  readonly optionsType?: number;
  /** Options fields; the options table has `optionsSlots` slots. */
  readonly options?: readonly TflOptionField[];
  readonly optionsSlots?: number;
}

/** A one-subgraph TFLite model being built. */
export interface TflGraph {
  readonly tensors: TflTensor[];
  readonly operators: TflOperator[];
  inputs: number[];
  outputs: number[];
}

/** Little-endian bytes of a typed array (a copy). */
export function leBytes(a: Float32Array | Int32Array | Int8Array): Uint8Array {
  return new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
}

/**
 * Writes `g` as a .tflite file: schema version 3, buffer 0 the empty sentinel, one buffer per
 * constant (16-byte aligned so kernels can read weights in place), operator codes in first-use order.
 *
 * @param g - the graph
 * @param description - the model's description string
 */
export function serializeTflite(g: TflGraph, description: string): Uint8Array {
  const b = new Builder(1 << 16);
  const intVec = (xs: readonly number[]): number => {
    b.startVector(4, xs.length, 4);
    for (let k = xs.length - 1; k >= 0; k--) b.addInt32(xs[k]!);
    return b.endVector();
  };
  const offVec = (xs: readonly number[]): number => {
    b.startVector(4, xs.length, 4);
    for (let k = xs.length - 1; k >= 0; k--) b.addOffset(xs[k]!);
    return b.endVector();
  };
  const codes: string[] = [];
  for (const o of g.operators) if (!codes.includes(`${o.op}/${o.version}`)) codes.push(`${o.op}/${o.version}`);

  // Buffers (Model slot 4).
  const bufferOf: number[] = [];
  const payloads: (Uint8Array | undefined)[] = [undefined];
  for (const t of g.tensors) {
    bufferOf.push(t.data ? payloads.length : 0);
    if (t.data) payloads.push(t.data);
  }
  const bufferTables = payloads.map((data) => {
    let d = 0;
    if (data && data.length > 0) {
      b.startVector(1, data.length, 16);
      for (let k = data.length - 1; k >= 0; k--) b.addInt8((data[k]! << 24) >> 24);
      d = b.endVector();
    }
    b.startObject(1);
    if (d) b.addFieldOffset(0, d, 0);
    return b.endObject();
  });

  // Tensors: shape 0, type 1, buffer 2, name 3, quantization 4.
  const tensorTables = g.tensors.map((t, k) => {
    const name = b.createString(t.name);
    const shape = intVec(t.shape);
    let q = 0;
    if (t.quant) {
      b.startVector(4, t.quant.scale.length, 4);
      for (let i = t.quant.scale.length - 1; i >= 0; i--) b.addFloat32(t.quant.scale[i]!);
      const scale = b.endVector();
      b.startVector(8, t.quant.zeroPoint.length, 8);
      for (let i = t.quant.zeroPoint.length - 1; i >= 0; i--) b.addInt64(BigInt(t.quant.zeroPoint[i]!));
      const zp = b.endVector();
      // QuantizationParameters: min 0, max 1, scale 2, zero_point 3, details_type 4, details 5, quantized_dimension 6.
      b.startObject(7);
      b.addFieldOffset(2, scale, 0);
      b.addFieldOffset(3, zp, 0);
      b.addFieldInt32(6, t.quant.axis ?? 0, 0);
      q = b.endObject();
    }
    const sparsity = t.sparsity ? sparsityTable(b, t.sparsity, intVec, offVec) : 0;
    // Tensor slots: quantization 4, is_variable 5, sparsity 6.
    b.startObject(sparsity ? 7 : 5);
    b.addFieldOffset(0, shape, 0);
    b.addFieldInt8(1, t.type, 0);
    b.addFieldInt32(2, bufferOf[k]!, 0);
    b.addFieldOffset(3, name, 0);
    if (q) b.addFieldOffset(4, q, 0);
    if (sparsity) b.addFieldOffset(6, sparsity, 0);
    return b.endObject();
  });

  // Operators: opcode_index 0, inputs 1, outputs 2, builtin_options_type 3, builtin_options 4.
  const opTables = g.operators.map((o) => {
    const ins = intVec(o.inputs);
    const outs = intVec(o.outputs);
    let opts = 0;
    if (o.optionsType) {
      const vecs = new Map<number, number>();
      for (const [slot, kind, value] of o.options ?? [])
        if (kind === 'i32vec') vecs.set(slot, intVec(value as readonly number[]));
      b.startObject(o.optionsSlots ?? 0);
      for (const [slot, kind, value] of o.options ?? []) {
        if (kind === 'i32') b.addFieldInt32(slot, value as number, 0);
        else if (kind === 'u8') b.addFieldInt8(slot, value as number, 0);
        else if (kind === 'bool') b.addFieldInt8(slot, value ? 1 : 0, 0);
        else b.addFieldOffset(slot, vecs.get(slot)!, 0);
      }
      opts = b.endObject();
    }
    b.startObject(5);
    b.addFieldInt32(0, codes.indexOf(`${o.op}/${o.version}`), 0);
    b.addFieldOffset(1, ins, 0);
    b.addFieldOffset(2, outs, 0);
    if (opts) {
      b.addFieldInt8(3, o.optionsType!, 0);
      b.addFieldOffset(4, opts, 0);
    }
    return b.endObject();
  });

  // SubGraph: tensors 0, inputs 1, outputs 2, operators 3, name 4.
  const tensorsVec = offVec(tensorTables);
  const inputsVec = intVec(g.inputs);
  const outputsVec = intVec(g.outputs);
  const opsVec = offVec(opTables);
  const sgName = b.createString('main');
  b.startObject(5);
  b.addFieldOffset(0, tensorsVec, 0);
  b.addFieldOffset(1, inputsVec, 0);
  b.addFieldOffset(2, outputsVec, 0);
  b.addFieldOffset(3, opsVec, 0);
  b.addFieldOffset(4, sgName, 0);
  const subgraph = b.endObject();

  // OperatorCode: deprecated_builtin_code 0 (byte), custom_code 1, version 2, builtin_code 3; all written.
  const codeTables = codes.map((key) => {
    const [name, version] = key.split('/') as [TflOpName, string];
    b.startObject(4);
    b.addFieldInt8(0, TFL_OP[name], null);
    b.addFieldInt32(2, Number(version), null);
    b.addFieldInt32(3, TFL_OP[name], null);
    return b.endObject();
  });

  // Model: version 0, operator_codes 1, subgraphs 2, description 3, buffers 4.
  const codesVec = offVec(codeTables);
  const subgraphsVec = offVec([subgraph]);
  const desc = b.createString(description);
  const buffersVec = offVec(bufferTables);
  b.startObject(5);
  b.addFieldInt32(0, 3, null);
  b.addFieldOffset(1, codesVec, 0);
  b.addFieldOffset(2, subgraphsVec, 0);
  b.addFieldOffset(3, desc, 0);
  b.addFieldOffset(4, buffersVec, 0);
  b.finish(b.endObject(), 'TFL3');
  return b.asUint8Array().slice();
}

/** SparsityParameters { traversal_order 0, block_map 1, dim_metadata 2 } with its DimensionMetadata tables. */
function sparsityTable(
  b: Builder,
  sp: TflSparsity,
  intVec: (xs: readonly number[]) => number,
  offVec: (xs: readonly number[]) => number,
): number {
  // SparseIndexVector union: Int32Vector 1, Uint16Vector 2, Uint8Vector 3, each { values 0 }.
  const indexTable = (xs: readonly number[], type: 'int32' | 'uint16' | 'uint8'): [number, number] => {
    const size = type === 'int32' ? 4 : type === 'uint16' ? 2 : 1;
    b.startVector(size, xs.length, 4);
    for (let k = xs.length - 1; k >= 0; k--)
      if (size === 4) b.addInt32(xs[k]!);
      else if (size === 2) b.addInt16(xs[k]!);
      else b.addInt8(xs[k]!);
    const values = b.endVector();
    b.startObject(1);
    b.addFieldOffset(0, values, 0);
    return [size === 4 ? 1 : size === 2 ? 2 : 3, b.endObject()];
  };
  const dims = sp.levels.map((l) => {
    if (l.format === 'DENSE') {
      b.startObject(2);
      b.addFieldInt8(0, 0, null);
      b.addFieldInt32(1, l.size, null);
      return b.endObject();
    }
    const [st, seg] = indexTable(l.segments, l.indexType ?? 'int32');
    const [it, idx] = indexTable(l.indices, l.indexType ?? 'int32');
    // DimensionMetadata: format 0, dense_size 1, array_segments_type 2, array_segments 3, array_indices_type 4, array_indices 5.
    b.startObject(6);
    b.addFieldInt8(0, 1, null);
    b.addFieldInt8(2, st, 0);
    b.addFieldOffset(3, seg, 0);
    b.addFieldInt8(4, it, 0);
    b.addFieldOffset(5, idx, 0);
    return b.endObject();
  });
  const order = intVec(sp.traversalOrder);
  const blockMap = sp.blockMap?.length ? intVec(sp.blockMap) : 0;
  const dimsVec = offVec(dims);
  b.startObject(3);
  b.addFieldOffset(0, order, 0);
  if (blockMap) b.addFieldOffset(1, blockMap, 0);
  b.addFieldOffset(2, dimsVec, 0);
  return b.endObject();
}
