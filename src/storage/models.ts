// The model cache: bytes stored with their manifest, SHA-256 checked on write and on every read, LRU stamps for eviction.
import { EdgetuneError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { bodySize, toArrayBuffer, type RwTx, type StorageEngine } from './engine.js';
import { reserve } from './keyring.js';
import type { StorageSchema } from './schema.js';
import type { ModelInfo, OperationOptions, StoredManifest, StoredModel } from './types.js';

/** An LRU stamp above every other model's, so two uses within one millisecond still order. */
async function nextUse(tx: RwTx): Promise<number> {
  const newest = await tx.objectStore('models').index('by-lastUsed').openCursor(null, 'prev');
  return Math.max(Date.now(), (newest?.value.lastUsed ?? 0) + 1);
}

/** Caches a model after checking its bytes against `manifest.sha256`. */
export async function putModel(
  e: StorageEngine,
  id: string,
  manifest: StoredManifest,
  bytes: Uint8Array,
  options: OperationOptions = {},
): Promise<{ evicted: readonly string[] }> {
  e.assertOpen();
  if (typeof id !== 'string' || id.length === 0)
    throw new EdgetuneError('INVALID_ARGUMENT', `Model id must be a non-empty string, got ${JSON.stringify(id)}.`);
  if (typeof manifest?.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(manifest.sha256)) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `manifest.sha256 must be 64 lower-case hex digits, got ${JSON.stringify(manifest?.sha256)}.`,
    );
  }
  options.onProgress?.({ phase: 'verify', done: 0, total: 1 });
  const actual = await sha256Hex(bytes);
  if (actual !== manifest.sha256) {
    throw new EdgetuneError(
      'CHECKSUM_MISMATCH',
      `Model ${id}: bytes hash to ${actual} but manifest.sha256 is ${manifest.sha256}; nothing was stored. Re-download the model.`,
      { details: { id, expected: manifest.sha256, actual } },
    );
  }
  options.onProgress?.({ phase: 'verify', done: 1, total: 1 });
  const acct = await e.lock(
    options.signal,
    async () => {
      await reserve(e, 2, options);
      const cipher = e.cipher;
      const mb = await e.seal(cipher, 'models', id, 0, manifest);
      const bb = await e.seal(cipher, 'modelBytes', id, 0, toArrayBuffer(bytes));
      const size = bodySize(bb);
      const now = Date.now();
      return e.write(
        `Storing model ${id}`,
        ['models', 'modelBytes'],
        cipher ? 2 : 0,
        async (tx, a) => {
          const old = await tx.objectStore('models').get(id);
          await tx.objectStore('models').put({ id, size, storedAt: now, lastUsed: await nextUse(tx), body: mb });
          await tx.objectStore('modelBytes').put({ id, body: bb });
          a.delta.models += size - (old?.size ?? 0);
        },
        options,
        [id],
      );
    },
    options.onProgress,
  );
  return { evicted: acct.evicted };
}

/** A cached model, its bytes verified against the manifest's SHA-256; marks it used. */
export async function getModel<M extends StoredManifest = StoredManifest>(
  e: StorageEngine,
  id: string,
  options: OperationOptions = {},
): Promise<StoredModel<M> | undefined> {
  e.assertOpen();
  options.onProgress?.({ phase: 'read', done: 0, total: 1 });
  const tx = e.db.transaction(['models', 'modelBytes'], 'readwrite');
  let rec: StorageSchema['models']['value'] | undefined;
  let bytesRec: StorageSchema['modelBytes']['value'] | undefined;
  try {
    rec = await tx.objectStore('models').get(id);
    bytesRec = await tx.objectStore('modelBytes').get(id);
    if (rec) await tx.objectStore('models').put({ ...rec, lastUsed: await nextUse(tx as unknown as RwTx) });
    await tx.done;
  } catch (err) {
    await tx.done.catch(() => undefined);
    throw e.mapError(err, `Reading model ${id}`);
  }
  options.onProgress?.({ phase: 'read', done: 1, total: 1 });
  if (!rec) return undefined;
  if (!bytesRec)
    throw new EdgetuneError('RECORD_CORRUPT', `Model ${id} has a record but no bytes; delete it and store it again.`);
  const manifest = (await e.unseal(e.cipher, rec.body, 'models', id, 0, `manifest of model ${id}`)) as M;
  const buf = await e.unseal(e.cipher, bytesRec.body, 'modelBytes', id, 0, `bytes of model ${id}`);
  if (!(buf instanceof ArrayBuffer))
    throw new EdgetuneError(
      'RECORD_CORRUPT',
      `Bytes of model ${id} are not binary data; delete it and store it again.`,
    );
  const bytes = new Uint8Array(buf);
  options.onProgress?.({ phase: 'verify', done: 0, total: 1 });
  const actual = await sha256Hex(bytes);
  if (actual !== manifest.sha256) {
    throw new EdgetuneError(
      'CHECKSUM_MISMATCH',
      `Stored model ${id} hashes to ${actual} but its manifest says ${manifest.sha256}: the stored copy is damaged. Delete it and download it again.`,
      { details: { id, expected: manifest.sha256, actual } },
    );
  }
  options.onProgress?.({ phase: 'verify', done: 1, total: 1 });
  return { id, manifest, bytes };
}

/** Cached models, least recently used first. */
export async function listModels(e: StorageEngine): Promise<ModelInfo[]> {
  e.assertOpen();
  const all = await e.db.getAllFromIndex('models', 'by-lastUsed');
  return all.map((m) => ({ id: m.id, size: m.size, storedAt: m.storedAt, lastUsed: m.lastUsed }));
}

/** Deletes a cached model (no-op when absent). */
export async function deleteModel(e: StorageEngine, id: string): Promise<void> {
  await e.lock(undefined, () =>
    e.write(`Deleting model ${id}`, ['models', 'modelBytes'], 0, async (tx, acct) => {
      const old = await tx.objectStore('models').get(id);
      if (!old) return;
      await tx.objectStore('models').delete(id);
      await tx.objectStore('modelBytes').delete(id);
      acct.delta.models -= old.size;
    }),
  );
}
