// What the page and the worker agree on: the storage calls that may cross and where their options sit, result buffers that move, and the guarded (enveloped) API shape.
import type { CheckpointStore, EdgetuneStorage, MetaStore, SampleStore } from '../storage/types.js';
import type { Envelope } from './errors.js';

/** Which part of a storage a call addresses. */
export type StorageScope =
  | { readonly kind: 'root' }
  | { readonly kind: 'meta' }
  | { readonly kind: 'checkpoints' | 'samples'; readonly slot: string };

/** Names of the methods of `T`. */
type MethodsOf<T> = { [K in keyof T]-?: T[K] extends (...a: never[]) => unknown ? K : never }[keyof T];

/**
 * Storage methods callable through the worker, per scope, with the index of their options argument
 * (where the page takes `signal`/`onProgress` out and the worker puts them back), or -1 when they take none.
 * Each table's keys are checked against the in-thread interface.
 */
export const STORAGE_CALLS = {
  root: {
    putModel: 3,
    getModel: 1,
    listModels: -1,
    deleteModel: -1,
    estimate: -1,
    persist: -1,
    exportProfile: 0,
    importProfile: 1,
    rotateKey: 1,
    keyUsage: -1,
    forget: 0,
  } satisfies Partial<Record<MethodsOf<EdgetuneStorage>, number>>,
  meta: { get: -1, set: -1, delete: -1, keys: -1 } satisfies Record<MethodsOf<MetaStore>, number>,
  checkpoints: { save: 1, load: 1, list: -1, rollback: -1, clear: -1 } satisfies Partial<
    Record<MethodsOf<CheckpointStore>, number>
  >,
  samples: { add: 1, count: -1, getAll: 0, delete: -1, trim: -1, clear: -1 } satisfies Partial<
    Record<MethodsOf<SampleStore>, number>
  >,
} as const;

/** The options index of a listed storage call, or undefined when the call may not cross. */
export function storageOptionsIndex(scope: StorageScope, method: string): number | undefined {
  const table = STORAGE_CALLS[scope.kind] as Readonly<Record<string, number>>;
  return Object.hasOwn(table, method) ? table[method] : undefined;
}

/** The buffer behind `view` when the view covers all of it (so it can move); a view into part of a buffer is copied instead. */
export function wholeBuffer(view: ArrayBufferView): ArrayBuffer | undefined {
  const b = view.buffer;
  return b instanceof ArrayBuffer && view.byteOffset === 0 && view.byteLength === b.byteLength ? b : undefined;
}

const outgoing = new WeakMap<object, Transferable[]>();

/** Marks buffers of a worker result to move to the page rather than be copied (read by the guard that sends it). */
export function moveOut<T>(value: T, transferables: Transferable[]): T {
  if (typeof value === 'object' && value !== null && transferables.length > 0) outgoing.set(value, transferables);
  return value;
}

/** The buffers marked on `value` by {@link moveOut}. */
export function takeMoves(value: unknown): Transferable[] {
  if (typeof value !== 'object' || value === null) return [];
  const list = outgoing.get(value) ?? [];
  outgoing.delete(value);
  return list;
}

/** The worker API as the page sees it: every method resolves to an {@link Envelope} of its result. */
export type Guarded<T> = {
  [K in MethodsOf<T>]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Envelope<Awaited<R>>> : never;
};

/** An in-thread member as it looks across the worker: the same parameters, the result always a promise. */
export type Async<F> = F extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : never;

/** The members `K` of `T`, mirrored across the worker (comlink's `Remote<T>` idea, for the members that may cross). */
export type Mirror<T, K extends keyof T> = { [P in K]: Async<T[P]> };
