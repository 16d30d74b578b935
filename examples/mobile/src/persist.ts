// The example's own small settings and storage figures, through edgetune/storage (the personalizer keeps what it learned and the model in the same profile).
import { openStorage } from '../../../src/storage/index.js';
import type { EdgetuneStorage, StorageEstimateResult } from '../../../src/storage/index.js';

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

/** Reads a small app setting. */
export async function getSetting<V>(key: string): Promise<V | undefined> {
  return (await open()).meta.get<V>(key);
}

/** Writes a small app setting. */
export async function setSetting(key: string, value: unknown): Promise<void> {
  await (await open()).meta.set(key, value);
}

/** Storage figures for the diagnostics; asks for persistent storage once. */
export async function storageInfo(): Promise<StorageEstimateResult & { persistGranted: boolean }> {
  const s = await open();
  const persistGranted = await s.persist().catch(() => false);
  return { ...(await s.estimate()), persistGranted };
}
