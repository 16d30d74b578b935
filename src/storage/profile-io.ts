// Whole-profile export and import: the file is validated in full before the one write that replaces every record.
import { EdgetuneError } from '../core/errors.js';
import type { KdfParams } from './crypto.js';
import type { StorageEngine } from './engine.js';
import { reserve } from './keyring.js';
import { decodeProfile, encodeProfile, isEncryptedProfile } from './profile.js';
import { ALL_STORES, type CryptoRecord } from './schema.js';
import { readAll, replaceAll, sealAll } from './snapshot.js';
import type { ExportOptions, ForgetOptions, ImportOptions } from './types.js';

/** The whole profile as one file (without the `localMeta` records), encrypted under the profile's key when encryption is on. */
export async function exportProfile(e: StorageEngine, options: ExportOptions = {}): Promise<Uint8Array> {
  return e.lock(
    options.signal,
    async () => {
      await reserve(e, 1, options);
      const all = await readAll(e, e.cipher, options);
      const local = options.localMeta;
      const data = local ? { ...all, meta: all.meta.filter((m) => !local(m.key)) } : all;
      const cipher = e.cipher;
      let kdf: KdfParams | null = null;
      if (cipher) {
        kdf = ((await e.db.get('sys', 'crypto')) as CryptoRecord | undefined)?.kdf ?? null;
        // Count the export's own encryption before doing it.
        await e.write('Counting the export encryption', ['sys'], 1, async () => undefined, options);
      }
      options.onProgress?.({ phase: 'encrypt', done: 0, total: 1 });
      const out = await encodeProfile(data, cipher, kdf);
      options.onProgress?.({ phase: 'encrypt', done: 1, total: 1 });
      return out;
    },
    options.onProgress,
  );
}

/** Replaces the whole profile with an export after validating all of it; nothing is replaced when anything is wrong. */
export async function importProfile(e: StorageEngine, bytes: Uint8Array, options: ImportOptions = {}): Promise<void> {
  e.assertOpen();
  if (!e.cipher && isEncryptedProfile(bytes) && options.allowPlaintext !== true) {
    // Importing would silently store what the user encrypted in clear.
    throw new EdgetuneError(
      'IMPORT_INVALID',
      `The profile file is encrypted but profile ${e.name} is not: importing it would store its records in clear. Open the storage with options.encryption, or pass { allowPlaintext: true } to import it decrypted. Nothing was replaced.`,
    );
  }
  const passphrase = options.passphrase ?? e.passphrase;
  options.onProgress?.({ phase: 'validate', done: 0, total: 1 });
  const file = await decodeProfile(bytes, e.cipher, passphrase);
  const local = options.localMeta;
  const data = local ? { ...file, meta: file.meta.filter((m) => !local(m.key)) } : file;
  options.onProgress?.({ phase: 'validate', done: 1, total: 1 });
  if (options.signal?.aborted)
    throw new EdgetuneError('ABORTED', 'Import was aborted; nothing was replaced.', { cause: options.signal.reason });
  await e.lock(
    options.signal,
    async () => {
      const n = data.models.length * 2 + data.checkpoints.length + data.samples.length + data.meta.length;
      await reserve(e, n, options);
      const sealed = await sealAll(e, e.cipher, data, options);
      await e.write(
        'Importing the profile',
        ALL_STORES,
        sealed.count,
        async (tx, acct) => replaceAll(tx, sealed, acct, local),
        options,
      );
    },
    options.onProgress,
  );
  for (const h of data.heads) e.events.announce(h.slot, h.current);
}

/** Deletes every personal record of the profile in one transaction (see `EdgetuneStorage.forget`). */
export async function forgetProfile(e: StorageEngine, options: ForgetOptions = {}): Promise<void> {
  const keepModels = options.keepModels ?? true;
  await e.lock(
    options.signal,
    async () => {
      await e.write(
        'Forgetting the profile',
        ALL_STORES,
        0,
        async (tx, acct) => {
          const stores = keepModels
            ? (['checkpoints', 'heads', 'samples', 'meta'] as const)
            : (['models', 'modelBytes', 'checkpoints', 'heads', 'samples', 'meta'] as const);
          for (const st of stores) await tx.objectStore(st).clear();
          const sys = tx.objectStore('sys');
          for (const k of await sys.getAllKeys()) if (k.startsWith('seq:')) await sys.delete(k);
          const old = ((await sys.get('usage')) as { models: number } | undefined)?.models ?? 0;
          acct.absolute = { models: keepModels ? old : 0, checkpoints: 0, samples: 0, meta: 0 };
        },
        options,
      );
    },
    options.onProgress,
  );
  e.events.announceForgotten();
}
