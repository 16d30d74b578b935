// Local files in Node, cache-first starts of URL sources, and the room check before caching a large model.
import { EdgetuneError, type ErrorCode } from '../core/errors.js';
import { sha256Hex } from '../core/hash.js';
import { isNode } from './platform.js';

/** A non-fatal problem while loading, e.g. a cache that cannot take the model (it then runs uncached). */
export interface LoadWarning {
  readonly phase: 'warning';
  readonly code: ErrorCode;
  readonly message: string;
}

/** A newer model was found behind a URL opened from the cache; it is stored for the next open. */
export interface UpdateEvent {
  readonly phase: 'update';
  readonly id: string;
  readonly sha256: string;
  /** `stored`: the new version is in the cache for the next open; `failed`: it could not be fetched or stored. */
  readonly status: 'stored' | 'failed';
}

/** True for a Node file path or `file://` URL (never in a browser, where paths are URLs relative to the page). */
export function isLocalSource(url: string): boolean {
  if (!isNode()) return false;
  if (url.startsWith('file:')) return true;
  return !/^[a-z][a-z0-9+.-]*:\/\//i.test(url) && !url.startsWith('data:') && !url.startsWith('blob:');
}

type Fs = { readFile(path: string | URL): Promise<Uint8Array> };

/** Reads a local file in Node. */
export async function readLocal(pathOrUrl: string, what: string): Promise<Uint8Array> {
  // The specifier is a variable so browser bundlers do not try to resolve a Node built-in.
  const spec = 'node:fs/promises';
  const fs = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as Fs;
  const target = pathOrUrl.startsWith('file:') ? new URL(pathOrUrl) : pathOrUrl;
  try {
    const b = await fs.readFile(target);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (err) {
    throw new EdgetuneError(
      'MODEL_NOT_FOUND',
      `Could not read the ${what} at ${pathOrUrl}: ${err instanceof Error ? err.message : String(err)}. Check the path.`,
      { cause: err, details: { url: pathOrUrl } },
    );
  }
}

/** A local manifest path (relative to the working directory) or `file://` URL as an absolute `file://` URL, so its `file` resolves and is confined like a URL's. */
export async function localManifestUrl(pathOrUrl: string): Promise<URL> {
  if (pathOrUrl.startsWith('file:')) {
    try {
      return new URL(pathOrUrl);
    } catch (err) {
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `${JSON.stringify(pathOrUrl.slice(0, 120))} is not a valid file:// URL.`,
        { cause: err, details: { url: pathOrUrl } },
      );
    }
  }
  const spec = 'node:url';
  const { pathToFileURL } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as {
    pathToFileURL(p: string): URL;
  };
  return pathToFileURL(pathOrUrl);
}

/**
 * The cache key a manifest URL is looked up under before any network access: the manifest's file
 * name without `.json` (`edgetune import` writes `ID.json`), lower-cased.
 */
export function cacheIdForUrl(url: string): string | undefined {
  const path = url.split(/[?#]/)[0] ?? '';
  const name = path
    .slice(path.lastIndexOf('/') + 1)
    .replace(/\.json$/i, '')
    .toLowerCase();
  return /^[a-z0-9][a-z0-9._-]*$/.test(name) ? name : undefined;
}

/**
 * Whether the origin has room to cache `bytes` (`navigator.storage.estimate()`), checked before
 * the download. Returns a reason when it has not; `undefined` when it has or cannot tell.
 */
export async function roomToCache(bytes: number): Promise<string | undefined> {
  const storage = (
    globalThis as { navigator?: { storage?: { estimate?: () => Promise<{ quota?: number; usage?: number }> } } }
  ).navigator?.storage;
  if (typeof storage?.estimate !== 'function') return undefined;
  let est: { quota?: number; usage?: number };
  try {
    est = await storage.estimate();
  } catch {
    return undefined;
  }
  if (typeof est.quota !== 'number') return undefined;
  const free = est.quota - (est.usage ?? 0);
  // IndexedDB stores a little more than the payload; keep a margin.
  const need = Math.ceil(bytes * 1.1);
  return free < need
    ? `the origin has ${Math.round(free / 1e6)} MB of storage left (navigator.storage.estimate) and the model needs ${Math.round(need / 1e6)} MB`
    : undefined;
}

type NodeHash = { update(data: Uint8Array): NodeHash; digest(enc: 'hex'): string };
type NodeCrypto = { createHash(alg: 'sha256'): NodeHash };

/** Bytes hashed per `update` call in Node (bounds how long one call blocks the event loop). */
const HASH_CHUNK = 16 * 1024 * 1024;

/**
 * SHA-256 of model bytes without a second full copy where the platform allows: in Node through
 * `node:crypto` on the bytes in place, in 16 MiB steps (WebCrypto's `digest` copies its input
 * first); in browsers through WebCrypto on the buffer that is then handed to the runtime (no
 * copy when the bytes are a whole `ArrayBuffer`, as downloads and cache reads are).
 *
 * @param bytes - the model file
 */
export async function modelSha256(bytes: Uint8Array): Promise<string> {
  if (!isNode()) return sha256Hex(bytes);
  const spec = 'node:crypto';
  const { createHash } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ spec)) as NodeCrypto;
  const h = createHash('sha256');
  for (let o = 0; o < bytes.byteLength; o += HASH_CHUNK)
    h.update(bytes.subarray(o, Math.min(bytes.byteLength, o + HASH_CHUNK)));
  return h.digest('hex');
}

type FileHandle = {
  stat(): Promise<{ size: number }>;
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
};

/**
 * Reads a local model file (Node) into one buffer of its size, hashing each 16 MiB step with
 * `node:crypto` as it arrives: one copy of the model in memory and one pass over it
 * (`fs.promises.readFile` joins a list of chunks at the end, holding the model twice).
 *
 * @param pathOrUrl - a file path or `file://` URL
 * @returns the bytes and their lower-case hex SHA-256
 * @throws EdgetuneError `MODEL_NOT_FOUND` when the file cannot be read
 */
export async function readLocalModel(pathOrUrl: string): Promise<{ bytes: Uint8Array; sha256: string }> {
  const fsSpec = 'node:fs/promises';
  const cryptoSpec = 'node:crypto';
  const fs = (await import(/* @vite-ignore */ /* webpackIgnore: true */ fsSpec)) as {
    open(path: string | URL, flags: 'r'): Promise<FileHandle>;
  };
  const { createHash } = (await import(/* @vite-ignore */ /* webpackIgnore: true */ cryptoSpec)) as NodeCrypto;
  const target = pathOrUrl.startsWith('file:') ? new URL(pathOrUrl) : pathOrUrl;
  let fh: FileHandle | undefined;
  try {
    fh = await fs.open(target, 'r');
    const { size } = await fh.stat();
    const bytes = new Uint8Array(size);
    const h = createHash('sha256');
    let o = 0;
    while (o < size) {
      const { bytesRead } = await fh.read(bytes, o, Math.min(HASH_CHUNK, size - o), o);
      if (bytesRead === 0) break;
      h.update(bytes.subarray(o, o + bytesRead));
      o += bytesRead;
    }
    return { bytes: o === size ? bytes : bytes.subarray(0, o), sha256: h.digest('hex') };
  } catch (err) {
    throw new EdgetuneError(
      'MODEL_NOT_FOUND',
      `Could not read the model file at ${pathOrUrl}: ${err instanceof Error ? err.message : String(err)}. Check the path.`,
      { cause: err, details: { url: pathOrUrl } },
    );
  } finally {
    await fh?.close().catch(() => undefined);
  }
}
