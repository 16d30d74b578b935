// EdgetuneStorage implementation: atomic checkpoint versions, LRU model cache within a budget, encryption, locks and broadcast.
import type { IDBPDatabase, IDBPTransaction } from 'idb';
import { EdgetuneError, isEdgetuneError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { decodeValue, encodeValue, estimateSize } from './codec.js';
import { Cipher, DEFAULT_PBKDF2_ITERATIONS, VERIFIER_PLAINTEXT, bytesEqual, checkAppKey, deriveKey, randomBytes, recordAad, type EncryptionOptions, type KdfParams } from './crypto.js';
import { defaultLockManager, withLock, type LockManagerLike } from './lock.js';
import { openDatabase } from './open.js';
import { decodeProfile, encodeProfile, type ProfileData } from './profile.js';
import { ALL_STORES, DEFAULT_SLOT, type Body, type CryptoRecord, type StorageSchema, type StoreName, type Usage, type VersionInfo } from './schema.js';
import type {
  Checkpoint,
  CheckpointInfo,
  CheckpointStore,
  EdgetuneStorage,
  MetaStore,
  ModelInfo,
  OperationOptions,
  SampleStore,
  SaveOptions,
  SaveResult,
  StorageEstimateResult,
  StorageEvents,
  StorageManagerLike,
  StorageOptions,
  StoredManifest,
  StoredModel,
  StoredSample,
} from './types.js';

type RwTx = IDBPTransaction<StorageSchema, StoreName[], 'readwrite'>;

/** Byte deltas a write applies to the usage record, or an absolute usage (import, re-key). */
interface Accounting {
  delta: Usage;
  absolute?: Usage;
  /** Model ids eviction must not touch (the model being written). */
  protect: Set<string>;
  evicted: string[];
}

const ZERO: Usage = { models: 0, checkpoints: 0, samples: 0, meta: 0 };

function usageTotal(u: Usage): number {
  return u.models + u.checkpoints + u.samples + u.meta;
}

function bodySize(body: Body): number {
  return body.kind === 'sealed' ? body.ct.byteLength + 12 : estimateSize(body.value);
}

function isQuotaError(e: unknown): boolean {
  const n = (e as { name?: string } | null)?.name;
  return n === 'QuotaExceededError';
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes.buffer.slice(0)
    : (bytes.slice().buffer as ArrayBuffer);
}

/** An LRU stamp above every other model's, so two uses within one millisecond still order. */
async function nextUse(tx: RwTx): Promise<number> {
  const newest = await tx.objectStore('models').index('by-lastUsed').openCursor(null, 'prev');
  return Math.max(Date.now(), (newest?.value.lastUsed ?? 0) + 1);
}

function checkSlot(slot: string): string {
  if (typeof slot !== 'string' || slot.length === 0 || slot.length > 200) {
    throw new EdgetuneError('INVALID_ARGUMENT', `slot must be a non-empty string of at most 200 characters, got ${JSON.stringify(slot)}.`);
  }
  return slot;
}

function randomId(): string {
  return Array.from(randomBytes(8), (b) => b.toString(16).padStart(2, '0')).join('');
}

interface BroadcastMessage {
  readonly type: 'checkpoint';
  readonly slot: string;
  readonly version: number;
}

/** Opens (creating or migrating) an edgetune profile. */
export async function openStorage(options: StorageOptions = {}): Promise<EdgetuneStorage> {
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) {
    throw new EdgetuneError('INVALID_ARGUMENT', 'No IndexedDB here: pass options.indexedDB (in Node: new IDBFactory() from fake-indexeddb).');
  }
  const keyRange = options.IDBKeyRange ?? (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
  if (!keyRange) throw new EdgetuneError('INVALID_ARGUMENT', 'No IDBKeyRange here: pass options.IDBKeyRange from the same implementation as options.indexedDB.');
  if (typeof (globalThis as { IDBDatabase?: unknown }).IDBDatabase !== 'function') {
    // idb tells its wrapped objects apart with instanceof against these interface globals.
    throw new EdgetuneError('INVALID_ARGUMENT', 'The IndexedDB interface classes (IDBDatabase, IDBTransaction, …) are not globals here; in Node import "fake-indexeddb/auto" before opening storage.');
  }
  const name = options.name ?? 'edgetune';
  const keepLast = options.keepLast ?? 3;
  if (!Number.isInteger(keepLast) || keepLast < 1) throw new EdgetuneError('INVALID_ARGUMENT', `keepLast must be an integer >= 1, got ${keepLast}.`);
  const budget = options.budgetBytes ?? Infinity;
  if (!(budget > 0)) throw new EdgetuneError('INVALID_ARGUMENT', `budgetBytes must be > 0, got ${budget}.`);
  const maxWrites = options.maxWritesPerKey ?? 2 ** 30;
  if (!Number.isInteger(maxWrites) || maxWrites < 2 || maxWrites > 2 ** 32) {
    throw new EdgetuneError('INVALID_ARGUMENT', `maxWritesPerKey must be an integer in [2, 2^32], got ${maxWrites}.`);
  }
  if (options.encryption && 'key' in options.encryption) checkAppKey(options.encryption.key);
  const openOpts = { blockedTimeoutMs: options.blockedTimeoutMs ?? 10_000, ...(options.onBlocked ? { onBlocked: options.onBlocked } : {}) };
  let db: IDBPDatabase<StorageSchema> | undefined;
  for (let attempt = 0; !db; attempt++) {
    try {
      db = await openDatabase(factory, name, openOpts);
    } catch (e) {
      // Right after the browser force-closed connections (site data being cleared) an open is aborted; it succeeds moments later.
      const transient = isEdgetuneError(e, 'DB_CLOSED') && (e.cause as { name?: string } | undefined)?.name === 'AbortError';
      if (!transient || attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  const impl = new StorageImpl(db, factory, keyRange, name, keepLast, budget, maxWrites, options);
  try {
    await impl.initCrypto(options.encryption);
  } catch (e) {
    await impl.dispose();
    throw e;
  }
  return impl;
}

class StorageImpl implements EdgetuneStorage {
  readonly meta: MetaStore;
  private cipher: Cipher | null = null;
  private passphrase: string | undefined;
  private iterations = DEFAULT_PBKDF2_ITERATIONS;
  private closed: 'versionchange' | 'terminated' | 'disposed' | undefined;
  private readonly listeners = new Map<keyof StorageEvents, Set<(e: never) => void>>();
  private readonly channel: BroadcastChannel | undefined;
  private readonly locks: LockManagerLike | null;
  private readonly storageManager: StorageManagerLike | null;
  private readonly lockTimeoutMs: number;

  constructor(
    private readonly db: IDBPDatabase<StorageSchema>,
    private readonly factory: IDBFactory,
    private readonly keyRange: typeof IDBKeyRange,
    readonly name: string,
    private readonly keepLast: number,
    private readonly budget: number,
    private readonly maxWrites: number,
    options: StorageOptions,
  ) {
    this.locks = options.locks === undefined ? defaultLockManager() : options.locks;
    const nav = (globalThis as { navigator?: { storage?: StorageManagerLike } }).navigator;
    this.storageManager = options.storageManager === undefined ? (nav?.storage ?? null) : options.storageManager;
    this.lockTimeoutMs = options.lockTimeoutMs ?? 30_000;
    db.addEventListener('versionchange', (event) => {
      // Tell the app first (it may save UI state), then close so the newer tab's upgrade proceeds.
      this.emit('versionchange', { oldVersion: event.oldVersion, newVersion: event.newVersion });
      this.db.close();
      this.markClosed('versionchange');
    });
    db.addEventListener('close', () => this.markClosed('terminated'));
    if (options.broadcast !== false && typeof BroadcastChannel === 'function') {
      this.channel = new BroadcastChannel(`edgetune:${name}`);
      // Node keeps the process alive for an open channel; a forgotten storage must not hang it.
      (this.channel as unknown as { unref?: () => void }).unref?.();
      this.channel.onmessage = (ev: MessageEvent<BroadcastMessage>) => {
        const m = ev.data;
        if (m && m.type === 'checkpoint' && typeof m.slot === 'string' && typeof m.version === 'number') {
          this.emit('checkpoint', { slot: m.slot, version: m.version, source: 'remote' });
        }
      };
    }
    this.meta = this.makeMeta();
  }

  get encrypted(): boolean {
    return this.cipher !== null;
  }


  private markClosed(reason: 'versionchange' | 'terminated'): void {
    if (this.closed) return;
    this.closed = reason;
    this.channel?.close();
    this.emit('closed', { reason });
  }

  private assertOpen(): void {
    if (this.closed === 'disposed') throw new EdgetuneError('DISPOSED', `Storage ${this.name} was disposed; open it again with openStorage().`);
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

  on<K extends keyof StorageEvents>(type: K, listener: (event: StorageEvents[K]) => void): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener as (e: never) => void);
    return () => set.delete(listener as (e: never) => void);
  }

  private emit<K extends keyof StorageEvents>(type: K, event: StorageEvents[K]): void {
    for (const l of this.listeners.get(type) ?? []) {
      try {
        (l as (e: StorageEvents[K]) => void)(event);
      } catch {
        // A listener's failure must not break a committed save.
      }
    }
  }

  async dispose(): Promise<void> {
    if (this.closed === 'disposed') return;
    const wasOpen = !this.closed;
    this.closed = 'disposed';
    if (wasOpen) this.channel?.close();
    this.db.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }


  private async lock<T>(signal: AbortSignal | undefined, fn: () => Promise<T>, onProgress?: OperationOptions['onProgress']): Promise<T> {
    this.assertOpen();
    onProgress?.({ phase: 'lock' });
    return withLock(this.locks, this.factory, `edgetune:${this.name}`, this.lockTimeoutMs, signal, async () => {
      this.assertOpen();
      return fn();
    });
  }

  private mapError(e: unknown, what: string, signal?: AbortSignal): unknown {
    if (isEdgetuneError(e)) return e;
    if (isQuotaError(e) || isQuotaError((e as { cause?: unknown })?.cause)) {
      return new EdgetuneError('QUOTA_EXCEEDED', `Storage is full: ${what} did not fit in the origin's quota and was not written; the previous state is intact. Free space (delete cached models or samples) or ask for persistent storage.`, { cause: e });
    }
    if (signal?.aborted) return new EdgetuneError('ABORTED', `${what} was aborted before it committed; nothing was written.`, { cause: signal.reason });
    return e;
  }

  /** One strict-durability transaction: `fn`, then key counter, usage and budget (LRU eviction); any throw aborts it all. */
  private async write(what: string, stores: readonly StoreName[], encryptions: number, fn: (tx: RwTx, acct: Accounting) => Promise<void>, options: OperationOptions = {}, protect: readonly string[] = []): Promise<Accounting> {
    try {
      return await this.writeOnce(what, stores, encryptions, fn, options, protect);
    } catch (e) {
      if (!isEdgetuneError(e, 'QUOTA_EXCEEDED') || (e.details as { budget?: boolean } | undefined)?.budget) throw e;
      // The browser's quota, not our budget: cached models are the one thing we may drop. Retry once.
      const evicted = await this.evictForQuota(protect);
      if (evicted.length === 0) throw e;
      this.emit('evicted', { ids: evicted });
      const acct = await this.writeOnce(what, stores, encryptions, fn, options, protect);
      acct.evicted.unshift(...evicted);
      return acct;
    }
  }

  private async writeOnce(what: string, stores: readonly StoreName[], encryptions: number, fn: (tx: RwTx, acct: Accounting) => Promise<void>, options: OperationOptions, protect: readonly string[]): Promise<Accounting> {
    const { signal } = options;
    this.assertOpen();
    if (signal?.aborted) throw new EdgetuneError('ABORTED', `${what} was aborted before it started; nothing was written.`, { cause: signal.reason });
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
        if (n + encryptions > this.maxWrites) throw this.rotationError(n);
        await sys.put(n + encryptions, k);
      }
      const old = ((await sys.get('usage')) as Usage | undefined) ?? { ...ZERO };
      const next: Usage = acct.absolute
        ? { ...acct.absolute }
        : { models: old.models + acct.delta.models, checkpoints: old.checkpoints + acct.delta.checkpoints, samples: old.samples + acct.delta.samples, meta: old.meta + acct.delta.meta };
      if (usageTotal(next) > this.budget && usageTotal(next) > usageTotal(old)) {
        await this.evictWithin(tx, next, acct);
        if (usageTotal(next) > this.budget) {
          throw new EdgetuneError('QUOTA_EXCEEDED', `${what} needs ${usageTotal(next)} bytes in total but the budget is ${this.budget} bytes, even after evicting every other cached model; nothing was written. Raise budgetBytes, delete samples or old models.`, {
            details: { budget: true, needed: usageTotal(next), budgetBytes: this.budget },
          });
        }
      }
      await sys.put(next, 'usage');
      options.onProgress?.({ phase: 'write', done: 0, total: 1 });
      await tx.done;
      options.onProgress?.({ phase: 'write', done: 1, total: 1 });
      if (acct.evicted.length) this.emit('evicted', { ids: acct.evicted });
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
    while (cursor && usageTotal(usage) > this.budget) {
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
      await this.writeOnce('Evicting a cached model', [], 0, async (tx, acct) => {
        await tx.objectStore('models').delete(victim.id);
        await tx.objectStore('modelBytes').delete(victim.id);
        acct.delta.models -= victim.size;
      }, {}, []);
      return [victim.id];
    } catch {
      return [];
    }
  }

  private rotationError(n: number): EdgetuneError {
    return new EdgetuneError(
      'KEY_ROTATION_REQUIRED',
      `The encryption key has been used for ${n} encryptions; the limit is ${this.maxWrites} (random 96-bit IVs must stay far below 2^32 per key). Nothing was written: call rotateKey() with a new key.`,
      { details: { writes: n, limit: this.maxWrites } },
    );
  }

  /** Makes sure `n` more encryptions fit under the current key; a passphrase key rotates itself. Call under the lock. */
  private async reserve(n: number, options: OperationOptions): Promise<void> {
    if (!this.cipher || n === 0) return;
    const used = ((await this.db.get('sys', `keycount:${this.cipher.keyId}`)) as number | undefined) ?? 0;
    if (used + n <= this.maxWrites) return;
    if (this.passphrase === undefined) throw this.rotationError(used);
    await this.rekeyLocked({ passphrase: this.passphrase, iterations: this.iterations }, options);
    const after = ((await this.db.get('sys', `keycount:${this.cipher.keyId}`)) as number | undefined) ?? 0;
    if (after + n > this.maxWrites) throw this.rotationError(after);
  }


  private async seal(cipher: Cipher | null, store: string, id: string, version: number, value: unknown): Promise<Body> {
    if (!cipher) return { kind: 'plain', value };
    const s = await cipher.seal(encodeValue(value), recordAad(store, id, version));
    return { kind: 'sealed', ...s };
  }

  private async unseal(cipher: Cipher | null, body: Body | undefined, store: string, id: string, version: number, what: string): Promise<unknown> {
    if (!body || (body.kind !== 'plain' && body.kind !== 'sealed')) {
      throw new EdgetuneError('RECORD_CORRUPT', `${what} has no readable body; it was damaged. Delete it or restore from an export.`);
    }
    if (body.kind === 'plain') {
      // A clear record in an encrypted profile would be a downgrade planted by someone else.
      if (cipher) throw new EdgetuneError('DECRYPT_FAILED', `${what} is stored in clear in an encrypted profile; it was tampered with. Nothing was changed.`);
      return body.value;
    }
    if (!cipher) throw new EdgetuneError('DECRYPT_FAILED', `${what} is encrypted but no key is open; open the storage with options.encryption.`);
    return decodeValue(await cipher.open(body, recordAad(store, id, version), what));
  }


  async initCrypto(encryption: EncryptionOptions | undefined): Promise<void> {
    if (encryption && 'passphrase' in encryption) {
      this.passphrase = encryption.passphrase;
      this.iterations = encryption.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
    }
    const rec = (await this.db.get('sys', 'crypto')) as CryptoRecord | undefined;
    if (rec) {
      if (!encryption) {
        throw new EdgetuneError('DECRYPT_FAILED', `Profile ${this.name} is encrypted; open it with options.encryption (its key or passphrase). Nothing was read or changed.`);
      }
      this.cipher = await this.cipherFor(rec, encryption);
      return;
    }
    if (!encryption) return;
    await this.lock(undefined, async () => {
      const again = (await this.db.get('sys', 'crypto')) as CryptoRecord | undefined;
      if (again) {
        this.cipher = await this.cipherFor(again, encryption);
        return;
      }
      await this.rekeyLocked(encryption, {});
    });
  }

  private async cipherFor(rec: CryptoRecord, encryption: EncryptionOptions): Promise<Cipher> {
    let key: CryptoKey;
    if ('key' in encryption) {
      if (rec.kdf) throw new EdgetuneError('DECRYPT_FAILED', `Profile ${this.name} is keyed by a passphrase, but a CryptoKey was given; pass { passphrase }.`);
      key = encryption.key;
    } else {
      if (!rec.kdf) throw new EdgetuneError('DECRYPT_FAILED', `Profile ${this.name} is keyed by an app CryptoKey, but a passphrase was given; pass { key }.`);
      key = await deriveKey(encryption.passphrase, rec.kdf.salt, rec.kdf.iterations);
      this.iterations = rec.kdf.iterations;
    }
    const cipher = new Cipher(key, rec.keyId);
    const plain = await cipher.open(rec.verifier, recordAad('sys', 'verifier', 0), `the key check of profile ${this.name}`);
    if (!bytesEqual(plain, VERIFIER_PLAINTEXT)) throw new EdgetuneError('DECRYPT_FAILED', `The key check of profile ${this.name} decrypted to unexpected bytes; the profile was tampered with.`);
    return cipher;
  }

  private async newCipher(encryption: EncryptionOptions): Promise<{ cipher: Cipher; kdf: KdfParams | null }> {
    const keyId = randomId();
    if ('key' in encryption) {
      checkAppKey(encryption.key);
      return { cipher: new Cipher(encryption.key, keyId), kdf: null };
    }
    const iterations = encryption.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
    const salt = randomBytes(16);
    const key = await deriveKey(encryption.passphrase, salt, iterations);
    return { cipher: new Cipher(key, keyId), kdf: { name: 'PBKDF2', hash: 'SHA-256', salt, iterations } };
  }

  async rotateKey(encryption: EncryptionOptions, options: OperationOptions = {}): Promise<void> {
    await this.lock(options.signal, () => this.rekeyLocked(encryption, options), options.onProgress);
  }

  /** Re-encrypts everything under a new key in one transaction (plain → encrypted too). Under the lock. */
  private async rekeyLocked(encryption: EncryptionOptions, options: OperationOptions): Promise<void> {
    const data = await this.readAll(this.cipher, options);
    const { cipher, kdf } = await this.newCipher(encryption);
    const verifier = await cipher.seal(VERIFIER_PLAINTEXT, recordAad('sys', 'verifier', 0));
    const sealed = await this.sealAll(cipher, data, options);
    const oldKeyId = this.cipher?.keyId;
    const count = sealed.count + 1;
    if (count > this.maxWrites) throw this.rotationError(count);
    const rec: CryptoRecord = { keyId: cipher.keyId, kdf, verifier, createdAt: Date.now() };
    await this.write('Re-encrypting the profile', ALL_STORES, 0, async (tx, acct) => {
      await this.replaceAll(tx, sealed, acct);
      const sys = tx.objectStore('sys');
      await sys.put(rec, 'crypto');
      await sys.put(count, `keycount:${cipher.keyId}`);
      if (oldKeyId) await sys.delete(`keycount:${oldKeyId}`);
    }, options);
    this.cipher = cipher;
    if ('passphrase' in encryption) {
      this.passphrase = encryption.passphrase;
      this.iterations = kdf?.iterations ?? this.iterations;
    } else {
      this.passphrase = undefined;
    }
  }

  async keyUsage(): Promise<{ keyId: string; writes: number; limit: number } | undefined> {
    this.assertOpen();
    if (!this.cipher) return undefined;
    const writes = ((await this.db.get('sys', `keycount:${this.cipher.keyId}`)) as number | undefined) ?? 0;
    return { keyId: this.cipher.keyId, writes, limit: this.maxWrites };
  }


  /** Reads and decrypts the whole profile in one snapshot transaction. */
  private async readAll(cipher: Cipher | null, options: OperationOptions): Promise<ProfileData> {
    const tx = this.db.transaction(ALL_STORES as StoreName[], 'readonly');
    const [models, bytes, ckpts, heads, samples, meta, sysKeys] = await Promise.all([
      tx.objectStore('models').getAll(),
      tx.objectStore('modelBytes').getAll(),
      tx.objectStore('checkpoints').getAll(),
      tx.objectStore('heads').getAll(),
      tx.objectStore('samples').getAll(),
      tx.objectStore('meta').getAll(),
      tx.objectStore('sys').getAllKeys(),
    ]);
    const seqKeys = sysKeys.filter((k) => k.startsWith('seq:'));
    const seqVals = await Promise.all(seqKeys.map((k) => tx.objectStore('sys').get(k)));
    await tx.done;
    const total = models.length * 2 + ckpts.length + samples.length + meta.length;
    let done = 0;
    const tick = (): void => {
      done++;
      options.onProgress?.({ phase: 'decrypt', done, total });
    };
    const byteMap = new Map(bytes.map((b) => [b.id, b.body]));
    const out: ProfileData = { models: [], checkpoints: [], heads: heads.map((h) => ({ slot: h.slot, current: h.current, next: h.next, versions: h.versions })), samples: [], meta: [], seqs: {} };
    seqKeys.forEach((k, i) => (out.seqs[k.slice(4)] = seqVals[i] as number));
    for (const m of models) {
      if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'Reading the profile was aborted.', { cause: options.signal.reason });
      const manifest = (await this.unseal(cipher, m.body, 'models', m.id, 0, `manifest of model ${m.id}`)) as StoredManifest;
      tick();
      const b = (await this.unseal(cipher, byteMap.get(m.id), 'modelBytes', m.id, 0, `bytes of model ${m.id}`)) as ArrayBuffer;
      tick();
      out.models.push({ id: m.id, manifest, bytes: new Uint8Array(b), storedAt: m.storedAt, lastUsed: m.lastUsed });
    }
    for (const c of ckpts) {
      const payload = await this.unseal(cipher, c.body, 'checkpoints', c.slot, c.version, `checkpoint ${c.slot} v${c.version}`);
      tick();
      out.checkpoints.push({ slot: c.slot, version: c.version, createdAt: c.createdAt, ...(c.label !== undefined ? { label: c.label } : {}), payload });
    }
    for (const s of samples) {
      const value = await this.unseal(cipher, s.body, 'samples', `${s.slot}/${s.seq}`, 0, `sample ${s.slot}/${s.seq}`);
      tick();
      out.samples.push({ slot: s.slot, seq: s.seq, createdAt: s.createdAt, value });
    }
    for (const m of meta) {
      const value = await this.unseal(cipher, m.body, 'meta', m.key, 0, `meta ${m.key}`);
      tick();
      out.meta.push({ key: m.key, value });
    }
    return out;
  }

  private async sealAll(cipher: Cipher | null, data: ProfileData, options: OperationOptions): Promise<SealedProfile> {
    const total = data.models.length * 2 + data.checkpoints.length + data.samples.length + data.meta.length;
    let done = 0;
    const tick = (): void => {
      done++;
      options.onProgress?.({ phase: 'encrypt', done, total });
    };
    const out: SealedProfile = { data, models: [], checkpoints: [], samples: [], meta: [], count: 0 };
    for (const m of data.models) {
      if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'Encrypting the profile was aborted; nothing was written.', { cause: options.signal.reason });
      const mb = await this.seal(cipher, 'models', m.id, 0, m.manifest);
      tick();
      const bb = await this.seal(cipher, 'modelBytes', m.id, 0, toArrayBuffer(m.bytes));
      tick();
      out.models.push({ id: m.id, size: bodySize(bb), storedAt: m.storedAt, lastUsed: m.lastUsed, body: mb, bytesBody: bb });
    }
    for (const c of data.checkpoints) {
      const body = await this.seal(cipher, 'checkpoints', c.slot, c.version, c.payload);
      tick();
      out.checkpoints.push({ slot: c.slot, version: c.version, createdAt: c.createdAt, size: bodySize(body), ...(c.label !== undefined ? { label: c.label } : {}), body });
    }
    for (const s of data.samples) {
      const body = await this.seal(cipher, 'samples', `${s.slot}/${s.seq}`, 0, s.value);
      tick();
      out.samples.push({ slot: s.slot, seq: s.seq, createdAt: s.createdAt, size: bodySize(body), body });
    }
    for (const m of data.meta) {
      const body = await this.seal(cipher, 'meta', m.key, 0, m.value);
      tick();
      out.meta.push({ key: m.key, size: bodySize(body), body });
    }
    out.count = cipher ? done : 0;
    return out;
  }

  /** Clears the data stores and writes `sealed` in their place; sets absolute usage. Inside a write. */
  private async replaceAll(tx: RwTx, sealed: SealedProfile, acct: Accounting): Promise<void> {
    for (const s of ['models', 'modelBytes', 'checkpoints', 'heads', 'samples', 'meta'] as const) await tx.objectStore(s).clear();
    const sys = tx.objectStore('sys');
    for (const k of await sys.getAllKeys()) if (k.startsWith('seq:')) await sys.delete(k);
    const usage: Usage = { ...ZERO };
    for (const m of sealed.models) {
      await tx.objectStore('models').put({ id: m.id, size: m.size, storedAt: m.storedAt, lastUsed: m.lastUsed, body: m.body });
      await tx.objectStore('modelBytes').put({ id: m.id, body: m.bytesBody });
      usage.models += m.size;
      acct.protect.add(m.id);
    }
    for (const c of sealed.checkpoints) {
      await tx.objectStore('checkpoints').put(c);
      usage.checkpoints += c.size;
    }
    for (const h of sealed.data.heads) {
      const versions = h.versions.map((v) => ({ ...v, size: sealed.checkpoints.find((c) => c.slot === h.slot && c.version === v.version)?.size ?? v.size }));
      await tx.objectStore('heads').put({ slot: h.slot, current: h.current, next: h.next, versions, updatedAt: Date.now() });
    }
    for (const s of sealed.samples) {
      await tx.objectStore('samples').put(s);
      usage.samples += s.size;
    }
    for (const m of sealed.meta) {
      await tx.objectStore('meta').put(m);
      usage.meta += m.size;
    }
    for (const [slot, seq] of Object.entries(sealed.data.seqs)) await sys.put(seq, `seq:${slot}`);
    acct.absolute = usage;
  }

  async exportProfile(options: OperationOptions = {}): Promise<Uint8Array> {
    return this.lock(options.signal, async () => {
      await this.reserve(1, options);
      const data = await this.readAll(this.cipher, options);
      const cipher = this.cipher;
      let kdf: KdfParams | null = null;
      if (cipher) {
        kdf = ((await this.db.get('sys', 'crypto')) as CryptoRecord | undefined)?.kdf ?? null;
        // Count the export's own encryption before doing it.
        await this.write('Counting the export encryption', ['sys'], 1, async () => undefined, options);
      }
      options.onProgress?.({ phase: 'encrypt', done: 0, total: 1 });
      const out = await encodeProfile(data, cipher, kdf);
      options.onProgress?.({ phase: 'encrypt', done: 1, total: 1 });
      return out;
    }, options.onProgress);
  }

  async importProfile(bytes: Uint8Array, options: OperationOptions & { passphrase?: string } = {}): Promise<void> {
    this.assertOpen();
    const passphrase = options.passphrase ?? this.passphrase;
    options.onProgress?.({ phase: 'validate', done: 0, total: 1 });
    const data = await decodeProfile(bytes, this.cipher, passphrase);
    options.onProgress?.({ phase: 'validate', done: 1, total: 1 });
    if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'Import was aborted; nothing was replaced.', { cause: options.signal.reason });
    await this.lock(options.signal, async () => {
      const n = data.models.length * 2 + data.checkpoints.length + data.samples.length + data.meta.length;
      await this.reserve(n, options);
      const sealed = await this.sealAll(this.cipher, data, options);
      await this.write('Importing the profile', ALL_STORES, sealed.count, async (tx, acct) => this.replaceAll(tx, sealed, acct), options);
    }, options.onProgress);
    for (const h of data.heads) this.announce(h.slot, h.current);
  }

  private announce(slot: string, version: number): void {
    this.emit('checkpoint', { slot, version, source: 'local' });
    try {
      this.channel?.postMessage({ type: 'checkpoint', slot, version } satisfies BroadcastMessage);
    } catch {
      // A closed channel (disposal racing a save) only loses the notification.
    }
  }


  async putModel(id: string, manifest: StoredManifest, bytes: Uint8Array, options: OperationOptions = {}): Promise<{ evicted: readonly string[] }> {
    this.assertOpen();
    if (typeof id !== 'string' || id.length === 0) throw new EdgetuneError('INVALID_ARGUMENT', `Model id must be a non-empty string, got ${JSON.stringify(id)}.`);
    if (typeof manifest?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(manifest.sha256)) {
      throw new EdgetuneError('INVALID_ARGUMENT', `manifest.sha256 must be 64 lower-case hex digits, got ${JSON.stringify(manifest?.sha256)}.`);
    }
    options.onProgress?.({ phase: 'verify', done: 0, total: 1 });
    const actual = await sha256Hex(bytes);
    if (actual !== manifest.sha256) {
      throw new EdgetuneError('CHECKSUM_MISMATCH', `Model ${id}: bytes hash to ${actual} but manifest.sha256 is ${manifest.sha256}; nothing was stored. Re-download the model.`, { details: { id, expected: manifest.sha256, actual } });
    }
    options.onProgress?.({ phase: 'verify', done: 1, total: 1 });
    const acct = await this.lock(options.signal, async () => {
      await this.reserve(2, options);
      const cipher = this.cipher;
      const mb = await this.seal(cipher, 'models', id, 0, manifest);
      const bb = await this.seal(cipher, 'modelBytes', id, 0, toArrayBuffer(bytes));
      const size = bodySize(bb);
      const now = Date.now();
      return this.write(`Storing model ${id}`, ['models', 'modelBytes'], cipher ? 2 : 0, async (tx, a) => {
        const old = await tx.objectStore('models').get(id);
        await tx.objectStore('models').put({ id, size, storedAt: now, lastUsed: await nextUse(tx), body: mb });
        await tx.objectStore('modelBytes').put({ id, body: bb });
        a.delta.models += size - (old?.size ?? 0);
      }, options, [id]);
    }, options.onProgress);
    return { evicted: acct.evicted };
  }

  async getModel<M extends StoredManifest = StoredManifest>(id: string, options: OperationOptions = {}): Promise<StoredModel<M> | undefined> {
    this.assertOpen();
    options.onProgress?.({ phase: 'read', done: 0, total: 1 });
    const tx = this.db.transaction(['models', 'modelBytes'], 'readwrite');
    let rec: StorageSchema['models']['value'] | undefined;
    let bytesRec: StorageSchema['modelBytes']['value'] | undefined;
    try {
      rec = await tx.objectStore('models').get(id);
      bytesRec = await tx.objectStore('modelBytes').get(id);
      if (rec) await tx.objectStore('models').put({ ...rec, lastUsed: await nextUse(tx as unknown as RwTx) });
      await tx.done;
    } catch (e) {
      await tx.done.catch(() => undefined);
      throw this.mapError(e, `Reading model ${id}`);
    }
    options.onProgress?.({ phase: 'read', done: 1, total: 1 });
    if (!rec) return undefined;
    if (!bytesRec) throw new EdgetuneError('RECORD_CORRUPT', `Model ${id} has a record but no bytes; delete it and store it again.`);
    const manifest = (await this.unseal(this.cipher, rec.body, 'models', id, 0, `manifest of model ${id}`)) as M;
    const buf = await this.unseal(this.cipher, bytesRec.body, 'modelBytes', id, 0, `bytes of model ${id}`);
    if (!(buf instanceof ArrayBuffer)) throw new EdgetuneError('RECORD_CORRUPT', `Bytes of model ${id} are not binary data; delete it and store it again.`);
    const bytes = new Uint8Array(buf);
    options.onProgress?.({ phase: 'verify', done: 0, total: 1 });
    const actual = await sha256Hex(bytes);
    if (actual !== manifest.sha256) {
      throw new EdgetuneError('CHECKSUM_MISMATCH', `Stored model ${id} hashes to ${actual} but its manifest says ${manifest.sha256}: the stored copy is damaged. Delete it and download it again.`, { details: { id, expected: manifest.sha256, actual } });
    }
    options.onProgress?.({ phase: 'verify', done: 1, total: 1 });
    return { id, manifest, bytes };
  }

  async listModels(): Promise<ModelInfo[]> {
    this.assertOpen();
    const all = await this.db.getAllFromIndex('models', 'by-lastUsed');
    return all.map((m) => ({ id: m.id, size: m.size, storedAt: m.storedAt, lastUsed: m.lastUsed }));
  }

  async deleteModel(id: string): Promise<void> {
    await this.lock(undefined, () =>
      this.write(`Deleting model ${id}`, ['models', 'modelBytes'], 0, async (tx, acct) => {
        const old = await tx.objectStore('models').get(id);
        if (!old) return;
        await tx.objectStore('models').delete(id);
        await tx.objectStore('modelBytes').delete(id);
        acct.delta.models -= old.size;
      }),
    );
  }


  async estimate(): Promise<StorageEstimateResult> {
    this.assertOpen();
    const u = ((await this.db.get('sys', 'usage')) as Usage | undefined) ?? { ...ZERO };
    const tracked = { ...u, total: usageTotal(u) };
    const sm = this.storageManager;
    if (!sm) return { tracked, budgetBytes: this.budget };
    const est = await sm.estimate();
    const persisted = sm.persisted ? await sm.persisted() : undefined;
    return {
      tracked,
      budgetBytes: this.budget,
      ...(est.usage !== undefined ? { usage: est.usage } : {}),
      ...(est.quota !== undefined ? { quota: est.quota } : {}),
      ...(persisted !== undefined ? { persisted } : {}),
    };
  }

  async persist(): Promise<boolean> {
    this.assertOpen();
    try {
      return (await this.storageManager?.persist?.()) ?? false;
    } catch {
      return false;
    }
  }


  checkpoints<T = unknown>(slot: string = DEFAULT_SLOT): CheckpointStore<T> {
    checkSlot(slot);
    const self = this;
    return {
      slot,
      save: (payload, options = {}) => this.lock(options.signal, () => this.saveLocked(slot, payload, options), options.onProgress),
      load: (version, options = {}) => this.loadCheckpoint<T>(slot, version, options),
      list: () => this.listCheckpoints(slot),
      rollback: (version) => this.lock(undefined, () => this.rollbackLocked(slot, version)),
      async update(fn, options = {}) {
        return self.lock(options.signal, async () => {
          const current = await self.loadCheckpoint<T>(slot, undefined, options);
          const next = await fn(current);
          return self.saveLocked(slot, next, options);
        }, options.onProgress);
      },
    };
  }

  private async saveLocked(slot: string, payload: unknown, options: SaveOptions): Promise<SaveResult> {
    const head = await this.db.get('heads', slot);
    const version = head?.next ?? 1;
    await this.reserve(1, options);
    const cipher = this.cipher;
    options.onProgress?.({ phase: 'encrypt', done: 0, total: 1 });
    const body = await this.seal(cipher, 'checkpoints', slot, version, payload);
    options.onProgress?.({ phase: 'encrypt', done: 1, total: 1 });
    const size = bodySize(body);
    const createdAt = Date.now();
    const acct = await this.write(`Saving checkpoint ${slot} v${version}`, ['checkpoints', 'heads'], cipher ? 1 : 0, async (tx, a) => {
      const h = await tx.objectStore('heads').get(slot);
      if ((h?.next ?? 1) !== version) {
        throw new EdgetuneError('STATE_INVALID', `Checkpoint ${slot} moved to v${h?.next} while v${version} was being saved: another writer bypassed the lock. Retry the save.`);
      }
      const info: VersionInfo = { version, createdAt, size, ...(options.label !== undefined ? { label: options.label } : {}) };
      await tx.objectStore('checkpoints').put({ slot, version, createdAt, size, ...(options.label !== undefined ? { label: options.label } : {}), body });
      a.delta.checkpoints += size;
      const versions = [...(h?.versions ?? []), info];
      const keepFrom = versions.length - this.keepLast;
      const kept: VersionInfo[] = [];
      for (let i = 0; i < versions.length; i++) {
        const v = versions[i]!;
        if (i >= keepFrom || v.version === version) kept.push(v);
        else {
          await tx.objectStore('checkpoints').delete([slot, v.version]);
          a.delta.checkpoints -= v.size;
        }
      }
      await tx.objectStore('heads').put({ slot, current: version, next: version + 1, versions: kept, updatedAt: createdAt });
    }, options);
    this.announce(slot, version);
    return { version, evicted: acct.evicted };
  }

  private async loadCheckpoint<T>(slot: string, version: number | undefined, options: OperationOptions): Promise<Checkpoint<T> | undefined> {
    this.assertOpen();
    options.onProgress?.({ phase: 'read', done: 0, total: 1 });
    // One transaction: the pointer and the record it names are read from the same snapshot.
    const tx = this.db.transaction(['heads', 'checkpoints'], 'readonly');
    const head = await tx.objectStore('heads').get(slot);
    const v = version ?? head?.current;
    const rec = v === undefined ? undefined : await tx.objectStore('checkpoints').get([slot, v]);
    await tx.done;
    options.onProgress?.({ phase: 'read', done: 1, total: 1 });
    if (v === undefined || !head) return undefined;
    if (!rec) {
      if (version !== undefined) return undefined;
      throw new EdgetuneError('RECORD_CORRUPT', `Checkpoint ${slot}: the current pointer names v${v} but no such record exists; roll back to a kept version.`);
    }
    options.onProgress?.({ phase: 'decrypt', done: 0, total: 1 });
    const payload = (await this.unseal(this.cipher, rec.body, 'checkpoints', slot, rec.version, `checkpoint ${slot} v${rec.version}`)) as T;
    options.onProgress?.({ phase: 'decrypt', done: 1, total: 1 });
    return { slot, version: rec.version, createdAt: rec.createdAt, size: rec.size, ...(rec.label !== undefined ? { label: rec.label } : {}), current: rec.version === head.current, payload };
  }

  private async listCheckpoints(slot: string): Promise<CheckpointInfo[]> {
    this.assertOpen();
    const head = await this.db.get('heads', slot);
    if (!head) return [];
    return head.versions.map((v) => ({ slot, version: v.version, createdAt: v.createdAt, size: v.size, ...(v.label !== undefined ? { label: v.label } : {}), current: v.version === head.current }));
  }

  private async rollbackLocked(slot: string, version: number): Promise<void> {
    await this.write(`Rolling back ${slot} to v${version}`, ['heads', 'checkpoints'], 0, async (tx) => {
      const head = await tx.objectStore('heads').get(slot);
      const kept = head?.versions.map((v) => v.version) ?? [];
      if (!head || !kept.includes(version) || !(await tx.objectStore('checkpoints').getKey([slot, version]))) {
        throw new EdgetuneError('INVALID_ARGUMENT', `Cannot roll ${slot} back to v${version}: kept versions are [${kept.join(', ')}].`, { details: { version, kept } });
      }
      await tx.objectStore('heads').put({ ...head, current: version, updatedAt: Date.now() });
    });
    this.announce(slot, version);
  }


  private range(slot: string, afterSeq?: number): IDBKeyRange {
    return afterSeq === undefined ? this.keyRange.bound([slot, -Infinity], [slot, Infinity]) : this.keyRange.bound([slot, afterSeq], [slot, Infinity], true, false);
  }

  samples<S = unknown>(slot: string = DEFAULT_SLOT): SampleStore<S> {
    checkSlot(slot);
    const self = this;
    const decodeAll = async (recs: StorageSchema['samples']['value'][]): Promise<StoredSample<S>[]> => {
      const out: StoredSample<S>[] = [];
      for (const r of recs) {
        const value = (await self.unseal(self.cipher, r.body, 'samples', `${slot}/${r.seq}`, 0, `sample ${slot}/${r.seq}`)) as S;
        out.push({ seq: r.seq, createdAt: r.createdAt, value });
      }
      return out;
    };
    const removeWhere = (what: string, pick: (seqs: number[]) => number[]): Promise<number> =>
      self.lock(undefined, async () => {
        let removed = 0;
        await self.write(what, ['samples'], 0, async (tx, acct) => {
          const store = tx.objectStore('samples');
          const keys = (await store.getAllKeys(self.range(slot))).map((k) => k[1]);
          const chosen = new Set(pick(keys));
          let cursor = await store.openCursor(self.range(slot));
          while (cursor) {
            if (chosen.has(cursor.value.seq)) {
              acct.delta.samples -= cursor.value.size;
              await cursor.delete();
              removed++;
            }
            cursor = await cursor.continue();
          }
        });
        return removed;
      });
    return {
      slot,
      add: (values, options = {}) =>
        this.lock(options.signal, async () => {
          const first = ((await this.db.get('sys', `seq:${slot}`)) as number | undefined) ?? 1;
          await this.reserve(values.length, options);
          const cipher = this.cipher;
          const recs: StorageSchema['samples']['value'][] = [];
          const createdAt = Date.now();
          for (let i = 0; i < values.length; i++) {
            const seq = first + i;
            const body = await this.seal(cipher, 'samples', `${slot}/${seq}`, 0, values[i]);
            options.onProgress?.({ phase: 'encrypt', done: i + 1, total: values.length });
            recs.push({ slot, seq, createdAt, size: bodySize(body), body });
          }
          await this.write(`Adding ${values.length} samples to ${slot}`, ['samples'], cipher ? values.length : 0, async (tx, acct) => {
            const now = ((await tx.objectStore('sys').get(`seq:${slot}`)) as number | undefined) ?? 1;
            if (now !== first) throw new EdgetuneError('STATE_INVALID', `Samples of ${slot} changed while adding (another writer bypassed the lock). Retry.`);
            for (const r of recs) {
              await tx.objectStore('samples').put(r);
              acct.delta.samples += r.size;
            }
            await tx.objectStore('sys').put(first + values.length, `seq:${slot}`);
          }, options);
          return recs.map((r) => r.seq);
        }, options.onProgress),
      count: async () => {
        this.assertOpen();
        return this.db.count('samples', this.range(slot));
      },
      getAll: async (_options = {}) => {
        this.assertOpen();
        const recs = await this.db.getAll('samples', this.range(slot));
        return decodeAll(recs);
      },
      async *iterate(options = {}) {
        const batch = options.batchSize ?? 256;
        if (!Number.isInteger(batch) || batch < 1) throw new EdgetuneError('INVALID_ARGUMENT', `batchSize must be an integer >= 1, got ${batch}.`);
        let after: number | undefined;
        for (;;) {
          self.assertOpen();
          if (options.signal?.aborted) throw new EdgetuneError('ABORTED', 'Iterating samples was aborted.', { cause: options.signal.reason });
          const recs = await self.db.getAll('samples', self.range(slot, after), batch);
          for (const s of await decodeAll(recs)) yield s;
          if (recs.length < batch) return;
          after = recs[recs.length - 1]!.seq;
        }
      },
      delete: async (seqs) => {
        const want = new Set(seqs);
        await removeWhere(`Deleting ${seqs.length} samples of ${slot}`, (keys) => keys.filter((k) => want.has(k)));
      },
      trim: async (maxCount) => {
        if (!Number.isInteger(maxCount) || maxCount < 0) throw new EdgetuneError('INVALID_ARGUMENT', `maxCount must be an integer >= 0, got ${maxCount}.`);
        return removeWhere(`Trimming samples of ${slot} to ${maxCount}`, (keys) => keys.slice(0, Math.max(0, keys.length - maxCount)));
      },
      clear: async () => {
        await removeWhere(`Clearing samples of ${slot}`, (keys) => keys);
      },
    };
  }


  private makeMeta(): MetaStore {
    return {
      get: async <V = unknown>(key: string): Promise<V | undefined> => {
        this.assertOpen();
        const rec = await this.db.get('meta', key);
        if (!rec) return undefined;
        return (await this.unseal(this.cipher, rec.body, 'meta', key, 0, `meta ${key}`)) as V;
      },
      set: (key, value) =>
        this.lock(undefined, async () => {
          if (typeof key !== 'string' || key.length === 0) throw new EdgetuneError('INVALID_ARGUMENT', `Meta key must be a non-empty string, got ${JSON.stringify(key)}.`);
          await this.reserve(1, {});
          const cipher = this.cipher;
          const body = await this.seal(cipher, 'meta', key, 0, value);
          const size = bodySize(body);
          await this.write(`Setting meta ${key}`, ['meta'], cipher ? 1 : 0, async (tx, acct) => {
            const old = await tx.objectStore('meta').get(key);
            await tx.objectStore('meta').put({ key, size, body });
            acct.delta.meta += size - (old?.size ?? 0);
          });
        }),
      delete: (key) =>
        this.lock(undefined, async () => {
          await this.write(`Deleting meta ${key}`, ['meta'], 0, async (tx, acct) => {
            const old = await tx.objectStore('meta').get(key);
            if (!old) return;
            await tx.objectStore('meta').delete(key);
            acct.delta.meta -= old.size;
          });
        }),
      keys: async () => {
        this.assertOpen();
        return this.db.getAllKeys('meta');
      },
    };
  }
}

/** A profile with every record sealed (or wrapped plain) and sized, ready to write. */
interface SealedProfile {
  data: ProfileData;
  models: { id: string; size: number; storedAt: number; lastUsed: number; body: Body; bytesBody: Body }[];
  checkpoints: StorageSchema['checkpoints']['value'][];
  samples: StorageSchema['samples']['value'][];
  meta: StorageSchema['meta']['value'][];
  /** Encryptions done. */
  count: number;
}

