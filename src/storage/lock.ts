// Cross-tab exclusive locks through the Web Locks API, with an in-process mutex where `navigator.locks` is absent (Node).
import { EdgetuneError } from '../core/errors.js';

/** The part of `LockManager` we use; injectable for tests. */
export interface LockManagerLike {
  request<T>(name: string, options: LockOptions, callback: (lock: Lock | null) => Promise<T> | T): Promise<T>;
}

// Keyed by scope (the IDBFactory) then name, so two fake-indexeddb factories in one process do not contend.
let mutexes: WeakMap<object, Map<string, Promise<void>>> | undefined;

async function withMutex<T>(
  scope: object,
  name: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  mutexes ??= new WeakMap();
  let byName = mutexes.get(scope);
  if (!byName) mutexes.set(scope, (byName = new Map()));
  const prev = byName.get(name) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  byName.set(name, tail);
  try {
    await waitFor(prev, timeoutMs, signal, name);
  } catch (e) {
    // Our turn may still come: pass it straight on so later waiters are not stuck behind us.
    void prev.then(release);
    throw e;
  }
  try {
    return await fn();
  } finally {
    release();
    if (byName.get(name) === tail) byName.delete(name);
  }
}

function waitFor(p: Promise<void>, timeoutMs: number, signal: AbortSignal | undefined, name: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = Number.isFinite(timeoutMs)
      ? setTimeout(() => reject(timeoutError(name, timeoutMs)), timeoutMs)
      : undefined;
    const onAbort = (): void =>
      reject(new EdgetuneError('ABORTED', `Waiting for lock ${name} was aborted.`, { cause: signal?.reason }));
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    void p.then(() => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

function timeoutError(name: string, ms: number): EdgetuneError {
  return new EdgetuneError(
    'LOCK_TIMEOUT',
    `Lock ${name} was not granted within ${ms} ms: another tab holds it. Retry later or raise lockTimeoutMs.`,
    { details: { name, timeoutMs: ms } },
  );
}

/** Finds the page's Web Locks manager, if any. */
export function defaultLockManager(): LockManagerLike | null {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return nav?.locks ?? null;
}

/** Runs `fn` while holding the exclusive lock `name`. */
export async function withLock<T>(
  locks: LockManagerLike | null,
  scope: object,
  name: string,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  if (signal?.aborted)
    throw new EdgetuneError('ABORTED', `The operation was aborted before taking lock ${name}.`, {
      cause: signal.reason,
    });
  if (!locks) return withMutex(scope, name, timeoutMs, signal, fn);
  const timeout = Number.isFinite(timeoutMs) ? AbortSignal.timeout(timeoutMs) : undefined;
  const parts = [signal, timeout].filter((s): s is AbortSignal => s !== undefined);
  const wait = parts.length === 0 ? undefined : parts.length === 1 ? parts[0] : AbortSignal.any(parts);
  let granted = false;
  try {
    return await locks.request(name, wait ? { mode: 'exclusive', signal: wait } : { mode: 'exclusive' }, async () => {
      granted = true;
      return fn();
    });
  } catch (e) {
    // The lock manager rejects with the aborting signal's reason (AbortError, or TimeoutError for a timeout signal).
    if (!granted && (wait?.aborted || (e as { name?: string })?.name === 'AbortError')) {
      if (signal?.aborted)
        throw new EdgetuneError('ABORTED', `Waiting for lock ${name} was aborted.`, { cause: signal.reason });
      throw timeoutError(name, timeoutMs);
    }
    throw e;
  }
}
