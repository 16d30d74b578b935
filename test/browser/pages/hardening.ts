// Browser page for the issue-14/16 runtime checks: which device 'auto' picks with a software WebGPU adapter, manifest file confinement against the page's origin, and aborts of Encoder.open through edgetune/worker.
import { errorCode, report } from '../harness-page.js';
import { EdgetuneWorker } from '../../../src/worker/index.js';
import { Encoder, env } from '../../../src/runtime/index.js';
import { tinyCnn } from '../../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../../fixtures/models.js';

const q = new URLSearchParams(location.search);
const wasmPaths = '/node_modules/onnxruntime-web/dist/';
env.wasmPaths = wasmPaths;

report(async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  if (q.get('mode') === 'auto') {
    const gpu = (
      navigator as {
        gpu?: {
          requestAdapter(): Promise<{
            info?: { architecture?: string; vendor?: string };
            isFallbackAdapter?: boolean;
          } | null>;
        };
      }
    ).gpu;
    const adapter = await gpu?.requestAdapter();
    const auto = await Encoder.open({ manifest, bytes }, { device: 'auto' });
    const allowed = await Encoder.open({ manifest, bytes }, { device: 'auto', softwareGpu: true });
    const out = {
      adapter: adapter
        ? {
            architecture: adapter.info?.architecture,
            vendor: adapter.info?.vendor,
            isFallbackAdapter: adapter.isFallbackAdapter ?? null,
          }
        : null,
      auto: { backend: auto.backend, attempts: auto.diagnostics.attempts },
      allowed: { backend: allowed.backend, attempts: allowed.diagnostics.attempts },
    };
    await auto.dispose();
    await allowed.dispose();
    return out;
  }
  if (q.get('mode') === 'files') {
    // The shipped manifest, fetched for real by a relative URL (resolved against this page), with its `file` rewritten.
    const outcomes: Record<string, string> = {};
    const fetched: string[] = [];
    for (const file of [
      null,
      '../package.json',
      '/models/fmnist-cnn-vicreg-int8.onnx',
      `//${location.host}/models/fmnist-cnn-vicreg-int8.onnx`,
      `${location.origin}/models/fmnist-cnn-vicreg-int8.onnx`,
      'data:application/octet-stream;base64,AAAA',
      'javascript:alert(1)',
    ]) {
      const rewrite = (async (url: string | URL | Request, init?: RequestInit) => {
        fetched.push(String(url));
        const res = await fetch(url, init);
        if (file === null || !String(url).endsWith('.json')) return res;
        return new Response(JSON.stringify({ ...(await res.json()), file }));
      }) as typeof fetch;
      outcomes[String(file)] = await errorCode(
        Encoder.open('/models/fmnist-cnn-vicreg-int8.json', { device: 'wasm', fetch: rewrite }).then((e) =>
          e.dispose(),
        ),
      );
    }
    return { outcomes, fetched };
  }
  // Worker: each abort in a fresh worker, where the first open also loads the runtime (so the abort lands mid-open).
  const start = (): Promise<EdgetuneWorker> =>
    EdgetuneWorker.start({ url: '/bundle/src/worker/worker-script.ts', env: { wasmPaths } });
  const outcomes: Record<string, string> = {};
  for (const when of ['compile', '1ms'] as const) {
    const worker = await start();
    const c = new AbortController();
    if (when === '1ms') setTimeout(() => c.abort(), 1);
    const opening = worker.openEncoder(
      { manifest, bytes: bytes.slice() },
      { device: 'wasm', signal: c.signal, onProgress: (p) => p.phase === when && c.abort() },
    );
    outcomes[when] = await errorCode(
      opening.then(async (enc) => {
        await enc.dispose();
        return enc;
      }),
    );
    // The worker survives the abort: the same worker opens and embeds.
    const enc = await worker.openEncoder({ manifest, bytes: bytes.slice() }, { device: 'wasm' });
    outcomes[`${when}-then`] = String((await enc.embed(testImages(2))).length);
    await enc.dispose();
    await worker.dispose();
  }
  return { outcomes };
});
