// ONNX models through onnxruntime-web: the plain WASM build, the WebGPU build, and the WebNN-capable build, each loaded only when used.
import { EdgetuneError } from '../../core/errors.js';
import type { Device } from '../devices.js';
import { env } from '../env.js';
import { defaultThreads, isNode, probeWebGPU, probeWebNN, threadPlan } from '../platform.js';
import type { Backend, BackendSession, SessionRequest } from './types.js';

type Ort = typeof import('onnxruntime-web');

/** Which onnxruntime-web build serves a device. */
type Build = 'wasm' | 'webgpu' | 'webnn';

const BUILD_OF: Record<Device, Build> = { wasm: 'wasm', webgpu: 'webgpu', 'webnn-gpu': 'webnn', 'webnn-npu': 'webnn' };

const loaded = new Map<Build, Promise<Ort>>();

function defaultWasmPaths(): string | undefined {
  // Unset: onnxruntime-web loads its own files from beside its own module (the installed package, or where the
  // app's bundler emitted them) — self-hosted, never a CDN. edgetune ships no copy (scripts/copy-assets.mjs makes one).
  return env.wasmPaths;
}

async function importBuild(build: Build): Promise<Ort> {
  // The default WebGPU build returns wrong int8 results on some adapters; the dedicated webgpu build does not (PLATFORM-NOTES).
  if (build === 'wasm')
    return (isNode() ? await import('onnxruntime-web') : await import('onnxruntime-web/wasm')) as Ort;
  if (build === 'webgpu') return (await import('onnxruntime-web/webgpu')) as Ort;
  return (await import('onnxruntime-web')) as Ort;
}

/** Loads (once) and configures the onnxruntime-web build for `build`. */
export function loadOrt(build: Build): Promise<Ort> {
  let p = loaded.get(build);
  if (!p) {
    p = importBuild(build).then((ort) => {
      ort.env.logLevel = env.logLevel;
      const paths = defaultWasmPaths();
      // Never overwrite a path the app set on ORT's own env.
      if (paths !== undefined && ort.env.wasm.wasmPaths === undefined) ort.env.wasm.wasmPaths = paths;
      if (env.numThreads !== undefined) ort.env.wasm.numThreads = env.numThreads;
      else if (!isNode()) ort.env.wasm.numThreads = threadPlan.count ?? defaultThreads();
      return ort;
    });
    p.catch(() => loaded.delete(build));
    loaded.set(build, p);
  }
  return p;
}

/**
 * The build a device's session uses. WASM runs in every build, so a WASM session (the self-check
 * reference, or WASM chosen after an accelerator was timed) reuses a build that is already loaded
 * rather than downloading the plain one as a second runtime (14 MB next to the 27 MB WebGPU one).
 */
function buildFor(device: Device): Build {
  if (device !== 'wasm' || loaded.has('wasm')) return BUILD_OF[device];
  for (const b of ['webgpu', 'webnn'] as const) if (loaded.has(b)) return b;
  return 'wasm';
}

/**
 * The WASM thread count of the loaded runtime, or `undefined` before any build has loaded (the count
 * can then still be chosen through `threadPlan`).
 */
export async function ortThreads(): Promise<number | undefined> {
  const first = loaded.values().next();
  if (first.done) return undefined;
  const ort = await first.value.catch(() => undefined);
  return ort?.env.wasm.numThreads;
}

/** Maps an onnxruntime error message to a stable edgetune error. */
export function classifyOrtError(err: unknown, context: string): EdgetuneError {
  const message = err instanceof Error ? err.message : String(err);
  if (
    /protobuf parsing failed|Failed to load model|invalid model|ModelProto|Load model from .* failed/i.test(message)
  ) {
    return new EdgetuneError(
      'MODEL_CORRUPT',
      `${context}: the model bytes are not a valid ONNX model (${message}). Re-download the model or check that the manifest points at the right file.`,
      { cause: err },
    );
  }
  if (/is not a registered function\/op|Could not find an implementation for|No Op registered for/i.test(message)) {
    return new EdgetuneError(
      'UNSUPPORTED_OP',
      `${context}: the model uses an operator this runtime does not implement (${message}).`,
      { cause: err },
    );
  }
  // edgetune always feeds the manifest's input name and shape, so a model that refuses them means the manifest is wrong.
  if (/is missing in 'feeds'|input .* not found|invalid input name/i.test(message)) {
    return new EdgetuneError(
      'MANIFEST_INVALID',
      `${context}: the model has no input by the manifest's input.name (${message}). Fix the manifest's input.name.`,
      { cause: err, details: { field: 'input.name' } },
    );
  }
  if (/invalid dimensions|invalid rank|shape/i.test(message)) {
    return new EdgetuneError(
      'MANIFEST_INVALID',
      `${context}: the model rejected the input shape the manifest declares (${message}). Fix the manifest's input.shape.`,
      { cause: err, details: { field: 'input.shape' } },
    );
  }
  return new EdgetuneError('BACKEND_UNAVAILABLE', `${context}: ${message}`, { cause: err });
}

function executionProvider(device: Device): string | Record<string, unknown> {
  switch (device) {
    case 'wasm':
      return 'wasm';
    case 'webgpu':
      return 'webgpu';
    case 'webnn-gpu':
      return { name: 'webnn', deviceType: 'gpu' };
    case 'webnn-npu':
      return { name: 'webnn', deviceType: 'npu' };
  }
}

class OrtSession implements BackendSession {
  readonly #ort: Ort;
  readonly #session: import('onnxruntime-web').InferenceSession;
  readonly #request: SessionRequest;

  constructor(ort: Ort, session: import('onnxruntime-web').InferenceSession, request: SessionRequest) {
    this.#ort = ort;
    this.#session = session;
    this.#request = request;
  }

  async run(input: Float32Array, batch: number): Promise<Float32Array> {
    const { manifest, device } = this.#request;
    const dims = [batch, ...(manifest.input.shape.slice(1) as number[])];
    const tensor = new this.#ort.Tensor('float32', input, dims);
    let outputs: import('onnxruntime-web').InferenceSession.OnnxValueMapType;
    try {
      outputs = await this.#session.run({ [manifest.input.name]: tensor });
    } catch (err) {
      throw classifyOrtError(err, `Running ${manifest.id} on ${device}`);
    } finally {
      tensor.dispose();
    }
    const out = outputs[manifest.output.name];
    if (!out) {
      for (const v of Object.values(outputs)) v.dispose();
      throw new EdgetuneError(
        'MANIFEST_INVALID',
        `Model ${manifest.id} has no output named "${manifest.output.name}" (outputs: ${Object.keys(outputs).join(', ')}). Fix the manifest's output.name.`,
        { details: { field: 'output.name' } },
      );
    }
    const data = (out.location === 'cpu' ? out.data : await out.getData()) as Float32Array;
    const copy = data instanceof Float32Array ? Float32Array.from(data) : Float32Array.from(data as ArrayLike<number>);
    for (const v of Object.values(outputs)) v.dispose();
    return copy;
  }

  async dispose(): Promise<void> {
    await this.#session.release();
  }
}

/** A manifest input/output name the model lacks, as the same `MANIFEST_INVALID` either way (checked before any run). */
function ioMismatch(
  session: import('onnxruntime-web').InferenceSession,
  request: SessionRequest,
): EdgetuneError | undefined {
  const { manifest } = request;
  for (const [field, want, have] of [
    ['input.name', manifest.input.name, session.inputNames],
    ['output.name', manifest.output.name, session.outputNames],
  ] as const) {
    if (Array.isArray(have) && !have.includes(want)) {
      const side = field === 'input.name' ? 'input' : 'output';
      return new EdgetuneError(
        'MANIFEST_INVALID',
        `Model ${manifest.id} has no ${side} named ${JSON.stringify(want)} (${side}s: ${have.join(', ')}). Fix the manifest's ${field}.`,
        { details: { field, value: want, names: [...have] } },
      );
    }
  }
  return undefined;
}

/** The built-in onnxruntime-web backend. */
export const onnxBackend: Backend = {
  name: 'onnxruntime-web',
  format: 'onnx',
  devices: ['webnn-npu', 'webnn-gpu', 'webgpu', 'wasm'],
  async probe(device) {
    if (device === 'wasm') return typeof WebAssembly === 'object' ? undefined : 'WebAssembly is not available';
    if (isNode()) return `${device} is not available in Node.js (only wasm)`;
    if (device === 'webgpu') return probeWebGPU();
    return probeWebNN(device === 'webnn-npu' ? 'npu' : 'gpu');
  },
  async createSession(request) {
    const ort = await loadOrt(buildFor(request.device));
    let session: import('onnxruntime-web').InferenceSession;
    try {
      session = await ort.InferenceSession.create(request.bytes, {
        executionProviders: [executionProvider(request.device) as 'wasm'],
        graphOptimizationLevel: 'all',
      });
    } catch (err) {
      throw classifyOrtError(err, `Loading ${request.manifest.id} on ${request.device}`);
    }
    const mismatch = ioMismatch(session, request);
    if (mismatch) {
      await session.release().catch(() => undefined);
      throw mismatch;
    }
    return new OrtSession(ort, session, request);
  },
};
