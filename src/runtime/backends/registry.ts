// Backends register here with a priority; the encoder asks for the best one per (format, device).
import type { Device } from '../devices.js';
import type { ModelFormat } from '../manifest.js';
import type { Backend } from './types.js';

interface Entry {
  readonly backend: Backend;
  readonly priority: number;
}

const registry: Entry[] = [];

/**
 * Registers a backend. For the same format and device, the highest priority wins; built-in
 * backends register at priority 0 the first time a model is opened, so an app (or a test) can
 * replace one by registering at a higher priority.
 *
 * @param backend - the backend
 * @param priority - higher wins @defaultValue 0
 * @returns a function that unregisters it
 */
export function registerBackend(backend: Backend, priority = 0): () => void {
  const entry: Entry = { backend, priority };
  registry.push(entry);
  return () => {
    const k = registry.indexOf(entry);
    if (k >= 0) registry.splice(k, 1);
  };
}

/** The highest-priority backend for `format` on `device`, if any. */
export function findBackend(format: ModelFormat, device: Device): Backend | undefined {
  let best: Entry | undefined;
  for (const e of registry) {
    if (e.backend.format !== format || !e.backend.devices.includes(device)) continue;
    if (!best || e.priority > best.priority) best = e;
  }
  return best?.backend;
}

/** True when some backend for `format` is registered. */
export function hasBackendFor(format: ModelFormat): boolean {
  return registry.some((e) => e.backend.format === format);
}
