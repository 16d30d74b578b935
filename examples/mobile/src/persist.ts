// Where the example keeps what it learned and the model bytes, through edgetune/storage: one checkpoint slot per model (embeddings of different models do not mix).
import { openStorage } from '../../../src/storage/index.js';
import type { EdgetuneStorage, StorageEstimateResult, StoredManifest } from '../../../src/storage/index.js';
import type { ModelManifest } from '../../../src/runtime/manifest.js';

const DB_NAME = 'edgetune-mobile';
let storage: Promise<EdgetuneStorage> | undefined;

function open(): Promise<EdgetuneStorage> {
  if (!storage) {
    const p = openStorage({ name: DB_NAME, keepLast: 3 });
    storage = p;
    p.then(
      (s) => s.on('closed', () => {
        // A newer tab upgraded the database or the browser closed it: reopen on next use.
        storage = undefined;
      }),
      () => {
        storage = undefined;
      },
    );
  }
  return storage;
}

const slot = (modelId: string): string => `learner:${modelId}`;

/** Saves the learner state for `modelId` as a new checkpoint version; returns the save time. */
export async function saveLearner(modelId: string, state: unknown, label?: string): Promise<number> {
  await (await open()).checkpoints(slot(modelId)).save(state, label === undefined ? {} : { label });
  return Date.now();
}

/** The current learner checkpoint for `modelId`, if any. */
export async function loadLearner(modelId: string): Promise<{ state: unknown; savedAt: number; version: number } | undefined> {
  const cp = await (await open()).checkpoints(slot(modelId)).load();
  return cp && { state: cp.payload, savedAt: cp.createdAt, version: cp.version };
}

/** Reads a small app setting. */
export async function getSetting<V>(key: string): Promise<V | undefined> {
  return (await open()).meta.get<V>(key);
}

/** Writes a small app setting. */
export async function setSetting(key: string, value: unknown): Promise<void> {
  await (await open()).meta.set(key, value);
}

/** Calls `fn` when another tab of the app saves a checkpoint for `modelId` (BroadcastChannel through edgetune/storage). */
export async function onRemoteCheckpoint(modelId: string, fn: () => void): Promise<() => void> {
  return (await open()).on('checkpoint', (e) => {
    if (e.source === 'remote' && e.slot === slot(modelId)) fn();
  });
}

/** Model `id` (or the model last opened) from the IndexedDB model cache, verified against its SHA-256 on read. */
export async function cachedModel(id?: string): Promise<{ manifest: ModelManifest; bytes: Uint8Array } | undefined> {
  const s = await open();
  id ??= await s.meta.get<string>('modelId');
  if (!id) return undefined;
  const m = await s.getModel(id);
  return m && { manifest: m.manifest as unknown as ModelManifest, bytes: m.bytes };
}

/** Stores the model bytes for offline start and remembers it as the app's model. */
export async function cacheModel(manifest: ModelManifest, bytes: Uint8Array): Promise<void> {
  const s = await open();
  await s.putModel(manifest.id, manifest as unknown as StoredManifest, bytes);
  await s.meta.set('modelId', manifest.id);
}

/** Storage figures for the diagnostics; asks for persistent storage once. */
export async function storageInfo(): Promise<StorageEstimateResult & { persistGranted: boolean }> {
  const s = await open();
  const persistGranted = await s.persist().catch(() => false);
  return { ...(await s.estimate()), persistGranted };
}
