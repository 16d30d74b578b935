// The export file: magic, format version, header, (encrypted) body and a trailing SHA-256, validated in full before import.
import { EdgetuneError, isEdgetuneError } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { decodeValue, encodeValue } from './codec.js';
import {
  Cipher,
  MAX_PBKDF2_ITERATIONS,
  MIN_PBKDF2_ITERATIONS,
  SALT_BYTES,
  deriveKey,
  type KdfParams,
} from './crypto.js';
import { SCHEMA_VERSION, type VersionInfo } from './schema.js';
import type { StoredManifest } from './types.js';

/** Export file format version written by this code. */
export const PROFILE_FORMAT_VERSION = 1;

const MAGIC = new TextEncoder().encode('EDGTPROF');
const FLAG_ENCRYPTED = 1;

/** The logical (decrypted) content of a profile. */
export interface ProfileData {
  models: { id: string; manifest: StoredManifest; bytes: Uint8Array; storedAt: number; lastUsed: number }[];
  checkpoints: { slot: string; version: number; createdAt: number; label?: string; payload: unknown }[];
  heads: { slot: string; current: number; next: number; versions: VersionInfo[] }[];
  samples: { slot: string; seq: number; createdAt: number; value: unknown }[];
  meta: { key: string; value: unknown }[];
  seqs: Record<string, number>;
}

interface Header {
  schemaVersion: number;
  exportedAt: number;
  keyId: string | null;
  kdf: KdfParams | null;
}

function invalid(what: string, cause?: unknown): EdgetuneError {
  return new EdgetuneError(
    'IMPORT_INVALID',
    `Profile file is invalid: ${what}. Nothing was replaced.`,
    cause === undefined ? {} : { cause },
  );
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n, true);
  return b;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.byteLength;
  }
  return out;
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Serialises a profile; when `cipher` is given the body is AES-GCM encrypted with the header as AAD. */
export async function encodeProfile(
  data: ProfileData,
  cipher: Cipher | null,
  kdf: KdfParams | null,
): Promise<Uint8Array> {
  const header: Header = {
    schemaVersion: SCHEMA_VERSION,
    exportedAt: Date.now(),
    keyId: cipher?.keyId ?? null,
    kdf: cipher ? kdf : null,
  };
  const headerBytes = encodeValue(header);
  const prefix = concat([
    MAGIC,
    u32(PROFILE_FORMAT_VERSION),
    new Uint8Array([cipher ? FLAG_ENCRYPTED : 0]),
    u32(headerBytes.byteLength),
    headerBytes,
  ]);
  let body = encodeValue(data);
  if (cipher) {
    const s = await cipher.seal(body, prefix);
    body = concat([s.iv, new Uint8Array(s.ct)]);
  }
  const unsummed = concat([prefix, u32(body.byteLength), body]);
  return concat([unsummed, hexToBytes(await sha256Hex(unsummed))]);
}

/** True when `bytes` starts like an edgetune profile whose body is encrypted (checked before anything else is read). */
export function isEncryptedProfile(bytes: Uint8Array): boolean {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < MAGIC.byteLength + 5) return false;
  for (let i = 0; i < MAGIC.byteLength; i++) if (bytes[i] !== MAGIC[i]) return false;
  return ((bytes[MAGIC.byteLength + 4] ?? 0) & FLAG_ENCRYPTED) !== 0;
}

/** Checks every header field, so no key derivation runs on parameters we did not check (a 1e8-iteration PBKDF2 is minutes of CPU). */
function checkHeader(header: unknown, encrypted: boolean): Header {
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw invalid('header is not an object');
  const h = header as Record<string, unknown>;
  if (typeof h['schemaVersion'] !== 'number' || !Number.isInteger(h['schemaVersion']) || h['schemaVersion'] < 1)
    throw invalid(`header schemaVersion is ${JSON.stringify(h['schemaVersion'])}`);
  if (typeof h['exportedAt'] !== 'number' || !Number.isFinite(h['exportedAt']))
    throw invalid('header exportedAt is not a number');
  if (h['keyId'] !== null && typeof h['keyId'] !== 'string') throw invalid('header keyId is neither a string nor null');
  const kdf = h['kdf'];
  if (kdf !== null) {
    if (typeof kdf !== 'object' || kdf === undefined || Array.isArray(kdf))
      throw invalid('header kdf is neither an object nor null');
    const k = kdf as Record<string, unknown>;
    if (k['name'] !== 'PBKDF2' || k['hash'] !== 'SHA-256')
      throw invalid(
        `header kdf is ${JSON.stringify(k['name'])}/${JSON.stringify(k['hash'])}; only PBKDF2/SHA-256 is read`,
      );
    const it = k['iterations'];
    if (typeof it !== 'number' || !Number.isInteger(it) || it < MIN_PBKDF2_ITERATIONS || it > MAX_PBKDF2_ITERATIONS) {
      throw invalid(
        `header asks for ${String(it)} PBKDF2 iterations; accepted are integers in [${MIN_PBKDF2_ITERATIONS}, ${MAX_PBKDF2_ITERATIONS}]`,
      );
    }
    const salt = k['salt'];
    if (!(salt instanceof Uint8Array) || salt.byteLength < SALT_BYTES.min || salt.byteLength > SALT_BYTES.max) {
      throw invalid(
        `header kdf salt must be ${SALT_BYTES.min}–${SALT_BYTES.max} bytes, got ${salt instanceof Uint8Array ? `${salt.byteLength} bytes` : Object.prototype.toString.call(salt)}`,
      );
    }
  }
  if (encrypted && typeof h['keyId'] !== 'string') throw invalid('encrypted file has no keyId');
  return header as Header;
}

/**
 * Parses, checks and decrypts a profile file and validates every record; throws `IMPORT_INVALID`
 * (or `DECRYPT_FAILED` for a wrong key) without side effects.
 */
export async function decodeProfile(
  bytes: Uint8Array,
  cipher: Cipher | null,
  passphrase: string | undefined,
): Promise<ProfileData> {
  if (!(bytes instanceof Uint8Array))
    throw invalid(`expected a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  if (bytes.byteLength < MAGIC.byteLength + 4 + 1 + 4 + 4 + 32) throw invalid(`only ${bytes.byteLength} bytes`);
  for (let i = 0; i < MAGIC.byteLength; i++)
    if (bytes[i] !== MAGIC[i]) throw invalid('not an edgetune profile (bad magic)');
  const unsummed = bytes.subarray(0, bytes.byteLength - 32);
  const sum = await sha256Hex(unsummed);
  const stored = Array.from(bytes.subarray(bytes.byteLength - 32), (b) => b.toString(16).padStart(2, '0')).join('');
  if (sum !== stored)
    throw invalid(
      `checksum mismatch (file says ${stored}, content hashes to ${sum}); the file is damaged or was changed`,
    );
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let o = MAGIC.byteLength;
  const format = view.getUint32(o, true);
  o += 4;
  if (format !== PROFILE_FORMAT_VERSION)
    throw invalid(`format version ${format}; this code reads version ${PROFILE_FORMAT_VERSION}`);
  const flags = bytes[o]!;
  o += 1;
  const headerLen = view.getUint32(o, true);
  o += 4;
  if (o + headerLen + 4 > unsummed.byteLength) throw invalid('header length runs past the end');
  let header: Header;
  try {
    header = decodeValue(bytes.subarray(o, o + headerLen)) as Header;
  } catch (e) {
    throw invalid('header is malformed', e);
  }
  o += headerLen;
  const prefix = bytes.subarray(0, o);
  const bodyLen = view.getUint32(o, true);
  o += 4;
  if (o + bodyLen !== unsummed.byteLength) throw invalid(`body length ${bodyLen} does not match the file size`);
  header = checkHeader(header, (flags & FLAG_ENCRYPTED) !== 0);
  if (header.schemaVersion > SCHEMA_VERSION)
    throw invalid(
      `it was written by schema version ${header.schemaVersion}, newer than this code (${SCHEMA_VERSION}); update edgetune`,
    );
  let body = bytes.subarray(o, o + bodyLen);
  if (flags & FLAG_ENCRYPTED) {
    let key: Cipher;
    if (header.kdf) {
      if (cipher && cipher.keyId === header.keyId) key = cipher;
      else if (passphrase !== undefined)
        key = new Cipher(await deriveKey(passphrase, header.kdf.salt, header.kdf.iterations), String(header.keyId));
      else
        throw new EdgetuneError(
          'DECRYPT_FAILED',
          'The profile file is encrypted with a passphrase; pass { passphrase } to importProfile. Nothing was replaced.',
        );
    } else {
      if (!cipher)
        throw new EdgetuneError(
          'DECRYPT_FAILED',
          'The profile file is encrypted with an app key; open the storage with that key to import it. Nothing was replaced.',
        );
      key = new Cipher(cipher.key, String(header.keyId));
    }
    if (body.byteLength < 12 + 16) throw invalid('encrypted body is too short');
    const plain = await key.open(
      { keyId: key.keyId, iv: body.slice(0, 12), ct: body.slice(12).buffer },
      prefix,
      'the profile file',
    );
    body = plain;
  }
  let data: unknown;
  try {
    data = decodeValue(body);
  } catch (e) {
    throw invalid('body is malformed', e);
  }
  try {
    return await validate(data);
  } catch (e) {
    if (isEdgetuneError(e)) throw e;
    throw invalid(String(e), e);
  }
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function isStr(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}
function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}
function isPosInt(v: unknown): v is number {
  return Number.isInteger(v) && (v as number) >= 1;
}

async function validate(d: unknown): Promise<ProfileData> {
  if (!isObj(d)) throw invalid('body is not an object');
  for (const k of ['models', 'checkpoints', 'heads', 'samples', 'meta'] as const)
    if (!Array.isArray(d[k])) throw invalid(`${k} is not a list`);
  if (!isObj(d['seqs'])) throw invalid('seqs is not an object');
  const p = d as unknown as ProfileData;
  const modelIds = new Set<string>();
  for (const [i, m] of p.models.entries()) {
    if (
      !isObj(m) ||
      !isStr(m.id) ||
      !isObj(m.manifest) ||
      typeof m.manifest.sha256 !== 'string' ||
      !(m.bytes instanceof Uint8Array) ||
      !isNum(m.storedAt) ||
      !isNum(m.lastUsed)
    ) {
      throw invalid(`models[${i}] is malformed`);
    }
    if (modelIds.has(m.id)) throw invalid(`model ${m.id} appears twice`);
    modelIds.add(m.id);
    const h = await sha256Hex(m.bytes);
    if (h !== m.manifest.sha256) throw invalid(`model ${m.id} bytes hash to ${h}, manifest says ${m.manifest.sha256}`);
  }
  const ck = new Set<string>();
  for (const [i, c] of p.checkpoints.entries()) {
    if (
      !isObj(c) ||
      !isStr(c.slot) ||
      !isPosInt(c.version) ||
      !isNum(c.createdAt) ||
      !('payload' in c) ||
      (c.label !== undefined && typeof c.label !== 'string')
    ) {
      throw invalid(`checkpoints[${i}] is malformed`);
    }
    const k = `${c.slot}\u0000${c.version}`;
    if (ck.has(k)) throw invalid(`checkpoint ${c.slot} v${c.version} appears twice`);
    ck.add(k);
  }
  const slots = new Set<string>();
  for (const [i, h] of p.heads.entries()) {
    if (!isObj(h) || !isStr(h.slot) || !isPosInt(h.current) || !isPosInt(h.next) || !Array.isArray(h.versions))
      throw invalid(`heads[${i}] is malformed`);
    if (slots.has(h.slot)) throw invalid(`slot ${h.slot} has two heads`);
    slots.add(h.slot);
    for (const v of h.versions) {
      if (!isObj(v) || !isPosInt(v.version) || !isNum(v.createdAt) || !isNum(v.size))
        throw invalid(`heads[${i}] lists a malformed version`);
      if (!ck.has(`${h.slot}\u0000${v.version}`))
        throw invalid(`slot ${h.slot} lists v${v.version} but the file has no such checkpoint`);
      if (v.version >= h.next)
        throw invalid(`slot ${h.slot} lists v${v.version} at or beyond its next version ${h.next}`);
    }
    if (!h.versions.some((v) => v.version === h.current))
      throw invalid(`slot ${h.slot} current v${h.current} is not among its versions`);
  }
  for (const c of p.checkpoints)
    if (!slots.has(c.slot)) throw invalid(`checkpoint ${c.slot} v${c.version} has no head`);
  const sk = new Set<string>();
  for (const [i, s] of p.samples.entries()) {
    if (!isObj(s) || !isStr(s.slot) || !isPosInt(s.seq) || !isNum(s.createdAt) || !('value' in s))
      throw invalid(`samples[${i}] is malformed`);
    const k = `${s.slot}\u0000${s.seq}`;
    if (sk.has(k)) throw invalid(`sample ${s.slot}/${s.seq} appears twice`);
    sk.add(k);
    const next = p.seqs[s.slot];
    if (!isPosInt(next) || s.seq >= next)
      throw invalid(`sample ${s.slot}/${s.seq} is not below the slot's next sequence number`);
  }
  const mk = new Set<string>();
  for (const [i, m] of p.meta.entries()) {
    if (!isObj(m) || !isStr(m.key) || !('value' in m)) throw invalid(`meta[${i}] is malformed`);
    if (mk.has(m.key)) throw invalid(`meta key ${m.key} appears twice`);
    mk.add(m.key);
  }
  for (const [slot, seq] of Object.entries(p.seqs))
    if (!isPosInt(seq)) throw invalid(`seqs.${slot} is not a positive integer`);
  return p;
}
