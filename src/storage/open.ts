// Opens the database on any IDBFactory, running migrations and turning `blocked` and version errors into typed errors.
import { wrap, type IDBPDatabase, type IDBPTransaction } from 'idb';
import { EdgetuneError } from '../core/errors.js';
import { ALL_STORES, SCHEMA_VERSION, foreign, upgradeSchema, type StorageSchema, type StoreName } from './schema.js';

/** Callbacks and limits for {@link openDatabase}. */
export interface OpenDatabaseOptions {
  /** Another connection (an old tab) holds an older version open; called once, then we wait. */
  onBlocked?: (info: { oldVersion: number; newVersion: number }) => void;
  /** How long to wait for a blocking connection to close before failing with `DB_BLOCKED`. */
  blockedTimeoutMs: number;
  /** Version to open; tests open older versions to build fixtures. */
  version?: number;
}

/**
 * Opens (creating or migrating) the edgetune database `name` on `factory`.
 *
 * idb's `openDB` always uses the global `indexedDB`; this wraps the factory's own request so
 * fake-indexeddb and the page's factory both work.
 */
export function openDatabase(
  factory: IDBFactory,
  name: string,
  options: OpenDatabaseOptions,
): Promise<IDBPDatabase<StorageSchema>> {
  const version = options.version ?? SCHEMA_VERSION;
  return new Promise((resolve, reject) => {
    let settled = false;
    let upgradeError: unknown;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let request: IDBOpenDBRequest;
    try {
      request = factory.open(name, version);
    } catch (cause) {
      reject(
        new EdgetuneError(
          'INVALID_ARGUMENT',
          `Could not open IndexedDB database ${JSON.stringify(name)}: ${String(cause)}.`,
          { cause },
        ),
      );
      return;
    }
    request.onupgradeneeded = (event) => {
      const db = wrap(request.result) as unknown as IDBPDatabase<StorageSchema>;
      const tx = wrap(request.transaction!) as unknown as IDBPTransaction<StorageSchema, StoreName[], 'versionchange'>;
      // idb's done promise rejects when we abort a failed migration; the request's error reports it instead.
      tx.done.catch(() => undefined);
      upgradeSchema(db, event.oldVersion, tx).catch((e: unknown) => {
        upgradeError = e;
        try {
          request.transaction?.abort();
        } catch {
          // already finished
        }
      });
    };
    request.onblocked = (event) => {
      options.onBlocked?.({ oldVersion: event.oldVersion, newVersion: event.newVersion ?? version });
      if (timer !== undefined || settled) return;
      timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(
          new EdgetuneError(
            'DB_BLOCKED',
            `Opening database ${JSON.stringify(name)} at version ${version} is blocked by another connection at version ${event.oldVersion} that did not close within ${options.blockedTimeoutMs} ms. Close or reload the other tabs of this app, then retry.`,
            { details: { oldVersion: event.oldVersion, newVersion: version } },
          ),
        );
      }, options.blockedTimeoutMs);
    };
    request.onsuccess = () => {
      clearTimeout(timer);
      const db = request.result;
      if (settled) {
        // We already gave up (DB_BLOCKED); the late connection must not hold the database open.
        db.close();
        return;
      }
      settled = true;
      const missing = ALL_STORES.filter((st) => !db.objectStoreNames.contains(st));
      if (missing.length > 0) {
        db.close();
        reject(foreign(name, db.version, Array.from(db.objectStoreNames)));
        return;
      }
      resolve(wrap(db) as unknown as IDBPDatabase<StorageSchema>);
    };
    request.onerror = (event) => {
      clearTimeout(timer);
      event.preventDefault();
      if (settled) return;
      settled = true;
      const err = request.error;
      if (upgradeError !== undefined) {
        reject(
          upgradeError instanceof EdgetuneError
            ? upgradeError
            : new EdgetuneError(
                'STATE_INVALID',
                `Migrating database ${JSON.stringify(name)} to schema version ${version} failed; nothing was changed. ${String(upgradeError)}`,
                { cause: upgradeError },
              ),
        );
      } else if (err?.name === 'VersionError') {
        reject(
          new EdgetuneError(
            'STATE_INVALID',
            `Database ${JSON.stringify(name)} has a newer schema than this code (version ${version}); another tab runs a newer edgetune. Reload this page to get the new code.`,
            { cause: err },
          ),
        );
      } else {
        reject(
          new EdgetuneError(
            'DB_CLOSED',
            `Could not open database ${JSON.stringify(name)}: ${err?.name ?? 'unknown error'} ${err?.message ?? ''}`.trim(),
            { cause: err },
          ),
        );
      }
    };
  });
}
