// Where the example keeps what it learned: one IndexedDB record per model (embeddings of different models do not mix).
import { openDB, type DBSchema, type IDBPDatabase } from 'idb';

interface Schema extends DBSchema {
  learner: { key: string; value: { modelId: string; state: unknown; savedAt: number } };
}

const DB_NAME = 'edgetune-mobile';
let db: Promise<IDBPDatabase<Schema>> | undefined;

function open(): Promise<IDBPDatabase<Schema>> {
  db ??= openDB<Schema>(DB_NAME, 1, {
    upgrade(d) {
      d.createObjectStore('learner', { keyPath: 'modelId' });
    },
    blocking() {
      // Another tab wants a newer schema: let it.
      void db?.then((d) => d.close());
      db = undefined;
    },
    terminated() {
      db = undefined;
    },
  });
  return db;
}

/** Saves the learner state for `modelId`. */
export async function saveLearner(modelId: string, state: unknown): Promise<number> {
  const savedAt = Date.now();
  await (await open()).put('learner', { modelId, state, savedAt });
  return savedAt;
}

/** The saved learner state for `modelId`, if any. */
export async function loadLearner(modelId: string): Promise<{ state: unknown; savedAt: number } | undefined> {
  return (await open()).get('learner', modelId);
}

/** Deletes everything learned. */
export async function clearAll(): Promise<void> {
  await (await open()).clear('learner');
}
