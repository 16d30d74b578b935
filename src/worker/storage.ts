// WorkerStorage: the page-side proxy of storage opened in the worker, its members derived from EdgetuneStorage's types.
import { proxy } from 'comlink';
import { EdgetuneError } from '../core/errors.js';
import type {
  CheckpointStore,
  EdgetuneStorage,
  MetaStore,
  OperationOptions,
  SampleStore,
  StorageEvents,
} from '../storage/types.js';
import type { Link } from './link.js';
import { storageOptionsIndex, type Mirror, type StorageScope } from './protocol.js';

/** `storage.checkpoints(slot)` in the worker: the same members as in-thread (`update`'s function runs on the page). */
export type WorkerCheckpointStore<T = unknown> = CheckpointStore<T>;

/** `storage.samples(slot)` in the worker: as in-thread, less `iterate()` (use `getAll`). */
export type WorkerSampleStore<S = unknown> = Omit<SampleStore<S>, 'iterate'>;

/** The members of `EdgetuneStorage` a worker storage mirrors one to one. */
export type WorkerStorageMethod =
  | 'putModel'
  | 'getModel'
  | 'listModels'
  | 'deleteModel'
  | 'estimate'
  | 'persist'
  | 'exportProfile'
  | 'importProfile'
  | 'rotateKey'
  | 'keyUsage'
  | 'forget';

type Call = (scope: StorageScope, method: string, args: unknown[]) => Promise<unknown>;

/**
 * Storage opened inside the worker (the same IndexedDB database the page would open). Same members
 * as `EdgetuneStorage` except `samples().iterate` and `onBlocked`; `signal` and `onProgress` work as in-thread.
 */
export class WorkerStorage implements Mirror<EdgetuneStorage, WorkerStorageMethod | 'dispose'> {
  readonly #link: Link;
  /** @internal */
  readonly handle: number;
  #disposed = false;
  /** Database name. */
  readonly name: string;
  /** Whether records are encrypted at rest. */
  readonly encrypted: boolean;
  /** Small key-value settings. */
  readonly meta: MetaStore;

  /** @internal */
  constructor(link: Link, handle: number, name: string, encrypted: boolean) {
    this.#link = link;
    this.handle = handle;
    this.name = name;
    this.encrypted = encrypted;
    const meta: StorageScope = { kind: 'meta' };
    this.meta = {
      get: async <V>(key: string) => (await this.#call(meta, 'get', [key])) as V | undefined,
      set: async (key, value) => void (await this.#call(meta, 'set', [key, value])),
      delete: async (key) => void (await this.#call(meta, 'delete', [key])),
      keys: async () => (await this.#call(meta, 'keys', [])) as string[],
    };
  }

  #alive(): void {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker storage was disposed.');
  }

  /** Takes `signal`/`onProgress` out of one options argument (see `STORAGE_CALLS`) so the rest can be cloned. */
  #split(
    scope: StorageScope,
    method: string,
    args: unknown[],
  ): { a: unknown[]; signal: AbortSignal | undefined; progress: ((p: unknown) => void) | undefined } {
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
    return { a, signal, progress: onProgress ? proxy(onProgress as (p: unknown) => void) : undefined };
  }

  readonly #call: Call = async (scope, method, args) => {
    this.#alive();
    const { a, signal, progress } = this.#split(scope, method, args);
    return this.#link.withToken(signal, (token) =>
      this.#link.call('storageCall', this.handle, scope, method, a, token, progress),
    );
  };

  /** Checkpoints of learner `slot`. */
  checkpoints<T = unknown>(slot = 'default'): WorkerCheckpointStore<T> {
    const s: StorageScope = { kind: 'checkpoints', slot };
    const c = this.#call;
    const store: CheckpointStore<T> = {
      slot,
      save: async (payload, options) =>
        (await c(s, 'save', [payload, options])) as Awaited<ReturnType<CheckpointStore<T>['save']>>,
      load: async (version, options) =>
        (await c(s, 'load', [version, options])) as Awaited<ReturnType<CheckpointStore<T>['load']>>,
      list: async () => (await c(s, 'list', [])) as Awaited<ReturnType<CheckpointStore<T>['list']>>,
      rollback: async (version) => void (await c(s, 'rollback', [version])),
      clear: async () => void (await c(s, 'clear', [])),
      update: async (fn, options = {}) => {
        this.#alive();
        const { signal, onProgress, ...rest } = options;
        const progress = onProgress ? proxy(onProgress as (p: unknown) => void) : undefined;
        // The function stays on the page; the worker calls back into it under the cross-tab lock.
        const remoteFn = proxy(async (current: unknown) => fn(current as Parameters<typeof fn>[0]));
        return this.#link.withToken(signal, (token) =>
          this.#link.call('storageUpdate', this.handle, slot, remoteFn, rest, token, progress),
        );
      },
    };
    return store;
  }

  /** Replay samples of learner `slot`. */
  samples<S = unknown>(slot = 'default'): WorkerSampleStore<S> {
    const s: StorageScope = { kind: 'samples', slot };
    const c = this.#call;
    type St = SampleStore<S>;
    return {
      slot,
      add: async (values, options) => (await c(s, 'add', [values, options])) as Awaited<ReturnType<St['add']>>,
      count: async () => (await c(s, 'count', [])) as number,
      getAll: async (options) => (await c(s, 'getAll', [options])) as Awaited<ReturnType<St['getAll']>>,
      delete: async (seqs) => void (await c(s, 'delete', [seqs])),
      trim: async (maxCount) => (await c(s, 'trim', [maxCount])) as number,
      clear: async () => void (await c(s, 'clear', [])),
    };
  }

  #root<K extends WorkerStorageMethod>(
    method: K,
    args: Parameters<EdgetuneStorage[K]>,
  ): Promise<Awaited<ReturnType<EdgetuneStorage[K]>>> {
    return this.#call({ kind: 'root' }, method, args) as Promise<Awaited<ReturnType<EdgetuneStorage[K]>>>;
  }

  /** See `EdgetuneStorage.putModel`; the bytes are copied to the worker. */
  putModel(...a: Parameters<EdgetuneStorage['putModel']>): ReturnType<EdgetuneStorage['putModel']> {
    return this.#root('putModel', a);
  }

  /** See `EdgetuneStorage.getModel`. */
  getModel(...a: Parameters<EdgetuneStorage['getModel']>): ReturnType<EdgetuneStorage['getModel']> {
    return this.#root('getModel', a);
  }

  /** See `EdgetuneStorage.listModels`. */
  listModels(): ReturnType<EdgetuneStorage['listModels']> {
    return this.#root('listModels', []);
  }

  /** See `EdgetuneStorage.deleteModel`. */
  deleteModel(...a: Parameters<EdgetuneStorage['deleteModel']>): ReturnType<EdgetuneStorage['deleteModel']> {
    return this.#root('deleteModel', a);
  }

  /** See `EdgetuneStorage.estimate`. */
  estimate(): ReturnType<EdgetuneStorage['estimate']> {
    return this.#root('estimate', []);
  }

  /** See `EdgetuneStorage.persist`. */
  persist(): ReturnType<EdgetuneStorage['persist']> {
    return this.#root('persist', []);
  }

  /** See `EdgetuneStorage.exportProfile`. */
  exportProfile(...a: Parameters<EdgetuneStorage['exportProfile']>): ReturnType<EdgetuneStorage['exportProfile']> {
    return this.#root('exportProfile', a);
  }

  /** See `EdgetuneStorage.importProfile`. */
  importProfile(...a: Parameters<EdgetuneStorage['importProfile']>): ReturnType<EdgetuneStorage['importProfile']> {
    return this.#root('importProfile', a);
  }

  /** See `EdgetuneStorage.forget`. */
  forget(...a: Parameters<EdgetuneStorage['forget']>): ReturnType<EdgetuneStorage['forget']> {
    return this.#root('forget', a);
  }

  /** See `EdgetuneStorage.rotateKey`. */
  rotateKey(...a: Parameters<EdgetuneStorage['rotateKey']>): ReturnType<EdgetuneStorage['rotateKey']> {
    return this.#root('rotateKey', a);
  }

  /** See `EdgetuneStorage.keyUsage`. */
  keyUsage(): ReturnType<EdgetuneStorage['keyUsage']> {
    return this.#root('keyUsage', []);
  }

  /** See `EdgetuneStorage.on`: events arrive on the page; the returned function unsubscribes. */
  on<K extends keyof StorageEvents>(type: K, listener: (event: StorageEvents[K]) => void): () => void {
    return this.#link.subscribe((l) => this.#link.call('storageOn', this.handle, type, l), listener);
  }

  /** Closes the database connection in the worker. Calling it again does nothing. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.#link.closed) await this.#link.call('disposeStorage', this.handle);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
