// TFLite models through @tensorflow/tfjs-tflite (browser main thread or classic Worker, WASM only), loaded on first use; plus a bounds-checked reader of the .tflite flatbuffer.
import { EdgetuneError, throwIfAborted } from '../../core/errors.js';
import { env } from '../env.js';
import { hardwareConcurrency, isNode, threadsAllowed } from '../platform.js';
import { registerBackend } from './registry.js';
import type { Backend, BackendSession, SessionRequest } from './types.js';

// ---------------------------------------------------------------------------------------------
// The .tflite flatbuffer (schema.fbs, identifier TFL3), read without any dependency.
// ---------------------------------------------------------------------------------------------

/** TFLite tensor element types (schema `TensorType`). */
const TENSOR_TYPES = ['float32', 'float16', 'int32', 'uint8', 'int64', 'string', 'bool', 'int16', 'complex64', 'int8', 'float64', 'complex128', 'uint64', 'resource', 'variant', 'uint32', 'uint16', 'int4'] as const;

const ELEMENT_BYTES: Readonly<Record<string, number>> = { float32: 4, float16: 2, int32: 4, uint8: 1, int64: 8, bool: 1, int16: 2, int8: 1, float64: 8, uint64: 8, uint32: 4, uint16: 2 };

/** Names of the builtin operators edgetune's converter writes and the common ones it may meet. */
const BUILTIN_NAMES: Readonly<Record<number, string>> = {
  0: 'ADD', 1: 'AVERAGE_POOL_2D', 2: 'CONCATENATION', 3: 'CONV_2D', 4: 'DEPTHWISE_CONV_2D', 6: 'DEQUANTIZE', 9: 'FULLY_CONNECTED',
  11: 'L2_NORMALIZATION', 14: 'LOGISTIC', 17: 'MAX_POOL_2D', 18: 'MUL', 19: 'RELU', 21: 'RELU6', 22: 'RESHAPE', 25: 'SOFTMAX',
  28: 'TANH', 32: 'CUSTOM', 34: 'PAD', 40: 'MEAN', 114: 'QUANTIZE', 117: 'HARD_SWISH', 126: 'BATCH_MATMUL',
};

/**
 * Highest op versions the TFLite build inside @tensorflow/tfjs-tflite 0.0.1-alpha.10 accepts,
 * for the ops where that is known; other builtins are left for the runtime to judge.
 */
export const TFLITE_MAX_OP_VERSIONS: Readonly<Record<string, number>> = Object.freeze({
  CONV_2D: 6,
  FULLY_CONNECTED: 9,
  BATCH_MATMUL: 4,
  SOFTMAX: 3,
  QUANTIZE: 3,
  DEQUANTIZE: 5,
});

/** One tensor of a TFLite subgraph. */
export interface TfliteTensorInfo {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: string;
  /** Number of quantization scales (0: float tensor, 1: per-tensor, >1: per-axis). */
  readonly scales: number;
  readonly quantizedDimension: number;
  /** Byte length of the tensor's constant data (0 for activations). */
  readonly constantBytes: number;
}

/** One operator of a TFLite subgraph. */
export interface TfliteOperatorInfo {
  readonly op: string;
  readonly version: number;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

/** What {@link inspectTflite} reads from a .tflite file. */
export interface TfliteModelInfo {
  readonly schemaVersion: number;
  readonly description: string;
  /** `NAME/vN` per operator code, in file order. */
  readonly operatorCodes: readonly { readonly op: string; readonly code: number; readonly version: number }[];
  readonly tensors: readonly TfliteTensorInfo[];
  readonly operators: readonly TfliteOperatorInfo[];
  readonly inputs: readonly TfliteTensorInfo[];
  readonly outputs: readonly TfliteTensorInfo[];
  readonly buffers: number;
  readonly subgraphs: number;
}

class Corrupt extends Error {}

/** Minimal bounds-checked flatbuffer table reader. */
class Fb {
  readonly #v: DataView;
  readonly #n: number;

  constructor(bytes: Uint8Array) {
    this.#v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.#n = bytes.byteLength;
  }

  #need(pos: number, size: number, what: string): void {
    if (!Number.isInteger(pos) || pos < 0 || pos + size > this.#n) throw new Corrupt(`${what} at byte ${pos} lies outside the ${this.#n}-byte file`);
  }
  u8(pos: number, what: string): number {
    this.#need(pos, 1, what);
    return this.#v.getUint8(pos);
  }
  i8(pos: number, what: string): number {
    this.#need(pos, 1, what);
    return this.#v.getInt8(pos);
  }
  u16(pos: number, what: string): number {
    this.#need(pos, 2, what);
    return this.#v.getUint16(pos, true);
  }
  i32(pos: number, what: string): number {
    this.#need(pos, 4, what);
    return this.#v.getInt32(pos, true);
  }
  u32(pos: number, what: string): number {
    this.#need(pos, 4, what);
    return this.#v.getUint32(pos, true);
  }
  /** Follows a uoffset stored at `pos`. */
  ref(pos: number, what: string): number {
    const target = pos + this.u32(pos, what);
    this.#need(target, 4, what);
    return target;
  }
  /** Position of field `slot` of the table at `table`, or undefined when absent. */
  field(table: number, slot: number, what: string): number | undefined {
    const vt = table - this.i32(table, `${what} vtable offset`);
    const vtSize = this.u16(vt, `${what} vtable`);
    if (vtSize < 4 || vtSize % 2 !== 0) throw new Corrupt(`${what} has a malformed vtable (size ${vtSize})`);
    if (4 + 2 * slot >= vtSize) return undefined;
    const off = this.u16(vt + 4 + 2 * slot, `${what} field ${slot}`);
    if (off === 0) return undefined;
    const tableSize = this.u16(vt + 2, `${what} vtable`);
    if (off >= tableSize) throw new Corrupt(`${what} field ${slot} points past its table`);
    return table + off;
  }
  /** The vector whose uoffset is at `pos`: start and length, checked against the file size. */
  vector(pos: number, elemSize: number, what: string): { start: number; length: number } {
    const at = this.ref(pos, what);
    const length = this.u32(at, what);
    this.#need(at + 4, length * elemSize, `${what} (${length} elements)`);
    return { start: at + 4, length };
  }
  ints(table: number, slot: number, what: string): number[] {
    const f = this.field(table, slot, what);
    if (f === undefined) return [];
    const { start, length } = this.vector(f, 4, what);
    return Array.from({ length }, (_, k) => this.i32(start + 4 * k, what));
  }
  tables(table: number, slot: number, what: string): number[] {
    const f = this.field(table, slot, what);
    if (f === undefined) return [];
    const { start, length } = this.vector(f, 4, what);
    return Array.from({ length }, (_, k) => this.ref(start + 4 * k, `${what}[${k}]`));
  }
  string(table: number, slot: number, what: string): string {
    const f = this.field(table, slot, what);
    if (f === undefined) return '';
    const { start, length } = this.vector(f, 1, what);
    let s = '';
    for (let k = 0; k < length && k < 256; k++) s += String.fromCharCode(this.u8(start + k, what));
    return s;
  }
  scalarU32(table: number, slot: number, what: string, dflt: number): number {
    const f = this.field(table, slot, what);
    return f === undefined ? dflt : this.u32(f, what);
  }
  scalarI32(table: number, slot: number, what: string, dflt: number): number {
    const f = this.field(table, slot, what);
    return f === undefined ? dflt : this.i32(f, what);
  }
  scalarI8(table: number, slot: number, what: string, dflt: number): number {
    const f = this.field(table, slot, what);
    return f === undefined ? dflt : this.i8(f, what);
  }
}

function corrupt(what: string, cause?: unknown): EdgetuneError {
  return new EdgetuneError('MODEL_CORRUPT', `The TFLite model is not a valid flatbuffer: ${what}. Re-download the model or re-run the converter (models/pipeline/tflite/convert.py).`, { cause });
}

/**
 * Reads the structure of a .tflite file (operators, versions, tensors, inputs, outputs), checking
 * every offset against the file size, so a damaged file is reported before a runtime touches it.
 *
 * @param bytes - the .tflite file
 * @throws EdgetuneError `MODEL_CORRUPT` naming what is wrong
 */
export function inspectTflite(bytes: Uint8Array): TfliteModelInfo {
  if (bytes.byteLength < 8) throw corrupt(`only ${bytes.byteLength} bytes`);
  const ident = String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!);
  if (ident !== 'TFL3') throw corrupt(`file identifier is ${JSON.stringify(ident)}, expected "TFL3"`);
  const fb = new Fb(bytes);
  try {
    const model = fb.ref(0, 'root table');
    const schemaVersion = fb.scalarU32(model, 0, 'Model.version', 0);
    if (schemaVersion !== 3) throw new Corrupt(`schema version is ${schemaVersion}, expected 3`);
    const operatorCodes = fb.tables(model, 1, 'Model.operator_codes').map((oc, k) => {
      const legacy = fb.scalarI8(oc, 0, `OperatorCode[${k}]`, 0);
      const extended = fb.scalarI32(oc, 3, `OperatorCode[${k}]`, 0);
      const code = Math.max(legacy, extended);
      const version = fb.scalarI32(oc, 2, `OperatorCode[${k}]`, 1);
      return { op: BUILTIN_NAMES[code] ?? `BUILTIN_${code}`, code, version };
    });
    const subgraphs = fb.tables(model, 2, 'Model.subgraphs');
    const description = fb.string(model, 3, 'Model.description');
    const bufferTables = fb.tables(model, 4, 'Model.buffers');
    const bufferBytes = bufferTables.map((b, k) => {
      const f = fb.field(b, 0, `Buffer[${k}]`);
      return f === undefined ? 0 : fb.vector(f, 1, `Buffer[${k}].data`).length;
    });
    const sg = subgraphs[0];
    if (sg === undefined) throw new Corrupt('the model has no subgraph');
    const tensors: TfliteTensorInfo[] = fb.tables(sg, 0, 'SubGraph.tensors').map((t, k) => {
      const what = `Tensor[${k}]`;
      const typeCode = fb.scalarI8(t, 1, what, 0);
      const buffer = fb.scalarU32(t, 2, what, 0);
      if (buffer >= bufferTables.length) throw new Corrupt(`${what} refers to buffer ${buffer} of ${bufferTables.length}`);
      const qf = fb.field(t, 4, what);
      const q = qf === undefined ? undefined : fb.ref(qf, `${what}.quantization`);
      const scalesField = q === undefined ? undefined : fb.field(q, 2, `${what}.quantization`);
      const shape = fb.ints(t, 0, `${what}.shape`);
      const type = TENSOR_TYPES[typeCode] ?? `type${typeCode}`;
      const constantBytes = bufferBytes[buffer] ?? 0;
      const elem = ELEMENT_BYTES[type];
      if (constantBytes > 0 && elem !== undefined && shape.every((d) => d >= 0)) {
        const expected = shape.reduce((a, b) => a * b, 1) * elem;
        if (expected !== constantBytes) throw new Corrupt(`${what} is ${type}[${shape.join(',')}] (${expected} bytes) but its buffer holds ${constantBytes} bytes`);
      }
      return {
        name: fb.string(t, 3, what),
        shape,
        type,
        scales: scalesField === undefined ? 0 : fb.vector(scalesField, 4, `${what}.quantization.scale`).length,
        quantizedDimension: q === undefined ? 0 : fb.scalarI32(q, 6, `${what}.quantization`, 0),
        constantBytes,
      };
    });
    const checkIndex = (i: number, what: string): void => {
      if (i !== -1 && (i < 0 || i >= tensors.length)) throw new Corrupt(`${what} refers to tensor ${i} of ${tensors.length}`);
    };
    const operators = fb.tables(sg, 3, 'SubGraph.operators').map((o, k) => {
      const what = `Operator[${k}]`;
      const idx = fb.scalarU32(o, 0, what, 0);
      const code = operatorCodes[idx];
      if (!code) throw new Corrupt(`${what} uses operator code ${idx} of ${operatorCodes.length}`);
      const inputs = fb.ints(o, 1, `${what}.inputs`);
      const outputs = fb.ints(o, 2, `${what}.outputs`);
      for (const i of [...inputs, ...outputs]) checkIndex(i, what);
      return { op: code.op, version: code.version, inputs, outputs };
    });
    const ioTensor = (i: number, what: string): TfliteTensorInfo => {
      checkIndex(i, what);
      const t = tensors[i];
      if (!t) throw new Corrupt(`${what} is not a tensor`);
      return t;
    };
    const inputs = fb.ints(sg, 1, 'SubGraph.inputs').map((i) => ioTensor(i, 'SubGraph.inputs'));
    const outputs = fb.ints(sg, 2, 'SubGraph.outputs').map((i) => ioTensor(i, 'SubGraph.outputs'));
    return { schemaVersion, description, operatorCodes, tensors, operators, inputs, outputs, buffers: bufferTables.length, subgraphs: subgraphs.length };
  } catch (err) {
    if (err instanceof Corrupt) throw corrupt(err.message, err);
    throw err;
  }
}

/**
 * Rejects models the tfjs-tflite runtime cannot run or edgetune cannot feed, before loading them.
 *
 * @throws EdgetuneError `UNSUPPORTED_OP` (custom op, op version above what tfjs-tflite accepts),
 *   `INPUT_TYPE` (non-float32 input/output), `MANIFEST_INVALID` (shape disagrees with the manifest)
 */
function checkRunnable(info: TfliteModelInfo, request: SessionRequest): void {
  const { manifest } = request;
  for (const c of info.operatorCodes) {
    if (c.code === 32) {
      throw new EdgetuneError('UNSUPPORTED_OP', `Model ${manifest.id} uses a CUSTOM operator, which tfjs-tflite cannot run; convert it with builtin ops only.`, { details: { op: c.op, version: c.version } });
    }
    const max = TFLITE_MAX_OP_VERSIONS[c.op];
    if (max !== undefined && c.version > max) {
      throw new EdgetuneError('UNSUPPORTED_OP', `Model ${manifest.id} uses ${c.op} version ${c.version}; tfjs-tflite accepts up to version ${max}. Re-convert it for an older TFLite runtime.`, { details: { op: c.op, version: c.version, max } });
    }
  }
  const [input] = info.inputs;
  const [output] = info.outputs;
  if (info.inputs.length !== 1 || info.outputs.length !== 1 || !input || !output) {
    throw new EdgetuneError('MANIFEST_INVALID', `Model ${manifest.id} has ${info.inputs.length} inputs and ${info.outputs.length} outputs; an encoder needs exactly one of each.`, { details: { field: 'input' } });
  }
  for (const [t, role] of [[input, 'input'], [output, 'output']] as const) {
    if (t.type !== 'float32') {
      throw new EdgetuneError('INPUT_TYPE', `Model ${manifest.id} has a ${t.type} ${role} tensor "${t.name}"; edgetune feeds and reads float32. Convert with float32 in/out (QUANTIZE/DEQUANTIZE inside the graph).`, { details: { role, type: t.type } });
    }
  }
  const want = [1, ...(manifest.input.shape.slice(1) as number[])];
  if (input.shape.length !== want.length || input.shape.some((d, k) => d !== want[k] && !(k === 0 && d === -1))) {
    throw new EdgetuneError('MANIFEST_INVALID', `Model ${manifest.id} takes input shape [${input.shape.join(', ')}] but the manifest says [${want.join(', ')}] (layout ${manifest.input.layout}). Fix the manifest's input.shape/layout.`, { details: { field: 'input.shape', model: input.shape } });
  }
  const outSize = output.shape.slice(1).reduce((a, b) => a * b, 1);
  if (outSize !== manifest.output.dim) {
    throw new EdgetuneError('MANIFEST_INVALID', `Model ${manifest.id} outputs ${outSize} values per input but the manifest's output.dim is ${manifest.output.dim}.`, { details: { field: 'output.dim' } });
  }
}

// ---------------------------------------------------------------------------------------------
// The runtime.
// ---------------------------------------------------------------------------------------------

/** The parts of tfjs-core this backend uses. */
interface TfCore {
  tensor(values: Float32Array, shape: number[], dtype: 'float32'): TfTensor;
  ready(): Promise<void>;
}
interface TfTensor {
  dataSync(): ArrayLike<number>;
  dispose(): void;
}
/** The parts of tfjs-tflite this backend uses. */
interface TfliteModel {
  predict(input: TfTensor): TfTensor | TfTensor[] | Record<string, TfTensor>;
}
interface TfliteModule {
  setWasmPath(path: string): void;
  loadTFLiteModel(model: ArrayBuffer, options?: { numThreads?: number }): Promise<TfliteModel>;
}
interface Runtime {
  readonly tf: TfCore;
  readonly tflite: TfliteModule;
}

let runtime: Promise<Runtime> | undefined;

/** Directory of tfjs-tflite's wasm files: the app's setting, else dist/tflite/ beside this bundle. */
function wasmPath(): string {
  if (env.tfliteWasmPath !== undefined) return env.tfliteWasmPath;
  return new URL('./tflite/', import.meta.url).href;
}

function loadRuntime(): Promise<Runtime> {
  if (!runtime) {
    runtime = (async () => {
      const tf = (await import('@tensorflow/tfjs-core')) as unknown as TfCore;
      // Registers tfjs's CPU backend (tensors need one); an app's own backend keeps priority.
      await import('@tensorflow/tfjs-backend-cpu');
      await tf.ready();
      // The package's "module" entry imports a file it does not ship; its flat ESM build is complete.
      // @ts-ignore -- no type declarations for the flat build; typed through TfliteModule.
      const tflite = (await import('@tensorflow/tfjs-tflite/dist/tf-tflite.fesm.js')) as unknown as TfliteModule;
      tflite.setWasmPath(wasmPath());
      return { tf, tflite };
    })();
    runtime.catch(() => {
      runtime = undefined;
    });
  }
  return runtime;
}

/** Maps a tfjs-tflite failure to a stable edgetune error. */
function classifyTfliteError(err: unknown, context: string, ops?: readonly string[]): EdgetuneError {
  const message = err instanceof Error ? err.message : String(err);
  if (/Didn't find op|Op builtin_code out of range|unresolved custom op|Unsupported|not supported|Encountered unresolved/i.test(message)) {
    return new EdgetuneError('UNSUPPORTED_OP', `${context}: tfjs-tflite cannot run an operator of this model (${message}).`, { cause: err });
  }
  if (/Can't initialize model/i.test(message) && ops !== undefined) {
    // The structure was already verified by inspectTflite, so the interpreter failed to resolve or
    // prepare an op. TFLite prints the exact op and version to the console only.
    return new EdgetuneError('UNSUPPORTED_OP', `${context}: tfjs-tflite could not build an interpreter (${message}). One of the model's ops is missing from its TFLite build or takes tensors it does not support: ${ops.join(', ')}. The browser console shows TFLite's exact complaint; re-convert for an older TFLite runtime.`, { cause: err, details: { ops } });
  }
  if (/flatbuffer|verif|identifier|Failed to (create|build|allocate)|Invalid model|corrupt|Failed to initialize/i.test(message)) {
    return new EdgetuneError('MODEL_CORRUPT', `${context}: tfjs-tflite rejected the model bytes (${message}). Re-download the model or re-run the converter.`, { cause: err });
  }
  return new EdgetuneError('BACKEND_UNAVAILABLE', `${context}: ${message}. Check env.tfliteWasmPath (${wasmPath()}) serves tflite_web_api_cc*.{js,wasm}.`, { cause: err });
}

class TfliteSession implements BackendSession {
  readonly #tf: TfCore;
  readonly #model: TfliteModel;
  readonly #request: SessionRequest;

  constructor(tf: TfCore, model: TfliteModel, request: SessionRequest) {
    this.#tf = tf;
    this.#model = model;
    this.#request = request;
  }

  async run(input: Float32Array, batch: number): Promise<Float32Array> {
    const { manifest } = this.#request;
    const shape = [1, ...(manifest.input.shape.slice(1) as number[])];
    const size = shape.reduce((a, b) => a * b, 1);
    const dim = manifest.output.dim;
    if (input.length !== batch * size) {
      throw new EdgetuneError('INPUT_SHAPE', `Model ${manifest.id} needs ${size} values per input; got ${input.length} for a batch of ${batch}.`, { details: { expected: batch * size, actual: input.length } });
    }
    const out = new Float32Array(batch * dim);
    // TFLite input shapes are fixed at batch 1 and tfjs-tflite cannot resize them: one call per sample.
    for (let k = 0; k < batch; k++) {
      const x = this.#tf.tensor(input.slice(k * size, (k + 1) * size), shape, 'float32');
      let y: TfTensor | undefined;
      try {
        const result = this.#model.predict(x);
        y = Array.isArray(result) ? result[0] : 'dataSync' in result ? (result as TfTensor) : Object.values(result)[0];
        if (!y) throw new Error('the model returned no output');
        const data = y.dataSync();
        if (data.length !== dim) throw new EdgetuneError('MANIFEST_INVALID', `Model ${manifest.id} returned ${data.length} values per input but the manifest's output.dim is ${dim}.`, { details: { field: 'output.dim' } });
        out.set(data, k * dim);
      } catch (err) {
        if ((err as EdgetuneError).name === 'EdgetuneError') throw err;
        throw classifyTfliteError(err, `Running ${manifest.id} on wasm (tfjs-tflite)`);
      } finally {
        x.dispose();
        y?.dispose();
      }
    }
    return out;
  }

  async dispose(): Promise<void> {
    // TFLiteModel keeps its runner private; cleanUp() frees the interpreter's wasm memory.
    (this.#model as { modelRunner?: { cleanUp?: () => void } }).modelRunner?.cleanUp?.();
  }
}

/** Why tfjs-tflite cannot run here, or undefined when it can (cheap: loads nothing). */
function unavailableReason(): string | undefined {
  if (isNode()) {
    return "@tensorflow/tfjs-tflite runs only in a browser (main thread or classic Worker), not in Node.js; in Node, open the ONNX version of the model (format 'onnx').";
  }
  if (typeof WebAssembly !== 'object') return 'WebAssembly is not available, and tfjs-tflite needs it';
  const g = globalThis as { WorkerGlobalScope?: unknown; importScripts?: (...urls: string[]) => void };
  if (typeof g.WorkerGlobalScope !== 'undefined') {
    // importScripts() with no URL is a no-op in a classic worker and throws in a module worker.
    try {
      if (typeof g.importScripts !== 'function') throw new TypeError('importScripts is missing');
      g.importScripts();
    } catch {
      return "@tensorflow/tfjs-tflite loads its WASM with importScripts, which module Workers lack; run TFLite models on the main thread or in a classic Worker (new Worker(url) without { type: 'module' }), or use the ONNX model in this worker.";
    }
  }
  return undefined;
}

/** The tfjs-tflite backend (format `tflite`, device `wasm`). Register it with {@link registerTfliteBackend}. */
export const tfliteBackend: Backend = {
  name: 'tfjs-tflite',
  format: 'tflite',
  devices: ['wasm'],
  async probe(device) {
    if (device !== 'wasm') return `tfjs-tflite runs on wasm only, not ${device}`;
    return unavailableReason();
  },
  async createSession(request) {
    const { manifest, bytes, signal } = request;
    if (request.device !== 'wasm') throw new EdgetuneError('BACKEND_UNAVAILABLE', `tfjs-tflite runs on wasm only, not ${request.device}.`);
    const info = inspectTflite(bytes);
    checkRunnable(info, request);
    const reason = unavailableReason();
    if (reason !== undefined) throw new EdgetuneError('BACKEND_UNAVAILABLE', reason);
    throwIfAborted(signal);
    const { tf, tflite } = await loadRuntime().catch((err: unknown) => {
      throw new EdgetuneError('BACKEND_UNAVAILABLE', `Could not load @tensorflow/tfjs-tflite: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    });
    throwIfAborted(signal);
    const copy = bytes.slice().buffer;
    let model: TfliteModel;
    try {
      const numThreads = env.numThreads ?? (threadsAllowed() ? Math.min(4, hardwareConcurrency()) : 1);
      model = await tflite.loadTFLiteModel(copy, { numThreads });
    } catch (err) {
      throw classifyTfliteError(err, `Loading ${manifest.id} with tfjs-tflite`, info.operatorCodes.map((c) => `${c.op}/v${c.version}`));
    }
    return new TfliteSession(tf, model, request);
  },
};

let unregister: (() => void) | undefined;

/**
 * Makes `Encoder.open` able to run TFLite models (format `tflite`) through
 * `@tensorflow/tfjs-tflite`, which is downloaded only when such a model is opened.
 * Browser only (main thread or classic Worker), WASM only; in Node.js or a module Worker the
 * encoder reports `BACKEND_UNAVAILABLE` with the reason. Calling it again changes nothing.
 *
 * @param priority - registry priority (higher wins over other tflite backends) @defaultValue 0
 * @returns a function that unregisters it
 */
export function registerTfliteBackend(priority = 0): () => void {
  if (!unregister) {
    const off = registerBackend(tfliteBackend, priority);
    unregister = () => {
      off();
      unregister = undefined;
    };
  }
  return unregister;
}
