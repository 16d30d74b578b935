// Public types of edgetune storage: options, records, events and the EdgetuneStorage interface.
import type { OperationOptions as CoreOperationOptions } from '../core/options.js';
import type { EncryptionOptions } from './crypto.js';
import type { LockManagerLike } from './lock.js';

export type { EncryptionOptions } from './crypto.js';
export type { LockManagerLike } from './lock.js';

/**
 * Progress of a long storage operation, told apart by `phase`; `'ready'` comes last, once, when the
 * operation succeeded (as every other long operation of edgetune ends).
 */
export type StorageProgress =
  | { readonly phase: 'lock' }
  | { readonly phase: 'ready' }
  | {
      readonly phase: 'read' | 'decrypt' | 'encrypt' | 'verify' | 'validate' | 'write';
      readonly done: number;
      readonly total: number;
    };

/**
 * `{ signal, onProgress }` accepted by every long storage operation (the one shape of every entry,
 * with storage's progress). A write is cancelled only before it commits, and then nothing was written.
 */
export type OperationOptions = CoreOperationOptions<StorageProgress>;

/** Options of `exportProfile`. */
export interface ExportOptions extends OperationOptions {
  /**
   * Meta keys that describe this device rather than the user (a measured device choice, say): their
   * records are left out of the file and stay on the device.
   * @defaultValue no key: every meta record is exported
   */
  readonly localMeta?: (key: string) => boolean;
}

/** Options of `importProfile`. */
export interface ImportOptions extends OperationOptions {
  /**
   * Meta keys that describe this device rather than the user: this profile's records under them are
   * kept as they are, and records under them in the file are not written.
   * @defaultValue no key: every meta record is replaced by the file's
   */
  readonly localMeta?: (key: string) => boolean;
  /** Passphrase of a passphrase-encrypted export (the open profile's own passphrase when absent). */
  readonly passphrase?: string;
  /**
   * Import an encrypted export into an unencrypted profile, storing its records in clear. Without it
   * that import is refused with `IMPORT_INVALID`, so an encrypted backup is never decrypted silently.
   * @defaultValue false
   */
  readonly allowPlaintext?: boolean;
}

/** The part of `StorageManager` surfaced to the app; injectable for tests. */
export interface StorageManagerLike {
  estimate(): Promise<StorageEstimate>;
  persist?(): Promise<boolean>;
  persisted?(): Promise<boolean>;
}

/** Options of {@link openStorage}. */
export interface StorageOptions {
  /**
   * Database name (one profile per name).
   * @defaultValue `'edgetune'`
   */
  readonly name?: string;
  /** The IndexedDB factory; the page's `indexedDB` when absent (`new IDBFactory()` from fake-indexeddb in Node). */
  readonly indexedDB?: IDBFactory;
  /** `IDBKeyRange` of the same implementation as `indexedDB`; the global one when absent. */
  readonly IDBKeyRange?: typeof IDBKeyRange;
  /**
   * Checkpoint versions kept per slot (the current one is always kept as well).
   * @defaultValue 3
   */
  readonly keepLast?: number;
  /**
   * Byte budget for everything stored; cached models are evicted least-recently-used first to stay
   * under it, checkpoints never. A write that cannot fit fails with `QUOTA_EXCEEDED`.
   * @defaultValue Infinity
   */
  readonly budgetBytes?: number;
  /** Opt-in AES-GCM encryption at rest. Opening a plain profile with it encrypts every record in place. */
  readonly encryption?: EncryptionOptions;
  /**
   * Encryptions allowed under one key before writes fail with `KEY_ROTATION_REQUIRED` (passphrase keys
   * rotate by themselves). NIST SP 800-38D caps random 96-bit IVs at 2^32 per key; we stop far below.
   * @defaultValue 2^30
   */
  readonly maxWritesPerKey?: number;
  /**
   * How long a write waits for the cross-tab lock before `LOCK_TIMEOUT`.
   * @defaultValue 30000
   */
  readonly lockTimeoutMs?: number;
  /**
   * How long opening waits for an old connection to close before `DB_BLOCKED`.
   * @defaultValue 10000
   */
  readonly blockedTimeoutMs?: number;
  /** Called when an old tab blocks the upgrade; the app may tell the user to close it. */
  readonly onBlocked?: (info: { oldVersion: number; newVersion: number }) => void;
  /** Web Locks manager; `navigator.locks` when absent; `null` forces the in-process mutex. */
  readonly locks?: LockManagerLike | null;
  /** `navigator.storage` when absent; `null` when the platform has none. */
  readonly storageManager?: StorageManagerLike | null;
  /**
   * Tell other tabs about new checkpoints through `BroadcastChannel`.
   * @defaultValue true
   */
  readonly broadcast?: boolean;
}

/** A model manifest as storage sees it: any object with the hex SHA-256 of the model bytes. */
export interface StoredManifest {
  readonly sha256: string;
  readonly [field: string]: unknown;
}

/** A cached model, bytes verified against its manifest. */
export interface StoredModel<M extends StoredManifest = StoredManifest> {
  readonly id: string;
  readonly manifest: M;
  readonly bytes: Uint8Array;
}

/** A cached model's bookkeeping, without its bytes. */
export interface ModelInfo {
  readonly id: string;
  /** Bytes stored (ciphertext size when encrypted). */
  readonly size: number;
  readonly storedAt: number;
  readonly lastUsed: number;
}

/** One kept checkpoint version. */
export interface CheckpointInfo {
  readonly slot: string;
  readonly version: number;
  readonly createdAt: number;
  /** Approximate stored bytes. */
  readonly size: number;
  readonly label?: string;
  /** True for the version `load()` returns. */
  readonly current: boolean;
}

/** A loaded checkpoint. */
export interface Checkpoint<T = unknown> extends CheckpointInfo {
  readonly payload: T;
}

/** Result of a checkpoint save. */
export interface SaveResult {
  readonly version: number;
  /** Cached models evicted to stay within the budget. */
  readonly evicted: readonly string[];
}

/** Options of a checkpoint save. */
export interface SaveOptions extends OperationOptions {
  /** Short label kept in `list()`, e.g. the number of samples seen. */
  readonly label?: string;
}

/** Versioned checkpoints of one learner (a slot). */
export interface CheckpointStore<T = unknown> {
  readonly slot: string;
  /**
   * Saves `payload` as a new version and makes it current in one strict-durability transaction,
   * serialised across tabs; prunes to `keepLast`.
   */
  save(payload: T, options?: SaveOptions): Promise<SaveResult>;
  /** The current checkpoint, or `version`; `undefined` when there is none. */
  load(version?: number, options?: OperationOptions): Promise<Checkpoint<T> | undefined>;
  /** Kept versions, oldest first. */
  list(): Promise<CheckpointInfo[]>;
  /** Makes a kept `version` current again (newer versions stay kept until pruned). */
  rollback(version: number): Promise<void>;
  /**
   * Read-modify-write under the cross-tab lock: `fn` gets the current payload (or undefined) and
   * returns the next one, so two tabs adapting at once lose no update.
   */
  update(fn: (current: Checkpoint<T> | undefined) => T | Promise<T>, options?: SaveOptions): Promise<SaveResult>;
  /** Deletes every version of this slot and its head in one transaction; the next save starts at v1 again. */
  clear(): Promise<void>;
}

/** A stored sample. */
export interface StoredSample<S = unknown> {
  readonly seq: number;
  readonly createdAt: number;
  readonly value: S;
}

/** Replay/sample store of one slot, in insertion order. */
export interface SampleStore<S = unknown> {
  readonly slot: string;
  /** Appends samples in one transaction; returns their sequence numbers. */
  add(values: readonly S[], options?: OperationOptions): Promise<number[]>;
  count(): Promise<number>;
  /** All samples, oldest first. */
  getAll(options?: OperationOptions): Promise<StoredSample<S>[]>;
  /** Samples oldest first, read in batches of `batchSize` (each batch its own transaction). */
  iterate(options?: { batchSize?: number; signal?: AbortSignal }): AsyncIterableIterator<StoredSample<S>>;
  delete(seqs: readonly number[]): Promise<void>;
  /** Deletes the oldest samples until at most `maxCount` remain; returns how many went. */
  trim(maxCount: number): Promise<number>;
  clear(): Promise<void>;
}

/** App metadata, a small key-value store. */
export interface MetaStore {
  get<V = unknown>(key: string): Promise<V | undefined>;
  set(key: string, value: unknown): Promise<void>;
  delete(key: string): Promise<void>;
  keys(): Promise<string[]>;
}

/** Storage figures for the app. */
export interface StorageEstimateResult {
  /** Browser-reported usage of the whole origin, when the platform has `navigator.storage`. */
  readonly usage?: number;
  /** Browser-reported quota of the origin. */
  readonly quota?: number;
  /** Whether the origin's storage is persistent (not evicted under pressure). */
  readonly persisted?: boolean;
  /** Bytes this profile holds, per store, as accounted by edgetune. */
  readonly tracked: {
    readonly models: number;
    readonly checkpoints: number;
    readonly samples: number;
    readonly meta: number;
    readonly total: number;
  };
  /** The configured budget. */
  readonly budgetBytes: number;
}

/** Events a storage emits. */
export interface StorageEvents {
  /** A checkpoint became current (a save or rollback here, or in another tab). */
  checkpoint: { readonly slot: string; readonly version: number; readonly source: 'local' | 'remote' };
  /** A newer version of the database wants to open elsewhere; this connection closes right after. */
  versionchange: { readonly oldVersion: number; readonly newVersion: number | null };
  /** The connection closed (after `versionchange`, or terminated by the browser); operations now throw `DB_CLOSED`. */
  closed: { readonly reason: 'versionchange' | 'terminated' };
  /** Cached models evicted to stay within the budget or quota. */
  evicted: { readonly ids: readonly string[] };
  /** `forget()` deleted the profile's records (here, or in another tab). */
  forgotten: { readonly source: 'local' | 'remote' };
}

/** Options of `forget()`. */
export interface ForgetOptions extends OperationOptions {
  /**
   * Keep the cached models (they hold no user data, and let the app start offline again).
   * @defaultValue true
   */
  readonly keepModels?: boolean;
}

/** Durable on-device state of edgetune: models, checkpoints, samples, metadata. */
export interface EdgetuneStorage extends AsyncDisposable {
  /** Database name. */
  readonly name: string;
  /** True when records are encrypted at rest. */
  readonly encrypted: boolean;
  /** Checkpoints of learner `slot` (default `'default'`). */
  checkpoints<T = unknown>(slot?: string): CheckpointStore<T>;
  /** Replay samples of learner `slot` (default `'default'`). */
  samples<S = unknown>(slot?: string): SampleStore<S>;
  /** App metadata. */
  readonly meta: MetaStore;
  /** Caches a model; refuses bytes whose SHA-256 differs from `manifest.sha256` (`CHECKSUM_MISMATCH`). */
  putModel(
    id: string,
    manifest: StoredManifest,
    bytes: Uint8Array,
    options?: OperationOptions,
  ): Promise<{ evicted: readonly string[] }>;
  /** A cached model, verified against its manifest's SHA-256 on every read; marks it used. */
  getModel<M extends StoredManifest = StoredManifest>(
    id: string,
    options?: OperationOptions,
  ): Promise<StoredModel<M> | undefined>;
  listModels(): Promise<ModelInfo[]>;
  deleteModel(id: string): Promise<void>;
  /** Usage, quota, persistence and tracked bytes. */
  estimate(): Promise<StorageEstimateResult>;
  /** Asks the browser to make storage persistent; false when refused or unavailable. */
  persist(): Promise<boolean>;
  /**
   * The whole profile as one file: format version, SHA-256 checksum; encrypted when encryption is on.
   * Meta records named by `localMeta` are left out.
   */
  exportProfile(options?: ExportOptions): Promise<Uint8Array>;
  /**
   * Replaces the whole profile with an export after validating all of it (`IMPORT_INVALID`; a wrong key
   * for an encrypted export gives `DECRYPT_FAILED`); nothing is replaced when anything is wrong. An
   * encrypted export goes into an unencrypted profile only with `allowPlaintext: true`. Meta records
   * named by `localMeta` stay as they are.
   */
  importProfile(bytes: Uint8Array, options?: ImportOptions): Promise<void>;
  /**
   * Deletes every checkpoint version of every slot, every sample, every metadata record and the
   * sample counters in one transaction (and the cached models with `keepModels: false`). The key
   * record of an encrypted profile stays, so it reopens with the same key. Other tabs get `forgotten`.
   */
  forget(options?: ForgetOptions): Promise<void>;
  /** Re-encrypts every record under a new key (a passphrase gets a fresh salt) in one transaction. */
  rotateKey(encryption: EncryptionOptions, options?: OperationOptions): Promise<void>;
  /** Encryptions done under the current key (persisted), and the limit. */
  keyUsage(): Promise<{ keyId: string; writes: number; limit: number } | undefined>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof StorageEvents>(type: K, listener: (event: StorageEvents[K]) => void): () => void;
  /** Closes the connection and the broadcast channel. Idempotent. */
  dispose(): Promise<void>;
}
