// The IndexedDB schema (typed with idb's DBSchema) and the migrations from every earlier schema version.
import type { DBSchema, IDBPDatabase, IDBPTransaction, StoreNames } from 'idb';
import type { KdfParams, Sealed } from './crypto.js';
import { EdgetuneError } from '../core/errors.js';
import { estimateSize } from './codec.js';

/** Current schema version. Version 1 was the pre-release layout; see `migrateV1toV2`. */
export const SCHEMA_VERSION = 2;

/** A stored body: the value itself (encryption off) or its AES-GCM ciphertext. */
export type Body = { readonly kind: 'plain'; readonly value: unknown } | ({ readonly kind: 'sealed' } & Sealed);

/** Per-store byte accounting kept in one `sys` record, updated in the same transaction as every write. */
export interface Usage {
  models: number;
  checkpoints: number;
  samples: number;
  meta: number;
}

/** One kept checkpoint version, as listed in the head record. */
export interface VersionInfo {
  readonly version: number;
  readonly createdAt: number;
  readonly size: number;
  readonly label?: string;
}

/** Key material parameters, stored in clear: they say how to find and check the key, never the key. */
export interface CryptoRecord {
  readonly keyId: string;
  readonly kdf: KdfParams | null;
  readonly verifier: Sealed;
  readonly createdAt: number;
}

/** The typed schema of schema version 2. */
export interface StorageSchema extends DBSchema {
  models: {
    key: string;
    value: { id: string; size: number; storedAt: number; lastUsed: number; body: Body };
    indexes: { 'by-lastUsed': number };
  };
  modelBytes: {
    key: string;
    value: { id: string; body: Body };
  };
  checkpoints: {
    key: [string, number];
    value: { slot: string; version: number; createdAt: number; size: number; label?: string; body: Body };
  };
  heads: {
    key: string;
    value: { slot: string; current: number; next: number; versions: VersionInfo[]; updatedAt: number };
  };
  samples: {
    key: [string, number];
    value: { slot: string; seq: number; createdAt: number; size: number; body: Body };
  };
  meta: {
    key: string;
    value: { key: string; size: number; body: Body };
  };
  sys: {
    key: string;
    value: unknown;
  };
}

/** Names of the object stores. */
export type StoreName = StoreNames<StorageSchema>;

/** Every store, for transactions that span the whole profile. */
export const ALL_STORES: readonly StoreName[] = [
  'models',
  'modelBytes',
  'checkpoints',
  'heads',
  'samples',
  'meta',
  'sys',
];

/** Slot that v1 data (which had one learner) moves into. */
export const DEFAULT_SLOT = 'default';

type UpgradeTx = IDBPTransaction<StorageSchema, StoreName[], 'versionchange'>;

/**
 * Runs every migration from `oldVersion` up to {@link SCHEMA_VERSION} inside the upgrade transaction.
 * Each step only uses IndexedDB requests, so the transaction stays alive across its awaits.
 */
export async function upgradeSchema(db: IDBPDatabase<StorageSchema>, oldVersion: number, tx: UpgradeTx): Promise<void> {
  if (oldVersion < 1) {
    createV2(db);
    return;
  }
  if (oldVersion < 2) await migrateV1toV2(db, tx);
}

/** The stores of schema version 1; a version-1 database without them is not ours. */
export const V1_STORES: readonly string[] = ['models', 'checkpoints', 'samples', 'meta'];

function createV2(db: IDBPDatabase<StorageSchema>): void {
  const models = db.createObjectStore('models', { keyPath: 'id' });
  models.createIndex('by-lastUsed', 'lastUsed');
  db.createObjectStore('modelBytes', { keyPath: 'id' });
  db.createObjectStore('checkpoints', { keyPath: ['slot', 'version'] });
  db.createObjectStore('heads', { keyPath: 'slot' });
  db.createObjectStore('samples', { keyPath: ['slot', 'seq'] });
  db.createObjectStore('meta', { keyPath: 'key' });
  db.createObjectStore('sys');
}

// v1 → v2: the layouts of both versions are described in docs/storage.md (Migrations) and fixed by test/fixtures/storage/v1.ts and v2.ts.
async function migrateV1toV2(db: IDBPDatabase<StorageSchema>, tx: UpgradeTx): Promise<void> {
  // v1 stores are untyped here: the v2 schema type does not describe them.
  const raw = tx as unknown as IDBPTransaction<unknown, string[], 'versionchange'>;
  const rawDb = db as unknown as IDBPDatabase<unknown>;
  const have = Array.from(db.objectStoreNames as unknown as Iterable<string>);
  if (!V1_STORES.every((st) => have.includes(st)) || have.length !== V1_STORES.length) {
    // Thrown inside the upgrade, so it aborts and the foreign database keeps its version and data.
    throw foreign(db.name, 1, have);
  }
  const oldModels = (await raw.objectStore('models').getAll()) as {
    id: string;
    manifest: unknown;
    bytes: ArrayBuffer;
    storedAt: number;
  }[];
  const oldCkpts = (await raw.objectStore('checkpoints').getAll()) as {
    version: number;
    payload: unknown;
    createdAt: number;
  }[];
  const sampleStore = raw.objectStore('samples');
  const sampleKeys = (await sampleStore.getAllKeys()) as number[];
  const sampleValues = await sampleStore.getAll();
  const metaStore = raw.objectStore('meta');
  const metaKeys = (await metaStore.getAllKeys()) as string[];
  const metaValues = await metaStore.getAll();
  for (const name of ['models', 'checkpoints', 'samples', 'meta']) rawDb.deleteObjectStore(name);
  createV2(db);

  const usage: Usage = { models: 0, checkpoints: 0, samples: 0, meta: 0 };
  for (const m of oldModels) {
    const size = m.bytes.byteLength;
    usage.models += size;
    await tx
      .objectStore('models')
      .put({ id: m.id, size, storedAt: m.storedAt, lastUsed: m.storedAt, body: { kind: 'plain', value: m.manifest } });
    await tx.objectStore('modelBytes').put({ id: m.id, body: { kind: 'plain', value: m.bytes } });
  }
  let current: number | undefined;
  const appMeta: { key: string; value: unknown }[] = [];
  metaKeys.forEach((key, i) => {
    if (key === 'current') current = metaValues[i] as number;
    else appMeta.push({ key, value: metaValues[i] });
  });
  for (const { key, value } of appMeta) {
    const size = estimateSize(value);
    usage.meta += size;
    await tx.objectStore('meta').put({ key, size, body: { kind: 'plain', value } });
  }
  const versions: VersionInfo[] = [];
  for (const c of oldCkpts.sort((a, b) => a.version - b.version)) {
    const size = estimateSize(c.payload);
    usage.checkpoints += size;
    versions.push({ version: c.version, createdAt: c.createdAt, size });
    await tx.objectStore('checkpoints').put({
      slot: DEFAULT_SLOT,
      version: c.version,
      createdAt: c.createdAt,
      size,
      body: { kind: 'plain', value: c.payload },
    });
  }
  // A v1 pointer to a version that is gone falls back to the newest stored one.
  if (versions.length > 0) {
    const newest = versions[versions.length - 1]!.version;
    const cur = current !== undefined && versions.some((v) => v.version === current) ? current : newest;
    await tx
      .objectStore('heads')
      .put({ slot: DEFAULT_SLOT, current: cur, next: newest + 1, versions, updatedAt: Date.now() });
  }
  let maxSeq = 0;
  for (let i = 0; i < sampleKeys.length; i++) {
    const seq = sampleKeys[i]!;
    const value = sampleValues[i];
    const size = estimateSize(value);
    usage.samples += size;
    maxSeq = Math.max(maxSeq, seq);
    await tx
      .objectStore('samples')
      .put({ slot: DEFAULT_SLOT, seq, createdAt: Date.now(), size, body: { kind: 'plain', value } });
  }
  await tx.objectStore('sys').put(usage, 'usage');
  if (sampleKeys.length) await tx.objectStore('sys').put(maxSeq + 1, `seq:${DEFAULT_SLOT}`);
}

/** The error for a database under our name that edgetune did not write. */
export function foreign(name: string, version: number, stores: readonly string[]): EdgetuneError {
  return new EdgetuneError(
    'DB_FOREIGN',
    `Database ${JSON.stringify(name)} (version ${version}, stores [${stores.join(', ')}]) was not written by edgetune; nothing was read or changed. Open storage under another name, or delete that database if it is yours.`,
    { details: { name, version, stores: [...stores] } },
  );
}
