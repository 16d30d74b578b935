// A compact binary codec for the structured-clone-able values storage encrypts or exports (typed arrays copied as raw bytes).
import { EdgetuneError } from '../core/errors.js';

const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_NUMBER = 4;
const T_STRING = 5;
const T_ARRAY = 6;
const T_OBJECT = 7;
const T_ARRAYBUFFER = 8;
const T_TYPED = 9;
const T_DATE = 10;
const T_MAP = 11;
const T_SET = 12;
const T_BIGINT = 13;
const T_INT = 14;

type TypedCtor =
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Uint8ClampedArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor
  | DataViewConstructor;

// Order is part of the wire format: append only.
const TYPED: readonly TypedCtor[] = [
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
  DataView,
];

class Writer {
  buf = new Uint8Array(1024);
  view = new DataView(this.buf.buffer);
  pos = 0;
  private readonly te = new TextEncoder();

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.pos, v, true);
    this.pos += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.byteLength);
    this.ensure(b.byteLength);
    this.buf.set(b, this.pos);
    this.pos += b.byteLength;
  }
  str(s: string): void {
    this.bytes(this.te.encode(s));
  }
}

class Reader {
  pos = 0;
  private readonly view: DataView;
  private readonly td = new TextDecoder('utf-8', { fatal: true });
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  need(n: number): void {
    if (this.pos + n > this.buf.byteLength) throw bad(`truncated at byte ${this.pos} (needs ${n} more)`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  i32(): number {
    this.need(4);
    const v = this.view.getInt32(this.pos, true);
    this.pos += 4;
    return v;
  }
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }
  /** A fresh, aligned copy, so typed-array views over it never share or misalign. */
  bytes(): Uint8Array {
    const n = this.u32();
    this.need(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  str(): string {
    const n = this.u32();
    this.need(n);
    const s = this.td.decode(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return s;
  }
}

function bad(what: string): EdgetuneError {
  return new EdgetuneError(
    'STATE_INVALID',
    `Encoded value is malformed: ${what}. The record or file is damaged; restore it from an export.`,
  );
}

function write(w: Writer, v: unknown, seen: Set<object>): void {
  switch (typeof v) {
    case 'undefined':
      w.u8(T_UNDEFINED);
      return;
    case 'boolean':
      w.u8(v ? T_TRUE : T_FALSE);
      return;
    case 'number':
      if (Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff && !Object.is(v, -0)) {
        w.u8(T_INT);
        w.i32(v);
      } else {
        w.u8(T_NUMBER);
        w.f64(v);
      }
      return;
    case 'string':
      w.u8(T_STRING);
      w.str(v);
      return;
    case 'bigint':
      w.u8(T_BIGINT);
      w.str(v.toString());
      return;
    case 'object':
      break;
    default:
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Cannot store a value of type ${typeof v}: records must be structured-clone-able data (no functions or symbols).`,
      );
  }
  if (v === null) {
    w.u8(T_NULL);
    return;
  }
  const o = v as object;
  if (seen.has(o)) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      'Cannot store a value with a reference cycle; break the cycle before saving.',
    );
  }
  if (o instanceof ArrayBuffer) {
    w.u8(T_ARRAYBUFFER);
    w.bytes(new Uint8Array(o));
    return;
  }
  if (ArrayBuffer.isView(o)) {
    const kind = TYPED.findIndex((c) => o instanceof c);
    if (kind < 0) throw new EdgetuneError('INVALID_ARGUMENT', `Cannot store a ${o.constructor.name}.`);
    w.u8(T_TYPED);
    w.u8(kind);
    w.bytes(new Uint8Array(o.buffer, o.byteOffset, o.byteLength));
    return;
  }
  if (o instanceof Date) {
    w.u8(T_DATE);
    w.f64(o.getTime());
    return;
  }
  seen.add(o);
  if (Array.isArray(o)) {
    w.u8(T_ARRAY);
    w.u32(o.length);
    for (const x of o) write(w, x, seen);
  } else if (o instanceof Map) {
    w.u8(T_MAP);
    w.u32(o.size);
    for (const [k, x] of o) {
      write(w, k, seen);
      write(w, x, seen);
    }
  } else if (o instanceof Set) {
    w.u8(T_SET);
    w.u32(o.size);
    for (const x of o) write(w, x, seen);
  } else {
    const keys = Object.keys(o);
    w.u8(T_OBJECT);
    w.u32(keys.length);
    for (const k of keys) {
      w.str(k);
      write(w, (o as Record<string, unknown>)[k], seen);
    }
  }
  seen.delete(o);
}

function read(r: Reader, depth: number): unknown {
  if (depth > 512) throw bad('nesting deeper than 512');
  const tag = r.u8();
  switch (tag) {
    case T_UNDEFINED:
      return undefined;
    case T_NULL:
      return null;
    case T_FALSE:
      return false;
    case T_TRUE:
      return true;
    case T_INT:
      return r.i32();
    case T_NUMBER:
      return r.f64();
    case T_STRING:
      return r.str();
    case T_BIGINT:
      return BigInt(r.str());
    case T_DATE:
      return new Date(r.f64());
    case T_ARRAYBUFFER:
      return r.bytes().buffer;
    case T_TYPED: {
      const ctor = TYPED[r.u8()];
      if (!ctor) throw bad('unknown typed-array kind');
      const b = r.bytes();
      if (ctor === DataView) return new DataView(b.buffer);
      const el = (ctor as Float32ArrayConstructor).BYTES_PER_ELEMENT;
      if (b.byteLength % el !== 0) throw bad(`typed array of ${b.byteLength} bytes is not a multiple of ${el}`);
      return new (ctor as Float32ArrayConstructor)(b.buffer, 0, b.byteLength / el);
    }
    case T_ARRAY: {
      const n = r.u32();
      const out: unknown[] = [];
      for (let i = 0; i < n; i++) out.push(read(r, depth + 1));
      return out;
    }
    case T_MAP: {
      const n = r.u32();
      const out = new Map<unknown, unknown>();
      for (let i = 0; i < n; i++) out.set(read(r, depth + 1), read(r, depth + 1));
      return out;
    }
    case T_SET: {
      const n = r.u32();
      const out = new Set<unknown>();
      for (let i = 0; i < n; i++) out.add(read(r, depth + 1));
      return out;
    }
    case T_OBJECT: {
      const n = r.u32();
      const out: Record<string, unknown> = {};
      for (let i = 0; i < n; i++) {
        const k = r.str();
        // defineProperty, so a key named __proto__ stays data and never reaches the prototype.
        Object.defineProperty(out, k, {
          value: read(r, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return out;
    }
    default:
      throw bad(`unknown tag ${tag} at byte ${r.pos - 1}`);
  }
}

/**
 * Encodes a structured-clone-able value (plain objects, arrays, primitives, bigint, Date, Map, Set,
 * ArrayBuffer, typed arrays, DataView) into bytes.
 */
export function encodeValue(value: unknown): Uint8Array {
  const w = new Writer();
  write(w, value, new Set());
  return w.buf.slice(0, w.pos);
}

/** Decodes bytes written by {@link encodeValue}; throws `STATE_INVALID` when they are malformed. */
export function decodeValue(bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const v = read(r, 0);
  if (r.pos !== bytes.byteLength) throw bad(`${bytes.byteLength - r.pos} trailing bytes`);
  return v;
}

/**
 * Approximate stored size in bytes of a structured-clone-able value, for budget accounting
 * (binary data counts exactly; strings as UTF-16).
 */
export function estimateSize(value: unknown, seen: Set<object> = new Set()): number {
  switch (typeof value) {
    case 'string':
      return 8 + value.length * 2;
    case 'object':
      break;
    default:
      return 8;
  }
  if (value === null) return 8;
  const o = value as object;
  if (o instanceof ArrayBuffer) return 16 + o.byteLength;
  if (ArrayBuffer.isView(o)) return 16 + o.byteLength;
  if (seen.has(o)) return 8;
  seen.add(o);
  let n = 16;
  if (Array.isArray(o)) for (const x of o) n += estimateSize(x, seen);
  else if (o instanceof Map) for (const [k, x] of o) n += estimateSize(k, seen) + estimateSize(x, seen);
  else if (o instanceof Set) for (const x of o) n += estimateSize(x, seen);
  else for (const [k, x] of Object.entries(o)) n += 8 + k.length * 2 + estimateSize(x, seen);
  return n;
}
