// Real-size encoders in real Chromium: the committed ViT-Ti/16 int8 on WASM (in-thread and in a module Worker) and an 86.5 MB ViT-S/14 cached in IndexedDB and reopened with the network refused. Each reference model, fp32 and int8, on WASM and WebGPU with the self-check on and a learner restored: realsize-loop.test.ts.
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importModel } from '../../src/cli/import.js';
import type { DeviceAttempt } from '../../src/runtime/index.js';
import { batchCosines } from '../../src/runtime/selfcheck.js';
import { nodeEmbeddings, preparedManifests, referenceDir, referenceUnavailable } from '../cli/reference.js';
import { hasChromium, launchChromium, pageResult, REPO_ROOT, serve, type TestServer } from './harness.js';

interface PageOut {
  backend: string;
  origin: string;
  attempts: DeviceAttempt[];
  phases: string[];
  embeddings: number[][];
  openMs: number;
  models: { id: string; size: number }[];
}

const skip = (!hasChromium && 'no /usr/bin/chromium (npm test installs it)') || false;

const reference = nodeEmbeddings;

function assertMatches(out: PageOut, ref: Float32Array, min: number, what = 'onnxruntime-node'): void {
  const flat = Float32Array.from(out.embeddings.flat());
  const cos = batchCosines(flat, ref, out.embeddings[0]!.length);
  assert.ok(Math.min(...cos) >= min, `cosine vs ${what} ${cos.map((c) => c.toFixed(5)).join(', ')}`);
}

const COMMITTED_INT8 = join(REPO_ROOT, 'models/reference/vit-ti16-int8.json');

/**
 * What the committed ViT-Ti int8 is held to: the same int8 file on onnxruntime-node with graph optimisations off (QDQ
 * float semantics, which WASM follows: ≥ 0.999; the native fused u8×s8 kernels would saturate on CPUs without VNNI),
 * and the fp32 model on onnxruntime-node at the int8 bar (≥ 0.99).
 */
async function assertInt8Matches(out: PageOut, n: number): Promise<void> {
  assertMatches(out, await nodeEmbeddings(COMMITTED_INT8, n), 0.999, 'the same int8 file on onnxruntime-node');
  assertMatches(
    out,
    await nodeEmbeddings((await preparedManifests('vit-ti16')).fp32, n),
    0.99,
    'fp32 on onnxruntime-node',
  );
}

describe('real-size encoders in Chromium', { skip }, () => {
  let server: TestServer;
  before(async () => {
    server = await serve({ port: 0 });
  });
  after(async () => {
    await server.close();
  });

  test('committed ViT-Ti/16 int8 on WASM matches onnxruntime-node on the same file and fp32; reopened from IndexedDB with the network refused', async () => {
    const chrome = await launchChromium();
    try {
      const url = '/models/reference/vit-ti16-int8.json';
      const first = await pageResult<PageOut>(
        await chrome.open(server.pageUrl('test/browser/pages/realsize.ts', { model: url })),
        300_000,
      );
      assert.equal(first.backend, 'wasm');
      assert.equal(first.origin, 'url');
      assert.ok(first.phases.includes('download') && first.phases.includes('compile'), first.phases.join(','));
      await assertInt8Matches(first, 3);
      const again = await pageResult<PageOut>(
        await chrome.open(server.pageUrl('test/browser/pages/realsize.ts', { model: url, offline: '1' })),
        300_000,
      );
      assert.equal(again.origin, 'cache');
      assert.ok(!again.phases.includes('download'));
      assert.deepEqual(again.embeddings, first.embeddings);
    } finally {
      await chrome.close();
    }
  });

  test('in a module Worker, modelBaseUrl (a string) fetches the model from another folder, matching onnxruntime-node (same file and fp32)', async () => {
    // The manifest is served from a folder without the model; the committed model stays where it is.
    const dir = join(REPO_ROOT, '.cache', 'reference', 'worker-base');
    mkdirSync(dir, { recursive: true });
    copyFileSync(COMMITTED_INT8, join(dir, 'vit-ti16-int8.json'));
    const chrome = await launchChromium();
    try {
      const out = await pageResult<{ withoutBase: string; withFunction: string; embeddings: number[][] }>(
        await chrome.open(
          server.pageUrl('test/browser/pages/realsize-worker.ts', {
            model: `/${relative(REPO_ROOT, join(dir, 'vit-ti16-int8.json'))}`,
            base: '/models/reference/',
          }),
        ),
        300_000,
      );
      assert.equal(out.withoutBase, 'MODEL_NOT_FOUND');
      assert.equal(out.withFunction, 'INVALID_ARGUMENT');
      await assertInt8Matches({ embeddings: out.embeddings } as PageOut, 3);
    } finally {
      await chrome.close();
    }
  });

  const noRef = referenceUnavailable();
  test('an 86.5 MB ViT-S/14 is cached in IndexedDB and starts from it with the network refused', {
    skip: noRef ?? false,
    timeout: 600_000,
  }, async () => {
    const dir = join(referenceDir(), 'browser');
    mkdirSync(dir, { recursive: true });
    if (!existsSync(join(dir, 'dinov2-s14.onnx')))
      symlinkSync(join(referenceDir(), 'dinov2-s14.onnx'), join(dir, 'dinov2-s14.onnx'));
    const { manifestPath, manifest } = await importModel(join(dir, 'dinov2-s14.onnx'), {
      preset: 'dinov2',
      output: 'pooler_output',
      license: 'Apache-2.0',
    });
    const url = `/${relative(REPO_ROOT, manifestPath)}`;
    const chrome = await launchChromium();
    try {
      const first = await pageResult<PageOut>(
        await chrome.open(server.pageUrl('test/browser/pages/realsize.ts', { model: url, n: '1' })),
        600_000,
      );
      assert.equal(first.origin, 'url');
      assert.ok(
        first.models.some((m) => m.id === manifest.id && m.size >= manifest.bytes),
        JSON.stringify(first.models),
      );
      assertMatches(first, await reference(manifestPath, 1), 0.999);
      const again = await pageResult<PageOut>(
        await chrome.open(server.pageUrl('test/browser/pages/realsize.ts', { model: url, n: '1', offline: '1' })),
        600_000,
      );
      assert.equal(again.origin, 'cache');
      assert.deepEqual(again.embeddings, first.embeddings);
    } finally {
      await chrome.close();
    }
  });
});
