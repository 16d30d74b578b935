// The personalizer with encoder, learner and storage in a Web Worker: the page side sends each call (one round trip per frame) and mirrors events.
import { proxy, transfer } from 'comlink';
import { EdgetuneError, throwIfAborted } from '../core/errors.js';
import type { ImageInput } from '../runtime/preprocess.js';
import type { BackgroundOptions } from '../runtime/region.js';
import type { PersonalizerMethod, WorkerPersonalizerOptions } from '../worker/api.js';
import { EdgetuneWorker, type StartWorkerOptions } from '../worker/client.js';
import { transferables } from '../worker/encoder.js';
import { onPageHide } from './emitter.js';
import type {
  FrameOptions,
  Personalizer,
  PersonalizerEvents,
  PersonalizerOptions,
  PersonalizerProgress,
  TeachInput,
} from './types.js';

function crossable(options: PersonalizerOptions): WorkerPersonalizerOptions {
  const { worker: _w, signal: _s, onProgress: _p, model, storage, ...rest } = options;
  const base = (globalThis as { location?: { href: string } }).location?.href;
  // The worker resolves URLs against its own script; resolve them against the page first.
  const m = typeof model === 'string' || model instanceof URL ? new URL(String(model), base).href : model;
  if (typeof storage === 'object' && storage !== null) {
    for (const k of ['indexedDB', 'IDBKeyRange', 'onBlocked', 'locks', 'storageManager'] as const) {
      if (storage[k] !== undefined)
        throw new EdgetuneError(
          'INVALID_ARGUMENT',
          `storage.${k} cannot be used with worker: the worker opens its own IndexedDB; drop it or use worker: false.`,
        );
    }
  }
  const out: WorkerPersonalizerOptions = { ...rest, model: m };
  return storage === undefined
    ? out
    : { ...out, storage: storage as NonNullable<WorkerPersonalizerOptions['storage']> };
}

/** Opens a personalizer inside a worker (started here, or the app's). */
export async function openRemotePersonalizer(options: PersonalizerOptions): Promise<Personalizer> {
  throwIfAborted(options.signal);
  const w = options.worker;
  const owned = !(w instanceof EdgetuneWorker);
  const worker =
    w instanceof EdgetuneWorker
      ? w
      : await EdgetuneWorker.start({
          ...(typeof w === 'object' ? (w as StartWorkerOptions) : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        });
  try {
    const onProgress = options.onProgress;
    const progress = onProgress ? proxy((p: unknown) => onProgress(p as PersonalizerProgress)) : undefined;
    const link = worker.link;
    const info = await link.withToken(options.signal, (token) =>
      link.call('openPersonalizer', crossable(options), token, progress),
    );
    return new RemotePersonalizer(worker, owned, info.handle, info.modelId, info.dim, options.transfer === true);
  } catch (e) {
    if (owned) await worker.dispose();
    throw e;
  }
}

class RemotePersonalizer implements Personalizer {
  readonly inWorker = true;
  readonly #worker: EdgetuneWorker;
  readonly #owned: boolean;
  readonly #handle: number;
  readonly #move: boolean;
  readonly #offs: Array<() => void> = [];
  #disposed: Promise<void> | undefined;
  readonly modelId: string;
  readonly dim: number;

  constructor(worker: EdgetuneWorker, owned: boolean, handle: number, modelId: string, dim: number, move: boolean) {
    this.#worker = worker;
    this.#owned = owned;
    this.#handle = handle;
    this.modelId = modelId;
    this.dim = dim;
    this.#move = move;
    this.#offs.push(onPageHide(() => void this.#call('save', []).catch(() => undefined)));
  }

  #call<K extends PersonalizerMethod>(
    method: K,
    args: Parameters<Personalizer[K]>,
  ): Promise<Awaited<ReturnType<Personalizer[K]>>> {
    if (this.#disposed)
      return Promise.reject(
        new EdgetuneError('DISPOSED', 'This personalizer was disposed; open a new one with openPersonalizer().'),
      );
    return this.#worker.link.call('personalizerCall', this.#handle, method, args) as Promise<
      Awaited<ReturnType<Personalizer[K]>>
    >;
  }

  /** Sends one input: bitmaps (and with `transfer: true`, pixel buffers) move; embeddings are copied. */
  #input<K extends 'teach' | 'predict' | 'observe' | 'setBackground'>(
    method: K,
    input: TeachInput,
    rest: unknown[],
  ): Promise<Awaited<ReturnType<Personalizer[K]>>> {
    const moved = input instanceof Float32Array ? [] : transferables([input as ImageInput], this.#move).concat([]);
    const bitmaps =
      typeof ImageBitmap === 'function' && input instanceof ImageBitmap && !moved.includes(input) ? [input] : [];
    const args = [input, ...rest] as unknown as Parameters<Personalizer[K]>;
    const all = [...moved, ...bitmaps];
    return this.#call(method, all.length ? transfer(args, all) : args);
  }

  teach(input: TeachInput, label: string, options?: FrameOptions): ReturnType<Personalizer['teach']> {
    return this.#input('teach', input, [label, options]);
  }

  predict(input: TeachInput, options?: FrameOptions): ReturnType<Personalizer['predict']> {
    return this.#input('predict', input, [options]);
  }

  observe(input: TeachInput, options?: FrameOptions): ReturnType<Personalizer['observe']> {
    return this.#input('observe', input, [options]);
  }

  /** The frame crosses once (moved like a taught input); the reference is built and kept in the worker. */
  setBackground(frame: ImageInput | null, options?: BackgroundOptions): ReturnType<Personalizer['setBackground']> {
    return frame === null
      ? this.#call('setBackground', [null, options])
      : this.#input('setBackground', frame, [options]);
  }

  classes(): ReturnType<Personalizer['classes']> {
    return this.#call('classes', []);
  }

  addClass(label: string): ReturnType<Personalizer['addClass']> {
    return this.#call('addClass', [label]);
  }

  renameClass(from: string, to: string): ReturnType<Personalizer['renameClass']> {
    return this.#call('renameClass', [from, to]);
  }

  removeClass(label: string): ReturnType<Personalizer['removeClass']> {
    return this.#call('removeClass', [label]);
  }

  undoLast(): ReturnType<Personalizer['undoLast']> {
    return this.#call('undoLast', []);
  }

  forget(...a: Parameters<Personalizer['forget']>): ReturnType<Personalizer['forget']> {
    return this.#call('forget', a);
  }

  exportProfile(): ReturnType<Personalizer['exportProfile']> {
    return this.#call('exportProfile', []);
  }

  importProfile(...a: Parameters<Personalizer['importProfile']>): ReturnType<Personalizer['importProfile']> {
    return this.#call('importProfile', a);
  }

  save(): ReturnType<Personalizer['save']> {
    return this.#call('save', []);
  }

  idle(): ReturnType<Personalizer['idle']> {
    return this.#call('idle', []);
  }

  stats(): ReturnType<Personalizer['stats']> {
    return this.#call('stats', []);
  }

  on<K extends keyof PersonalizerEvents>(type: K, listener: (event: PersonalizerEvents[K]) => void): () => void {
    const link = this.#worker.link;
    const off = link.subscribe((l) => link.call('personalizerOn', this.#handle, type, l), listener);
    this.#offs.push(off);
    return off;
  }

  dispose(): Promise<void> {
    this.#disposed ??= (async () => {
      for (const off of this.#offs) off();
      if (!this.#worker.link.closed)
        await this.#worker.link.call('disposePersonalizer', this.#handle).catch(() => undefined);
      if (this.#owned) await this.#worker.dispose();
    })();
    return this.#disposed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
