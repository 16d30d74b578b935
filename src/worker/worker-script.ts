// The worker entry: exposes WorkerApi through comlink, every method guarded so its errors travel as values. Its top-level code runs only inside an edgetune worker (guarded by the worker's name).
import { expose, transfer } from 'comlink';
import { WorkerApi } from './api.js';
import { serializeError, type Envelope } from './errors.js';
import { takeMoves } from './protocol.js';

/** Name prefix every edgetune worker is started with. */
export const WORKER_NAME_PREFIX = 'edgetune';

/**
 * The API with every method resolving to an envelope: a thrown error becomes a value, so its code
 * crosses without touching comlink's global throw handler (which the app's own comlink use shares).
 */
export function guard(api: WorkerApi): Record<string, (...args: unknown[]) => Promise<Envelope<unknown>>> {
  const out: Record<string, (...args: unknown[]) => Promise<Envelope<unknown>>> = {};
  for (const name of Object.getOwnPropertyNames(WorkerApi.prototype)) {
    const fn = (api as unknown as Record<string, unknown>)[name];
    if (name === 'constructor' || typeof fn !== 'function') continue;
    out[name] = async (...args: unknown[]) => {
      try {
        const value: unknown = await (fn as (...a: unknown[]) => unknown).apply(api, args);
        const env: Envelope<unknown> = { ok: true, value };
        const moves = takeMoves(value);
        return moves.length > 0 ? transfer(env, moves) : env;
      } catch (e) {
        return { ok: false, error: serializeError(e) };
      }
    };
  }
  return out;
}

const scope = globalThis as { name?: string; postMessage?: unknown; document?: unknown };
if (
  typeof scope.document === 'undefined' &&
  typeof scope.postMessage === 'function' &&
  scope.name?.startsWith(WORKER_NAME_PREFIX)
) {
  expose(guard(new WorkerApi()));
}
