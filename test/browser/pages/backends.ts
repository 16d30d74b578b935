// Browser page: one behaviour suite run against each requested backend, in-thread and in a Worker — same embeddings, same typed errors, same disposal.
import { errorCode, fetchSample, report } from '../harness-page.js';
import {
  Encoder,
  env,
  isEdgetuneError,
  registerTfliteBackend,
  type Device,
  type ImageInput,
  type ModelManifest,
} from '../../../src/runtime/index.js';
import { EdgetuneWorker } from '../../../src/worker/index.js';

const q = new URLSearchParams(location.search);
const threads = Number(q.get('threads') ?? '1');
const ORT = '/node_modules/onnxruntime-web/dist/';
const TFLITE = '/node_modules/@tensorflow/tfjs-tflite/wasm/';
env.wasmPaths = ORT;
env.numThreads = threads;
env.tfliteWasmPath = TFLITE;
registerTfliteBackend();

/** What the suite needs from an encoder: `Encoder` and `WorkerEncoder` both have it. */
interface EncoderLike {
  readonly backend: string;
  embed(inputs: readonly ImageInput[], options?: { signal?: AbortSignal }): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}
type Opener = (
  source: string | { manifest: ModelManifest; bytes: Uint8Array },
  device: Device,
  onProgress?: (p: { phase: string }) => void,
) => Promise<EncoderLike>;

/** `target` = `<format>-<device>@<where>`, e.g. `onnx-wasm@thread`, `tflite-wasm@classic`. */
interface Target {
  readonly name: string;
  readonly format: 'onnx' | 'tflite';
  readonly device: Device;
  readonly where: 'thread' | 'module' | 'classic';
}

function parseTarget(name: string): Target {
  const m = /^(onnx|tflite)-(wasm|webgpu)@(thread|module|classic)$/.exec(name);
  if (!m) throw new Error(`bad target ${name}`);
  return { name, format: m[1] as Target['format'], device: m[2] as Device, where: m[3] as Target['where'] };
}

/** Raw HWC bytes of `count` images of one shape. */
interface Images {
  readonly raw: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  readonly count: number;
}

/** Fresh inputs per call (a worker call moves their buffers); past the last image it starts again at the first. */
function inputs(im: Images, n: number): ImageInput[] {
  const size = im.width * im.height * im.channels;
  return Array.from({ length: n }, (_, k) => ({
    data: im.raw.slice((k % im.count) * size, ((k % im.count) + 1) * size),
    width: im.width,
    height: im.height,
    channels: im.channels,
  }));
}

async function suite(
  target: Target,
  open: Opener,
  manifestUrl: string,
  im: Images,
  n: number,
): Promise<Record<string, unknown>> {
  const phases: string[] = [];
  const enc = await open(manifestUrl, target.device, (p) => phases.push(p.phase));
  const backend = enc.backend;
  const embeddings = await enc.embed(inputs(im, n));
  const errors: Record<string, string> = {};
  errors['wrongShape'] = await errorCode(
    enc.embed([{ data: new Uint8Array(100), width: 28, height: 28, channels: 1 }]),
  );
  errors['nan'] = await errorCode(
    enc.embed([
      {
        data: new Float32Array(im.width * im.height * im.channels).fill(Number.NaN),
        width: im.width,
        height: im.height,
        channels: im.channels,
      },
    ]),
  );
  errors['abortedBefore'] = await errorCode(enc.embed(inputs(im, 1), { signal: AbortSignal.abort() }));
  const c = new AbortController();
  const during = enc.embed(inputs(im, 400), { signal: c.signal });
  c.abort();
  errors['abortedDuring'] = await errorCode(during);
  // Still usable after the errors above.
  const again = await enc.embed(inputs(im, 1));
  await enc.dispose();
  errors['afterDispose'] = await errorCode(enc.embed(inputs(im, 1)));
  errors['disposeAgain'] = await errorCode(enc.dispose());
  // A damaged file (one flipped byte) against its manifest.
  const manifest = (await (await fetch(manifestUrl)).json()) as ModelManifest;
  const bytes = new Uint8Array(
    await (await fetch(new URL(manifest.file, new URL(manifestUrl, location.href)))).arrayBuffer(),
  );
  bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
  errors['corrupt'] = await errorCode(open({ manifest, bytes }, target.device));
  return {
    target: target.name,
    backend,
    phases: [...new Set(phases)],
    embeddings: embeddings.map((e) => Array.from(e)),
    againMatches: again[0]!.every((v, j) => v === embeddings[0]![j]),
    errors,
  };
}

report(async () => {
  // `model` = a shipped encoder id (default: models/index.json `default`); its TFLite twin is `<id>-tflite.json`.
  // `images` = raw HWC bytes of `size`×`size` RGB images (e.g. the RGB goldens' inputs); default: Fashion-MNIST sample.
  const index = (await (await fetch('/models/index.json')).json()) as { default: string };
  const model = q.get('model') ?? index.default;
  const manifests = { onnx: `/models/${model}.json`, tflite: `/models/${model}-tflite.json` };
  const n = Number(q.get('n') ?? '16');
  const imagesUrl = q.get('images');
  let im: Images;
  if (imagesUrl) {
    const raw = new Uint8Array(await (await fetch(imagesUrl)).arrayBuffer());
    const size = Number(q.get('size'));
    im = { raw, width: size, height: size, channels: 3, count: raw.length / (size * size * 3) };
  } else {
    im = { raw: (await fetchSample()).images.slice(0, 400 * 784), width: 28, height: 28, channels: 1, count: 400 };
  }
  const targets = (q.get('targets') ?? '').split(',').filter(Boolean).map(parseTarget);
  const results: Record<string, unknown>[] = [];
  const workers = new Map<string, EdgetuneWorker>();
  for (const t of targets) {
    try {
      let open: Opener;
      if (t.where === 'thread') {
        open = (src, device, onProgress) =>
          Encoder.open(src, { device, normalize: false, ...(onProgress ? { onProgress } : {}) });
      } else {
        let w = workers.get(t.where);
        if (!w) {
          w = await EdgetuneWorker.start({
            type: t.where,
            url: t.where === 'classic' ? '/bundle/src/worker/worker-classic.ts' : '/bundle/src/worker/worker-script.ts',
            moduleUrl: '/bundle/src/worker/worker-script.ts',
            env: { wasmPaths: ORT, numThreads: threads, tfliteWasmPath: TFLITE },
            tflite: true,
          });
          workers.set(t.where, w);
        }
        const worker = w;
        open = (src, device, onProgress) =>
          worker.openEncoder(src, { device, normalize: false, ...(onProgress ? { onProgress } : {}) });
      }
      results.push(await suite(t, open, manifests[t.format], im, n));
    } catch (e) {
      results.push({
        target: t.name,
        failed: isEdgetuneError(e) ? `${e.code}: ${e.message}` : String(e),
        stack: (e as Error)?.stack,
      });
    }
  }
  for (const w of workers.values()) await w.dispose();
  return { crossOriginIsolated, threads, results };
});
