// Local files in Node, cache-first starts of URL sources, and the room check before caching a large model.
import { EdgetuneError, type ErrorCode } from '../core/errors.js';
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
