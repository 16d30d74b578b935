// The profile's small key-value store for app metadata.
import { EdgetuneError } from '../core/errors.js';
import { bodySize, type StorageEngine } from './engine.js';
import { reserve } from './keyring.js';
import type { MetaStore } from './types.js';

/** The meta store of the profile. */
export function metaStore(e: StorageEngine): MetaStore {
  return {
    get: async <V = unknown>(key: string): Promise<V | undefined> => {
      e.assertOpen();
      const rec = await e.db.get('meta', key);
      if (!rec) return undefined;
      return (await e.unseal(e.cipher, rec.body, 'meta', key, 0, `meta ${key}`)) as V;
    },
    set: (key, value) =>
      e.lock(undefined, async () => {
        if (typeof key !== 'string' || key.length === 0)
          throw new EdgetuneError(
            'INVALID_ARGUMENT',
            `Meta key must be a non-empty string, got ${JSON.stringify(key)}.`,
          );
        await reserve(e, 1, {});
        const cipher = e.cipher;
        const body = await e.seal(cipher, 'meta', key, 0, value);
        const size = bodySize(body);
        await e.write(`Setting meta ${key}`, ['meta'], cipher ? 1 : 0, async (tx, acct) => {
          const old = await tx.objectStore('meta').get(key);
          await tx.objectStore('meta').put({ key, size, body });
          acct.delta.meta += size - (old?.size ?? 0);
        });
      }),
    delete: (key) =>
      e.lock(undefined, async () => {
        await e.write(`Deleting meta ${key}`, ['meta'], 0, async (tx, acct) => {
          const old = await tx.objectStore('meta').get(key);
          if (!old) return;
          await tx.objectStore('meta').delete(key);
          acct.delta.meta -= old.size;
        });
      }),
    keys: async () => {
      e.assertOpen();
      return e.db.getAllKeys('meta');
    },
  };
}
