// Test worker script: the edgetune worker, plus a way for the test to kill it mid-call (it closes itself when told on a BroadcastChannel).
// A named import: the package is sideEffects-free, so a bare `import '…'` would be dropped by the bundler.
import { WORKER_NAME_PREFIX } from '../../../src/worker/worker-script.js';

const ch = new BroadcastChannel('edgetune-test-die');
ch.onmessage = () => {
  (globalThis as unknown as { close(): void }).close();
};
export const prefix = WORKER_NAME_PREFIX;
