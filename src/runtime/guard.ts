// Abort and cleanup helpers for long, multi-phase runtime work (opening a model): abort lands at every phase, nothing is left allocated.
import { EdgetuneError, yieldToEventLoop } from '../core/errors.js';

/** The `ABORTED` error for `signal`, with its reason as the cause. */
export function abortedError(signal: AbortSignal): EdgetuneError {
  return new EdgetuneError('ABORTED', 'The operation was aborted.', { cause: signal.reason });
}

/** A phase boundary: lets queued events in first (an abort from another thread is a message), then throws `ABORTED` if aborted. */
export async function abortPoint(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return;
  await yieldToEventLoop();
  if (signal.aborted) throw abortedError(signal);
}

/** Settles like `work`, or rejects `ABORTED` as soon as `signal` fires (for work that cannot be cancelled); a late result goes to `release`. */
export function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal | undefined,
  release?: (late: T) => unknown,
): Promise<T> {
  if (!signal) return work;
  const late = (): void => {
    work.then(
      (value) => {
        // Best effort: the caller has been told ABORTED already.
        Promise.resolve()
          .then(() => release?.(value))
          .catch(() => undefined);
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

interface Disposable {
  dispose(): Promise<void>;
}

/** Resources one operation allocated so far, all freed when it fails except those it {@link Owned.keep}s. */
export class Owned<T extends Disposable> {
  readonly #items = new Set<T>();

  add(item: T): T {
    this.#items.add(item);
    return item;
  }

  /** Frees one item now; a failing dispose must not hide the real failure. */
  async release(item: T): Promise<void> {
    if (!this.#items.delete(item)) return;
    await item.dispose().catch(() => undefined);
  }

  keep(item: T): void {
    this.#items.delete(item);
  }

  async releaseAll(): Promise<void> {
    for (const item of [...this.#items]) await this.release(item);
  }
}
