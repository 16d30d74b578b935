// The worker entry: exposes WorkerApi through comlink. Its top-level code runs only inside an edgetune worker (guarded by the worker's name).
import { expose } from 'comlink';
import { WorkerApi } from './api.js';
import { installErrorTransfer } from './errors.js';

/** Name prefix every edgetune worker is started with. */
export const WORKER_NAME_PREFIX = 'edgetune';

const scope = globalThis as { name?: string; postMessage?: unknown; document?: unknown };
if (typeof scope.document === 'undefined' && typeof scope.postMessage === 'function' && scope.name?.startsWith(WORKER_NAME_PREFIX)) {
  installErrorTransfer();
  expose(new WorkerApi());
}
