// EdgetuneWorker: starts the worker, watches that it stays alive (a Web Lock it holds is granted to the page the moment it dies), opens encoders, learners and storage in it, and always terminates on dispose.
import { proxy, wrap } from 'comlink';
import { EdgetuneError, throwIfAborted } from '../core/errors.js';
import type { LearnerOptions, LearnerState } from '../finetune/learner.js';
import type { LoadProgress } from '../runtime/encoder.js';
import type { RuntimeEnv } from '../runtime/env.js';
import type { WorkerApi, WorkerEncoderOptions, WorkerModelSource, WorkerStorageOptions } from './api.js';
import { WorkerEncoder } from './encoder.js';
import { WorkerLearner } from './learner.js';
import { Link } from './link.js';
import type { Guarded } from './protocol.js';
import { WorkerStorage } from './storage.js';

/** Options of {@link EdgetuneWorker.start}. */
export interface StartWorkerOptions {
  /**
   * `'module'` runs the ESM worker script directly. `'classic'` starts a classic Worker that imports
   * it with `import()`: the only kind of worker where TFLite (tfjs-tflite needs `importScripts`) runs.
   * @defaultValue 'module'
   */
  readonly type?: 'module' | 'classic';
  /**
   * URL of the script the Worker is created with: the module worker script, or for `type: 'classic'`
   * the classic bootstrap. For apps whose bundler moves files.
   * @defaultValue dist/worker-script.js, or dist/worker-classic.js for `type: 'classic'`
   */
  readonly url?: string | URL;
  /** For `type: 'classic'`: the module worker script the bootstrap imports. @defaultValue dist/worker-script.js */
  readonly moduleUrl?: string | URL;
  /** Worker name; must start with `edgetune` (the worker scripts only start under such a name). @defaultValue 'edgetune' */
  readonly name?: string;
  /** Runtime settings applied inside the worker before anything is opened (e.g. `wasmPaths`, `tfliteWasmPath`). */
  readonly env?: Partial<RuntimeEnv>;
  /** Registers the TFLite backend inside the worker (needs `type: 'classic'` to run). @defaultValue false */
  readonly tflite?: boolean;
  /**
   * How long `dispose()` lets the worker close its objects (flush saves, close databases) after
   * aborting its work, before it terminates the worker regardless.
   * @defaultValue 2000
   */
  readonly disposeTimeoutMs?: number;
  /** Cancels the start. */
  readonly signal?: AbortSignal;
}

/** A model source for {@link EdgetuneWorker.openEncoder}: a URL, a manifest with bytes, or a model cached in a {@link WorkerStorage}. */
export type WorkerEncoderSource =
  | Exclude<WorkerModelSource, { readonly storage: number }>
  | { readonly cache: WorkerStorage; readonly id: string };

/** Events of an {@link EdgetuneWorker}. */
export interface WorkerEvents {
  /** The worker died (terminated, crashed, closed itself); every pending call rejected with `WORKER_LOST`. Start a new one. */
  lost: { readonly error: EdgetuneError };
}

function lifelineName(): string {
  const r =
    typeof crypto !== 'undefined' && 'randomUUID' in crypto ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  return `edgetune-lifeline:${r}`;
}

interface LockManagerish {
  request(name: string, options: { signal?: AbortSignal }, cb: () => unknown): Promise<unknown>;
}

/**
 * A Web Worker running edgetune, so loading, embedding, adapting and storing never block the page.
 * Its methods mirror the in-thread entry points: `Encoder.open` → `openEncoder`, `new Learner` →
 * `createLearner`, `Learner.fromState` → `restoreLearner`, `openStorage` → `openStorage`.
 *
 * @example
 * ```ts
 * await using worker = await EdgetuneWorker.start();
 * const encoder = await worker.openEncoder('/models/fmnist-cnn-vicreg-int8.json');
 * const learner = await worker.createLearner({ dim: encoder.dim, classes: ['cat', 'dog'] });
 * const [e] = await encoder.embed([await createImageBitmap(video)]);
 * const { label, confidence } = await learner.observe(e!);
 * ```
 */
export class EdgetuneWorker {
  readonly #worker: Worker;
  readonly #lifeline: AbortController;
  readonly #disposeTimeoutMs: number;
  #terminated = false;
  /** @internal The connection; used by the personalizer's page side. */
  readonly link: Link;
  /** Whether the worker is a classic Worker (where TFLite can run). */
  readonly classic: boolean;

  private constructor(
    worker: Worker,
    link: Link,
    classic: boolean,
    lifeline: AbortController,
    disposeTimeoutMs: number,
  ) {
    this.#worker = worker;
    this.link = link;
    this.classic = classic;
    this.#lifeline = lifeline;
    this.#disposeTimeoutMs = disposeTimeoutMs;
  }

  /**
   * Starts the worker (browser only).
   *
   * @throws EdgetuneError `WORKER_FAILED` when Workers are missing or the script fails to load; `INVALID_ARGUMENT` for a bad name; `ABORTED`
   */
  static async start(options: StartWorkerOptions = {}): Promise<EdgetuneWorker> {
    if (typeof Worker !== 'function')
      throw new EdgetuneError(
        'WORKER_FAILED',
        'Web Workers are not available here; use the in-thread API (edgetune/runtime, /finetune, /storage) directly.',
      );
    throwIfAborted(options.signal);
    const name = options.name ?? 'edgetune';
    if (!name.startsWith('edgetune'))
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Worker name must start with "edgetune" (got "${name}"): the worker scripts only start under such a name.`,
      );
    const disposeTimeoutMs = options.disposeTimeoutMs ?? 2000;
    if (!(disposeTimeoutMs >= 0))
      throw new EdgetuneError('INVALID_ARGUMENT', `disposeTimeoutMs must be >= 0, got ${disposeTimeoutMs}.`);
    const classic = options.type === 'classic';
    let worker: Worker;
    if (classic) {
      const url = new URL(options.url ?? new URL('./worker-classic.js', import.meta.url), globalThis.location?.href);
      url.searchParams.set(
        'module',
        new URL(options.moduleUrl ?? new URL('./worker-script.js', import.meta.url), globalThis.location?.href).href,
      );
      worker = new Worker(url, { type: 'classic', name });
    } else {
      worker = new Worker(options.url ?? new URL('./worker-script.js', import.meta.url), { type: 'module', name });
    }
    const cleanup: Array<() => void> = [];
    const failed = new Promise<never>((_, reject) => {
      const onError = (e: ErrorEvent): void =>
        reject(
          new EdgetuneError(
            'WORKER_FAILED',
            `The edgetune worker failed to start: ${e.message || 'script error (check the worker URL)'}.`,
          ),
        );
      worker.addEventListener('error', onError);
      cleanup.push(() => worker.removeEventListener('error', onError));
      if (options.signal) {
        const onAbort = (): void =>
          reject(new EdgetuneError('ABORTED', 'Starting the worker was aborted.', { cause: options.signal?.reason }));
        options.signal.addEventListener('abort', onAbort, { once: true });
        cleanup.push(() => options.signal?.removeEventListener('abort', onAbort));
      }
    });
    failed.catch(() => undefined);
    const lifeline = new AbortController();
    try {
      if (classic) {
        // The classic bootstrap imports the module script asynchronously and says when comlink is listening.
        await Promise.race([
          new Promise<void>((resolve, reject) => {
            const onMessage = (e: MessageEvent<{ edgetuneWorker?: string; message?: string }>): void => {
              if (e.data?.edgetuneWorker === 'ready') resolve();
              else if (e.data?.edgetuneWorker === 'failed')
                reject(
                  new EdgetuneError(
                    'WORKER_FAILED',
                    `The edgetune worker could not import its module: ${e.data.message ?? 'unknown error'}.`,
                  ),
                );
              else return;
              worker.removeEventListener('message', onMessage);
            };
            worker.addEventListener('message', onMessage);
          }),
          failed,
        ]);
      }
      const link = new Link(wrap<Guarded<WorkerApi>>(worker));
      const locks = (globalThis as { navigator?: { locks?: LockManagerish } }).navigator?.locks;
      const lock = locks ? lifelineName() : undefined;
      // The first call proves the script loaded and exposed its API; the worker holds `lock` from then on.
      const info = await Promise.race([
        link.call('configure', {
          ...options.env,
          ...(options.tflite ? { tflite: true } : {}),
          ...(lock ? { lifeline: lock } : {}),
        }),
        failed,
      ]);
      const self = new EdgetuneWorker(worker, link, info.classic, lifeline, disposeTimeoutMs);
      if (locks && lock && info.lifeline) {
        // Granted only once the worker is gone: its locks are released when it terminates or crashes.
        locks.request(lock, { signal: lifeline.signal }, () => self.#lost()).catch(() => undefined);
      }
      return self;
    } catch (e) {
      worker.terminate();
      throw e;
    } finally {
      for (const c of cleanup) c();
    }
  }

  #lost(): void {
    if (this.#terminated) return;
    this.#terminated = true;
    this.link.close(
      new EdgetuneError(
        'WORKER_LOST',
        'The edgetune worker died (terminated, crashed or closed itself); this call did not complete. Start a new worker with EdgetuneWorker.start() to go on.',
      ),
    );
    this.#worker.terminate();
  }

  /**
   * Subscribes to worker events; returns the unsubscribe function.
   *
   * @param type - `'lost'`
   * @param listener - called once when the worker dies
   */
  on<K extends keyof WorkerEvents>(type: K, listener: (event: WorkerEvents[K]) => void): () => void {
    if (type !== 'lost')
      throw new EdgetuneError('INVALID_ARGUMENT', `Unknown worker event ${JSON.stringify(type)}; use 'lost'.`);
    return this.link.onLost((error) => listener({ error }));
  }

  /** Opens an encoder inside the worker; same options as `Encoder.open`, with `cache` a {@link WorkerStorage} of this worker. */
  async openEncoder(
    source: WorkerEncoderSource,
    options: WorkerEncoderOptions & {
      signal?: AbortSignal;
      onProgress?: (p: LoadProgress) => void;
      cache?: WorkerStorage;
    } = {},
  ): Promise<WorkerEncoder> {
    this.#assertAlive();
    if (typeof (options as { resolveFile?: unknown }).resolveFile === 'function')
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        'resolveFile is a function and cannot cross to the worker; pass modelBaseUrl (the folder holding the model file) instead.',
        { details: { option: 'resolveFile' } },
      );
    const { signal, onProgress, cache, ...rest } = options;
    const progress = onProgress ? proxy((p: unknown) => onProgress(p as LoadProgress)) : undefined;
    const src: WorkerModelSource =
      typeof source === 'object' && 'cache' in source ? { storage: source.cache.handle, id: source.id } : source;
    const info = await this.link.withToken(signal, (token) =>
      this.link.call('openEncoder', src, { ...rest, ...(cache ? { cache: cache.handle } : {}) }, token, progress),
    );
    return new WorkerEncoder(this.link, info.handle, info.manifest, info.diagnostics);
  }

  /** Creates a learner in the worker (`new Learner(options)` in-thread). */
  async createLearner(options: LearnerOptions): Promise<WorkerLearner> {
    this.#assertAlive();
    const r = await this.link.call('createLearner', { options });
    return new WorkerLearner(this.link, r.handle, r.dim, r.snapshot);
  }

  /** Restores a learner from a saved state in the worker (`Learner.fromState(state)` in-thread). */
  async restoreLearner(state: LearnerState): Promise<WorkerLearner> {
    this.#assertAlive();
    const r = await this.link.call('createLearner', { state });
    return new WorkerLearner(this.link, r.handle, r.dim, r.snapshot);
  }

  /** Opens IndexedDB storage in the worker (`openStorage(options)` in-thread; the worker's own `indexedDB`). */
  async openStorage(options: WorkerStorageOptions = {}): Promise<WorkerStorage> {
    this.#assertAlive();
    const r = await this.link.call('openStorage', options);
    return new WorkerStorage(this.link, r.handle, r.name, r.encrypted);
  }

  #assertAlive(): void {
    if (this.link.closed) throw new EdgetuneError(this.link.closed.code, this.link.closed.message);
    if (this.#terminated) throw new EdgetuneError('DISPOSED', 'This edgetune worker was terminated.');
  }

  /**
   * Aborts the work in flight, gives the worker up to `disposeTimeoutMs` to close its objects, and
   * terminates it — also while it is busy or already dead. Pending calls reject with `DISPOSED`.
   * Calling it again does nothing.
   */
  async dispose(): Promise<void> {
    if (this.#terminated) return;
    this.#terminated = true;
    this.#lifeline.abort();
    if (!this.link.closed) {
      this.link.abortAll();
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.link.call('disposeAll').catch(() => undefined),
        new Promise<void>((r) => (timer = setTimeout(r, this.#disposeTimeoutMs))),
      ]);
      clearTimeout(timer);
      this.link.close(new EdgetuneError('DISPOSED', 'The edgetune worker was disposed while this call was pending.'));
    }
    this.#worker.terminate();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
