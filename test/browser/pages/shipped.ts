// Browser page: the shipped default encoder opened from its manifest URL, embedding the first sample images on the requested device.
import { report } from '../harness-page.js';
import { Encoder, env, type Device } from '../../../src/runtime/index.js';

env.wasmPaths = '/node_modules/onnxruntime-web/dist/';
const q = new URLSearchParams(location.search);

async function firstImages(n: number): Promise<Uint8Array> {
  const res = await fetch('/models/data/fmnist-test-5000.images.u8.gz');
  const raw = new Uint8Array(await new Response(res.body!.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer());
  return raw.subarray(0, n * 784);
}

report(async () => {
  const index = (await (await fetch('/models/index.json')).json()) as { default: string };
  const phases: string[] = [];
  const enc = await Encoder.open(`/models/${index.default}.json`, {
    device: q.get('device')!.split(',') as Device[],
    normalize: false,
    onProgress: (p) => phases.push(p.phase),
  });
  const imgs = await firstImages(8);
  const out = await enc.embed(Array.from({ length: 8 }, (_, k) => ({ data: imgs.subarray(k * 784, (k + 1) * 784), width: 28, height: 28, channels: 1 as const })));
  const r = { id: index.default, backend: enc.backend, attempts: enc.diagnostics.attempts, phases: [...new Set(phases)], embeddings: out.map((e) => Array.from(e)) };
  await enc.dispose();
  return r;
});
