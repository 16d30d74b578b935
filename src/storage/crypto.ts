// AES-GCM encryption at rest: key checks, PBKDF2 derivation, per-record random IVs and AAD binding record id + version.
import { EdgetuneError } from '../core/errors.js';

/** Encryption chosen by the app: its own non-extractable AES-GCM key, or a passphrase to derive one. */
export type EncryptionOptions =
  | {
      /** A non-extractable AES-GCM `CryptoKey` with `encrypt` and `decrypt` usages. */
      readonly key: CryptoKey;
    }
  | {
      /** Passphrase; the key is derived with PBKDF2-SHA-256 and a random 16-byte salt stored with the profile. */
      readonly passphrase: string;
      /**
       * PBKDF2 iterations for a newly derived key (a profile keeps the count it was created with).
       * @defaultValue 600000 (OWASP 2023 figure for PBKDF2-HMAC-SHA-256)
       */
      readonly iterations?: number;
    };

/** Default PBKDF2 iteration count. */
export const DEFAULT_PBKDF2_ITERATIONS = 600_000;

/** Fewest PBKDF2 iterations accepted: below it a passphrase key is too cheap to guess. */
export const MIN_PBKDF2_ITERATIONS = 1_000;

/** Most PBKDF2 iterations accepted (a few seconds on a phone): a crafted file cannot make us spin for minutes. */
export const MAX_PBKDF2_ITERATIONS = 10_000_000;

/** PBKDF2 salt sizes accepted, in bytes. */
export const SALT_BYTES = { min: 16, max: 64 } as const;

/** An encrypted record body as stored. */
export interface Sealed {
  readonly keyId: string;
  /** 12 random bytes, fresh for every encryption. */
  readonly iv: Uint8Array;
  /** Ciphertext with the 16-byte GCM tag at its end. */
  readonly ct: ArrayBuffer;
}

/** PBKDF2 parameters stored with a passphrase-keyed profile. */
export interface KdfParams {
  readonly name: 'PBKDF2';
  readonly hash: 'SHA-256';
  readonly salt: Uint8Array;
  readonly iterations: number;
}

const te = new TextEncoder();

/** Additional authenticated data binding a record's store, id and version, so ciphertexts cannot be swapped. */
export function recordAad(store: string, id: string, version: number): Uint8Array {
  return te.encode(`edgetune/1|${store}|${id}|${version}`);
}

function toBuf(u: Uint8Array): Uint8Array<ArrayBuffer> {
  return (
    u.buffer instanceof ArrayBuffer && u.byteOffset === 0 && u.byteLength === u.buffer.byteLength ? u : u.slice()
  ) as Uint8Array<ArrayBuffer>;
}

/** Checks an app-supplied key is an AES-GCM, non-extractable key able to encrypt and decrypt. */
export function checkAppKey(key: CryptoKey): void {
  const alg = key.algorithm as { name?: string };
  if (alg.name !== 'AES-GCM') {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `encryption.key must be an AES-GCM key, got ${String(alg.name)}; create it with crypto.subtle.generateKey({name: 'AES-GCM', length: 256}, false, ['encrypt', 'decrypt']).`,
    );
  }
  if (key.extractable) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      'encryption.key is extractable; create or import it with extractable = false so script cannot read the raw key.',
    );
  }
  if (!key.usages.includes('encrypt') || !key.usages.includes('decrypt')) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `encryption.key usages are [${key.usages.join(', ')}]; it needs both 'encrypt' and 'decrypt'.`,
    );
  }
}

/** Derives a non-extractable AES-GCM-256 key from a passphrase with PBKDF2-SHA-256. */
export async function deriveKey(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  if (typeof passphrase !== 'string' || passphrase.length === 0)
    throw new EdgetuneError('INVALID_ARGUMENT', 'encryption.passphrase is empty; pass a non-empty passphrase.');
  if (!Number.isInteger(iterations) || iterations < MIN_PBKDF2_ITERATIONS || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `PBKDF2 iterations must be an integer in [${MIN_PBKDF2_ITERATIONS}, ${MAX_PBKDF2_ITERATIONS}], got ${iterations}.`,
    );
  }
  if (!(salt instanceof Uint8Array) || salt.byteLength < SALT_BYTES.min || salt.byteLength > SALT_BYTES.max) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `PBKDF2 salt must be ${SALT_BYTES.min}–${SALT_BYTES.max} bytes, got ${salt instanceof Uint8Array ? `${salt.byteLength} bytes` : Object.prototype.toString.call(salt)}.`,
    );
  }
  const base = await crypto.subtle.importKey('raw', te.encode(passphrase), 'PBKDF2', false, ['deriveKey']);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: toBuf(salt), iterations },
    base,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  );
}

/** Random bytes from WebCrypto. */
export function randomBytes(n: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(n));
}

/** A key in use, known by the random id stored with the profile. */
export class Cipher {
  constructor(
    readonly key: CryptoKey,
    readonly keyId: string,
  ) {}

  /** Encrypts `plain` under a fresh random 96-bit IV with `aad` authenticated. */
  async seal(plain: Uint8Array, aad: Uint8Array): Promise<Sealed> {
    const iv = randomBytes(12);
    const ct = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv: toBuf(iv), additionalData: toBuf(aad), tagLength: 128 },
      this.key,
      toBuf(plain),
    );
    return { keyId: this.keyId, iv, ct };
  }

  /** Decrypts and authenticates; `DECRYPT_FAILED` for a wrong key, another record's AAD or any tampering. */
  async open(sealed: Sealed, aad: Uint8Array, what: string): Promise<Uint8Array> {
    if (sealed.keyId !== this.keyId) {
      throw new EdgetuneError(
        'DECRYPT_FAILED',
        `${what} was encrypted under key ${sealed.keyId}, but the open key is ${this.keyId}; the profile is inconsistent, restore it from an export.`,
      );
    }
    if (!(sealed.iv instanceof Uint8Array) || sealed.iv.byteLength !== 12 || !(sealed.ct instanceof ArrayBuffer)) {
      throw new EdgetuneError(
        'DECRYPT_FAILED',
        `${what} is not a well-formed encrypted record (IV or ciphertext missing); it was damaged or tampered with.`,
      );
    }
    try {
      const plain = await crypto.subtle.decrypt(
        { name: 'AES-GCM', iv: toBuf(sealed.iv), additionalData: toBuf(aad), tagLength: 128 },
        this.key,
        sealed.ct,
      );
      return new Uint8Array(plain);
    } catch (cause) {
      throw new EdgetuneError(
        'DECRYPT_FAILED',
        `Could not decrypt ${what}: wrong key, or the record was tampered with or moved. Nothing was changed; open with the right key or restore from an export.`,
        { cause },
      );
    }
  }
}

/** Value every key check encrypts; decrypting it proves the key before anything is read or written. */
export const VERIFIER_PLAINTEXT = te.encode('edgetune key check v1');

/** Constant-time-enough equality for short byte strings. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let d = 0;
  for (let i = 0; i < a.byteLength; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
