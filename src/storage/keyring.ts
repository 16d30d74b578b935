// The profile's key: opening it (app key or PBKDF2 passphrase, checked against the stored verifier), per-key encryption counts, and re-keying the whole profile.
import { EdgetuneError } from '../core/errors.js';
import {
  Cipher,
  DEFAULT_PBKDF2_ITERATIONS,
  VERIFIER_PLAINTEXT,
  bytesEqual,
  checkAppKey,
  deriveKey,
  randomBytes,
  recordAad,
  type EncryptionOptions,
  type KdfParams,
} from './crypto.js';
import { randomId, type StorageEngine } from './engine.js';
import { ALL_STORES, type CryptoRecord } from './schema.js';
import { readAll, replaceAll, sealAll } from './snapshot.js';
import type { OperationOptions } from './types.js';

/** Opens the profile's key (or encrypts a plain profile in place when `encryption` is new to it). */
export async function initCrypto(e: StorageEngine, encryption: EncryptionOptions | undefined): Promise<void> {
  if (encryption && 'passphrase' in encryption) {
    e.passphrase = encryption.passphrase;
    e.iterations = encryption.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  }
  const rec = (await e.db.get('sys', 'crypto')) as CryptoRecord | undefined;
  if (rec) {
    if (!encryption) {
      throw new EdgetuneError(
        'DECRYPT_FAILED',
        `Profile ${e.name} is encrypted; open it with options.encryption (its key or passphrase). Nothing was read or changed.`,
      );
    }
    e.cipher = await cipherFor(e, rec, encryption);
    return;
  }
  if (!encryption) return;
  await e.lock(undefined, async () => {
    const again = (await e.db.get('sys', 'crypto')) as CryptoRecord | undefined;
    if (again) {
      e.cipher = await cipherFor(e, again, encryption);
      return;
    }
    await rekeyLocked(e, encryption, {});
  });
}

async function cipherFor(e: StorageEngine, rec: CryptoRecord, encryption: EncryptionOptions): Promise<Cipher> {
  let key: CryptoKey;
  if ('key' in encryption) {
    if (rec.kdf)
      throw new EdgetuneError(
        'DECRYPT_FAILED',
        `Profile ${e.name} is keyed by a passphrase, but a CryptoKey was given; pass { passphrase }.`,
      );
    key = encryption.key;
  } else {
    if (!rec.kdf)
      throw new EdgetuneError(
        'DECRYPT_FAILED',
        `Profile ${e.name} is keyed by an app CryptoKey, but a passphrase was given; pass { key }.`,
      );
    key = await deriveKey(encryption.passphrase, rec.kdf.salt, rec.kdf.iterations);
    e.iterations = rec.kdf.iterations;
  }
  const cipher = new Cipher(key, rec.keyId);
  const plain = await cipher.open(rec.verifier, recordAad('sys', 'verifier', 0), `the key check of profile ${e.name}`);
  if (!bytesEqual(plain, VERIFIER_PLAINTEXT))
    throw new EdgetuneError(
      'DECRYPT_FAILED',
      `The key check of profile ${e.name} decrypted to unexpected bytes; the profile was tampered with.`,
    );
  return cipher;
}

async function newCipher(encryption: EncryptionOptions): Promise<{ cipher: Cipher; kdf: KdfParams | null }> {
  const keyId = randomId();
  if ('key' in encryption) {
    checkAppKey(encryption.key);
    return { cipher: new Cipher(encryption.key, keyId), kdf: null };
  }
  const iterations = encryption.iterations ?? DEFAULT_PBKDF2_ITERATIONS;
  const salt = randomBytes(16);
  const key = await deriveKey(encryption.passphrase, salt, iterations);
  return { cipher: new Cipher(key, keyId), kdf: { name: 'PBKDF2', hash: 'SHA-256', salt, iterations } };
}

/** Makes sure `n` more encryptions fit under the current key; a passphrase key rotates itself. Call under the lock. */
export async function reserve(e: StorageEngine, n: number, options: OperationOptions): Promise<void> {
  if (!e.cipher || n === 0) return;
  const limit = e.settings.maxWrites;
  const used = ((await e.db.get('sys', `keycount:${e.cipher.keyId}`)) as number | undefined) ?? 0;
  if (used + n <= limit) return;
  if (e.passphrase === undefined) throw e.rotationError(used);
  await rekeyLocked(e, { passphrase: e.passphrase, iterations: e.iterations }, options);
  const after = ((await e.db.get('sys', `keycount:${e.cipher.keyId}`)) as number | undefined) ?? 0;
  if (after + n > limit) throw e.rotationError(after);
}

/** Re-encrypts everything under a new key in one transaction (plain → encrypted too). Under the lock. */
export async function rekeyLocked(
  e: StorageEngine,
  encryption: EncryptionOptions,
  options: OperationOptions,
): Promise<void> {
  const data = await readAll(e, e.cipher, options);
  const { cipher, kdf } = await newCipher(encryption);
  const verifier = await cipher.seal(VERIFIER_PLAINTEXT, recordAad('sys', 'verifier', 0));
  const sealed = await sealAll(e, cipher, data, options);
  const oldKeyId = e.cipher?.keyId;
  const count = sealed.count + 1;
  if (count > e.settings.maxWrites) throw e.rotationError(count);
  const rec: CryptoRecord = { keyId: cipher.keyId, kdf, verifier, createdAt: Date.now() };
  await e.write(
    'Re-encrypting the profile',
    ALL_STORES,
    0,
    async (tx, acct) => {
      await replaceAll(tx, sealed, acct);
      const sys = tx.objectStore('sys');
      await sys.put(rec, 'crypto');
      await sys.put(count, `keycount:${cipher.keyId}`);
      if (oldKeyId) await sys.delete(`keycount:${oldKeyId}`);
    },
    options,
  );
  e.cipher = cipher;
  if ('passphrase' in encryption) {
    e.passphrase = encryption.passphrase;
    e.iterations = kdf?.iterations ?? e.iterations;
  } else {
    e.passphrase = undefined;
  }
}

/** Encryptions done under the current key, and the limit. */
export async function keyUsage(
  e: StorageEngine,
): Promise<{ keyId: string; writes: number; limit: number } | undefined> {
  e.assertOpen();
  if (!e.cipher) return undefined;
  const writes = ((await e.db.get('sys', `keycount:${e.cipher.keyId}`)) as number | undefined) ?? 0;
  return { keyId: e.cipher.keyId, writes, limit: e.settings.maxWrites };
}
