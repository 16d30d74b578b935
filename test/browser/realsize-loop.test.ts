// The whole loop at real size in Chromium: each reference encoder, fp32 and the CLI's int8, on WASM and on WebGPU (SwiftShader) with the self-check on, matching onnxruntime-node, teaching a learner restored from IndexedDB; and the committed ViT-Ti int8 in a module Worker on WASM.
import assert from 'node:assert/strict';
import { basename, join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { batchCosines } from '../../src/runtime/selfcheck.js';
import {
  nodeEmbeddings,
  photosUnavailable,
  preparedManifests,
  REFERENCE_MODELS,
  referenceUnavailable,
} from '../cli/reference.js';
import {
  hasChromium,
  type LaunchedChromium,
  launchChromium,
  pageResult,
  REPO_ROOT,
  serve,
  type TestServer,
} from './harness.js';
import type { LoopOut } from './pages/realsize-loop.js';

const skip =
  (!hasChromium && 'no /usr/bin/chromium (npm test installs it)') ||
  referenceUnavailable() ||
  photosUnavailable() ||
  false;

/** Frames per run: one per kind, so the learner is taught two kinds (each open also runs one warm-up image). */
const FRAMES = 2;

type Reference = (typeof REFERENCE_MODELS)[number];
type Precision = 'fp32' | 'int8';

/**
 * What runs on WebGPU (SwiftShader: ~20 s per ViT-Ti image, ~60 s per ViT-S image here; each open adds one self-check
 * canary and one warm-up image). fp32 ViTs are left to WASM: an int8 QDQ graph is the fp32 graph with
 * QuantizeLinear/DequantizeLinear pairs added, so its WebGPU run goes through the same float MatMul, LayerNorm, Softmax
 * and GELU kernels, and WASM fp32 + WebGPU int8 covers both numeric paths of each ViT (fp32 ViT-Ti and ViT-S on WebGPU
 * pass too, in bench/realsize-loop.ts, too slow for CI). ViT-S embeds one frame: its learner is taught two kinds on WASM.
 */
const WEBGPU: readonly { name: Reference; precisions: readonly Precision[]; frames: number }[] = [
  { name: 'mobilenetv3-small', precisions: ['fp32', 'int8'], frames: FRAMES },
  { name: 'vit-ti16', precisions: ['int8'], frames: FRAMES },
  { name: 'dinov2-s14', precisions: ['int8'], frames: 1 },
];

const flat = (xs: number[][]): Float32Array => Float32Array.from(xs.flat());
const minCos = (a: Float32Array, b: Float32Array, dim: number): number => Math.min(...batchCosines(a, b, dim));

/**
 * The learner was taught one frame per kind, predicted each back, and the one restored from IndexedDB says the same;
 * with `views`, the restored learner also names the scene of every untaught view (mirrored, cropped: 4 per frame), which
 * it gets wrong when the embeddings do not carry what the scene looks like.
 */
function assertLearned(out: LoopOut, views: boolean): void {
  assert.deepEqual(
    out.before.map((p) => p.label),
    out.labels,
  );
  assert.deepEqual(out.after, out.before, 'the learner restored from IndexedDB predicts the same');
  assert.ok(out.savedVersion >= 1);
  if (!views) {
    assert.equal(out.views.length, 0);
    return;
  }
  assert.equal(out.views.length, 4 * out.labels.length);
  assert.ok(new Set(out.labels).size >= 2, 'two kinds taught, so a view can be misnamed');
  const wrong = out.views.filter((v) => v.predicted !== v.label);
  assert.deepEqual(
    wrong.map((v) => `${v.view} of ${v.label} → ${v.predicted} (${v.confidence.toFixed(2)})`),
    [],
    'untaught views of the taught scenes',
  );
}

describe('real-size loop in Chromium', { skip }, () => {
  let server: TestServer;
  let chrome: LaunchedChromium;
  before(async () => {
    server = await serve({ port: 0 });
    chrome = await launchChromium({ webgpu: true });
  });
  after(async () => {
    await chrome?.close();
    await server?.close();
  });

  const run = async (manifest: string, n: number, query: Record<string, string>): Promise<LoopOut> => {
    const page = await chrome.open(
      server.pageUrl('test/browser/pages/realsize-loop.ts', {
        model: `/${relative(REPO_ROOT, manifest)}`,
        n: String(n),
        ...query,
      }),
    );
    try {
      return await pageResult<LoopOut>(page, 900_000);
    } finally {
      // A ViT-S page holds hundreds of MB: close each before the next opens.
      await page.close();
    }
  };

  /**
   * Opens `name`'s fp32 or int8 manifest on `device` with the self-check on and holds it to the issue's bars: fp32 the same
   * numbers as onnxruntime-node (≥ 0.999); int8 ≥ 0.99 against fp32 on onnxruntime-node, and ≥ 0.995 against
   * onnxruntime-node on the int8 file run unoptimised (QDQ float semantics, as WebGPU and WASM follow; its fused u8×s8
   * kernels would saturate on CPUs without VNNI). Then the learner. Returns a line of figures (not asserted).
   */
  async function loop(name: Reference, precision: Precision, device: 'wasm' | 'webgpu', n: number): Promise<string> {
    const manifests = await preparedManifests(name);
    const manifest = manifests[precision];
    const ref32 = await nodeEmbeddings(manifests.fp32, n);
    const ref = precision === 'fp32' ? ref32 : await nodeEmbeddings(manifest, n);
    // Untaught views on WASM only: on SwiftShader each ViT image costs 20–60 s.
    const out = await run(manifest, n, { device, views: device === 'wasm' ? '1' : '0' });
    const attempt = out.attempts.find((a) => a.device === device);
    assert.equal(out.device, device, JSON.stringify(out.attempts));
    assert.equal(attempt?.status, 'ok');
    assert.notEqual(out.selfCheck, false, 'opened with the self-check on');
    // WASM is the self-check's reference, so only an accelerator runs the canaries against it.
    if (device === 'webgpu') {
      assert.ok(out.phases.includes('selfcheck'), out.phases.join(','));
      assert.ok((attempt.cosine ?? 0) >= 0.99, `self-check cosine ${attempt.cosine}`);
    }
    assert.equal(out.embeddings.length, n);
    const dim = out.embeddings[0]!.length;
    const vsNode = minCos(flat(out.embeddings), ref, dim);
    assert.ok(
      vsNode >= (precision === 'int8' ? 0.995 : 0.999),
      `${basename(manifest)} on ${device} vs onnxruntime-node on the same model, cosine ${vsNode}`,
    );
    const vsFp32 = minCos(flat(out.embeddings), ref32, dim);
    assert.ok(vsFp32 >= 0.99, `${basename(manifest)} on ${device} vs fp32 on onnxruntime-node, cosine ${vsFp32}`);
    assertLearned(out, device === 'wasm');
    return `${basename(manifest, '.json')}: ${attempt.cosine === undefined ? '' : `self-check ${attempt.cosine.toFixed(5)}, `}vs node ${vsNode.toFixed(5)}, vs fp32 node ${vsFp32.toFixed(5)}, open ${(out.openMs / 1e3).toFixed(1)} s, embed ${n} ${(out.embedMs / 1e3).toFixed(1)} s`;
  }

  for (const name of REFERENCE_MODELS) {
    test(`${name} fp32 and int8 on WASM with the self-check on: match onnxruntime-node, teach a learner, restore it`, {
      timeout: 600_000,
    }, async () => {
      const figures = [await loop(name, 'fp32', 'wasm', FRAMES), await loop(name, 'int8', 'wasm', FRAMES)];
      process.stdout.write(`WASM ${figures.join('; ')}\n`);
    });
  }

  for (const { name, precisions, frames } of WEBGPU) {
    test(`${name} ${precisions.join(' and ')} on WebGPU with the self-check on: match onnxruntime-node, teach a learner, restore it`, {
      timeout: 1_200_000,
    }, async () => {
      const figures: string[] = [];
      for (const precision of precisions) figures.push(await loop(name, precision, 'webgpu', frames));
      process.stdout.write(`WebGPU (SwiftShader) ${figures.join('; ')}\n`);
    });
  }

  test('the committed ViT-Ti/16 int8 in a module Worker on WASM: embeds as in-thread, teaches a learner in the worker, restores it from IndexedDB', {
    timeout: 600_000,
  }, async () => {
    const manifest = join(REPO_ROOT, 'models/reference/vit-ti16-int8.json');
    const out = await run(manifest, FRAMES, { device: 'wasm', worker: '1', views: '1' });
    assert.equal(out.device, 'wasm');
    const dim = out.embeddings[0]!.length;
    assert.equal(dim, 192);
    const vsThread = minCos(flat(out.embeddings), flat(out.inThread!), dim);
    assert.ok(vsThread >= 0.99999, `worker vs in-thread, cosine ${vsThread}`);
    // The same int8 file on onnxruntime-node, graph optimisations off (QDQ float semantics, which WASM follows; the
    // native fused int8 kernels saturate on CPUs without VNNI), and the issue's int8 bar against the fp32 model.
    const vsNode = minCos(flat(out.embeddings), await nodeEmbeddings(manifest, FRAMES), dim);
    assert.ok(vsNode >= 0.999, `int8 in the worker vs the same int8 file on onnxruntime-node, cosine ${vsNode}`);
    const { fp32 } = await preparedManifests('vit-ti16');
    const vsFp32 = minCos(flat(out.embeddings), await nodeEmbeddings(fp32, FRAMES), dim);
    assert.ok(vsFp32 >= 0.99, `int8 in the worker vs fp32 on onnxruntime-node, cosine ${vsFp32}`);
    assertLearned(out, true);
    process.stdout.write(
      `Worker vit-ti16-int8 (committed): vs node same file ${vsNode.toFixed(5)}, vs fp32 node ${vsFp32.toFixed(5)}\n`,
    );
  });
});
