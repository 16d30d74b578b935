// Browser page: opens TFLite manifests (query `models=url,url`) through Encoder with the tfjs-tflite backend, embeds the raw 28×28 images at `images=url` (or `frames=N` seeded 320×240 RGB scenes), tries damaged copies (`damaged=url`) and a module Worker (`moduleWorker=url`).
import { report } from '../harness-page.js';
import {
  Encoder,
  env,
  isEdgetuneError,
  registerTfliteBackend,
  type ModelManifest,
} from '../../../src/runtime/index.js';
import { sha256Hex } from '../../../src/core/hash.js';
import { syntheticImages } from '../../../src/cli/scenes.js';
import type { RawPixels } from '../../../src/runtime/preprocess.js';

const q = new URLSearchParams(location.search);
env.tfliteWasmPath = '/node_modules/@tensorflow/tfjs-tflite/wasm/';

interface Outcome {
  url: string;
  backend?: string;
  attempts?: unknown;
  embeddings?: number[][];
  error?: { code: string; message: string };
}

async function fetchModel(url: string): Promise<{ manifest: ModelManifest; bytes: Uint8Array }> {
  const manifest = (await (await fetch(url)).json()) as ModelManifest;
  const bytes = new Uint8Array(await (await fetch(new URL(manifest.file, new URL(url, location.href)))).arrayBuffer());
  return { manifest, bytes };
}

/** Re-labels damaged bytes with their own size and checksum, so the damage reaches the backend. */
async function relabel(
  manifest: ModelManifest,
  bytes: Uint8Array,
): Promise<{ manifest: ModelManifest; bytes: Uint8Array }> {
  return { manifest: { ...manifest, bytes: bytes.byteLength, sha256: await sha256Hex(bytes) }, bytes };
}

async function attempt(url: string, open: () => Promise<Encoder>, images: RawPixels[]): Promise<Outcome> {
  try {
    const enc = await open();
    const embeddings = (await enc.embed(images)).map((e) => Array.from(e));
    const out = { url, backend: enc.diagnostics.backend, attempts: enc.diagnostics.attempts, embeddings };
    await enc.dispose();
    return out;
  } catch (err) {
    if (isEdgetuneError(err)) return { url, error: { code: err.code, message: err.message } };
    throw err;
  }
}

report(async () => {
  registerTfliteBackend();
  let images: RawPixels[];
  if (q.get('frames')) {
    // The frames test/cli/reference.ts's nodeEmbeddings runs through onnxruntime-node.
    images = syntheticImages(Number(q.get('frames')), 320, 240, 5).map((f) => ({ ...f, data: new Uint8Array(f.data) }));
  } else {
    const raw = new Uint8Array(await (await fetch(q.get('images')!)).arrayBuffer());
    images = Array.from({ length: raw.length / 784 }, (_, k) => ({
      data: raw.subarray(k * 784, (k + 1) * 784),
      width: 28,
      height: 28,
      channels: 1 as const,
    }));
  }
  const results: Outcome[] = [];
  for (const url of (q.get('models') ?? '').split(',').filter(Boolean)) {
    results.push(await attempt(url, () => Encoder.open(url, { device: 'wasm', normalize: false }), images));
  }
  const damaged: Outcome[] = [];
  const dmg = q.get('damaged');
  if (dmg) {
    const { manifest, bytes } = await fetchModel(dmg);
    // Root offset pointing past the end: the flatbuffer's structure is broken.
    const badRoot = bytes.slice();
    new DataView(badRoot.buffer).setUint32(0, bytes.byteLength + 64, true);
    // Truncated in the middle of the weights.
    const truncated = bytes.slice(0, Math.floor(bytes.byteLength / 2));
    // Garbage after the identifier.
    const garbage = bytes.slice();
    for (let k = 8; k < Math.min(garbage.length, 4096); k++) garbage[k] = (k * 131 + 7) & 255;
    for (const [name, b] of [
      ['bad-root', badRoot],
      ['truncated', truncated],
      ['garbage', garbage],
    ] as const) {
      const src = await relabel(manifest, b);
      damaged.push(await attempt(name, () => Encoder.open(src, { device: 'wasm' }), images.slice(0, 1)));
    }
  }
  // In a module Worker the backend must refuse with its reason instead of failing inside tfjs-tflite.
  let moduleWorker: unknown;
  const mw = q.get('moduleWorker');
  if (mw) {
    const worker = new Worker('/bundle/test/browser/pages/tflite-worker.ts', { type: 'module' });
    moduleWorker = await new Promise((resolve, reject) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.onerror = (e) => reject(new Error(`worker failed: ${e.message}`));
      worker.postMessage({ manifestUrl: mw });
    });
    worker.terminate();
  }
  return { results, damaged, moduleWorker };
});
