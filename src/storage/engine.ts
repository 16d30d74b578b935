// The storage engine shared by every store module: the open connection, the cross-tab lock, sealing, and the one write pipeline (usage, budget, LRU eviction, key counter).
import type { IDBPDatabase, IDBPTransaction } from 'idb';
import { EdgetuneError, isEdgetuneError } from '../core/errors.js';
import { estimateSize } from './codec.js';
import { DEFAULT_PBKDF2_ITERATIONS, recordAad, randomBytes, type Cipher } from './crypto.js';
import { decodeValue, encodeValue } from './codec.js';
import { StorageEventHub } from './events.js';
import { withLock, type LockManagerLike } from './lock.js';
import type { Body, StorageSchema, StoreName, Usage } from './schema.js';
import type { OperationOptions, StorageManagerLike } from './types.js';

/** A read-write transaction over any stores of the schema. */
/** Resolves as `work` does, reporting `'ready'` once it succeeded: the last phase of an operation not run under the lock. */
export async function endReady<T>(work: Promise<T>, onProgress?: OperationOptions['onProgress']): Promise<T> {
  const result = await work;
  onProgress?.({ phase: 'ready' });
  return result;
}

/** A read-write transaction over any of the profile's stores, as `StorageEngine` hands it to the storage modules. */
export type RwTx = IDBPTransaction<StorageSchema, StoreName[], 'readwrite'>;

/** Byte deltas a write applies to the usage record, or an absolute usage (import, re-key). */
export interface Accounting {
  delta: Usage;
  absolute?: Usage;
  /** Model ids eviction must not touch (the model being written). */
  protect: Set<string>;
  evicted: string[];
}

/** Usage of an empty profile. */
export const ZERO: Usage = { models: 0, checkpoints: 0, samples: 0, meta: 0 };

/** Total bytes of a usage record. */
export function usageTotal(u: Usage): number {
  return u.models + u.checkpoints + u.samples + u.meta;
}

/** Accounted size of a stored body. */
export function bodySize(body: Body): number {
  return body.kind === 'sealed' ? body.ct.byteLength + 12 : estimateSize(body.value);
}

function isQuotaError(e: unknown): boolean {
  const n = (e as { name?: string } | null)?.name;
  return n === 'QuotaExceededError';
}

/** A standalone copy of `bytes` as an ArrayBuffer (what IndexedDB stores for model bytes). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer.slice(0)
    : (bytes.slice().buffer as ArrayBuffer);
}

/** A random hex id (key ids). */
export function randomId(): string {
  return Array.from(randomBytes(8), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Checks a slot name. */
export function checkSlot(slot: string): string {
  if (typeof slot !== 'string' || slot.length === 0 || slot.length > 200) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `slot must be a non-empty string of at most 200 characters, got ${JSON.stringify(slot)}.`,
    );
  }
  return slot;
}

/** Settings the engine runs with, resolved by `openStorage`. */
export interface EngineSettings {
  readonly name: string;
  readonly keepLast: number;
  readonly budget: number;
  readonly maxWrites: number;
  readonly locks: LockManagerLike | null;
  readonly storageManager: StorageManagerLike | null;
  readonly lockTimeoutMs: number;
  readonly broadcast: boolean;
}

/** The open profile: connection, settings, key state and the write pipeline. */
export class StorageEngine {
  /** The key in use; null when the profile is not encrypted. Set by the keyring. */
  cipher: Cipher | null = null;
  /** The passphrase the key came from (passphrase keys rotate themselves). */
  passphrase: string | undefined;
  /** PBKDF2 iterations of the current passphrase key. */
  iterations = DEFAULT_PBKDF2_ITERATIONS;
  closed: 'versionchange' | 'terminated' | 'disposed' | undefined;
  readonly events: StorageEventHub;
  readonly name: string;

  constructor(
    readonly db: IDBPDatabase<StorageSchema>,
    readonly factory: IDBFactory,
    readonly keyRange: typeof IDBKeyRange,
    readonly settings: EngineSettings,
  ) {
    this.name = settings.name;
    this.events = new StorageEventHub(settings.name, settings.broadcast);
    db.addEventListener('versionchange', (event) => {
      // Tell the app first (it may save UI state), then close so the newer tab's upgrade proceeds.
      this.events.emit('versionchange', { oldVersion: event.oldVersion, newVersion: event.newVersion });
      this.db.close();
      this.markClosed('versionchange');
    });
    db.addEventListener('close', () => this.markClosed('terminated'));
  }

  markClosed(reason: 'versionchange' | 'terminated'): void {
    if (this.closed) return;
    this.closed = reason;
    this.events.close();
    this.events.emit('closed', { reason });
  }

  assertOpen(): void {
    if (this.closed === 'disposed')
      throw new EdgetuneError('DISPOSED', `Storage ${this.name} was disposed; open it again with openStorage().`);
    if (this.closed) {
      throw new EdgetuneError(
        'DB_CLOSED',
        this.closed === 'versionchange'
          ? `Storage ${this.name} closed because another tab opened a newer version of the database; reload this page.`
          : `Storage ${this.name} was closed by the browser (storage cleared or disk error); reopen it with openStorage().`,
        { details: { reason: this.closed } },
      );
    }
  }

  async dispose(): Promise<void> {
    if (this.closed === 'disposed') return;
    const wasOpen = !this.closed;
    this.closed = 'disposed';
    if (wasOpen) this.events.close();
    this.db.close();
  }

  /** Runs `fn` under the profile's cross-tab lock; reports `'lock'` first and, once `fn` succeeded, `'ready'`. */
  async lock<T>(
    signal: AbortSignal | undefined,
    fn: () => Promise<T>,
    onProgress?: OperationOptions['onProgress'],
  ): Promise<T> {
    this.assertOpen();
    onProgress?.({ phase: 'lock' });
    return withLock(
      this.settings.locks,
      this.factory,
      `edgetune:${this.name}`,
      this.settings.lockTimeoutMs,
      signal,
      async () => {
        this.assertOpen();
        return fn();
      },
    ).then((result) => {
      onProgress?.({ phase: 'ready' });
      return result;
    });
  }

  mapError(e: unknown, what: string, signal?: AbortSignal): unknown {
    if (isEdgetuneError(e)) return e;
    if (isQuotaError(e) || isQuotaError((e as { cause?: unknown })?.cause)) {
      return new EdgetuneError(
        'QUOTA_EXCEEDED',
        `Storage is full: ${what} did not fit in the origin's quota and was not written; the previous state is intact. Free space (delete cached models or samples) or ask for persistent storage.`,
        { cause: e },
      );
    }
    if (signal?.aborted)
      return new EdgetuneError('ABORTED', `${what} was aborted before it committed; nothing was written.`, {
        cause: signal.reason,
      });
    return e;
  }

  /** One strict-durability transaction: `fn`, then key counter, usage and budget (LRU eviction); any throw aborts it all. */
  async write(
    what: string,
    stores: readonly StoreName[],
    encryptions: number,
    fn: (tx: RwTx, acct: Accounting) => Promise<void>,
    options: OperationOptions = {},
    protect: readonly string[] = [],
  ): Promise<Accounting> {
    try {
      return await this.writeOnce(what, stores, encryptions, fn, options, protect);
    } catch (e) {
      if (!isEdgetuneError(e, 'QUOTA_EXCEEDED') || (e.details as { budget?: boolean } | undefined)?.budget) throw e;
      // The browser's quota, not our budget: cached models are the one thing we may drop. Retry once.
      const evicted = await this.evictForQuota(protect);
      if (evicted.length === 0) throw e;
      this.events.emit('evicted', { ids: evicted });
      const acct = await this.writeOnce(what, stores, encryptions, fn, options, protect);
      acct.evicted.unshift(...evicted);
      return acct;
    }
  }

  private async writeOnce(
    what: string,
    stores: readonly StoreName[],
    encryptions: number,
    fn: (tx: RwTx, acct: Accounting) => Promise<void>,
    options: OperationOptions,
    protect: readonly string[],
  ): Promise<Accounting> {
    const { signal } = options;
    const budget = this.settings.budget;
    this.assertOpen();
    if (signal?.aborted)
      throw new EdgetuneError('ABORTED', `${what} was aborted before it started; nothing was written.`, {
        cause: signal.reason,
      });
    const scope = [...new Set<StoreName>([...stores, 'sys', 'models', 'modelBytes'])];
    const tx = this.db.transaction(scope, 'readwrite', { durability: 'strict' }) as RwTx;
    const onAbort = (): void => {
      try {
        tx.abort();
      } catch {
        // committed already
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const acct: Accounting = { delta: { ...ZERO }, protect: new Set(protect), evicted: [] };
    try {
      await fn(tx, acct);
      const sys = tx.objectStore('sys');
      if (encryptions > 0 && this.cipher) {
        const k = `keycount:${this.cipher.keyId}`;
        const n = ((await sys.get(k)) as number | undefined) ?? 0;
        if (n + encryptions > this.settings.maxWrites) throw this.rotationError(n);
        await sys.put(n + encryptions, k);
      }
      const old = ((await sys.get('usage')) as Usage | undefined) ?? { ...ZERO };
      const next: Usage = acct.absolute
        ? { ...acct.absolute }
        : {
            models: old.models + acct.delta.models,
            checkpoints: old.checkpoints + acct.delta.checkpoints,
            samples: old.samples + acct.delta.samples,
            meta: old.meta + acct.delta.meta,
          };
      if (usageTotal(next) > budget && usageTotal(next) > usageTotal(old)) {
        await this.evictWithin(tx, next, acct);
        if (usageTotal(next) > budget) {
          throw new EdgetuneError(
            'QUOTA_EXCEEDED',
            `${what} needs ${usageTotal(next)} bytes in total but the budget is ${budget} bytes, even after evicting every other cached model; nothing was written. Raise budgetBytes, delete samples or old models.`,
            {
              details: { budget: true, needed: usageTotal(next), budgetBytes: budget },
            },
          );
        }
      }
      await sys.put(next, 'usage');
      options.onProgress?.({ phase: 'write', done: 0, total: 1 });
      await tx.done;
      options.onProgress?.({ phase: 'write', done: 1, total: 1 });
      if (acct.evicted.length) this.events.emit('evicted', { ids: acct.evicted });
      return acct;
    } catch (e) {
      onAbort();
      await tx.done.catch(() => undefined);
      throw this.mapError(e, what, signal);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  private async evictWithin(tx: RwTx, usage: Usage, acct: Accounting): Promise<void> {
    let cursor = await tx.objectStore('models').index('by-lastUsed').openCursor();
    while (cursor && usageTotal(usage) > this.settings.budget) {
      const m = cursor.value;
      if (!acct.protect.has(m.id)) {
        await cursor.delete();
        await tx.objectStore('modelBytes').delete(m.id);
        usage.models -= m.size;
        acct.evicted.push(m.id);
      }
      cursor = await cursor.continue();
    }
  }

  private async evictForQuota(protect: readonly string[]): Promise<string[]> {
    // One model is enough to retry; a retry that still does not fit reports QUOTA_EXCEEDED.
    const victim = (await this.db.getAllFromIndex('models', 'by-lastUsed')).find((m) => !protect.includes(m.id));
    if (!victim) return [];
    try {
      await this.writeOnce(
        'Evicting a cached model',
        [],
        0,
        async (tx, acct) => {
          await tx.objectStore('models').delete(victim.id);
          await tx.objectStore('modelBytes').delete(victim.id);
          acct.delta.models -= victim.size;
        },
        {},
        [],
      );
      return [victim.id];
    } catch {
      return [];
    }
  }

  rotationError(n: number): EdgetuneError {
    const limit = this.settings.maxWrites;
    return new EdgetuneError(
      'KEY_ROTATION_REQUIRED',
      `The encryption key has been used for ${n} encryptions; the limit is ${limit} (random 96-bit IVs must stay far below 2^32 per key). Nothing was written: call rotateKey() with a new key.`,
      { details: { writes: n, limit } },
    );
  }

  /** Wraps a value as a record body: encrypted under `cipher` with store/id/version as AAD, or plain. */
  async seal(cipher: Cipher | null, store: string, id: string, version: number, value: unknown): Promise<Body> {
    if (!cipher) return { kind: 'plain', value };
    const s = await cipher.seal(encodeValue(value), recordAad(store, id, version));
    return { kind: 'sealed', ...s };
  }

  /** Reads a record body back; refuses clear records in an encrypted profile (a planted downgrade). */
  async unseal(
    cipher: Cipher | null,
    body: Body | undefined,
    store: string,
    id: string,
    version: number,
    what: string,
  ): Promise<unknown> {
    if (!body || (body.kind !== 'plain' && body.kind !== 'sealed')) {
      throw new EdgetuneError(
        'RECORD_CORRUPT',
        `${what} has no readable body; it was damaged. Delete it or restore from an export.`,
      );
    }
    if (body.kind === 'plain') {
      // A clear record in an encrypted profile would be a downgrade planted by someone else.
      if (cipher)
        throw new EdgetuneError(
          'DECRYPT_FAILED',
          `${what} is stored in clear in an encrypted profile; it was tampered with. Nothing was changed.`,
        );
      return body.value;
    }
    if (!cipher)
      throw new EdgetuneError(
        'DECRYPT_FAILED',
        `${what} is encrypted but no key is open; open the storage with options.encryption.`,
      );
    return decodeValue(await cipher.open(body, recordAad(store, id, version), what));
  }
}
