// openStorage and the EdgetuneStorage object: resolves options, opens the database, and binds the store modules to one engine.
import type { IDBPDatabase } from 'idb';
import { EdgetuneError, isEdgetuneError } from '../core/errors.js';
import { checkAppKey } from './crypto.js';
import { checkpointStore } from './checkpoints.js';
import { ZERO, checkSlot, endReady, usageTotal, StorageEngine } from './engine.js';
import { initCrypto, keyUsage, rekeyLocked } from './keyring.js';
import { defaultLockManager } from './lock.js';
import { metaStore } from './meta.js';
import { deleteModel, getModel, listModels, putModel } from './models.js';
import { openDatabase } from './open.js';
import { exportProfile, forgetProfile, importProfile } from './profile-io.js';
import { sampleStore } from './samples.js';
import { DEFAULT_SLOT, type StorageSchema, type Usage } from './schema.js';
import type {
  CheckpointStore,
  EdgetuneStorage,
  EncryptionOptions,
  ForgetOptions,
  ImportOptions,
  MetaStore,
  ModelInfo,
  ExportOptions,
  OperationOptions,
  SampleStore,
  StorageEstimateResult,
  StorageEvents,
  StorageManagerLike,
  StorageOptions,
  StoredManifest,
  StoredModel,
} from './types.js';

/**
 * Opens (creating or migrating) an edgetune profile.
 *
 * @param options - name, encryption, budget and platform overrides
 * @throws EdgetuneError `INVALID_ARGUMENT`, `DB_BLOCKED`, `DB_CLOSED`, `DB_FOREIGN`, `STATE_INVALID` (newer schema), `DECRYPT_FAILED`
 */
export async function openStorage(options: StorageOptions = {}): Promise<EdgetuneStorage> {
  const factory = options.indexedDB ?? (globalThis as { indexedDB?: IDBFactory }).indexedDB;
  if (!factory) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      'No IndexedDB here: pass options.indexedDB (in Node: new IDBFactory() from fake-indexeddb).',
    );
  }
  const keyRange = options.IDBKeyRange ?? (globalThis as { IDBKeyRange?: typeof IDBKeyRange }).IDBKeyRange;
  if (!keyRange)
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      'No IDBKeyRange here: pass options.IDBKeyRange from the same implementation as options.indexedDB.',
    );
  if (typeof (globalThis as { IDBDatabase?: unknown }).IDBDatabase !== 'function') {
    // idb tells its wrapped objects apart with instanceof against these interface globals.
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      'The IndexedDB interface classes (IDBDatabase, IDBTransaction, …) are not globals here; in Node import "fake-indexeddb/auto" before opening storage.',
    );
  }
  const name = options.name ?? 'edgetune';
  const keepLast = options.keepLast ?? 3;
  if (!Number.isInteger(keepLast) || keepLast < 1)
    throw new EdgetuneError('INVALID_ARGUMENT', `keepLast must be an integer >= 1, got ${keepLast}.`);
  const budget = options.budgetBytes ?? Infinity;
  if (!(budget > 0)) throw new EdgetuneError('INVALID_ARGUMENT', `budgetBytes must be > 0, got ${budget}.`);
  const maxWrites = options.maxWritesPerKey ?? 2 ** 30;
  if (!Number.isInteger(maxWrites) || maxWrites < 2 || maxWrites > 2 ** 32) {
    throw new EdgetuneError('INVALID_ARGUMENT', `maxWritesPerKey must be an integer in [2, 2^32], got ${maxWrites}.`);
  }
  if (options.encryption && 'key' in options.encryption) checkAppKey(options.encryption.key);
  const openOpts = {
    blockedTimeoutMs: options.blockedTimeoutMs ?? 10_000,
    ...(options.onBlocked ? { onBlocked: options.onBlocked } : {}),
  };
  let db: IDBPDatabase<StorageSchema> | undefined;
  for (let attempt = 0; !db; attempt++) {
    try {
      db = await openDatabase(factory, name, openOpts);
    } catch (e) {
      // Right after the browser force-closed connections (site data being cleared) an open is aborted; it succeeds moments later.
      const transient =
        isEdgetuneError(e, 'DB_CLOSED') && (e.cause as { name?: string } | undefined)?.name === 'AbortError';
      if (!transient || attempt >= 4) throw e;
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)));
    }
  }
  const nav = (globalThis as { navigator?: { storage?: StorageManagerLike } }).navigator;
  const engine = new StorageEngine(db, factory, keyRange, {
    name,
    keepLast,
    budget,
    maxWrites,
    locks: options.locks === undefined ? defaultLockManager() : options.locks,
    storageManager: options.storageManager === undefined ? (nav?.storage ?? null) : options.storageManager,
    lockTimeoutMs: options.lockTimeoutMs ?? 30_000,
    broadcast: options.broadcast !== false,
  });
  try {
    await initCrypto(engine, options.encryption);
  } catch (e) {
    await engine.dispose();
    throw e;
  }
  return new StorageImpl(engine);
}

class StorageImpl implements EdgetuneStorage {
  readonly meta: MetaStore;
  readonly #e: StorageEngine;

  constructor(engine: StorageEngine) {
    this.#e = engine;
    this.meta = metaStore(engine);
  }

  get name(): string {
    return this.#e.name;
  }

  get encrypted(): boolean {
    return this.#e.cipher !== null;
  }

  on<K extends keyof StorageEvents>(type: K, listener: (event: StorageEvents[K]) => void): () => void {
    return this.#e.events.on(type, listener);
  }

  dispose(): Promise<void> {
    return this.#e.dispose();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }

  checkpoints<T = unknown>(slot: string = DEFAULT_SLOT): CheckpointStore<T> {
    return checkpointStore<T>(this.#e, checkSlot(slot));
  }

  samples<S = unknown>(slot: string = DEFAULT_SLOT): SampleStore<S> {
    return sampleStore<S>(this.#e, checkSlot(slot));
  }

  putModel(
    id: string,
    manifest: StoredManifest,
    bytes: Uint8Array,
    options?: OperationOptions,
  ): Promise<{ evicted: readonly string[] }> {
    return putModel(this.#e, id, manifest, bytes, options);
  }

  getModel<M extends StoredManifest = StoredManifest>(
    id: string,
    options?: OperationOptions,
  ): Promise<StoredModel<M> | undefined> {
    return endReady(getModel<M>(this.#e, id, options), options?.onProgress);
  }

  listModels(): Promise<ModelInfo[]> {
    return listModels(this.#e);
  }

  deleteModel(id: string): Promise<void> {
    return deleteModel(this.#e, id);
  }

  async estimate(): Promise<StorageEstimateResult> {
    const e = this.#e;
    e.assertOpen();
    const u = ((await e.db.get('sys', 'usage')) as Usage | undefined) ?? { ...ZERO };
    const tracked = { ...u, total: usageTotal(u) };
    const sm = e.settings.storageManager;
    const budgetBytes = e.settings.budget;
    if (!sm) return { tracked, budgetBytes };
    const est = await sm.estimate();
    const persisted = sm.persisted ? await sm.persisted() : undefined;
    return {
      tracked,
      budgetBytes,
      ...(est.usage !== undefined ? { usage: est.usage } : {}),
      ...(est.quota !== undefined ? { quota: est.quota } : {}),
      ...(persisted !== undefined ? { persisted } : {}),
    };
  }

  async persist(): Promise<boolean> {
    this.#e.assertOpen();
    try {
      return (await this.#e.settings.storageManager?.persist?.()) ?? false;
    } catch {
      return false;
    }
  }

  exportProfile(options?: ExportOptions): Promise<Uint8Array> {
    return exportProfile(this.#e, options);
  }

  importProfile(bytes: Uint8Array, options?: ImportOptions): Promise<void> {
    return importProfile(this.#e, bytes, options);
  }

  forget(options?: ForgetOptions): Promise<void> {
    return forgetProfile(this.#e, options);
  }

  async rotateKey(encryption: EncryptionOptions, options: OperationOptions = {}): Promise<void> {
    await this.#e.lock(options.signal, () => rekeyLocked(this.#e, encryption, options), options.onProgress);
  }

  keyUsage(): Promise<{ keyId: string; writes: number; limit: number } | undefined> {
    return keyUsage(this.#e);
  }
}
