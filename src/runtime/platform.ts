// What the current JavaScript platform offers, detected without loading any runtime.

/** True in Node.js (not in a browser or worker). */
export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return (
    typeof p?.versions?.node === 'string' &&
    typeof (globalThis as { document?: unknown }).document === 'undefined' &&
    typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === 'undefined'
  );
}

/** True when SharedArrayBuffer-based WASM threads are allowed (cross-origin isolated page, or Node). */
export function threadsAllowed(): boolean {
  if (isNode()) return true;
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

/** Number of logical cores, or 1 when unknown. */
export function hardwareConcurrency(): number {
  const n = (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency;
  return typeof n === 'number' && n > 0 ? n : 1;
}

/** Minimal WebNN surface used for probing; the spec is still moving (see PLATFORM-NOTES). */
interface MLLike {
  createContext(options?: Record<string, unknown>): Promise<unknown>;
}

/**
 * Asks WebNN for a context of `deviceType`. Resolves to `undefined` when it works, or the reason.
 * Tries the older `deviceType` option first, then the newer `powerPreference`/`accelerated` hints,
 * because browsers differ on which one they accept.
 */
export async function probeWebNN(deviceType: 'npu' | 'gpu'): Promise<string | undefined> {
  const ml = (globalThis as { navigator?: { ml?: MLLike } }).navigator?.ml;
  if (!ml || typeof ml.createContext !== 'function')
    return 'WebNN is not available: navigator.ml is missing in this browser';
  const attempts: Record<string, unknown>[] = [
    { deviceType },
    deviceType === 'npu'
      ? { powerPreference: 'low-power', accelerated: true }
      : { powerPreference: 'high-performance', accelerated: true },
  ];
  const reasons: string[] = [];
  for (const options of attempts) {
    try {
      const ctx = await ml.createContext(options);
      if (ctx) return undefined;
    } catch (err) {
      reasons.push(
        `createContext(${JSON.stringify(options)}) failed: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  }
  return `WebNN ${deviceType} refused by this browser: ${reasons.join('; ')}`;
}

/** Resolves to `undefined` when a WebGPU adapter is available, or the reason it is not. */
export async function probeWebGPU(): Promise<string | undefined> {
  const gpu = (globalThis as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } }).navigator?.gpu;
  if (!gpu) return 'WebGPU is not available: navigator.gpu is missing';
  try {
    const adapter = await gpu.requestAdapter();
    return adapter ? undefined : 'WebGPU is present but requestAdapter() returned null (no usable GPU adapter)';
  } catch (err) {
    return `WebGPU requestAdapter() failed: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** All cores up to 4 on a cross-origin-isolated page, else 1: the thread count before anything was measured. */
export function defaultThreads(): number {
  return threadsAllowed() ? Math.min(4, hardwareConcurrency()) : 1;
}

/**
 * The WASM thread count to load the runtime with, decided by a measurement remembered from earlier
 * page loads (`planWasmThreads` in devices.ts) before the first model opens; `undefined`: the default.
 * The count is fixed for the page once the runtime has loaded.
 */
export const threadPlan: { count: number | undefined } = { count: undefined };
