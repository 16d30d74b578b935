// Opens the personalizer's encoder: from a URL (cached in the profile on first open, opened from the cache when offline), from bytes (cached too), or from a cached id.
import { EdgetuneError, isEdgetuneError } from '../core/errors.js';
import type { DevicePreference } from '../runtime/devices.js';
import { Encoder, type LoadProgress } from '../runtime/encoder.js';
import type { ModelCache } from '../runtime/source.js';
import type { EdgetuneStorage } from '../storage/types.js';
import type { PersonalizerModel } from './types.js';

/** Field a cached manifest carries with the URL it was downloaded from, so a URL finds its model offline. */
const SOURCE_FIELD = 'edgetuneSource';

interface OpenOptions {
  readonly device: DevicePreference | undefined;
  readonly signal: AbortSignal | undefined;
  readonly onProgress: ((p: LoadProgress) => void) | undefined;
}

function urlOf(model: string | URL): string {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  try {
    return new URL(String(model), base).href;
  } catch {
    return String(model);
  }
}

/** A cache over the profile that remembers which URL each model came from. */
function cacheFor(storage: EdgetuneStorage, url: string): ModelCache {
  return {
    getModel: (id) => storage.getModel(id),
    putModel: (id, manifest, bytes) => storage.putModel(id, { ...manifest, [SOURCE_FIELD]: url }, bytes),
  };
}

/** The cached model downloaded from `url`, most recently used first. */
async function cachedIdFor(storage: EdgetuneStorage, url: string): Promise<string | undefined> {
  const models = (await storage.listModels()).sort((a, b) => b.lastUsed - a.lastUsed);
  for (const m of models) {
    const got = await storage.getModel(m.id).catch(() => undefined);
    if (got && got.manifest[SOURCE_FIELD] === url) return m.id;
  }
  return undefined;
}

/**
 * Opens the encoder for `model`, caching it in `storage` (when there is one) so later opens work offline.
 *
 * @throws EdgetuneError as `Encoder.open`; `MODEL_NOT_FOUND` offline when the model was never cached
 */
export async function openModel(
  model: PersonalizerModel,
  storage: EdgetuneStorage | null,
  o: OpenOptions,
): Promise<Encoder> {
  const enc = {
    ...(o.device !== undefined ? { device: o.device } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  };
  if (typeof model === 'string' || model instanceof URL) {
    const url = urlOf(model);
    if (!storage) return Encoder.open(url, enc);
    try {
      return await Encoder.open(url, { ...enc, cache: cacheFor(storage, url) });
    } catch (e) {
      // Offline (or the server is gone): the copy cached on an earlier open serves.
      if (!isEdgetuneError(e, 'MODEL_NOT_FOUND')) throw e;
      const id = await cachedIdFor(storage, url);
      if (!id) throw e;
      return Encoder.open({ cache: storage, id }, enc);
    }
  }
  if (typeof model === 'object' && model !== null && 'bytes' in model) {
    const bytes = model.bytes instanceof Uint8Array ? model.bytes : new Uint8Array(model.bytes);
    const encoder = await Encoder.open({ manifest: model.manifest, bytes }, enc);
    if (storage) {
      const m = encoder.manifest;
      const cached = (await storage.listModels()).some((x) => x.id === m.id)
        ? await storage.getModel(m.id).catch(() => undefined)
        : undefined;
      if (cached?.manifest.sha256 !== m.sha256) await storage.putModel(m.id, { ...m }, bytes);
    }
    return encoder;
  }
  if (typeof model === 'object' && model !== null && typeof (model as { id?: unknown }).id === 'string') {
    if (!storage)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `model { id: ${JSON.stringify(model.id)} } opens a model cached in the profile, but storage is false; pass a manifest URL or bytes.`,
      );
    return Encoder.open({ cache: storage, id: model.id }, enc);
  }
  throw new EdgetuneError(
    'INVALID_ARGUMENT',
    `options.model must be a manifest URL, { manifest, bytes } or { id } of a cached model, got ${Object.prototype.toString.call(model)}.`,
  );
}
