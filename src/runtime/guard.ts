// Abort and cleanup helpers for long, multi-phase runtime work (opening a model): abort lands at every phase, nothing is left allocated.
import { EdgetuneError, yieldToEventLoop } from '../core/errors.js';

/** The `ABORTED` error for `signal`, with its reason as the cause. */
export function abortedError(signal: AbortSignal): EdgetuneError {
  return new EdgetuneError('ABORTED', 'The operation was aborted.', { cause: signal.reason });
}

/**
 * A phase boundary: with a signal, lets queued events run first (an abort forwarded from another
 * thread arrives as a message, which a chain of resolved promises would never let in), then throws
 * `ABORTED` when the signal has fired. Without a signal it costs nothing.
 *
 * @param signal - the caller's signal, if any
 */
export async function abortPoint(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return;
  await yieldToEventLoop();
  if (signal.aborted) throw abortedError(signal);
}

/**
 * Settles like `work`, or rejects with `ABORTED` as soon as `signal` fires, for work that cannot be
 * cancelled itself (a runtime compiling a model, a fetch that ignores its signal). A result that
 * arrives after the abort is handed to `release`, so it is freed rather than leaked.
 *
 * @param work - the pending work
 * @param signal - the caller's signal, if any
 * @param release - frees a result that arrived too late @defaultValue none
 */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined, release?: (late: T) => unknown): Promise<T> {
  if (!signal) return work;
  const late = (): void => {
    work.then(
      (value) => {
        try {
          void Promise.resolve(release?.(value)).catch(() => undefined);
        } catch {
          // Freeing a late result is best effort; the caller has already been told ABORTED.
        }
      },
      () => undefined,
    );
  };
  if (signal.aborted) {
    late();
    return Promise.reject(abortedError(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      late();
      reject(abortedError(signal));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Something with an async `dispose()`, such as a backend session. */
interface Disposable {
  dispose(): Promise<void>;
}

/**
 * The resources one operation has allocated so far, freed together when it fails; the one it hands
 * to the caller is taken out with {@link Owned.keep}.
 */
export class Owned<T extends Disposable> {
  readonly #items = new Set<T>();

  /** Records `item` as owned until kept or released. */
  add(item: T): T {
    this.#items.add(item);
    return item;
  }

  /** Frees one item now (errors are ignored: a failing dispose must not hide the real failure). */
  async release(item: T): Promise<void> {
    if (!this.#items.delete(item)) return;
    await item.dispose().catch(() => undefined);
  }

  /** Hands `item` to the caller: it is no longer freed by {@link Owned.releaseAll}. */
  keep(item: T): void {
    this.#items.delete(item);
  }

  /** Frees everything still owned. */
  async releaseAll(): Promise<void> {
    for (const item of [...this.#items]) await this.release(item);
  }
}
