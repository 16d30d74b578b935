// The personalizer's event listeners (typed subscribe/emit where one listener's failure never stops the others) and the page's pagehide hook.
import type { PersonalizerEvents } from './types.js';

/** Listeners of the personalizer's events, by type. */
export class Emitter {
  readonly #listeners = new Map<keyof PersonalizerEvents, Set<(e: never) => void>>();

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof PersonalizerEvents>(type: K, listener: (event: PersonalizerEvents[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (e: never) => void);
    return () => set.delete(listener as (e: never) => void);
  }

  /** Calls every listener of `type`; a listener that throws is skipped. */
  emit<K extends keyof PersonalizerEvents>(type: K, event: PersonalizerEvents[K]): void {
    for (const l of this.#listeners.get(type) ?? []) {
      try {
        (l as (e: PersonalizerEvents[K]) => void)(event);
      } catch {
        // a listener's failure must not break the loop
      }
    }
  }
}

/** Calls `fn` on the page's `pagehide` (nothing outside a document); returns the function that stops it. */
export function onPageHide(fn: () => void): () => void {
  const g = globalThis as {
    addEventListener?: (t: string, l: () => void) => void;
    removeEventListener?: (t: string, l: () => void) => void;
    document?: unknown;
  };
  if (typeof g.addEventListener !== 'function' || g.document === undefined) return () => undefined;
  g.addEventListener('pagehide', fn);
  return () => g.removeEventListener?.('pagehide', fn);
}
