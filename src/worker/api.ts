// The API the worker exposes: encoders, learners and storage addressed by handles, aborts forwarded by token (an AbortSignal cannot cross postMessage).
import { releaseProxy } from 'comlink';
import { EdgetuneError } from '../core/errors.js';
import type { AdaptResult, Learner, LearnerOptions, LearnerState } from '../finetune/learner.js';
import { registerTfliteBackend } from '../runtime/backends/tflite.js';
import { Encoder, type EmbedOptions, type EncoderDiagnostics, type EncoderOptions } from '../runtime/encoder.js';
import { env, type RuntimeEnv } from '../runtime/env.js';
import type { ModelManifest } from '../runtime/manifest.js';
import type { ImageInput } from '../runtime/preprocess.js';
import type { ModelSource } from '../runtime/source.js';
import type {
  Personalizer,
  PersonalizerEvents,
  PersonalizerModel,
  PersonalizerOptions,
} from '../personalizer/types.js';
import type { EdgetuneStorage, SaveOptions, SaveResult, StorageEvents, StorageOptions } from '../storage/types.js';
import { moveOut, storageOptionsIndex, wholeBuffer, type StorageScope } from './protocol.js';

export type { StorageScope } from './protocol.js';

/**
 * Encoder options that can cross to a worker (no functions, no signal); `cache` is a storage handle
 * opened in the worker. `resolveFile` (a function) cannot cross: use `modelBaseUrl`.
 */
export type WorkerEncoderOptions = Omit<EncoderOptions, 'signal' | 'onProgress' | 'cache' | 'fetch' | 'resolveFile'>;

/** What the worker tells the page about an opened encoder. */
export interface WorkerEncoderInfo {
  readonly handle: number;
  readonly manifest: ModelManifest;
  readonly diagnostics: EncoderDiagnostics;
}

/** Model sources as they cross to the worker: a URL, a manifest with bytes, or a storage handle and model id. */
export type WorkerModelSource =
  | Exclude<ModelSource, { readonly cache: unknown }>
  | { readonly storage: number; readonly id: string };

/** Storage options that can cross to a worker (the worker uses its own `indexedDB`; no callbacks). */
export type WorkerStorageOptions = Omit<
  StorageOptions,
  'indexedDB' | 'IDBKeyRange' | 'onBlocked' | 'locks' | 'storageManager'
>;

/** The synchronous Learner members callable through the worker. */
export type LearnerSyncMethod =
  | 'addClass'
  | 'removeClass'
  | 'renameClass'
  | 'addLabeled'
  | 'predict'
  | 'observe'
  | 'stats'
  | 'getState';

/** Argument lists of the callable learner members, taken from `Learner` itself. */
export type LearnerCalls = { [K in LearnerSyncMethod]: Parameters<Learner[K]> };

/** Results of the callable learner members, taken from `Learner` itself. */
export type LearnerResults = { [K in LearnerSyncMethod]: ReturnType<Learner[K]> };

/** The learner members that may be called, for the worker's allowlist. */
const LEARNER_METHODS: readonly LearnerSyncMethod[] = [
  'addClass',
  'removeClass',
  'renameClass',
  'addLabeled',
  'predict',
  'observe',
  'stats',
  'getState',
];

/** What every learner call returns besides its result: the learner's synchronous getters, mirrored on the page. */
export interface LearnerSnapshot {
  readonly classes: readonly string[];
  readonly ready: boolean;
}

/** Buffers in a result that can move to the page instead of being copied. */
function buffersOf(value: unknown, out: ArrayBuffer[] = [], depth = 0): ArrayBuffer[] {
  if (depth > 4 || value === null || typeof value !== 'object') return out;
  if (ArrayBuffer.isView(value)) {
    const b = wholeBuffer(value);
    if (b && !out.includes(b)) out.push(b);
    return out;
  }
  for (const v of Array.isArray(value) ? value : Object.values(value)) buffersOf(v, out, depth + 1);
  return out;
}

/** Personalizer options that can cross to a worker (no functions, no worker, no IndexedDB factory). */
export type WorkerPersonalizerOptions = Omit<
  PersonalizerOptions,
  'worker' | 'signal' | 'onProgress' | 'storage' | 'model'
> & {
  readonly model: Exclude<PersonalizerModel, URL>;
  readonly storage?: false | string | WorkerStorageOptions;
};

/** Personalizer members callable through the worker. */
export type PersonalizerMethod =
  | 'teach'
  | 'predict'
  | 'observe'
  | 'setBackground'
  | 'classes'
  | 'addClass'
  | 'renameClass'
  | 'removeClass'
  | 'undoLast'
  | 'forget'
  | 'exportProfile'
  | 'importProfile'
  | 'save'
  | 'idle'
  | 'stats';

const PERSONALIZER_METHODS: readonly PersonalizerMethod[] = [
  'teach',
  'predict',
  'observe',
  'setBackground',
  'classes',
  'addClass',
  'renameClass',
  'removeClass',
  'undoLast',
  'forget',
  'exportProfile',
  'importProfile',
  'save',
  'idle',
  'stats',
];

/** What the worker tells the page about an opened personalizer. */
export interface WorkerPersonalizerInfo {
  readonly handle: number;
  readonly modelId: string;
  readonly dim: number;
}

/** The object the worker exposes through comlink. */
export class WorkerApi {
  readonly #personalizers = new Map<number, Personalizer>();
  readonly #encoders = new Map<number, Encoder>();
  readonly #learners = new Map<number, Learner>();
  readonly #storages = new Map<number, EdgetuneStorage>();
  readonly #subscriptions = new Map<number, () => void>();
  readonly #aborts = new Map<string, AbortController>();
  #next = 1;

  /**
   * Sets process-wide runtime settings inside the worker (e.g. `wasmPaths`); `tflite: true` registers
   * the TFLite backend; `lifeline` names a Web Lock the worker then holds until it dies, so the page
   * learns of its death at once (the lock is granted to the page's waiting request).
   */
  async configure(
    settings: Partial<RuntimeEnv> & { readonly tflite?: boolean; readonly lifeline?: string },
  ): Promise<{ readonly classic: boolean; readonly lifeline: boolean }> {
    const { tflite, lifeline, ...rest } = settings;
    Object.assign(env, rest);
    if (tflite) registerTfliteBackend();
    let held = false;
    const locks = (
      globalThis as { navigator?: { locks?: { request(name: string, cb: () => Promise<unknown>): Promise<unknown> } } }
    ).navigator?.locks;
    if (lifeline && locks) {
      await new Promise<void>((granted) => {
        locks
          .request(lifeline, () => {
            granted();
            return new Promise(() => undefined);
          })
          .catch(() => undefined);
      });
      held = true;
    }
    return { classic: isClassicWorker(), lifeline: held };
  }

  /** Aborts the operation started with `token`. */
  abort(token: string): void {
    this.#aborts.get(token)?.abort(new EdgetuneError('ABORTED', 'Aborted by the page.'));
  }

  /** Runs `fn` with a signal the page can abort by `token`; releases the page's proxied callback afterwards. */
  async #withToken<T>(
    token: string | undefined,
    fn: (signal: AbortSignal | undefined, progress: ((p: unknown) => void) | undefined) => Promise<T>,
    callback?: unknown,
  ): Promise<T> {
    const c = token === undefined ? undefined : new AbortController();
    if (c) this.#aborts.set(token!, c);
    // A progress call through the page's comlink proxy travels on its own port, so it could arrive
    // after the result; each call is awaited before the result is returned, so progress ends first.
    const pending: Promise<unknown>[] = [];
    const progress =
      typeof callback === 'function'
        ? (p: unknown) => {
            pending.push(Promise.resolve((callback as (p: unknown) => unknown)(p)).catch(() => undefined));
          }
        : undefined;
    try {
      const result = await fn(c?.signal, progress);
      await Promise.all(pending);
      return result;
    } finally {
      if (c) this.#aborts.delete(token!);
      release(callback);
    }
  }

  #add<T>(map: Map<number, T>, value: T): number {
    const handle = this.#next++;
    map.set(handle, value);
    return handle;
  }

  #get<T>(map: Map<number, T>, handle: number, what: string): T {
    const v = map.get(handle);
    if (!v) throw new EdgetuneError('DISPOSED', `Worker ${what} ${handle} is disposed or was never opened.`);
    return v;
  }

  /** Opens an encoder in the worker; progress goes to `onProgress` (a comlink proxy) when given. */
  async openEncoder(
    source: WorkerModelSource,
    options: WorkerEncoderOptions & { readonly cache?: number } = {},
    token?: string,
    onProgress?: (p: unknown) => void,
  ): Promise<WorkerEncoderInfo> {
    return this.#withToken(
      token,
      async (signal, progress) => {
        const { cache, ...rest } = options;
        const src: ModelSource =
          typeof source === 'object' && 'storage' in source
            ? { cache: this.#get(this.#storages, source.storage, 'storage'), id: source.id }
            : source;
        const enc = await Encoder.open(src, {
          ...rest,
          ...(cache !== undefined ? { cache: this.#get(this.#storages, cache, 'storage') } : {}),
          ...(signal ? { signal } : {}),
          ...(progress ? { onProgress: progress } : {}),
        });
        return { handle: this.#add(this.#encoders, enc), manifest: enc.manifest, diagnostics: enc.diagnostics };
      },
      onProgress,
    );
  }

  /**
   * Embeds inputs with an opened encoder (inside `region.roi`, cropped against `region.background`
   * when given); the embeddings' buffers are transferred back, not copied.
   */
  async embed(
    handle: number,
    inputs: ImageInput[],
    token?: string,
    region?: Pick<EmbedOptions, 'roi' | 'background'>,
  ): Promise<Float32Array[]> {
    return this.#withToken(token, async (signal) => {
      const out = await this.#get(this.#encoders, handle, 'encoder').embed(inputs, {
        ...(region?.roi ? { roi: region.roi } : {}),
        ...(region?.background ? { background: region.background } : {}),
        ...(signal ? { signal } : {}),
      });
      return moveOut(
        out,
        out.map((e) => e.buffer as ArrayBuffer),
      );
    });
  }

  /** Disposes an encoder. */
  async disposeEncoder(handle: number): Promise<void> {
    const enc = this.#encoders.get(handle);
    this.#encoders.delete(handle);
    await enc?.dispose();
  }

  /** Creates a learner (`options`) or restores one (`state`) in the worker; the fine-tuner's code loads on first use. */
  async createLearner(
    init: { readonly options: LearnerOptions } | { readonly state: LearnerState },
  ): Promise<{ readonly handle: number; readonly dim: number; readonly snapshot: LearnerSnapshot }> {
    // Loaded on first use: a worker that only embeds never downloads the fine-tuner.
    const { Learner } = await import('../finetune/learner.js');
    const learner = 'state' in init ? Learner.fromState(init.state) : new Learner(init.options);
    return { handle: this.#add(this.#learners, learner), dim: learner.dim, snapshot: snapshot(learner) };
  }

  /** Calls a synchronous learner member; returns its result with the learner's new snapshot. */
  learnerCall<K extends LearnerSyncMethod>(
    handle: number,
    method: K,
    args: LearnerCalls[K],
  ): { readonly result: LearnerResults[K]; readonly snapshot: LearnerSnapshot } {
    if (!LEARNER_METHODS.includes(method))
      throw new EdgetuneError('INVALID_ARGUMENT', `Learner has no ${String(method)}() callable through the worker.`);
    const learner = this.#get(this.#learners, handle, 'learner');
    const fn = (learner[method] as (...a: unknown[]) => unknown).bind(learner);
    const result = fn(...args) as LearnerResults[K];
    return { result: method === 'getState' ? movable(result) : result, snapshot: snapshot(learner) };
  }

  /** Runs `adapt()`; progress and learner events go to the proxied callbacks. */
  async learnerAdapt(
    handle: number,
    token?: string,
    onProgress?: (p: unknown) => void,
  ): Promise<{ readonly result: AdaptResult; readonly snapshot: LearnerSnapshot }> {
    const learner = this.#get(this.#learners, handle, 'learner');
    return this.#withToken(
      token,
      async (signal, progress) => {
        const result = await learner.adapt({
          ...(signal ? { signal } : {}),
          ...(progress ? { onProgress: progress } : {}),
        });
        return { result, snapshot: snapshot(learner) };
      },
      onProgress,
    );
  }

  /** Forwards the learner's events (drift, rollback, adapted) to `listener`; returns a subscription id for {@link WorkerApi.learnerOff}. */
  learnerOn(handle: number, listener: (e: unknown) => void): number {
    const off = this.#get(this.#learners, handle, 'learner').on((e) => void listener(e));
    return this.#add(this.#subscriptions, () => (off(), release(listener)));
  }

  /** Ends a subscription made by {@link WorkerApi.learnerOn} or {@link WorkerApi.storageOn}. */
  off(subscription: number): void {
    this.#subscriptions.get(subscription)?.();
    this.#subscriptions.delete(subscription);
  }

  /** Disposes a learner. */
  disposeLearner(handle: number): void {
    const l = this.#learners.get(handle);
    this.#learners.delete(handle);
    l?.dispose();
  }

  /** Opens IndexedDB storage in the worker (the worker's own `indexedDB`, same origin, same data as the page); the storage code loads on first use. */
  async openStorage(
    options: WorkerStorageOptions = {},
  ): Promise<{ readonly handle: number; readonly name: string; readonly encrypted: boolean }> {
    const { openStorage } = await import('../storage/storage.js');
    const storage = await openStorage(options);
    return { handle: this.#add(this.#storages, storage), name: storage.name, encrypted: storage.encrypted };
  }

  /** `checkpoints(slot).update(fn)` with `fn` on the page (a comlink proxy), called back under the cross-tab lock. */
  async storageUpdate(
    handle: number,
    slot: string,
    fn: (current: unknown) => Promise<unknown>,
    options: SaveOptions = {},
    token?: string,
    onProgress?: (p: unknown) => void,
  ): Promise<SaveResult> {
    const storage = this.#get(this.#storages, handle, 'storage');
    try {
      return await this.#withToken(
        token,
        (signal, progress) =>
          storage.checkpoints(slot).update((current) => fn(current), {
            ...options,
            ...(signal ? { signal } : {}),
            ...(progress ? { onProgress: progress } : {}),
          }),
        onProgress,
      );
    } finally {
      release(fn);
    }
  }

  /** Calls a storage method listed in `STORAGE_CALLS` (protocol.ts); `signal` and `onProgress` are put back into its options. */
  async storageCall(
    handle: number,
    scope: StorageScope,
    method: string,
    args: unknown[],
    token?: string,
    onProgress?: (p: unknown) => void,
  ): Promise<unknown> {
    const storage = this.#get(this.#storages, handle, 'storage');
    const optionsAt = storageOptionsIndex(scope, method);
    if (optionsAt === undefined)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Storage has no ${scope.kind}.${method}() callable through the worker.`,
      );
    const target: Record<string, unknown> =
      scope.kind === 'root'
        ? (storage as unknown as Record<string, unknown>)
        : scope.kind === 'meta'
          ? (storage.meta as unknown as Record<string, unknown>)
          : (storage[scope.kind](scope.slot) as unknown as Record<string, unknown>);
    return this.#withToken(
      token,
      async (signal, progress) => {
        const a = [...args];
        if (optionsAt >= 0 && (signal || onProgress)) {
          a[optionsAt] = {
            ...(a[optionsAt] as object | undefined),
            ...(signal ? { signal } : {}),
            ...(progress ? { onProgress: progress } : {}),
          };
        }
        const result = await (target[method] as (...x: unknown[]) => Promise<unknown>).apply(target, a);
        return movable(result);
      },
      onProgress,
    );
  }

  /** Forwards a storage event to `listener`; returns a subscription id for {@link WorkerApi.off}. */
  storageOn(handle: number, type: keyof StorageEvents, listener: (e: unknown) => void): number {
    const off = this.#get(this.#storages, handle, 'storage').on(type, (e) => void listener(e));
    return this.#add(this.#subscriptions, () => (off(), release(listener)));
  }

  /** Closes a storage. */
  async disposeStorage(handle: number): Promise<void> {
    const s = this.#storages.get(handle);
    this.#storages.delete(handle);
    await s?.dispose();
  }

  /** Opens a personalizer in the worker: encoder, learner and storage together, so a frame crosses once. */
  async openPersonalizer(
    options: WorkerPersonalizerOptions,
    token?: string,
    onProgress?: (p: unknown) => void,
  ): Promise<WorkerPersonalizerInfo> {
    return this.#withToken(
      token,
      async (signal, progress) => {
        const { openLocalPersonalizer } = await import('../personalizer/local.js');
        const p = await openLocalPersonalizer({
          ...options,
          ...(signal ? { signal } : {}),
          ...(progress ? { onProgress: progress } : {}),
        });
        return { handle: this.#add(this.#personalizers, p), modelId: p.modelId, dim: p.dim };
      },
      onProgress,
    );
  }

  /** Calls a personalizer member; an exported profile's bytes move to the page. */
  async personalizerCall<K extends PersonalizerMethod>(
    handle: number,
    method: K,
    args: Parameters<Personalizer[K]>,
  ): Promise<Awaited<ReturnType<Personalizer[K]>>> {
    if (!PERSONALIZER_METHODS.includes(method))
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Personalizer has no ${String(method)}() callable through the worker.`,
      );
    const p = this.#get(this.#personalizers, handle, 'personalizer');
    const result = await (p[method] as (...a: unknown[]) => Promise<unknown>).apply(p, args);
    if (result instanceof Uint8Array)
      return moveOut(
        result,
        result.byteOffset === 0 && result.byteLength === result.buffer.byteLength ? [result.buffer as ArrayBuffer] : [],
      ) as Awaited<ReturnType<Personalizer[K]>>;
    return result as Awaited<ReturnType<Personalizer[K]>>;
  }

  /** Forwards a personalizer event to `listener`; returns a subscription id for {@link WorkerApi.off}. */
  personalizerOn(handle: number, type: keyof PersonalizerEvents, listener: (e: unknown) => void): number {
    const p = this.#get(this.#personalizers, handle, 'personalizer');
    const off = p.on(type, (e) => {
      // An error object from a failed background save crosses as its code and message.
      const ev = type === 'error' ? { ...(e as object), error: plainError((e as { error: unknown }).error) } : e;
      void listener(ev);
    });
    return this.#add(this.#subscriptions, () => (off(), release(listener)));
  }

  /** Saves and disposes a personalizer. */
  async disposePersonalizer(handle: number): Promise<void> {
    const p = this.#personalizers.get(handle);
    this.#personalizers.delete(handle);
    await p?.dispose();
  }

  /** Disposes everything the worker holds (personalizers first, so their last changes are saved). */
  async disposeAll(): Promise<void> {
    const ps = [...this.#personalizers.values()];
    this.#personalizers.clear();
    await Promise.all(ps.map((p) => p.dispose().catch(() => undefined)));
    for (const off of this.#subscriptions.values()) off();
    this.#subscriptions.clear();
    for (const l of this.#learners.values()) l.dispose();
    this.#learners.clear();
    const encoders = [...this.#encoders.values()];
    const storages = [...this.#storages.values()];
    this.#encoders.clear();
    this.#storages.clear();
    await Promise.all([...encoders.map((e) => e.dispose()), ...storages.map((s) => s.dispose())]);
  }
}

/** Marks the whole-buffer typed arrays in `value` to move to the page instead of being copied. */
function movable<T>(value: T): T {
  return moveOut(value, buffersOf(value));
}

function plainError(e: unknown): { name: string; message: string; code?: string } {
  const x = e as { name?: unknown; message?: unknown; code?: unknown } | null;
  return {
    name: String(x?.name ?? 'Error'),
    message: String(x?.message ?? e),
    ...(typeof x?.code === 'string' ? { code: x.code } : {}),
  };
}

/** Frees the MessagePort behind a callback the page passed with comlink's `proxy()`. */
function release(callback: unknown): void {
  (callback as { [releaseProxy]?: () => void } | undefined)?.[releaseProxy]?.();
}

function snapshot(learner: Learner): LearnerSnapshot {
  return { classes: [...learner.classes], ready: learner.ready };
}

/** True in a classic (non-module) worker, where `importScripts` works. */
function isClassicWorker(): boolean {
  const g = globalThis as { importScripts?: () => void };
  if (typeof g.importScripts !== 'function') return false;
  try {
    g.importScripts();
    return true;
  } catch {
    return false;
  }
}
