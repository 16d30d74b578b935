// The checkpoint store of one slot: atomic versioned saves pruned to keepLast, loads from one snapshot, rollback, and read-modify-write under the lock.
import { EdgetuneError } from '../core/errors.js';
import { bodySize, endReady, type StorageEngine } from './engine.js';
import { reserve } from './keyring.js';
import type { VersionInfo } from './schema.js';
import type {
  Checkpoint,
  CheckpointInfo,
  CheckpointStore,
  OperationOptions,
  SaveOptions,
  SaveResult,
} from './types.js';

/** The checkpoints of `slot` (already checked). */
export function checkpointStore<T>(e: StorageEngine, slot: string): CheckpointStore<T> {
  return {
    slot,
    save: (payload, options = {}) =>
      e.lock(options.signal, () => saveLocked(e, slot, payload, options), options.onProgress),
    load: (version, options = {}) => endReady(loadCheckpoint<T>(e, slot, version, options), options.onProgress),
    list: () => listCheckpoints(e, slot),
    rollback: (version) => e.lock(undefined, () => rollbackLocked(e, slot, version)),
    update: (fn, options = {}) =>
      e.lock(
        options.signal,
        async () => {
          const current = await loadCheckpoint<T>(e, slot, undefined, options);
          const next = await fn(current);
          return saveLocked(e, slot, next, options);
        },
        options.onProgress,
      ),
    clear: () => e.lock(undefined, () => clearLocked(e, slot)),
  };
}

async function clearLocked(e: StorageEngine, slot: string): Promise<void> {
  await e.write(`Deleting the checkpoints of ${slot}`, ['heads', 'checkpoints'], 0, async (tx, acct) => {
    const store = tx.objectStore('checkpoints');
    let cursor = await store.openCursor(e.keyRange.bound([slot, -Infinity], [slot, Infinity]));
    while (cursor) {
      acct.delta.checkpoints -= cursor.value.size;
      await cursor.delete();
      cursor = await cursor.continue();
    }
    await tx.objectStore('heads').delete(slot);
  });
}

async function saveLocked(e: StorageEngine, slot: string, payload: unknown, options: SaveOptions): Promise<SaveResult> {
  const head = await e.db.get('heads', slot);
  const version = head?.next ?? 1;
  await reserve(e, 1, options);
  const cipher = e.cipher;
  options.onProgress?.({ phase: 'encrypt', done: 0, total: 1 });
  const body = await e.seal(cipher, 'checkpoints', slot, version, payload);
  options.onProgress?.({ phase: 'encrypt', done: 1, total: 1 });
  const size = bodySize(body);
  const createdAt = Date.now();
  const keepLast = e.settings.keepLast;
  const acct = await e.write(
    `Saving checkpoint ${slot} v${version}`,
    ['checkpoints', 'heads'],
    cipher ? 1 : 0,
    async (tx, a) => {
      const h = await tx.objectStore('heads').get(slot);
      if ((h?.next ?? 1) !== version) {
        throw new EdgetuneError(
          'CONFLICT',
          `Checkpoint ${slot} moved to v${h?.next} while v${version} was being saved: another writer bypassed the lock. Retry the save.`,
        );
      }
      const info: VersionInfo = {
        version,
        createdAt,
        size,
        ...(options.label !== undefined ? { label: options.label } : {}),
      };
      await tx.objectStore('checkpoints').put({
        slot,
        version,
        createdAt,
        size,
        ...(options.label !== undefined ? { label: options.label } : {}),
        body,
      });
      a.delta.checkpoints += size;
      const versions = [...(h?.versions ?? []), info];
      const keepFrom = versions.length - keepLast;
      const kept: VersionInfo[] = [];
      for (let i = 0; i < versions.length; i++) {
        const v = versions[i]!;
        if (i >= keepFrom || v.version === version) kept.push(v);
        else {
          await tx.objectStore('checkpoints').delete([slot, v.version]);
          a.delta.checkpoints -= v.size;
        }
      }
      await tx
        .objectStore('heads')
        .put({ slot, current: version, next: version + 1, versions: kept, updatedAt: createdAt });
    },
    options,
  );
  e.events.announce(slot, version);
  return { version, evicted: acct.evicted };
}

async function loadCheckpoint<T>(
  e: StorageEngine,
  slot: string,
  version: number | undefined,
  options: OperationOptions,
): Promise<Checkpoint<T> | undefined> {
  e.assertOpen();
  options.onProgress?.({ phase: 'read', done: 0, total: 1 });
  // One transaction: the pointer and the record it names are read from the same snapshot.
  const tx = e.db.transaction(['heads', 'checkpoints'], 'readonly');
  const head = await tx.objectStore('heads').get(slot);
  const v = version ?? head?.current;
  const rec = v === undefined ? undefined : await tx.objectStore('checkpoints').get([slot, v]);
  await tx.done;
  options.onProgress?.({ phase: 'read', done: 1, total: 1 });
  if (v === undefined || !head) return undefined;
  if (!rec) {
    if (version !== undefined) return undefined;
    throw new EdgetuneError(
      'RECORD_CORRUPT',
      `Checkpoint ${slot}: the current pointer names v${v} but no such record exists; roll back to a kept version.`,
    );
  }
  options.onProgress?.({ phase: 'decrypt', done: 0, total: 1 });
  const payload = (await e.unseal(
    e.cipher,
    rec.body,
    'checkpoints',
    slot,
    rec.version,
    `checkpoint ${slot} v${rec.version}`,
  )) as T;
  options.onProgress?.({ phase: 'decrypt', done: 1, total: 1 });
  return {
    slot,
    version: rec.version,
    createdAt: rec.createdAt,
    size: rec.size,
    ...(rec.label !== undefined ? { label: rec.label } : {}),
    current: rec.version === head.current,
    payload,
  };
}

async function listCheckpoints(e: StorageEngine, slot: string): Promise<CheckpointInfo[]> {
  e.assertOpen();
  const head = await e.db.get('heads', slot);
  if (!head) return [];
  return head.versions.map((v) => ({
    slot,
    version: v.version,
    createdAt: v.createdAt,
    size: v.size,
    ...(v.label !== undefined ? { label: v.label } : {}),
    current: v.version === head.current,
  }));
}

async function rollbackLocked(e: StorageEngine, slot: string, version: number): Promise<void> {
  await e.write(`Rolling back ${slot} to v${version}`, ['heads', 'checkpoints'], 0, async (tx) => {
    const head = await tx.objectStore('heads').get(slot);
    const kept = head?.versions.map((v) => v.version) ?? [];
    if (!head || !kept.includes(version) || !(await tx.objectStore('checkpoints').getKey([slot, version]))) {
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Cannot roll ${slot} back to v${version}: kept versions are [${kept.join(', ')}].`,
        { details: { version, kept } },
      );
    }
    await tx.objectStore('heads').put({ ...head, current: version, updatedAt: Date.now() });
  });
  e.events.announce(slot, version);
}
