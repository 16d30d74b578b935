// What the page and the worker agree on: the storage calls that may cross and where their options sit, and which buffers may move.

/** Which part of a storage a call addresses. */
export type StorageScope = { readonly kind: 'root' } | { readonly kind: 'meta' } | { readonly kind: 'checkpoints' | 'samples'; readonly slot: string };

/**
 * Storage methods callable through the worker, per scope, with the index of their options argument
 * (where the page takes `signal`/`onProgress` out and the worker puts them back), or -1 when they take none.
 */
export const STORAGE_CALLS: Readonly<Record<StorageScope['kind'], Readonly<Record<string, number>>>> = {
  root: { putModel: 3, getModel: 1, listModels: -1, deleteModel: -1, estimate: -1, persist: -1, exportProfile: 0, importProfile: 1, rotateKey: 1, keyUsage: -1 },
  meta: { get: -1, set: -1, delete: -1, keys: -1 },
  checkpoints: { save: 1, load: 1, list: -1, rollback: -1 },
  samples: { add: 1, count: -1, getAll: 0, delete: -1, trim: -1, clear: -1 },
};

/** The options index of a listed storage call, or undefined when the call may not cross. */
export function storageOptionsIndex(scope: StorageScope, method: string): number | undefined {
  const table = STORAGE_CALLS[scope.kind];
  return Object.hasOwn(table, method) ? table[method] : undefined;
}

/** The buffer behind `view` when the view covers all of it (so it can move); a view into part of a buffer is copied instead. */
export function wholeBuffer(view: ArrayBufferView): ArrayBuffer | undefined {
  const b = view.buffer;
  return b instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === b.byteLength ? b : undefined;
}
