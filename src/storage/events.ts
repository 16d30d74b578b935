// Storage events: in-process listeners plus the BroadcastChannel that tells other tabs about new checkpoints.
import type { StorageEvents } from './types.js';

type BroadcastMessage =
  | { readonly type: 'checkpoint'; readonly slot: string; readonly version: number }
  | { readonly type: 'forgotten' };

/** Listeners of one storage and its cross-tab channel. */
export class StorageEventHub {
  readonly #listeners = new Map<keyof StorageEvents, Set<(e: never) => void>>();
  readonly #channel: BroadcastChannel | undefined;

  /** @param name - database name; the channel is `edgetune:<name>` @param broadcast - open the channel */
  constructor(name: string, broadcast: boolean) {
    if (broadcast && typeof BroadcastChannel === 'function') {
      this.#channel = new BroadcastChannel(`edgetune:${name}`);
      // Node keeps the process alive for an open channel; a forgotten storage must not hang it.
      (this.#channel as unknown as { unref?: () => void }).unref?.();
      this.#channel.onmessage = (ev: MessageEvent<BroadcastMessage>) => {
        const m = ev.data;
        if (m && m.type === 'checkpoint' && typeof m.slot === 'string' && typeof m.version === 'number') {
          this.emit('checkpoint', { slot: m.slot, version: m.version, source: 'remote' });
        } else if (m && m.type === 'forgotten') {
          this.emit('forgotten', { source: 'remote' });
        }
      };
    }
  }

  on<K extends keyof StorageEvents>(type: K, listener: (event: StorageEvents[K]) => void): () => void {
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    set.add(listener as (e: never) => void);
    return () => set.delete(listener as (e: never) => void);
  }

  emit<K extends keyof StorageEvents>(type: K, event: StorageEvents[K]): void {
    for (const l of this.#listeners.get(type) ?? []) {
      try {
        (l as (e: StorageEvents[K]) => void)(event);
      } catch {
        // A listener's failure must not break a committed save.
      }
    }
  }

  /** A checkpoint became current here: tell local listeners and other tabs. */
  announce(slot: string, version: number): void {
    this.emit('checkpoint', { slot, version, source: 'local' });
    try {
      this.#channel?.postMessage({ type: 'checkpoint', slot, version } satisfies BroadcastMessage);
    } catch {
      // A closed channel (disposal racing a save) only loses the notification.
    }
  }

  /** The profile's records were deleted here: tell local listeners and other tabs. */
  announceForgotten(): void {
    this.emit('forgotten', { source: 'local' });
    try {
      this.#channel?.postMessage({ type: 'forgotten' } satisfies BroadcastMessage);
    } catch {
      // as above
    }
  }

  /** Closes the channel (listeners stay, for a late `closed` event). */
  close(): void {
    this.#channel?.close();
  }
}
