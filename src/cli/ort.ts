// The ONNX runtime the CLI runs models on: onnxruntime-node when installed (fast), else onnxruntime-web's WASM in Node; never Python.
type Ort = typeof import('onnxruntime-web');

/** Which runtime a CLI session runs on. */
export type CliRuntime = 'onnxruntime-node' | 'onnxruntime-web';

/** A float tensor as the CLI passes it around. */
export interface FloatTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** A model session with named float inputs and outputs. */
export interface CliSession {
  readonly runtime: CliRuntime;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Readonly<Record<string, FloatTensor>>, outputs?: readonly string[]): Promise<Record<string, FloatTensor>>;
  release(): Promise<void>;
}

const cache = new Map<CliRuntime, Promise<Ort | undefined>>();

async function importRuntime(name: CliRuntime): Promise<Ort | undefined> {
  let p = cache.get(name);
  if (!p) {
    // onnxruntime-node is optional (a devDependency here): without it the CLI uses WASM.
    p = (name === 'onnxruntime-node' ? import('onnxruntime-node') : import('onnxruntime-web'))
      .then((m) => m as unknown as Ort)
      .catch(() => undefined);
    cache.set(name, p);
  }
  return p;
}

/** True when onnxruntime-node can be loaded. */
export async function hasNativeRuntime(): Promise<boolean> {
  return (await importRuntime('onnxruntime-node')) !== undefined;
}

/**
 * Opens a session.
 *
 * @param bytes - the .onnx file
 * @param prefer - `onnxruntime-node` (falls back to WASM when not installed) or `onnxruntime-web`
 * @param threads - WASM threads (onnxruntime-web only) @defaultValue 1
 * @param exact - run the graph as written, without graph optimisations: onnxruntime-node then computes a QDQ model's
 *   DequantizeLinear → float op → QuantizeLinear chain in float instead of fusing it into integer kernels, whose
 *   u8×s8 products saturate on x86-64 CPUs without VNNI (cosine 0.983 against fp32 on such a CPU, 0.9996 with WASM).
 *   The reference the CLI scores and verifies int8 models against. @defaultValue false
 */
export async function openSession(
  bytes: Uint8Array,
  prefer: CliRuntime = 'onnxruntime-node',
  threads = 1,
  exact = false,
): Promise<CliSession> {
  let runtime: CliRuntime = prefer;
  let ort = await importRuntime(prefer);
  if (!ort) {
    runtime = 'onnxruntime-web';
    ort = await importRuntime(runtime);
  }
  if (!ort) throw new Error('Neither onnxruntime-node nor onnxruntime-web can be loaded; run npm install.');
  if (runtime === 'onnxruntime-web') {
    ort.env.wasm.numThreads = threads;
    ort.env.logLevel = 'error';
  }
  const session = await ort.InferenceSession.create(bytes, {
    graphOptimizationLevel: exact ? 'disabled' : 'all',
    ...(runtime === 'onnxruntime-node' ? { intraOpNumThreads: 1 } : {}),
  });
  const o = ort;
  return {
    runtime,
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    async run(feeds, outputs) {
      const inputs: Record<string, import('onnxruntime-web').Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) inputs[name] = new o.Tensor('float32', t.data, t.dims as number[]);
      const res = outputs ? await session.run(inputs, outputs as string[]) : await session.run(inputs);
      const out: Record<string, FloatTensor> = {};
      for (const [name, v] of Object.entries(res)) {
        out[name] = {
          data: v.data instanceof Float32Array ? v.data : Float32Array.from(v.data as ArrayLike<number>),
          dims: v.dims,
        };
      }
      return out;
    },
    release: () => session.release(),
  };
}
