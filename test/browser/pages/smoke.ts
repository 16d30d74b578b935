// Harness smoke page: reports what the browser offers (isolation, WebGPU, WebNN, IndexedDB).
import { report } from '../harness-page.js';

report(async () => ({
  isolated: globalThis.crossOriginIsolated,
  webgpu: 'gpu' in navigator,
  webnn: 'ml' in navigator,
  idb: typeof indexedDB,
}));
