// Browser page: opens a real-size encoder by URL with the IndexedDB model cache, embeds scenes, and on `?offline=1` reopens it with the network refused.
import { report } from '../harness-page.js';
import { syntheticImages } from '../../../src/cli/scenes.js';
import { Encoder, env, type Device } from '../../../src/runtime/index.js';
import { openStorage } from '../../../src/storage/index.js';

const q = new URLSearchParams(location.search);
env.wasmPaths = '/node_modules/onnxruntime-web/dist/';

report(async () => {
  const storage = await openStorage({ name: 'realsize' });
  const phases: string[] = [];
  const offline = q.get('offline') === '1';
  const refuse = (async () => {
    throw new TypeError('Failed to fetch (network refused by the test)');
  }) as typeof fetch;
  const t0 = performance.now();
  const enc = await Encoder.open(q.get('model')!, {
    cache: storage,
    device: (q.get('device') ?? 'wasm') as Device,
    selfCheck: true,
    ...(offline ? { fetch: refuse } : {}),
    onProgress: (p) => {
      const name = p.phase === 'warning' ? `warning:${p.code}` : p.phase;
      if (phases[phases.length - 1] !== name) phases.push(name);
    },
  });
  const openMs = performance.now() - t0;
  const frames = syntheticImages(Number(q.get('n') ?? 3), 320, 240, 5);
  const embeddings = (await enc.embed(frames)).map((e) => Array.from(e));
  const result = {
    backend: enc.backend,
    origin: enc.diagnostics.origin,
    attempts: enc.diagnostics.attempts,
    phases,
    embeddings,
    openMs,
    models: (await storage.listModels()).map((m) => ({ id: m.id, size: m.size })),
  };
  await enc.dispose();
  await storage.dispose();
  return result;
});
