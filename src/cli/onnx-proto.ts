// A small ONNX protobuf reader/writer: decodes the fields the CLI needs, keeps every other field's bytes verbatim.
import { EdgetuneError } from '../core/errors.js';

/** One protobuf field: varints as bigint, length-delimited and fixed fields as a view on the source bytes. */
export interface PbField {
  readonly n: number;
  readonly wire: 0 | 1 | 2 | 5;
  readonly value: bigint | Uint8Array;
}

function corrupt(why: string): EdgetuneError {
  return new EdgetuneError(
    'MODEL_CORRUPT',
    `Not a valid ONNX model: ${why}. Check that the file is an .onnx export and not truncated.`,
  );
}

/**
 * Splits a protobuf message into its fields without copying payloads.
 *
 * @param buf - message bytes
 * @throws EdgetuneError `MODEL_CORRUPT` on a truncated or malformed message
 */
export function decodeFields(buf: Uint8Array): PbField[] {
  const out: PbField[] = [];
  let p = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      if (p >= buf.length) throw corrupt('truncated varint');
      const b = buf[p++]!;
      v |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return v;
      shift += 7n;
      if (shift > 70n) throw corrupt('varint too long');
    }
  };
  while (p < buf.length) {
    const key = Number(varint());
    const n = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ n, wire, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      if (p + len > buf.length) throw corrupt(`field ${n} runs past the end (${len} bytes)`);
      out.push({ n, wire, value: buf.subarray(p, p + len) });
      p += len;
    } else if (wire === 1 || wire === 5) {
      const len = wire === 1 ? 8 : 4;
      if (p + len > buf.length) throw corrupt('truncated fixed field');
      out.push({ n, wire, value: buf.subarray(p, p + len) });
      p += len;
    } else throw corrupt(`unsupported wire type ${wire}`);
  }
  return out;
}

function varintBytes(v: bigint): number[] {
  const out: number[] = [];
  let x = BigInt.asUintN(64, v);
  while (x >= 0x80n) {
    out.push(Number(x & 0x7fn) | 0x80);
    x >>= 7n;
  }
  out.push(Number(x));
  return out;
}

/** A message being written: fields in order, payloads kept as views until {@link PbWriter.finish}. */
export class PbWriter {
  readonly #parts: Uint8Array[] = [];
  #size = 0;

  #push(b: Uint8Array): void {
    this.#parts.push(b);
    this.#size += b.length;
  }

  /** Writes a raw field as decoded by {@link decodeFields}. */
  field(f: PbField): this {
    if (f.wire === 0) return this.varint(f.n, f.value as bigint);
    this.#push(Uint8Array.from(varintBytes(BigInt((f.n << 3) | f.wire))));
    if (f.wire === 2) this.#push(Uint8Array.from(varintBytes(BigInt((f.value as Uint8Array).length))));
    this.#push(f.value as Uint8Array);
    return this;
  }

  /** Writes a varint field. */
  varint(n: number, v: bigint | number): this {
    this.#push(Uint8Array.from([...varintBytes(BigInt(n << 3)), ...varintBytes(BigInt(v))]));
    return this;
  }

  /** Writes a length-delimited field (bytes, string or sub-message). */
  bytes(n: number, v: Uint8Array | string | PbWriter): this {
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : v instanceof PbWriter ? v.finish() : v;
    return this.field({ n, wire: 2, value: b });
  }

  /** Writes a float32 field. */
  float(n: number, v: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    return this.field({ n, wire: 5, value: b });
  }

  /** Concatenates the message. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#size);
    let o = 0;
    for (const p of this.#parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }
}

const text = (b: Uint8Array): string => new TextDecoder().decode(b);

/** ONNX tensor element types (TensorProto.DataType). */
export const ELEM = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7, FLOAT16: 10 } as const;

/** A graph input or output: name, element type and dims (number, a symbolic name, or undefined when unknown). */
export interface ValueInfo {
  readonly name: string;
  readonly elemType: number;
  readonly dims: readonly (number | string | undefined)[] | undefined;
}

/** A node attribute (the kinds the CLI reads; others are kept as raw bytes). */
export interface OnnxAttr {
  readonly name: string;
  readonly i?: bigint;
  readonly f?: number;
  readonly ints?: readonly bigint[];
  readonly raw: Uint8Array;
}

/** A graph node. */
export interface OnnxNode {
  readonly name: string;
  readonly op: string;
  readonly domain: string;
  readonly inputs: string[];
  readonly outputs: string[];
  readonly attrs: OnnxAttr[];
  /** The encoded node when it is unchanged. */
  readonly raw?: Uint8Array;
}

/** An initializer: dims, type and its bytes (raw_data or the typed repeated field). */
export interface OnnxTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly elemType: number;
  /** The encoded tensor when it is unchanged. */
  readonly raw?: Uint8Array;
  /** Decoded lazily for float tensors. */
  readonly fields: PbField[];
}

/** A decoded model: the graph's parts the CLI edits, and everything else verbatim. */
export interface OnnxModel {
  readonly modelFields: PbField[];
  readonly graphFields: PbField[];
  readonly nodes: OnnxNode[];
  readonly initializers: OnnxTensor[];
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  readonly opsets: ReadonlyMap<string, number>;
}

function readValueInfo(buf: Uint8Array): ValueInfo {
  let name = '';
  let elemType = 0;
  let dims: (number | string | undefined)[] | undefined;
  for (const f of decodeFields(buf)) {
    if (f.n === 1 && f.wire === 2) name = text(f.value as Uint8Array);
    if (f.n === 2 && f.wire === 2) {
      for (const t of decodeFields(f.value as Uint8Array)) {
        if (t.n !== 1 || t.wire !== 2) continue; // tensor_type
        for (const tt of decodeFields(t.value as Uint8Array)) {
          if (tt.n === 1 && tt.wire === 0) elemType = Number(tt.value);
          if (tt.n === 2 && tt.wire === 2) {
            dims = [];
            for (const d of decodeFields(tt.value as Uint8Array)) {
              if (d.n !== 1 || d.wire !== 2) continue;
              let dim: number | string | undefined;
              for (const x of decodeFields(d.value as Uint8Array)) {
                if (x.n === 1 && x.wire === 0) dim = Number(x.value);
                if (x.n === 2 && x.wire === 2) dim = text(x.value as Uint8Array);
              }
              dims.push(dim);
            }
          }
        }
      }
    }
  }
  return { name, elemType, dims };
}

function packedInts(f: PbField): bigint[] {
  if (f.wire === 0) return [f.value as bigint];
  const out: bigint[] = [];
  for (const x of decodeFields(prefixPacked(f.value as Uint8Array))) out.push(x.value as bigint);
  return out;
}

// Packed varints have no keys: give each a key of field 1 so decodeFields can read them.
function prefixPacked(b: Uint8Array): Uint8Array {
  const out: number[] = [];
  let p = 0;
  while (p < b.length) {
    out.push(8);
    do out.push(b[p]!);
    while (b[p++]! >= 0x80 && p < b.length);
  }
  return Uint8Array.from(out);
}

function readNode(buf: Uint8Array): OnnxNode {
  const node = {
    name: '',
    op: '',
    domain: '',
    inputs: [] as string[],
    outputs: [] as string[],
    attrs: [] as OnnxAttr[],
    raw: buf,
  };
  for (const f of decodeFields(buf)) {
    const v = f.value as Uint8Array;
    if (f.n === 1) node.inputs.push(text(v));
    else if (f.n === 2) node.outputs.push(text(v));
    else if (f.n === 3) node.name = text(v);
    else if (f.n === 4) node.op = text(v);
    else if (f.n === 7) node.domain = text(v);
    else if (f.n === 5) {
      const a: { name: string; i?: bigint; f?: number; ints?: bigint[]; raw: Uint8Array } = { name: '', raw: v };
      for (const x of decodeFields(v)) {
        if (x.n === 1) a.name = text(x.value as Uint8Array);
        else if (x.n === 2 && x.wire === 5)
          a.f = new DataView((x.value as Uint8Array).buffer, (x.value as Uint8Array).byteOffset, 4).getFloat32(0, true);
        else if (x.n === 3 && x.wire === 0) a.i = BigInt.asIntN(64, x.value as bigint);
        else if (x.n === 8) (a.ints ??= []).push(...packedInts(x).map((b) => BigInt.asIntN(64, b)));
      }
      node.attrs.push(a);
    }
  }
  return node;
}

function readTensor(buf: Uint8Array): OnnxTensor {
  const fields = decodeFields(buf);
  let name = '';
  let elemType = 0;
  const dims: number[] = [];
  for (const f of fields) {
    if (f.n === 1) dims.push(...packedInts(f).map((b) => Number(BigInt.asIntN(64, b))));
    else if (f.n === 2 && f.wire === 0) elemType = Number(f.value);
    else if (f.n === 8) name = text(f.value as Uint8Array);
    else if (f.n === 14 && f.wire === 0 && f.value === 1n) {
      throw new EdgetuneError(
        'UNSUPPORTED_OP',
        `Initializer ${name || '(unnamed)'} keeps its data in an external file; re-export the model as one .onnx file (models under 2 GB do not need external data).`,
      );
    }
  }
  return { name, dims, elemType, raw: buf, fields };
}

/**
 * Decodes an ONNX model's graph (nodes, initializers, inputs, outputs) and opset imports.
 *
 * @param bytes - the .onnx file
 * @throws EdgetuneError `MODEL_CORRUPT` when the bytes are not an ONNX model
 */
export function readOnnx(bytes: Uint8Array): OnnxModel {
  const modelFields = decodeFields(bytes);
  const graph = modelFields.find((f) => f.n === 7 && f.wire === 2);
  if (!graph) throw corrupt('no graph (field 7) in ModelProto');
  const graphFields = decodeFields(graph.value as Uint8Array);
  const opsets = new Map<string, number>();
  for (const f of modelFields) {
    if (f.n !== 8 || f.wire !== 2) continue;
    let domain = '';
    let version = 0;
    for (const x of decodeFields(f.value as Uint8Array)) {
      if (x.n === 1) domain = text(x.value as Uint8Array);
      if (x.n === 2) version = Number(x.value);
    }
    opsets.set(domain === 'ai.onnx' ? '' : domain, version);
  }
  const nodes: OnnxNode[] = [];
  const initializers: OnnxTensor[] = [];
  const inputs: ValueInfo[] = [];
  const outputs: ValueInfo[] = [];
  for (const f of graphFields) {
    if (f.wire !== 2) continue;
    const v = f.value as Uint8Array;
    if (f.n === 1) nodes.push(readNode(v));
    else if (f.n === 5) initializers.push(readTensor(v));
    else if (f.n === 11) inputs.push(readValueInfo(v));
    else if (f.n === 12) outputs.push(readValueInfo(v));
  }
  if (nodes.length === 0) throw corrupt('the graph has no nodes');
  const initNames = new Set(initializers.map((t) => t.name));
  // Older exporters list initializers among the inputs too: those are not the model's inputs.
  return {
    modelFields,
    graphFields,
    nodes,
    initializers,
    inputs: inputs.filter((x) => !initNames.has(x.name)),
    outputs,
    opsets,
  };
}

/** An initializer's values as float32 (FLOAT tensors only). */
export function tensorFloats(t: OnnxTensor): Float32Array {
  if (t.elemType !== ELEM.FLOAT)
    throw new EdgetuneError('INVALID_ARGUMENT', `Initializer ${t.name} has element type ${t.elemType}, not float.`);
  const count = t.dims.reduce((a, b) => a * b, 1);
  for (const f of t.fields) {
    const v = f.value as Uint8Array;
    if ((f.n === 9 || f.n === 4) && f.wire === 2) {
      // A real copy: on a Node Buffer, slice() is a view into the whole pool.
      const copy = new Uint8Array(v);
      return new Float32Array(copy.buffer, 0, copy.length / 4);
    }
  }
  const singles = t.fields.filter((f) => f.n === 4 && f.wire === 5);
  if (singles.length === count)
    return Float32Array.from(singles, (f) =>
      new DataView((f.value as Uint8Array).buffer, (f.value as Uint8Array).byteOffset, 4).getFloat32(0, true),
    );
  if (count === 0) return new Float32Array(0);
  throw new EdgetuneError('MODEL_CORRUPT', `Initializer ${t.name} has no data for its ${count} values.`);
}

/** Encodes a new initializer. */
export function encodeTensor(
  name: string,
  dims: readonly number[],
  elemType: number,
  data: ArrayBufferView,
): Uint8Array {
  const w = new PbWriter();
  for (const d of dims) w.varint(1, d);
  w.varint(2, elemType)
    .bytes(8, name)
    .bytes(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  return w.finish();
}

/** Encodes a node; attributes are given as already-encoded AttributeProto bytes or simple values. */
export function encodeNode(n: {
  name: string;
  op: string;
  domain?: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attrs?: readonly (Uint8Array | { name: string; i: number })[];
}): Uint8Array {
  const w = new PbWriter();
  for (const x of n.inputs) w.bytes(1, x);
  for (const x of n.outputs) w.bytes(2, x);
  w.bytes(3, n.name).bytes(4, n.op);
  for (const a of n.attrs ?? [])
    w.bytes(5, a instanceof Uint8Array ? a : new PbWriter().bytes(1, a.name).varint(3, a.i).varint(20, 2));
  if (n.domain) w.bytes(7, n.domain);
  return w.finish();
}

/** Encodes a ValueInfoProto for a float tensor of unknown shape (enough for an extra graph output). */
export function encodeFloatOutput(name: string): Uint8Array {
  return new PbWriter()
    .bytes(1, name)
    .bytes(2, new PbWriter().bytes(1, new PbWriter().varint(1, ELEM.FLOAT)))
    .finish();
}

/**
 * Re-encodes a model with its graph's nodes and initializers replaced and extra outputs appended;
 * every other field is written back byte for byte.
 *
 * @param model - the decoded model
 * @param edit - new node list and initializer list (encoded), extra outputs, opset overrides
 */
export function writeOnnx(
  model: OnnxModel,
  edit: {
    nodes?: readonly Uint8Array[];
    initializers?: readonly Uint8Array[];
    extraOutputs?: readonly Uint8Array[];
    opsets?: ReadonlyMap<string, number>;
  },
): Uint8Array {
  const g = new PbWriter();
  let nodesDone = false;
  let initsDone = false;
  for (const f of model.graphFields) {
    if (f.n === 1 && f.wire === 2 && edit.nodes) {
      if (!nodesDone) for (const n of edit.nodes) g.bytes(1, n);
      nodesDone = true;
      continue;
    }
    if (f.n === 5 && f.wire === 2 && edit.initializers) {
      if (!initsDone) for (const t of edit.initializers) g.bytes(5, t);
      initsDone = true;
      continue;
    }
    g.field(f);
  }
  if (edit.initializers && !initsDone) for (const t of edit.initializers) g.bytes(5, t);
  for (const o of edit.extraOutputs ?? []) g.bytes(12, o);
  const m = new PbWriter();
  const opsets = edit.opsets;
  for (const f of model.modelFields) {
    if (f.n === 7 && f.wire === 2) m.bytes(7, g);
    else if (f.n === 8 && f.wire === 2 && opsets) continue;
    else m.field(f);
  }
  if (opsets) for (const [domain, version] of opsets) m.bytes(8, new PbWriter().bytes(1, domain).varint(2, version));
  return m.finish();
}
