// One behaviour suite over every backend this Chromium runs — ONNX/WASM (1 and 2 threads), ONNX/WebGPU, TFLite/WASM — in-thread and in a Worker,
// for each default encoder in models/index.json (the Fashion-MNIST sample default and the RGB camera default):
// the same embeddings (cosine ≥ 0.999 against the shipped encoder's goldens from onnxruntime-node), the same load phases, the same typed errors, the same disposal.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { hasChromium, launchChromium, pageResult, serve, REPO_ROOT } from './harness.js';
import { cosine } from '../../src/runtime/index.js';

interface Result {
  target: string;
  failed?: string;
  backend?: string;
  embeddings?: number[][];
  againMatches?: boolean;
  phases?: string[];
  errors?: Record<string, string>;
}
interface PageOut {
  crossOriginIsolated: boolean;
  threads: number;
  results: Result[];
}

interface Golden {
  images: string;
  onnxruntimeNode: number[][];
}
interface Subject {
  /** Shipped encoder id; its TFLite twin is `<id>-tflite.json`. */
  readonly id: string;
  /** Page query for the inputs: none = the Fashion-MNIST sample; RGB encoders use their goldens' input bytes. */
  readonly query: Record<string, string>;
}

const index = `${REPO_ROOT}/models/index.json`;
const zoo = existsSync(index)
  ? (JSON.parse(readFileSync(index, 'utf8')) as { default: string; defaults?: Record<string, string> })
  : undefined;
const golden = (id: string): Golden =>
  JSON.parse(readFileSync(`${REPO_ROOT}/models/golden/${id}.json`, 'utf8')) as Golden;
/** The sample default (28×28 grey) and the camera default (RGB), each with the goldens it shipped with. */
const subjects: Subject[] = [];
if (zoo) {
  subjects.push({ id: zoo.default, query: {} });
  const cam = zoo.defaults?.['camera'];
  if (cam && cam !== zoo.default) {
    const g = golden(cam);
    const size = /-(\d+)\.u8$/.exec(g.images)?.[1];
    subjects.push({ id: cam, query: { images: `/models/golden/${g.images}`, size: size ?? '' } });
  }
}
const skipFor = (id: string | undefined): string | false =>
  (!hasChromium && 'no /usr/bin/chromium') ||
  (!id && 'no shipped encoder (models/index.json)') ||
  (!existsSync(`${REPO_ROOT}/models/${id}-tflite.json`) && `no TFLite twin of ${id}`);

/** Every target gets the same answers; only the model file differs in how it is damaged. */
const EXPECTED_ERRORS = {
  wrongShape: 'INPUT_SHAPE',
  nan: 'NON_FINITE',
  abortedBefore: 'ABORTED',
  abortedDuring: 'ABORTED',
  afterDispose: 'DISPOSED',
  disposeAgain: 'resolved',
  corrupt: 'CHECKSUM_MISMATCH',
};

async function runPage(
  subject: Subject,
  targets: string[],
  opts: { isolated?: boolean; webgpu?: boolean; threads?: number } = {},
): Promise<PageOut> {
  const server = await serve({ isolated: opts.isolated ?? false });
  const chrome = await launchChromium({ webgpu: opts.webgpu ?? false });
  try {
    const page = await chrome.open(
      server.pageUrl('test/browser/pages/backends.ts', {
        model: subject.id,
        targets: targets.join(','),
        threads: String(opts.threads ?? 1),
        n: String(golden(subject.id).onnxruntimeNode.length),
        ...subject.query,
      }),
    );
    return await pageResult<PageOut>(page, 240_000);
  } finally {
    await chrome.close();
    await server.close();
  }
}

for (const subject of subjects.length ? subjects : [undefined]) {
  describe(`the same behaviour on every backend, in-thread and in a Worker: ${subject?.id ?? 'no encoder'}`, {
    skip: skipFor(subject?.id),
  }, () => {
    const sub = subject!;
    const check = (r: Result, expectBackend: string, t: { diagnostic(s: string): void }): void => {
      assert.equal(r.failed, undefined, `${r.target}: ${r.failed} ${(r as { stack?: string }).stack}`);
      assert.equal(r.backend, expectBackend, r.target);
      const g = golden(sub.id).onnxruntimeNode;
      assert.equal(r.embeddings!.length, g.length);
      const cs = r.embeddings!.map((e, k) => cosine(e, g[k]!));
      t.diagnostic(
        `${r.target} (${r.backend}): min cosine to the onnxruntime-node goldens ${Math.min(...cs).toFixed(6)}`,
      );
      assert.ok(Math.min(...cs) >= 0.999, `${r.target}: min cosine ${Math.min(...cs)}`);
      assert.ok(r.againMatches, `${r.target}: not deterministic after errors`);
      assert.deepEqual(r.errors, EXPECTED_ERRORS, r.target);
      // Opened from its manifest URL the way an app does; GPU devices must pass the self-check against WASM first.
      assert.deepEqual(
        r.phases,
        ['download', 'verify', 'compile', ...(expectBackend === 'wasm' ? [] : ['selfcheck']), 'warmup', 'ready'],
        r.target,
      );
    };

    test('single-threaded page: ONNX/WASM, TFLite/WASM in-thread, in a module Worker and in a classic Worker', async (t) => {
      const out = await runPage(sub, [
        'onnx-wasm@thread',
        'tflite-wasm@thread',
        'onnx-wasm@module',
        'onnx-wasm@classic',
        'tflite-wasm@classic',
      ]);
      const by = (name: string): Result => out.results.find((r) => r.target === name)!;
      check(by('onnx-wasm@thread'), 'wasm', t);
      check(by('onnx-wasm@module'), 'wasm', t);
      check(by('onnx-wasm@classic'), 'wasm', t);
      check(by('tflite-wasm@thread'), 'wasm', t);
      check(by('tflite-wasm@classic'), 'wasm', t);
    });

    test('TFLite in a module Worker refuses with BACKEND_UNAVAILABLE (tfjs-tflite needs importScripts) instead of hanging', async () => {
      const out = await runPage(sub, ['tflite-wasm@module']);
      assert.match(out.results[0]!.failed ?? '', /^BACKEND_UNAVAILABLE: .*module Workers lack/);
    });

    test('cross-origin-isolated page, 2 WASM threads: ONNX and TFLite, in-thread and in Workers', async (t) => {
      const out = await runPage(
        sub,
        ['onnx-wasm@thread', 'onnx-wasm@module', 'tflite-wasm@thread', 'tflite-wasm@classic'],
        {
          isolated: true,
          threads: 2,
        },
      );
      assert.equal(out.crossOriginIsolated, true);
      for (const r of out.results) check(r, 'wasm', t);
    });

    test('WebGPU (SwiftShader): ONNX in-thread and in a module Worker', async (t) => {
      const out = await runPage(sub, ['onnx-webgpu@thread', 'onnx-webgpu@module'], { webgpu: true });
      for (const r of out.results) check(r, 'webgpu', t);
    });
  });
}
