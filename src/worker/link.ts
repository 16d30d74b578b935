// The page's end of the worker connection: calls unwrapped from their envelopes, pending calls rejected with WORKER_LOST when the worker dies, aborts forwarded by token.
import { proxy, releaseProxy, type Remote } from 'comlink';
import { EdgetuneError, isEdgetuneError, throwIfAborted } from '../core/errors.js';
import type { WorkerApi } from './api.js';
import { deserializeError } from './errors.js';
import type { Guarded } from './protocol.js';

type Api = Guarded<WorkerApi>;
type Method = keyof Api;

let tokens = 0;

/** Maps errors raised on the page while sending a call (structured clone) to typed errors. */
function sendError(e: unknown, method: string): unknown {
  const name = (e as { name?: string } | null)?.name;
  if (name === 'DataCloneError') {
    return new EdgetuneError(
      'INPUT_TYPE',
      `An argument of ${method}() could not be sent to the worker: ${(e as Error).message} A buffer that was already transferred (detached) or a function cannot cross; pass a fresh copy.`,
      { cause: e },
    );
  }
  return e;
}

/** One connection to a worker's API. */
export class Link {
  readonly #remote: Remote<Api>;
  readonly #pending = new Set<(e: EdgetuneError) => void>();
  readonly #tokens = new Set<string>();
  readonly #lostListeners = new Set<(e: EdgetuneError) => void>();
  #closed: EdgetuneError | undefined;

  constructor(remote: Remote<Api>) {
    this.#remote = remote;
  }

  /** Why the link is closed (`WORKER_LOST` or `DISPOSED`), or undefined while it is open. */
  get closed(): EdgetuneError | undefined {
    return this.#closed;
  }

  /** Calls a worker method; its thrown error is rethrown here with its code. */
  async call<K extends Method>(method: K, ...args: Parameters<Api[K]>): Promise<Awaited<ReturnType<WorkerApi[K]>>> {
    if (this.#closed) throw this.#again(this.#closed);
    let reject!: (e: EdgetuneError) => void;
    const lost = new Promise<never>((_, r) => (reject = r));
    this.#pending.add(reject);
    try {
      const fn = this.#remote[method] as unknown as (
        ...a: unknown[]
      ) => Promise<{ ok: boolean; value?: unknown; error?: never }>;
      let sent: Promise<{ ok: boolean; value?: unknown; error?: never }>;
      try {
        sent = fn(...args);
      } catch (e) {
        throw sendError(e, String(method));
      }
      const env = await Promise.race([sent.catch((e: unknown) => Promise.reject(sendError(e, String(method)))), lost]);
      if (!env.ok) throw deserializeError(env.error!);
      return env.value as Awaited<ReturnType<WorkerApi[K]>>;
    } finally {
      this.#pending.delete(reject);
    }
  }

  /**
   * Runs `fn` with a fresh abort token the worker knows the call by: the page's `signal` aborts it,
   * and so does {@link Link.abortAll} (disposal).
   */
  async withToken<T>(signal: AbortSignal | undefined, fn: (token: string) => Promise<T>): Promise<T> {
    throwIfAborted(signal);
    const token = `t${++tokens}`;
    const onAbort = (): void => void this.call('abort', token).catch(() => undefined);
    signal?.addEventListener('abort', onAbort, { once: true });
    this.#tokens.add(token);
    try {
      return await fn(token);
    } finally {
      this.#tokens.delete(token);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Asks the worker to abort every call in flight. */
  abortAll(): void {
    for (const t of this.#tokens) void this.call('abort', t).catch(() => undefined);
  }

  /** Subscribes through an async call but hands back a synchronous unsubscribe, like the in-thread `on()`. */
  subscribe(start: (listener: (e: unknown) => void) => Promise<number>, listener: (e: never) => void): () => void {
    const id = start(proxy((e: unknown) => (listener as (e: unknown) => void)(e)));
    id.catch(() => undefined);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      void id.then((s) => this.call('off', s)).catch(() => undefined);
    };
  }

  /** Calls `listener` once when the link closes because the worker was lost. */
  onLost(listener: (e: EdgetuneError) => void): () => void {
    this.#lostListeners.add(listener);
    return () => this.#lostListeners.delete(listener);
  }

  /** Closes the link: every pending and later call rejects with `reason`. */
  close(reason: EdgetuneError): void {
    if (this.#closed) return;
    this.#closed = reason;
    for (const r of this.#pending) r(this.#again(reason));
    this.#pending.clear();
    if (isEdgetuneError(reason, 'WORKER_LOST')) {
      for (const l of this.#lostListeners) {
        try {
          l(reason);
        } catch {
          // a listener's failure must not keep other pending calls waiting
        }
      }
    }
    this.#lostListeners.clear();
    try {
      this.#remote[releaseProxy]();
    } catch {
      // already released
    }
  }

  /** A fresh error per rejection, so each caller gets its own stack. */
  #again(e: EdgetuneError): EdgetuneError {
    return new EdgetuneError(e.code, e.message, { ...(e.details ? { details: e.details } : {}) });
  }
}
