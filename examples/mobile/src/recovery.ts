// Recovery and deployment checks around opening the model: drop a damaged model copy from the service-worker cache and IndexedDB, and tell a missing runtime file from a browser that cannot run it.
import { openStorage } from '../../../src/storage/index.js';
import type { StorageOptions } from '../../../src/storage/index.js';

/**
 * Deletes every copy of the model on this device: the manifest and model file in the service
 * worker's caches, and the bytes the personalizer cached in the profile. The next open downloads it.
 */
export async function dropModelCopies(manifestUrl: string, storage: StorageOptions | false): Promise<string[]> {
  const dropped: string[] = [];
  const manifest = (await fetch(manifestUrl, { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : undefined))
    .catch(() => undefined)) as { id?: string; file?: string } | undefined;
  const urls = [manifestUrl, ...(manifest?.file ? [new URL(manifest.file, manifestUrl).href] : [])];
  if ('caches' in globalThis) {
    for (const key of await caches.keys()) {
      const c = await caches.open(key);
      for (const u of urls) if (await c.delete(u, { ignoreSearch: true })) dropped.push(`cache:${new URL(u).pathname}`);
    }
  }
  if (storage && manifest?.id) {
    const s = await openStorage(storage);
    try {
      if ((await s.listModels()).some((m) => m.id === manifest.id)) {
        await s.deleteModel(manifest.id);
        dropped.push(`indexeddb:${manifest.id}`);
      }
    } finally {
      await s.dispose();
    }
  }
  return dropped;
}

/** Files the WASM runtime needs; the build ships them under ort/. */
const RUNTIME_FILES = ['ort/ort-wasm-simd-threaded.wasm', 'ort/ort-wasm-simd-threaded.mjs', 'worker.js'];

/** The first runtime file the server does not serve (a deployment problem), if any. Offline it says nothing. */
export async function missingRuntimeFile(): Promise<{ path: string; status: number } | undefined> {
  if (!navigator.onLine) return undefined;
  for (const f of RUNTIME_FILES) {
    const url = new URL(f, location.href);
    const r = await fetch(url, { method: 'HEAD', cache: 'no-store' }).catch(() => undefined);
    if (r && !r.ok) return { path: url.pathname, status: r.status };
  }
  return undefined;
}
