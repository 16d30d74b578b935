// Public entry of edgetune/worker: encoders, learners and storage off the main thread in a Web Worker through comlink, with the in-thread API's shape.
import { proxy, releaseProxy, transfer, wrap, type Remote } from 'comlink';
import { EdgetuneError, throwIfAborted } from '../core/errors.js';
import type { AdaptProgress, AdaptResult, LearnerEvent, LearnerOptions, LearnerState, LearnerStats, Observation, Prediction } from '../finetune/learner.js';
import type { EncoderDiagnostics, LoadProgress } from '../runtime/encoder.js';
import type { RuntimeEnv } from '../runtime/env.js';
import type { ModelManifest } from '../runtime/manifest.js';
import type { ImageInput } from '../runtime/preprocess.js';
import type {
  Checkpoint,
  CheckpointInfo,
  CheckpointStore,
  EncryptionOptions,
  MetaStore,
  ModelInfo,
  OperationOptions,
  SaveResult,
  SampleStore,
  StorageEstimateResult,
  StorageEvents,
  StoredManifest,
  StoredModel,
  StoredSample,
} from '../storage/types.js';
import type { LearnerCalls, LearnerSnapshot, WorkerApi, WorkerEncoderOptions, WorkerModelSource, WorkerStorageOptions } from './api.js';
import { installErrorTransfer } from './errors.js';
import { storageOptionsIndex, wholeBuffer, type StorageScope } from './protocol.js';

export type { WorkerEncoderInfo, WorkerEncoderOptions, WorkerStorageOptions } from './api.js';

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
  /** Cancels the start. */
  readonly signal?: AbortSignal;
}

/** Options of {@link WorkerEncoder.embed}. */
export interface WorkerEmbedOptions {
  readonly signal?: AbortSignal;
  /**
   * Move the inputs' pixel buffers and `ImageBitmap`s to the worker instead of copying them; the
   * page's copies become unusable (detached, zero length).
   * @defaultValue true
   */
  readonly transfer?: boolean;
}

let tokens = 0;

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

/** What can be moved rather than copied out of embed inputs. */
function transferables(inputs: readonly ImageInput[]): Transferable[] {
  const out: Transferable[] = [];
  for (const x of inputs) {
    if (typeof ImageBitmap === 'function' && x instanceof ImageBitmap) out.push(x);
    else if (typeof x === 'object' && x !== null && 'data' in x && ArrayBuffer.isView(x.data)) {
      const b = wholeBuffer(x.data);
      if (b && !out.includes(b)) out.push(b);
    }
  }
  return out;
}

/** Subscribes through an async call but hands back a synchronous unsubscribe, like the in-thread `on()`. */
function subscribe(api: Remote<WorkerApi>, start: (listener: (e: unknown) => void) => Promise<number>, listener: (e: never) => void): () => void {
  const id = start(proxy((e: unknown) => (listener as (e: unknown) => void)(e)));
  let done = false;
  return () => {
    if (done) return;
    done = true;
    void id.then((s) => api.off(s)).catch(() => undefined);
  };
}

/** An encoder living in the worker: `embed` and `dispose` as on `Encoder`, asynchronous across the boundary. */
export class WorkerEncoder {
  readonly #api: Remote<WorkerApi>;
  /** @internal */
  readonly handle: number;
  #disposed = false;
  /** The model's manifest. */
  readonly manifest: ModelManifest;
  /** Where the model runs and why. */
  readonly diagnostics: EncoderDiagnostics;

  /** @internal */
  constructor(api: Remote<WorkerApi>, handle: number, manifest: ModelManifest, diagnostics: EncoderDiagnostics) {
    this.#api = api;
    this.handle = handle;
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
   * Embeds inputs in the worker; the embeddings come back as moved buffers. By default the inputs'
   * pixel buffers and `ImageBitmap`s move to the worker too (see {@link WorkerEmbedOptions.transfer}).
   *
   * @throws EdgetuneError as `Encoder.embed`, with codes intact across the boundary
   */
  async embed(inputs: readonly ImageInput[], options: WorkerEmbedOptions = {}): Promise<Float32Array[]> {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker encoder was disposed.');
    const moved = options.transfer === false ? [] : transferables(inputs);
    return forwardAbort(this.#api, options.signal, (token) => this.#api.embed(this.handle, transfer([...inputs], moved), token));
  }

  /** Frees the encoder in the worker. Calling it again does nothing. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#api.disposeEncoder(this.handle);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/**
 * A `Learner` living in the worker. Same members as `Learner`, but every call returns a promise;
 * `classes`, `dim` and `ready` stay synchronous (mirrored after each call). Embeddings sent to it
 * are copied (they are small); the page keeps them.
 */
export class WorkerLearner {
  readonly #api: Remote<WorkerApi>;
  readonly #handle: number;
  #snapshot: LearnerSnapshot;
  #disposed = false;
  /** Embedding size. */
  readonly dim: number;

  /** @internal */
  constructor(api: Remote<WorkerApi>, handle: number, dim: number, snapshot: LearnerSnapshot) {
    this.#api = api;
    this.#handle = handle;
    this.dim = dim;
    this.#snapshot = snapshot;
  }

  /** Class labels, in index order (as of the last call). */
  get classes(): readonly string[] {
    return this.#snapshot.classes;
  }

  /** True once every class has a labeled example (as of the last call). */
  get ready(): boolean {
    return this.#snapshot.ready;
  }

  async #call<K extends keyof LearnerCalls>(method: K, ...args: LearnerCalls[K]): Promise<unknown> {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker learner was disposed.');
    const r = await this.#api.learnerCall(this.#handle, method, args);
    this.#snapshot = r.snapshot;
    return r.result;
  }

  /** See `Learner.addClass`. */
  async addClass(label: string): Promise<void> {
    await this.#call('addClass', label);
  }

  /** See `Learner.removeClass`. */
  async removeClass(label: string): Promise<void> {
    await this.#call('removeClass', label);
  }

  /** See `Learner.renameClass`. */
  async renameClass(from: string, to: string): Promise<void> {
    await this.#call('renameClass', from, to);
  }

  /** See `Learner.addLabeled`. */
  async addLabeled(embedding: Float32Array, label: string): Promise<void> {
    await this.#call('addLabeled', embedding, label);
  }

  /** See `Learner.predict`. */
  async predict(embedding: Float32Array): Promise<Prediction> {
    return (await this.#call('predict', embedding)) as Prediction;
  }

  /** See `Learner.observe`. */
  async observe(embedding: Float32Array, options: { readonly augmented?: Float32Array } = {}): Promise<Observation> {
    return (await this.#call('observe', embedding, options)) as Observation;
  }

  /** See `Learner.adapt`; the signal and progress cross the boundary. */
  async adapt(options: { readonly signal?: AbortSignal; readonly onProgress?: (p: AdaptProgress) => void } = {}): Promise<AdaptResult> {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker learner was disposed.');
    const { signal, onProgress } = options;
    const progress = onProgress ? proxy((p: unknown) => onProgress(p as AdaptProgress)) : undefined;
    const r = await forwardAbort(this.#api, signal, (token) => this.#api.learnerAdapt(this.#handle, token, progress));
    this.#snapshot = r.snapshot;
    return r.result as AdaptResult;
  }

  /** See `Learner.stats`. */
  async stats(): Promise<LearnerStats> {
    return (await this.#call('stats')) as LearnerStats;
  }

  /** See `Learner.getState`: a plain record for `storage.checkpoints().save()` (its buffers move to the page). */
  async getState(): Promise<LearnerState> {
    return (await this.#call('getState')) as LearnerState;
  }

  /** See `Learner.on`: events arrive on the page; the returned function unsubscribes. */
  on(listener: (e: LearnerEvent) => void): () => void {
    return subscribe(this.#api, (l) => this.#api.learnerOn(this.#handle, l), listener);
  }

  /** Frees the learner in the worker. Calling it again does nothing. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#api.disposeLearner(this.#handle);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

type Call = (scope: StorageScope, method: string, args: unknown[]) => Promise<unknown>;

/** `storage.checkpoints(slot)` in the worker: as in-thread, less `update()` (it takes a function, which cannot cross). */
export type WorkerCheckpointStore<T = unknown> = Omit<CheckpointStore<T>, 'update'>;

/** `storage.samples(slot)` in the worker: as in-thread, less `iterate()` (use `getAll`). */
export type WorkerSampleStore<S = unknown> = Omit<SampleStore<S>, 'iterate'>;

/**
 * Storage opened inside the worker (the same IndexedDB database the page would open). Same members
 * as `EdgetuneStorage` except those that take functions across the boundary (`checkpoints().update`,
 * `samples().iterate`, `onBlocked`); `signal` and `onProgress` work as in-thread.
 */
export class WorkerStorage {
  readonly #api: Remote<WorkerApi>;
  /** @internal */
  readonly handle: number;
  #disposed = false;
  /** Whether records are encrypted at rest. */
  readonly encrypted: boolean;
  /** Small key-value settings. */
  readonly meta: MetaStore;

  /** @internal */
  constructor(api: Remote<WorkerApi>, handle: number, encrypted: boolean) {
    this.#api = api;
    this.handle = handle;
    this.encrypted = encrypted;
    const meta: StorageScope = { kind: 'meta' };
    this.meta = {
      get: async <V>(key: string) => (await this.#call(meta, 'get', [key])) as V | undefined,
      set: async (key, value) => void (await this.#call(meta, 'set', [key, value])),
      delete: async (key) => void (await this.#call(meta, 'delete', [key])),
      keys: async () => (await this.#call(meta, 'keys', [])) as string[],
    };
  }

  /** Sends one call; takes `signal`/`onProgress` out of its options argument (see `STORAGE_CALLS`) and forwards them. */
  readonly #call: Call = async (scope, method, args) => {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker storage was disposed.');
    const a = [...args];
    const optionsAt = storageOptionsIndex(scope, method) ?? -1;
    let signal: AbortSignal | undefined;
    let onProgress: ((p: never) => void) | undefined;
    if (optionsAt >= 0 && a[optionsAt] !== undefined) {
      const { signal: s, onProgress: p, ...rest } = a[optionsAt] as OperationOptions;
      signal = s;
      onProgress = p;
      a[optionsAt] = rest;
    }
    const progress = onProgress ? proxy(onProgress as (p: unknown) => void) : undefined;
    return forwardAbort(this.#api, signal, (token) => this.#api.storageCall(this.handle, scope, method, a, token, progress));
  };

  /** Checkpoints of learner `slot`. */
  checkpoints<T = unknown>(slot = 'default'): WorkerCheckpointStore<T> {
    const s: StorageScope = { kind: 'checkpoints', slot };
    const c = this.#call;
    return {
      slot,
      save: async (payload, options) => (await c(s, 'save', [payload, options])) as SaveResult,
      load: async (version, options) => (await c(s, 'load', [version, options])) as Checkpoint<T> | undefined,
      list: async () => (await c(s, 'list', [])) as CheckpointInfo[],
      rollback: async (version) => void (await c(s, 'rollback', [version])),
    };
  }

  /** Replay samples of learner `slot`. */
  samples<S = unknown>(slot = 'default'): WorkerSampleStore<S> {
    const s: StorageScope = { kind: 'samples', slot };
    const c = this.#call;
    return {
      slot,
      add: async (values, options) => (await c(s, 'add', [values, options])) as number[],
      count: async () => (await c(s, 'count', [])) as number,
      getAll: async (options) => (await c(s, 'getAll', [options])) as StoredSample<S>[],
      delete: async (seqs) => void (await c(s, 'delete', [seqs])),
      trim: async (maxCount) => (await c(s, 'trim', [maxCount])) as number,
      clear: async () => void (await c(s, 'clear', [])),
    };
  }

  /** See `EdgetuneStorage.putModel`; the bytes are copied to the worker. */
  async putModel(id: string, manifest: StoredManifest, bytes: Uint8Array, options?: OperationOptions): Promise<{ evicted: readonly string[] }> {
    return (await this.#call({ kind: 'root' }, 'putModel', [id, manifest, bytes, options])) as { evicted: readonly string[] };
  }

  /** See `EdgetuneStorage.getModel`. */
  async getModel<M extends StoredManifest = StoredManifest>(id: string, options?: OperationOptions): Promise<StoredModel<M> | undefined> {
    return (await this.#call({ kind: 'root' }, 'getModel', [id, options])) as StoredModel<M> | undefined;
  }

  /** See `EdgetuneStorage.listModels`. */
  async listModels(): Promise<ModelInfo[]> {
    return (await this.#call({ kind: 'root' }, 'listModels', [])) as ModelInfo[];
  }

  /** See `EdgetuneStorage.deleteModel`. */
  async deleteModel(id: string): Promise<void> {
    await this.#call({ kind: 'root' }, 'deleteModel', [id]);
  }

  /** See `EdgetuneStorage.estimate`. */
  async estimate(): Promise<StorageEstimateResult> {
    return (await this.#call({ kind: 'root' }, 'estimate', [])) as StorageEstimateResult;
  }

  /** See `EdgetuneStorage.persist`. */
  async persist(): Promise<boolean> {
    return (await this.#call({ kind: 'root' }, 'persist', [])) as boolean;
  }

  /** See `EdgetuneStorage.exportProfile`. */
  async exportProfile(options?: OperationOptions): Promise<Uint8Array> {
    return (await this.#call({ kind: 'root' }, 'exportProfile', [options])) as Uint8Array;
  }

  /** See `EdgetuneStorage.importProfile`. */
  async importProfile(bytes: Uint8Array, options?: OperationOptions & { passphrase?: string }): Promise<void> {
    await this.#call({ kind: 'root' }, 'importProfile', [bytes, options]);
  }

  /** See `EdgetuneStorage.rotateKey`. */
  async rotateKey(encryption: EncryptionOptions, options?: OperationOptions): Promise<void> {
    await this.#call({ kind: 'root' }, 'rotateKey', [encryption, options]);
  }

  /** See `EdgetuneStorage.keyUsage`. */
  async keyUsage(): Promise<{ keyId: string; writes: number; limit: number } | undefined> {
    return (await this.#call({ kind: 'root' }, 'keyUsage', [])) as { keyId: string; writes: number; limit: number } | undefined;
  }

  /** See `EdgetuneStorage.on`: events arrive on the page; the returned function unsubscribes. */
  on<K extends keyof StorageEvents>(type: K, listener: (event: StorageEvents[K]) => void): () => void {
    return subscribe(this.#api, (l) => this.#api.storageOn(this.handle, type, l), listener);
  }

  /** Closes the database connection in the worker. Calling it again does nothing. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#api.disposeStorage(this.handle);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** A model source for {@link EdgetuneWorker.openEncoder}: a URL, a manifest with bytes, or a model cached in a {@link WorkerStorage}. */
export type WorkerEncoderSource = Exclude<WorkerModelSource, { readonly storage: number }> | { readonly cache: WorkerStorage; readonly id: string };

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
  readonly #api: Remote<WorkerApi>;
  #terminated = false;
  /** Whether the worker is a classic Worker (where TFLite can run). */
  readonly classic: boolean;

  private constructor(worker: Worker, api: Remote<WorkerApi>, classic: boolean) {
    this.#worker = worker;
    this.#api = api;
    this.classic = classic;
  }

  /**
   * Starts the worker (browser only).
   *
   * @throws EdgetuneError `WORKER_FAILED` when Workers are missing or the script fails to load; `INVALID_ARGUMENT` for a bad name; `ABORTED`
   */
  static async start(options: StartWorkerOptions = {}): Promise<EdgetuneWorker> {
    if (typeof Worker !== 'function') throw new EdgetuneError('WORKER_FAILED', 'Web Workers are not available here; use the in-thread API (edgetune/runtime, /finetune, /storage) directly.');
    throwIfAborted(options.signal);
    const name = options.name ?? 'edgetune';
    if (!name.startsWith('edgetune')) throw new EdgetuneError('INVALID_ARGUMENT', `Worker name must start with "edgetune" (got "${name}"): the worker scripts only start under such a name.`);
    installErrorTransfer();
    const classic = options.type === 'classic';
    let worker: Worker;
    if (classic) {
      const url = new URL(options.url ?? new URL('./worker-classic.js', import.meta.url), globalThis.location?.href);
      url.searchParams.set('module', new URL(options.moduleUrl ?? new URL('./worker-script.js', import.meta.url), globalThis.location?.href).href);
      worker = new Worker(url, { type: 'classic', name });
    } else {
      worker = new Worker(options.url ?? new URL('./worker-script.js', import.meta.url), { type: 'module', name });
    }
    const cleanup: Array<() => void> = [];
    const failed = new Promise<never>((_, reject) => {
      const onError = (e: ErrorEvent): void => reject(new EdgetuneError('WORKER_FAILED', `The edgetune worker failed to start: ${e.message || 'script error (check the worker URL)'}.`));
      worker.addEventListener('error', onError);
      cleanup.push(() => worker.removeEventListener('error', onError));
      if (options.signal) {
        const onAbort = (): void => reject(new EdgetuneError('ABORTED', 'Starting the worker was aborted.', { cause: options.signal?.reason }));
        options.signal.addEventListener('abort', onAbort, { once: true });
        cleanup.push(() => options.signal?.removeEventListener('abort', onAbort));
      }
    });
    try {
      if (classic) {
        // The classic bootstrap imports the module script asynchronously and says when comlink is listening.
        await Promise.race([
          new Promise<void>((resolve, reject) => {
            const onMessage = (e: MessageEvent<{ edgetuneWorker?: string; message?: string }>): void => {
              if (e.data?.edgetuneWorker === 'ready') resolve();
              else if (e.data?.edgetuneWorker === 'failed') reject(new EdgetuneError('WORKER_FAILED', `The edgetune worker could not import its module: ${e.data.message ?? 'unknown error'}.`));
              else return;
              worker.removeEventListener('message', onMessage);
            };
            worker.addEventListener('message', onMessage);
          }),
          failed,
        ]);
      }
      const api = wrap<WorkerApi>(worker);
      // The first call proves the script loaded and exposed its API.
      const info = await Promise.race([api.configure({ ...options.env, ...(options.tflite ? { tflite: true } : {}) }), failed]);
      return new EdgetuneWorker(worker, api, info.classic);
    } catch (e) {
      worker.terminate();
      throw e;
    } finally {
      for (const c of cleanup) c();
    }
  }

  /** Opens an encoder inside the worker; same options as `Encoder.open`, with `cache` a {@link WorkerStorage} of this worker. */
  async openEncoder(
    source: WorkerEncoderSource,
    options: WorkerEncoderOptions & { signal?: AbortSignal; onProgress?: (p: LoadProgress) => void; cache?: WorkerStorage } = {},
  ): Promise<WorkerEncoder> {
    this.#assertAlive();
    const { signal, onProgress, cache, ...rest } = options;
    const progress = onProgress ? proxy((p: unknown) => onProgress(p as LoadProgress)) : undefined;
    const src: WorkerModelSource = typeof source === 'object' && 'cache' in source ? { storage: source.cache.handle, id: source.id } : source;
    const info = await forwardAbort(this.#api, signal, (token) => this.#api.openEncoder(src, { ...rest, ...(cache ? { cache: cache.handle } : {}) }, token, progress));
    return new WorkerEncoder(this.#api, info.handle, info.manifest, info.diagnostics);
  }

  /** Creates a learner in the worker (`new Learner(options)` in-thread). */
  async createLearner(options: LearnerOptions): Promise<WorkerLearner> {
    this.#assertAlive();
    const r = await this.#api.createLearner({ options });
    return new WorkerLearner(this.#api, r.handle, r.dim, r.snapshot);
  }

  /** Restores a learner from a saved state in the worker (`Learner.fromState(state)` in-thread). */
  async restoreLearner(state: LearnerState): Promise<WorkerLearner> {
    this.#assertAlive();
    const r = await this.#api.createLearner({ state });
    return new WorkerLearner(this.#api, r.handle, r.dim, r.snapshot);
  }

  /** Opens IndexedDB storage in the worker (`openStorage(options)` in-thread; the worker's own `indexedDB`). */
  async openStorage(options: WorkerStorageOptions = {}): Promise<WorkerStorage> {
    this.#assertAlive();
    const r = await this.#api.openStorage(options);
    return new WorkerStorage(this.#api, r.handle, r.encrypted);
  }

  #assertAlive(): void {
    if (this.#terminated) throw new EdgetuneError('DISPOSED', 'This edgetune worker was terminated.');
  }

  /** Disposes everything in the worker and terminates it. Calling it again does nothing. */
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
