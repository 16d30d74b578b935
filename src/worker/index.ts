// Public entry of edgetune/worker: run the encoder off the main thread in a module Worker through comlink.
import { proxy, releaseProxy, transfer, wrap, type Remote } from 'comlink';
import { EdgetuneError, throwIfAborted } from '../core/errors.js';
import type { EncoderDiagnostics, LoadProgress } from '../runtime/encoder.js';
import type { RuntimeEnv } from '../runtime/env.js';
import type { ModelManifest } from '../runtime/manifest.js';
import type { ImageInput } from '../runtime/preprocess.js';
import type { WorkerApi, WorkerEncoderOptions, WorkerModelSource } from './api.js';
import { installErrorTransfer } from './errors.js';

export type { WorkerEncoderInfo, WorkerEncoderOptions, WorkerModelSource } from './api.js';

/** Options of {@link EdgetuneWorker.start}. */
export interface StartWorkerOptions {
  /** URL of the worker script. @defaultValue `new URL('./worker-script.js', import.meta.url)` (dist/worker-script.js) */
  readonly url?: string | URL;
  /** Worker name; must start with `edgetune`. @defaultValue 'edgetune' */
  readonly name?: string;
  /** Runtime settings applied inside the worker before anything is opened (e.g. `wasmPaths`). */
  readonly env?: Partial<RuntimeEnv>;
}

let tokens = 0;

/** An encoder living in the worker. Same shape as `Encoder` for embedding. */
export class WorkerEncoder {
  readonly #api: Remote<WorkerApi>;
  readonly #handle: number;
  #disposed = false;
  /** The model's manifest. */
  readonly manifest: ModelManifest;
  /** Where the model runs and why. */
  readonly diagnostics: EncoderDiagnostics;

  /** @internal */
  constructor(api: Remote<WorkerApi>, handle: number, manifest: ModelManifest, diagnostics: EncoderDiagnostics) {
    this.#api = api;
    this.#handle = handle;
    this.manifest = manifest;
    this.diagnostics = diagnostics;
  }

  /** The device that runs the model. */
  get backend(): EncoderDiagnostics['device'] {
    return this.diagnostics.device;
  }

  /** Embedding size. */
  get dim(): number {
    return this.manifest.output.dim;
  }

  /**
   * Embeds inputs in the worker. `ImageBitmap`s are transferred (the page's copies become unusable).
   *
   * @throws EdgetuneError as `Encoder.embed`, with codes intact across the boundary
   */
  async embed(inputs: readonly ImageInput[], options: { signal?: AbortSignal } = {}): Promise<Float32Array[]> {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker encoder was disposed.');
    const bitmaps = inputs.filter((x): x is ImageBitmap => typeof ImageBitmap === 'function' && x instanceof ImageBitmap);
    return forwardAbort(this.#api, options.signal, (token) => this.#api.embed(this.#handle, transfer([...inputs], bitmaps), token));
  }

  /** Frees the encoder in the worker. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#api.disposeEncoder(this.#handle);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

async function forwardAbort<T>(api: Remote<WorkerApi>, signal: AbortSignal | undefined, fn: (token: string | undefined) => Promise<T>): Promise<T> {
  throwIfAborted(signal);
  if (!signal) return fn(undefined);
  const token = `t${++tokens}`;
  const onAbort = (): void => void api.abort(token);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await fn(token);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/**
 * A module Web Worker running edgetune, so inference never blocks the page.
 *
 * @example
 * ```ts
 * await using worker = await EdgetuneWorker.start();
 * const encoder = await worker.openEncoder('/models/default.json');
 * const [e] = await encoder.embed([await createImageBitmap(video)]);
 * ```
 */
export class EdgetuneWorker {
  readonly #worker: Worker;
  readonly #api: Remote<WorkerApi>;
  #terminated = false;

  private constructor(worker: Worker, api: Remote<WorkerApi>) {
    this.#worker = worker;
    this.#api = api;
  }

  /** Starts the worker (browser only). */
  static async start(options: StartWorkerOptions = {}): Promise<EdgetuneWorker> {
    if (typeof Worker !== 'function') throw new EdgetuneError('WORKER_FAILED', 'Web Workers are not available here; use Encoder from edgetune/runtime directly.');
    const name = options.name ?? 'edgetune';
    if (!name.startsWith('edgetune')) throw new EdgetuneError('INVALID_ARGUMENT', `Worker name must start with "edgetune" (got "${name}"): the worker script only starts under such a name.`);
    installErrorTransfer();
    const worker = new Worker(options.url ?? new URL('./worker-script.js', import.meta.url), { type: 'module', name });
    const failed = new Promise<never>((_, reject) => {
      worker.addEventListener('error', (e) => reject(new EdgetuneError('WORKER_FAILED', `The edgetune worker failed to start: ${e.message || 'script error (check the worker URL)'}.`)), { once: true });
    });
    const api = wrap<WorkerApi>(worker);
    const w = new EdgetuneWorker(worker, api);
    // The first call proves the script loaded and exposed its API.
    await Promise.race([api.configure(options.env ?? {}), failed]);
    return w;
  }

  /** Opens an encoder inside the worker; same options as `Encoder.open` minus functions that cannot cross. */
  async openEncoder(source: WorkerModelSource, options: WorkerEncoderOptions & { signal?: AbortSignal; onProgress?: (p: LoadProgress) => void } = {}): Promise<WorkerEncoder> {
    this.#assertAlive();
    const { signal, onProgress, ...rest } = options;
    const progress = onProgress ? proxy((p: unknown) => onProgress(p as LoadProgress)) : undefined;
    const info = await forwardAbort(this.#api, signal, (token) => this.#api.openEncoder(source, rest, token, progress));
    return new WorkerEncoder(this.#api, info.handle, info.manifest, info.diagnostics);
  }

  #assertAlive(): void {
    if (this.#terminated) throw new EdgetuneError('DISPOSED', 'This edgetune worker was terminated.');
  }

  /** Disposes everything in the worker and terminates it. */
  async dispose(): Promise<void> {
    if (this.#terminated) return;
    this.#terminated = true;
    await this.#api.disposeAll().catch(() => undefined);
    this.#api[releaseProxy]();
    this.#worker.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
