// Where model bytes come from: a manifest URL (with download progress), a manifest + bytes, or a cache; checked against the manifest before use.
import { EdgetuneError, throwIfAborted } from '../core/errors.js';
import { untilAborted } from './guard.js';
import { validateManifest, type ModelManifest } from './manifest.js';
import { resolveModelFile, type ResolveFile } from './resolve-file.js';
import {
  cacheIdForUrl,
  isLocalSource,
  localManifestUrl,
  modelSha256,
  readLocal,
  readLocalModel,
  roomToCache,
  type LoadWarning,
  type UpdateEvent,
} from './source-extra.js';

export type { LoadWarning, UpdateEvent } from './source-extra.js';

/**
 * A place that keeps model bytes for offline start. The storage object of `edgetune/storage`
 * (`openStorage()`) fits it as it is; any object with these methods does.
 */
export interface ModelCache {
  /** The cached manifest and bytes for `id`, or `undefined`. */
  getModel(id: string): Promise<{ readonly manifest: unknown; readonly bytes: Uint8Array } | undefined>;
  /** Stores a verified model under its id (the manifest is passed as a plain record). */
  putModel?(
    id: string,
    manifest: { readonly sha256: string; readonly [field: string]: unknown },
    bytes: Uint8Array,
  ): Promise<unknown>;
}

/** Where an encoder's model comes from. */
export type ModelSource =
  /** URL of a manifest JSON (in Node also a file path or `file://` URL); the model file is resolved relative to it. */
  | string
  | URL
  /** A manifest (validated) and the model bytes. */
  | { readonly manifest: unknown; readonly bytes: Uint8Array | ArrayBuffer }
  /** A model previously stored in a {@link ModelCache}. */
  | { readonly cache: ModelCache; readonly id: string };

/** Download progress of model bytes. */
export interface DownloadProgress {
  readonly phase: 'download';
  readonly file: string;
  readonly loaded: number;
  /** Total bytes when known (from the manifest). */
  readonly total: number | undefined;
}

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  readonly signal?: AbortSignal | undefined;
  readonly onProgress?:
    | ((p: DownloadProgress | { readonly phase: 'verify'; readonly file: string } | LoadWarning | UpdateEvent) => void)
    | undefined;
  /**
   * Cache for URL sources. Consulted first, before any network access (under the manifest's file
   * name, see `edgetune import`); the manifest is then fetched in the background only to look for
   * an update. Filled after a download; a cache that cannot take the model (quota, budget) gives a
   * `warning` event and the model runs uncached.
   */
  readonly cache?: ModelCache | undefined;
  /** Custom fetch (e.g. with auth headers). @defaultValue globalThis.fetch */
  readonly fetch?: typeof fetch | undefined;
  /**
   * Opt-in to model files outside the manifest's directory or origin: maps the manifest's `file` to
   * the URL to fetch. Without it, `file` must be a relative path inside the manifest's directory.
   * @defaultValue confined to the manifest's directory
   */
  readonly resolveFile?: ResolveFile | undefined;
  /**
   * The folder that holds the model file instead of the manifest's own: `file` is resolved against
   * it and confined to it (same rules). A string, so unlike `resolveFile` it crosses to a Worker.
   * @defaultValue the manifest's directory
   */
  readonly modelBaseUrl?: string | undefined;
}

/** A model ready for a runtime: validated manifest and checksum-verified bytes. */
export interface LoadedModel {
  readonly manifest: ModelManifest;
  readonly bytes: Uint8Array;
  /** Where it came from: `url`, `bytes` or `cache`. */
  readonly origin: 'url' | 'bytes' | 'cache';
}

function toBytes(b: Uint8Array | ArrayBuffer): Uint8Array {
  return b instanceof Uint8Array ? b : new Uint8Array(b);
}

async function fetchOrThrow(
  f: typeof fetch,
  url: string,
  signal: AbortSignal | undefined,
  what: string,
): Promise<Response> {
  let res: Response;
  try {
    // A custom fetch may ignore the signal: the abort must land anyway, and a late body is dropped.
    res = await untilAborted(f(url, signal ? { signal } : {}), signal, (late) => late.body?.cancel());
  } catch (err) {
    throwIfAborted(signal);
    throw new EdgetuneError(
      'MODEL_NOT_FOUND',
      `Could not fetch the ${what} at ${url}: ${err instanceof Error ? err.message : String(err)}. Check the URL, or open the model from a cache when offline.`,
      { cause: err, details: { url } },
    );
  }
  if (!res.ok)
    throw new EdgetuneError(
      'MODEL_NOT_FOUND',
      `Fetching the ${what} at ${url} failed with HTTP ${res.status}. Check the URL and that the file is deployed.`,
      { details: { url, status: res.status } },
    );
  return res;
}

async function readWithProgress(
  res: Response,
  file: string,
  total: number,
  options: LoadModelOptions,
): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer());
  const reader = res.body.getReader();
  // The manifest gives the size: chunks go straight into one buffer of that size, so a large
  // model is never held twice (chunk list + joined copy). A server sending more than announced
  // falls back to a growing list; the size check then refuses it.
  const out = total > 0 ? new Uint8Array(total) : undefined;
  const extra: Uint8Array[] = [];
  let loaded = 0;
  options.onProgress?.({ phase: 'download', file, loaded, total });
  for (;;) {
    throwIfAborted(options.signal);
    const { done, value } = await untilAborted(reader.read(), options.signal, () => reader.cancel()).catch(
      async (err: unknown) => {
        await reader.cancel().catch(() => undefined);
        throwIfAborted(options.signal);
        throw new EdgetuneError(
          'MODEL_NOT_FOUND',
          `The download of ${file} broke off after ${loaded} bytes: ${err instanceof Error ? err.message : String(err)}. Retry when the connection is back.`,
          { cause: err, details: { file, loaded } },
        );
      },
    );
    if (done) break;
    if (out && extra.length === 0 && loaded + value.byteLength <= out.byteLength) out.set(value, loaded);
    else extra.push(value);
    loaded += value.byteLength;
    options.onProgress?.({ phase: 'download', file, loaded, total });
  }
  if (out && extra.length === 0) return loaded === out.byteLength ? out : out.subarray(0, loaded);
  const joined = new Uint8Array(loaded);
  let o = 0;
  if (out) {
    const head = loaded - extra.reduce((a, c) => a + c.byteLength, 0);
    joined.set(out.subarray(0, head));
    o = head;
  }
  for (const c of extra) {
    joined.set(c, o);
    o += c.byteLength;
  }
  return joined;
}

/**
 * Checks bytes against the manifest (size, SHA-256, file format signature).
 *
 * @param manifest - the validated manifest
 * @param bytes - the model file
 * @param sha256 - the bytes' SHA-256 when it was computed while reading (Node files), so they are not hashed twice
 *
 * @throws EdgetuneError `CHECKSUM_MISMATCH` or `MODEL_CORRUPT`
 */
export async function verifyModelBytes(manifest: ModelManifest, bytes: Uint8Array, sha256?: string): Promise<void> {
  if (bytes.byteLength !== manifest.bytes) {
    throw new EdgetuneError(
      'CHECKSUM_MISMATCH',
      `Model ${manifest.id} has ${bytes.byteLength} bytes but its manifest says ${manifest.bytes}; the download is truncated or the file is not the one the manifest describes.`,
      { details: { expected: manifest.bytes, actual: bytes.byteLength } },
    );
  }
  const actual = sha256 ?? (await modelSha256(bytes));
  if (actual !== manifest.sha256) {
    throw new EdgetuneError(
      'CHECKSUM_MISMATCH',
      `Model ${manifest.id} has SHA-256 ${actual} but its manifest says ${manifest.sha256}; refusing to run bytes that are not the published model.`,
      { details: { expected: manifest.sha256, actual } },
    );
  }
  const tflite = bytes.byteLength >= 8 && String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!) === 'TFL3';
  if (manifest.format === 'onnx' && tflite) {
    throw new EdgetuneError(
      'MODEL_CORRUPT',
      `Model ${manifest.id} is declared ONNX but its bytes are a TFLite flatbuffer (identifier TFL3); fix the manifest's format.`,
      { details: { field: 'format' } },
    );
  }
  if (manifest.format === 'tflite' && !tflite) {
    throw new EdgetuneError(
      'MODEL_CORRUPT',
      `Model ${manifest.id} is declared TFLite but its bytes lack the TFL3 identifier; the file is corrupt or not a TFLite model.`,
      { details: { field: 'format' } },
    );
  }
}

/**
 * Resolves a {@link ModelSource} to a validated manifest and verified bytes.
 *
 * @throws EdgetuneError `MANIFEST_INVALID`, `MODEL_NOT_FOUND`, `CHECKSUM_MISMATCH`, `MODEL_CORRUPT`, `ABORTED`
 */
export async function loadModel(source: ModelSource, options: LoadModelOptions = {}): Promise<LoadedModel> {
  throwIfAborted(options.signal);
  if (typeof source === 'string' || source instanceof URL) {
    const f = options.fetch ?? globalThis.fetch.bind(globalThis);
    const url = String(source);
    if (isLocalSource(url)) return loadLocal(url, options);
    const early = await cachedByUrl(url, options);
    if (early) {
      void lookForUpdate(f, url, early.manifest, options);
      return early;
    }
    const res = await fetchOrThrow(f, url, options.signal, 'manifest');
    let json: unknown;
    try {
      json = await untilAborted(res.json(), options.signal);
    } catch (err) {
      throwIfAborted(options.signal);
      throw new EdgetuneError('MANIFEST_INVALID', `The manifest at ${url} is not valid JSON.`, {
        cause: err,
        details: { field: '(root)' },
      });
    }
    const manifest = validateManifest(json);
    if (options.cache) {
      const cached = await options.cache.getModel(manifest.id).catch(() => undefined);
      if (cached) {
        try {
          const m = validateManifest(cached.manifest);
          if (m.sha256 === manifest.sha256) {
            options.onProgress?.({ phase: 'verify', file: m.file });
            await verifyModelBytes(m, cached.bytes);
            return { manifest: m, bytes: cached.bytes, origin: 'cache' };
          }
        } catch {
          // A stale or damaged cache entry is not fatal: download a fresh copy below.
        }
      }
    }
    const fileUrl = resolveModelFile(manifest.file, url, options.resolveFile, options.modelBaseUrl);
    // Say before the download, not after it, when the cache has no room: the model then runs uncached.
    const noRoom = options.cache?.putModel
      ? await untilAborted(roomToCache(manifest.bytes), options.signal)
      : undefined;
    if (noRoom)
      warn(
        options,
        'QUOTA_EXCEEDED',
        `Model ${manifest.id} will run uncached: ${noRoom}. Free space or raise the quota to start offline next time.`,
      );
    const bin = await fetchOrThrow(f, fileUrl, options.signal, 'model file');
    const bytes = await readWithProgress(bin, manifest.file, manifest.bytes, options);
    options.onProgress?.({ phase: 'verify', file: manifest.file });
    await verifyModelBytes(manifest, bytes);
    if (!noRoom) await storeOrWarn(options, manifest, url, bytes);
    return { manifest, bytes, origin: 'url' };
  }
  if (typeof source !== 'object' || source === null) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      `Model source must be a manifest URL, { manifest, bytes }, or { cache, id } (got ${source === null ? 'null' : typeof source}).`,
    );
  }
  if ('cache' in source) {
    const cached = await source.cache.getModel(source.id);
    if (!cached)
      throw new EdgetuneError(
        'MODEL_NOT_FOUND',
        `No model "${source.id}" in the cache; open it from its URL once while online to store it.`,
        { details: { id: source.id } },
      );
    const manifest = validateManifest(cached.manifest);
    options.onProgress?.({ phase: 'verify', file: manifest.file });
    await verifyModelBytes(manifest, cached.bytes);
    return { manifest, bytes: cached.bytes, origin: 'cache' };
  }
  if ('manifest' in source && 'bytes' in source) {
    const manifest = validateManifest(source.manifest);
    if (!(source.bytes instanceof Uint8Array || source.bytes instanceof ArrayBuffer)) {
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Model bytes must be a Uint8Array or ArrayBuffer (got ${source.bytes === null ? 'null' : typeof source.bytes}).`,
      );
    }
    const bytes = toBytes(source.bytes);
    options.onProgress?.({ phase: 'verify', file: manifest.file });
    await verifyModelBytes(manifest, bytes);
    return { manifest, bytes, origin: 'bytes' };
  }
  throw new EdgetuneError(
    'INVALID_ARGUMENT',
    'Model source must be a manifest URL, { manifest, bytes }, or { cache, id }.',
  );
}

function warn(options: LoadModelOptions, code: LoadWarning['code'], message: string): void {
  options.onProgress?.({ phase: 'warning', code, message });
}

/** Stores a downloaded model; a cache that refuses it (quota, budget) is a warning, not a failure. */
async function storeOrWarn(
  options: LoadModelOptions,
  manifest: ModelManifest,
  url: string,
  bytes: Uint8Array,
): Promise<boolean> {
  if (!options.cache?.putModel) return false;
  try {
    // `source` lets the next open find the entry by URL before any network access.
    await options.cache.putModel(manifest.id, { ...manifest, source: url }, bytes);
    return true;
  } catch (err) {
    const code = (err as { code?: unknown }).code === 'QUOTA_EXCEEDED' ? 'QUOTA_EXCEEDED' : 'MODEL_NOT_FOUND';
    warn(
      options,
      code,
      `Model ${manifest.id} runs uncached: the cache refused it (${err instanceof Error ? err.message : String(err)}).`,
    );
    return false;
  }
}

/** The cached copy of a URL source, found without network access, or `undefined`. */
async function cachedByUrl(url: string, options: LoadModelOptions): Promise<LoadedModel | undefined> {
  const id = cacheIdForUrl(url);
  if (!options.cache || !id) return undefined;
  const cached = await options.cache.getModel(id).catch(() => undefined);
  if (!cached || (cached.manifest as { source?: unknown } | null)?.source !== url) return undefined;
  try {
    const manifest = validateManifest(cached.manifest);
    options.onProgress?.({ phase: 'verify', file: manifest.file });
    await verifyModelBytes(manifest, cached.bytes);
    return { manifest, bytes: cached.bytes, origin: 'cache' };
  } catch {
    // A damaged entry: fall through to the network.
    return undefined;
  }
}

/** After a cache-first open: fetch the manifest and, when it names other bytes, store those for the next open. Never throws. */
async function lookForUpdate(
  f: typeof fetch,
  url: string,
  current: ModelManifest,
  options: LoadModelOptions,
): Promise<void> {
  let manifest: ModelManifest;
  try {
    const res = await f(url, options.signal ? { signal: options.signal } : {});
    if (!res.ok) return;
    manifest = validateManifest(await res.json());
  } catch {
    return; // offline or unreachable: the cached model is what we run
  }
  if (manifest.sha256 === current.sha256) return;
  let status: UpdateEvent['status'] = 'failed';
  try {
    // Confined like the first download: an updated manifest must not point elsewhere either.
    const fileUrl = resolveModelFile(manifest.file, url, options.resolveFile, options.modelBaseUrl);
    const res = await f(fileUrl, options.signal ? { signal: options.signal } : {});
    if (res.ok) {
      const bytes = new Uint8Array(await res.arrayBuffer());
      await verifyModelBytes(manifest, bytes);
      if (await storeOrWarn(options, manifest, url, bytes)) status = 'stored';
    }
  } catch {
    status = 'failed';
  }
  options.onProgress?.({ phase: 'update', id: manifest.id, sha256: manifest.sha256, status });
}

/** A manifest and model from the local file system (Node); the model file is confined to the manifest's directory like a URL's. */
async function loadLocal(path: string, options: LoadModelOptions): Promise<LoadedModel> {
  const text = new TextDecoder().decode(await untilAborted(readLocal(path, 'manifest'), options.signal));
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new EdgetuneError('MANIFEST_INVALID', `The manifest at ${path} is not valid JSON.`, {
      cause: err,
      details: { field: '(root)' },
    });
  }
  const manifest = validateManifest(json);
  throwIfAborted(options.signal);
  const fileUrl = resolveModelFile(
    manifest.file,
    await localManifestUrl(path),
    options.resolveFile,
    options.modelBaseUrl,
  );
  let bytes: Uint8Array;
  let sha256: string | undefined;
  if (fileUrl.startsWith('file:')) ({ bytes, sha256 } = await untilAborted(readLocalModel(fileUrl), options.signal));
  else {
    // resolveFile may send a local manifest's model to the network.
    const f = options.fetch ?? globalThis.fetch.bind(globalThis);
    bytes = await readWithProgress(
      await fetchOrThrow(f, fileUrl, options.signal, 'model file'),
      manifest.file,
      manifest.bytes,
      options,
    );
  }
  options.onProgress?.({ phase: 'verify', file: manifest.file });
  await verifyModelBytes(manifest, bytes, sha256);
  return { manifest, bytes, origin: 'url' };
}
