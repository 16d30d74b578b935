// TFLite models through @tensorflow/tfjs-tflite (browser main thread or classic Worker, WASM only), loaded on first use; plus a bounds-checked reader of the .tflite flatbuffer.
import { EdgetuneError, throwIfAborted } from '../../core/errors.js';
import { env } from '../env.js';
import { hardwareConcurrency, isNode, threadsAllowed } from '../platform.js';
import { registerBackend } from './registry.js';
import type { Backend, BackendSession, SessionRequest } from './types.js';

// Schema facts (tensorflow/lite/schema/schema.fbs): TensorType values in order, some BuiltinOperator names.
const TENSOR_TYPES = 'float32 float16 int32 uint8 int64 string bool int16 complex64 int8 float64'.split(' ');
const BUILTIN_NAMES: Readonly<Record<number, string>> = {
  0: 'ADD',
  1: 'AVERAGE_POOL_2D',
  3: 'CONV_2D',
  4: 'DEPTHWISE_CONV_2D',
  6: 'DEQUANTIZE',
  9: 'FULLY_CONNECTED',
  14: 'LOGISTIC',
  17: 'MAX_POOL_2D',
  18: 'MUL',
  19: 'RELU',
  21: 'RELU6',
  22: 'RESHAPE',
  25: 'SOFTMAX',
  32: 'CUSTOM',
  34: 'PAD',
  40: 'MEAN',
  114: 'QUANTIZE',
  117: 'HARD_SWISH',
  124: 'DENSIFY',
  126: 'BATCH_MATMUL',
};

/** Highest op versions tfjs-tflite 0.0.1-alpha.10 accepts, where known (other ops: the runtime judges). */
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
  /** Byte length of the tensor's constant data (0 for activations). */
  readonly constantBytes: number;
  /**
   * A sparse constant (the schema's `sparsity`, e.g. MediaPipe's `*_sparse.tflite`): how many values its buffer
   * stores, and each traversal level's format. Absent for dense tensors.
   */
  readonly sparsity?: { readonly values: number; readonly levels: readonly ('DENSE' | 'SPARSE_CSR')[] };
}

/** One operator of a TFLite subgraph. */
export interface TfliteOperatorInfo {
  readonly op: string;
  readonly version: number;
  readonly inputs: readonly number[];
  readonly outputs: readonly number[];
}

/** What {@link inspectTflite} reads from a .tflite file (its first subgraph). */
export interface TfliteModelInfo {
  readonly schemaVersion: number;
  readonly operatorCodes: readonly { readonly op: string; readonly code: number; readonly version: number }[];
  readonly tensors: readonly TfliteTensorInfo[];
  readonly operators: readonly TfliteOperatorInfo[];
  readonly inputs: readonly TfliteTensorInfo[];
  readonly outputs: readonly TfliteTensorInfo[];
}

function corrupt(what: string): EdgetuneError {
  return new EdgetuneError(
    'MODEL_CORRUPT',
    `The TFLite model is not a valid flatbuffer: ${what}. Re-download it or re-run the converter.`,
  );
}

/**
 * Reads a .tflite file's ops, versions, tensors and I/O, bounds-checking every offset, so damage is
 * reported before a runtime touches it.
 *
 * @throws EdgetuneError `MODEL_CORRUPT` naming what is wrong
 */
export function inspectTflite(bytes: Uint8Array): TfliteModelInfo {
  const n = bytes.byteLength;
  if (n < 8) throw corrupt(`only ${n} bytes`);
  const ident = String.fromCharCode(...bytes.subarray(4, 8));
  if (ident !== 'TFL3') throw corrupt(`file identifier is ${JSON.stringify(ident)}, expected "TFL3"`);
  const v = new DataView(bytes.buffer, bytes.byteOffset, n);
  const need = (p: number, size: number, what: string): number => {
    if (!(p >= 0 && p + size <= n)) throw corrupt(`${what} at byte ${p} lies outside the ${n}-byte file`);
    return p;
  };
  const u32 = (p: number, what: string): number => v.getUint32(need(p, 4, what), true);
  const ref = (p: number, what: string): number => need(p + u32(p, what), 4, what);
  // vtable: its size, the table's size, then one u16 offset per field slot (0: absent).
  const field = (t: number, slot: number, what: string): number | undefined => {
    const vt = t - v.getInt32(need(t, 4, what), true);
    const size = v.getUint16(need(vt, 4, `${what} vtable`), true);
    if (size < 4 || size % 2) throw corrupt(`${what} has a malformed vtable (size ${size})`);
    if (4 + 2 * slot >= size) return undefined;
    const off = v.getUint16(need(vt + 4 + 2 * slot, 2, what), true);
    if (!off) return undefined;
    if (off >= v.getUint16(vt + 2, true)) throw corrupt(`${what} field ${slot} points past its table`);
    return t + off;
  };
  const vec = (t: number, slot: number, elem: number, what: string): [number, number] => {
    const f = field(t, slot, what);
    if (f === undefined) return [0, 0];
    const at = ref(f, what);
    const len = u32(at, what);
    return [need(at + 4, len * elem, `${what} (${len} elements)`), len];
  };
  const ints = (t: number, slot: number, what: string): number[] => {
    const [s, len] = vec(t, slot, 4, what);
    return Array.from({ length: len }, (_, k) => v.getInt32(s + 4 * k, true));
  };
  const tables = (t: number, slot: number, what: string): number[] => {
    const [s, len] = vec(t, slot, 4, what);
    return Array.from({ length: len }, (_, k) => ref(s + 4 * k, `${what}[${k}]`));
  };
  // A vector of ints of 4, 2 or 1 bytes (SparseIndexVector: Int32Vector 1, Uint16Vector 2, Uint8Vector 3).
  const indexVec = (t: number, typeSlot: number, what: string): number[] => {
    const kind = num(t, typeSlot, what, 'u8', 0);
    const size = ({ 1: 4, 2: 2, 3: 1 } as Record<number, number>)[kind];
    if (size === undefined) throw corrupt(`${what} has index vector type ${kind} (expected 1, 2 or 3)`);
    const f = field(t, typeSlot + 1, what);
    if (f === undefined) throw corrupt(`${what} has no index vector`);
    const inner = ref(f, what);
    const [s, len] = vec(inner, 0, size, `${what}.values`);
    return Array.from({ length: len }, (_, k) =>
      size === 4 ? v.getInt32(s + 4 * k, true) : size === 2 ? v.getUint16(s + 2 * k, true) : v.getUint8(s + k),
    );
  };
  const str = (t: number, slot: number, what: string): string => {
    const [s, len] = vec(t, slot, 1, what);
    return new TextDecoder().decode(bytes.subarray(s, s + Math.min(len, 256)));
  };
  const num = (t: number, slot: number, what: string, kind: 'u32' | 'i32' | 'i8' | 'u8', dflt: number): number => {
    const f = field(t, slot, what);
    if (f === undefined) return dflt;
    need(f, kind === 'i8' || kind === 'u8' ? 1 : 4, what);
    if (kind === 'i8') return v.getInt8(f);
    if (kind === 'u8') return v.getUint8(f);
    return kind === 'u32' ? v.getUint32(f, true) : v.getInt32(f, true);
  };
  /**
   * Tensor.sparsity (slot 6): SparsityParameters { traversal_order 0, block_map 1, dim_metadata 2 }, each
   * DimensionMetadata { format 0 (DENSE 0, SPARSE_CSR 1), dense_size 1, array_segments 2–3, array_indices 4–5 }.
   * Walks the levels as the format defines them and returns how many values the buffer must hold.
   */
  const sparsityOf = (
    t: number,
    shape: readonly number[],
    what: string,
  ): { values: number; levels: ('DENSE' | 'SPARSE_CSR')[] } | undefined => {
    const f = field(t, 6, what);
    if (f === undefined) return undefined;
    const sp = ref(f, `${what}.sparsity`);
    const w = `${what}.sparsity`;
    const blockMap = ints(sp, 1, `${w}.block_map`);
    const dims = tables(sp, 2, `${w}.dim_metadata`);
    const n = shape.length;
    const levels = n + blockMap.length;
    if (dims.length !== levels)
      throw corrupt(`${w} has ${dims.length} dim_metadata for rank ${n} with ${blockMap.length} block dimension(s)`);
    const order = field(sp, 0, w) === undefined ? dims.map((_, i) => i) : ints(sp, 0, `${w}.traversal_order`);
    if (order.length !== levels || [...order].sort((a, b) => a - b).some((d, i) => d !== i))
      throw corrupt(`${w}.traversal_order [${order.join(',')}] is not a permutation of 0..${levels - 1}`);
    for (const d of blockMap)
      if (!(d >= 0 && d < n)) throw corrupt(`${w}.block_map names dimension ${d} of a rank-${n} tensor`);
    const formats = dims.map((dm, i) => {
      const format = num(dm, 0, `${w}.dim_metadata[${i}]`, 'i8', 0);
      if (format !== 0 && format !== 1)
        throw corrupt(`${w}.dim_metadata[${i}] has format ${format} (DENSE 0 or SPARSE_CSR 1)`);
      return format;
    });
    // A block dimension is dense: its dense_size is the block size; the blocked dimension then counts blocks.
    const size = new Map<number, number>();
    const blocks = shape.map(() => 1);
    blockMap.forEach((d, j) => {
      const at = order.indexOf(n + j);
      const b = num(dims[at]!, 1, `${w}.dim_metadata[${at}]`, 'i32', 0);
      if (formats[at] !== 0 || !(b > 0)) throw corrupt(`${w}: block dimension ${j} must be DENSE with a size above 0`);
      size.set(n + j, b);
      blocks[d]! *= b;
    });
    shape.forEach((s, d) => {
      if (s < 0 || s % blocks[d]! !== 0)
        throw corrupt(`${w}: dimension ${d} of size ${s} is not a whole number of blocks of ${blocks[d]}`);
      size.set(d, s / blocks[d]!);
    });
    let count = 1;
    order.forEach((d, i) => {
      const dm = dims[i]!;
      const at = `${w}.dim_metadata[${i}]`;
      const expect = size.get(d)!;
      if (formats[i] === 0) {
        const dense = num(dm, 1, at, 'i32', 0);
        if (dense !== expect) throw corrupt(`${at} is DENSE of size ${dense}, but dimension ${d} has ${expect}`);
        count *= dense;
        return;
      }
      const segments = indexVec(dm, 2, `${at}.array_segments`);
      const indices = indexVec(dm, 4, `${at}.array_indices`);
      if (segments.length !== count + 1)
        throw corrupt(`${at}.array_segments has ${segments.length} entries, expected ${count + 1}`);
      if (segments[0] !== 0 || segments.some((x, k) => k > 0 && x < segments[k - 1]!))
        throw corrupt(`${at}.array_segments must start at 0 and never decrease`);
      if (indices.length !== segments[count])
        throw corrupt(`${at}.array_indices has ${indices.length} entries, its segments end at ${segments[count]}`);
      const bad = indices.find((x) => !(x >= 0 && x < expect));
      if (bad !== undefined)
        throw corrupt(`${at}.array_indices holds ${bad}, outside dimension ${d} of size ${expect}`);
      count = indices.length;
    });
    return { values: count, levels: formats.map((x) => (x ? 'SPARSE_CSR' : 'DENSE')) };
  };
  // Slots follow schema.fbs; OperatorCode holds its code in a legacy byte (0) and an int (3).
  const model = ref(0, 'root table');
  const schemaVersion = num(model, 0, 'Model.version', 'u32', 0);
  if (schemaVersion !== 3) throw corrupt(`schema version is ${schemaVersion}, expected 3`);
  const operatorCodes = tables(model, 1, 'Model.operator_codes').map((oc, k) => {
    const what = `OperatorCode[${k}]`;
    const code = Math.max(num(oc, 0, what, 'i8', 0), num(oc, 3, what, 'i32', 0));
    return { op: BUILTIN_NAMES[code] ?? `BUILTIN_${code}`, code, version: num(oc, 2, what, 'i32', 1) };
  });
  const subgraphs = tables(model, 2, 'Model.subgraphs');
  const bufferBytes = tables(model, 4, 'Model.buffers').map((b, k) => vec(b, 0, 1, `Buffer[${k}].data`)[1]);
  const sg = subgraphs[0];
  if (sg === undefined) throw corrupt('the model has no subgraph');
  const tensors: TfliteTensorInfo[] = tables(sg, 0, 'SubGraph.tensors').map((t, k) => {
    const what = `Tensor[${k}]`;
    const shape = ints(t, 0, `${what}.shape`);
    const typeCode = num(t, 1, what, 'i8', 0);
    const type = TENSOR_TYPES[typeCode] ?? `type${typeCode}`;
    const buffer = num(t, 2, what, 'u32', 0);
    const constantBytes = bufferBytes[buffer];
    if (constantBytes === undefined) throw corrupt(`${what} refers to buffer ${buffer} of ${bufferBytes.length}`);
    const bits = /^u?(?:int|float)(8|16|32|64)$/.exec(type)?.[1];
    // A sparse constant's buffer holds only the values its sparsity metadata keeps.
    const sparsity = sparsityOf(t, shape, what);
    const values = sparsity ? sparsity.values : shape.reduce((a, b) => a * b, 1);
    const expected = (values * Number(bits ?? 0)) / 8;
    if (constantBytes > 0 && bits && shape.every((d) => d >= 0) && expected !== constantBytes) {
      throw corrupt(
        `${what} is ${type}[${shape.join(',')}]${sparsity ? `, sparse with ${values} stored values` : ''} (${expected} bytes) but its buffer holds ${constantBytes} bytes`,
      );
    }
    return { name: str(t, 3, what), shape, type, constantBytes, ...(sparsity ? { sparsity } : {}) };
  });
  const tensorAt = (i: number, what: string): TfliteTensorInfo => {
    const t = tensors[i];
    if (!t) throw corrupt(`${what} refers to tensor ${i} of ${tensors.length}`);
    return t;
  };
  const operators = tables(sg, 3, 'SubGraph.operators').map((o, k) => {
    const what = `Operator[${k}]`;
    const idx = num(o, 0, what, 'u32', 0);
    const code = operatorCodes[idx];
    if (!code) throw corrupt(`${what} uses operator code ${idx} of ${operatorCodes.length}`);
    const inputs = ints(o, 1, what);
    const outputs = ints(o, 2, what);
    for (const i of [...inputs, ...outputs]) if (i !== -1) tensorAt(i, what);
    return { op: code.op, version: code.version, inputs, outputs };
  });
  return {
    schemaVersion,
    operatorCodes,
    tensors,
    operators,
    inputs: ints(sg, 1, 'SubGraph.inputs').map((i) => tensorAt(i, 'SubGraph.inputs')),
    outputs: ints(sg, 2, 'SubGraph.outputs').map((i) => tensorAt(i, 'SubGraph.outputs')),
  };
}

function checkRunnable(info: TfliteModelInfo, manifest: SessionRequest['manifest']): void {
  for (const c of info.operatorCodes) {
    const max = c.code === 32 ? 0 : TFLITE_MAX_OP_VERSIONS[c.op];
    if (max !== undefined && c.version > max) {
      throw new EdgetuneError(
        'UNSUPPORTED_OP',
        `Model ${manifest.id} uses ${c.op} version ${c.version}; tfjs-tflite accepts ${max ? `up to version ${max}` : 'no custom ops'}. Re-convert it for an older TFLite runtime.`,
        { details: { op: c.op, version: c.version, max } },
      );
    }
  }
  const [input, output] = [info.inputs[0], info.outputs[0]];
  if (info.inputs.length !== 1 || info.outputs.length !== 1 || !input || !output) {
    throw new EdgetuneError(
      'MANIFEST_INVALID',
      `Model ${manifest.id} has ${info.inputs.length} inputs and ${info.outputs.length} outputs; an encoder has one of each.`,
      { details: { field: 'input' } },
    );
  }
  for (const t of [input, output]) {
    // INPUT_TYPE is for what the app passes; a model edgetune cannot feed is a model the runtime does not support.
    if (t.type !== 'float32')
      throw new EdgetuneError(
        'UNSUPPORTED_OP',
        `Model ${manifest.id} has a ${t.type} I/O tensor "${t.name}"; edgetune feeds and reads float32 (quantize inside the graph).`,
        { details: { tensor: t.name, type: t.type } },
      );
  }
  const want = [1, ...(manifest.input.shape.slice(1) as number[])];
  const dim = output.shape.slice(1).reduce((a, b) => a * b, 1);
  if (String(input.shape) !== String(want) || dim !== manifest.output.dim) {
    throw new EdgetuneError(
      'MANIFEST_INVALID',
      `Model ${manifest.id} maps input shape [${input.shape.join(', ')}] to ${dim} values; the manifest says [${want.join(', ')}] (${manifest.input.layout}) and ${manifest.output.dim}. Fix the manifest.`,
      { details: { field: 'input.shape', model: input.shape } },
    );
  }
}

// The parts of tfjs-core and tfjs-tflite this backend uses.
interface TfCore {
  tensor(values: Float32Array, shape: number[], dtype: 'float32'): TfTensor;
  ready(): Promise<void>;
}
interface TfTensor {
  dataSync(): ArrayLike<number>;
  dispose(): void;
}
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

/** Directory of tfjs-tflite's wasm files: the app must say where it deployed them. */
function wasmPath(): string {
  if (env.tfliteWasmPath !== undefined) return env.tfliteWasmPath;
  // tfjs-tflite's own default is the page's folder, which silently 404s; a bundled module cannot find the package's wasm/.
  throw new EdgetuneError(
    'BACKEND_UNAVAILABLE',
    "env.tfliteWasmPath is not set: copy tfjs-tflite's WASM files into your app (npx edgetune-copy-assets public/assets --tflite) and set env.tfliteWasmPath = '/assets/tflite/' from 'edgetune/runtime' before opening a TFLite model.",
    { details: { setting: 'tfliteWasmPath' } },
  );
}

function loadRuntime(): Promise<Runtime> {
  if (!runtime) {
    runtime = (async () => {
      const path = wasmPath();
      const tf = (await import('@tensorflow/tfjs-core')) as unknown as TfCore;
      // Tensors need a tfjs backend: register the CPU one (an app's own keeps priority).
      await import('@tensorflow/tfjs-backend-cpu');
      await tf.ready();
      // Its "module" entry imports a file the package lacks; the flat ESM build is whole.
      // @ts-expect-error -- no .d.ts for the flat build; typed through TfliteModule.
      const tflite = (await import('@tensorflow/tfjs-tflite/dist/tf-tflite.fesm.js')) as unknown as TfliteModule;
      tflite.setWasmPath(path);
      return { tf, tflite };
    })();
    runtime.catch(() => {
      runtime = undefined;
    });
  }
  return runtime;
}

function createTfliteSession(tf: TfCore, model: TfliteModel, manifest: SessionRequest['manifest']): BackendSession {
  const shape = [1, ...(manifest.input.shape.slice(1) as number[])];
  const size = shape.reduce((a, b) => a * b, 1);
  const dim = manifest.output.dim;
  return {
    async run(input, batch) {
      const out = new Float32Array(batch * dim);
      // tfjs-tflite cannot resize the fixed batch-1 input: one call per sample.
      for (let k = 0; k < batch; k++) {
        const x = tf.tensor(input.slice(k * size, (k + 1) * size), shape, 'float32');
        let y: TfTensor | undefined;
        try {
          const result = model.predict(x);
          y = Array.isArray(result)
            ? result[0]
            : 'dataSync' in result
              ? (result as TfTensor)
              : Object.values(result)[0];
          out.set(y!.dataSync(), k * dim);
        } catch (err) {
          throw new EdgetuneError(
            'BACKEND_UNAVAILABLE',
            `Running ${manifest.id} on tfjs-tflite failed: ${err instanceof Error ? err.message : String(err)}`,
            { cause: err },
          );
        } finally {
          x.dispose();
          y?.dispose();
        }
      }
      return out;
    },
    async dispose() {
      // The runner is private in TFLiteModel; cleanUp() frees the interpreter's wasm memory.
      (model as { modelRunner?: { cleanUp?: () => void } }).modelRunner?.cleanUp?.();
    },
  };
}

/** Why tfjs-tflite cannot run here, or undefined when it can (cheap: loads nothing). */
function unavailableReason(): string | undefined {
  if (isNode()) {
    return 'tfjs-tflite runs only in a browser (main thread or classic Worker), not in Node.js; open the ONNX model in Node.';
  }
  const g = globalThis as { WorkerGlobalScope?: unknown; importScripts?: (...urls: string[]) => void };
  if (typeof g.WorkerGlobalScope !== 'undefined') {
    // importScripts() with no URL is a no-op in a classic worker and throws in a module worker.
    try {
      if (typeof g.importScripts !== 'function') throw new TypeError('importScripts is missing');
      g.importScripts();
    } catch {
      return 'tfjs-tflite loads its WASM with importScripts, which module Workers lack; use the main thread, a classic Worker, or the ONNX model.';
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
    const info = inspectTflite(bytes);
    checkRunnable(info, manifest);
    const reason = unavailableReason();
    if (reason !== undefined) throw new EdgetuneError('BACKEND_UNAVAILABLE', reason);
    throwIfAborted(signal);
    const ops = info.operatorCodes.map((c) => `${c.op}/v${c.version}`);
    try {
      const { tf, tflite } = await loadRuntime();
      throwIfAborted(signal);
      const numThreads = env.numThreads ?? (threadsAllowed() ? Math.min(4, hardwareConcurrency()) : 1);
      return createTfliteSession(tf, await tflite.loadTFLiteModel(bytes.slice().buffer, { numThreads }), manifest);
    } catch (err) {
      // ABORTED, and the missing-wasm-path error, are already what the app should see.
      if (err instanceof EdgetuneError && (err.code === 'ABORTED' || err.code === 'BACKEND_UNAVAILABLE')) throw err;
      const message = err instanceof Error ? err.message : String(err);
      // The structure is already verified, so "Can't initialize model" means an op failed to resolve or prepare (TFLite names it in the console only).
      if (/Didn't find op|Can't initialize model/i.test(message)) {
        throw new EdgetuneError(
          'UNSUPPORTED_OP',
          `tfjs-tflite could not build ${manifest.id} (${message}): one of ${ops.join(', ')} is missing from its TFLite build or gets unsupported tensors (the console names it).`,
          { cause: err, details: { ops } },
        );
      }
      throw new EdgetuneError(
        'BACKEND_UNAVAILABLE',
        `Loading ${manifest.id} with tfjs-tflite failed: ${message}. Check that env.tfliteWasmPath (${env.tfliteWasmPath}) serves tflite_web_api_cc*.{js,wasm}.`,
        { cause: err },
      );
    }
  },
};

let unregister: (() => void) | undefined;

/**
 * Lets `Encoder.open` run TFLite models through `@tensorflow/tfjs-tflite` (downloaded only when one
 * opens). Browser only: main thread or classic Worker, WASM. Calling it again changes nothing.
 *
 * @param priority - registry priority @defaultValue 0
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
