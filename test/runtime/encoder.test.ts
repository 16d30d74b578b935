import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ortNode from 'onnxruntime-node';
import {
  Encoder,
  registerBackend,
  onnxBackend,
  cosine,
  preprocessBatch,
  type Backend,
  type LoadProgress,
} from '../../src/runtime/index.js';
import { isEdgetuneError, type ErrorCode } from '../../src/core/errors.js';
import { nanModel, tinyCnn, unsupportedOpModel } from '../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../fixtures/models.js';

const bytes = tinyCnn();
const manifest = await manifestFor(bytes);
const images = testImages(7);
const code = (c: ErrorCode) => (e: unknown) => isEdgetuneError(e, c);

test('auto in Node resolves to wasm and records why each accelerator was passed over', async () => {
  await using enc = await Encoder.open({ manifest, bytes });
  assert.equal(enc.backend, 'wasm');
  const d = enc.diagnostics;
  assert.deepEqual(
    d.attempts.map((a) => [a.device, a.status]),
    [
      ['webnn-npu', 'unavailable'],
      ['webnn-gpu', 'unavailable'],
      ['webgpu', 'unavailable'],
      ['wasm', 'ok'],
    ],
  );
  for (const a of d.attempts.slice(0, 3)) assert.match(a.reason ?? '', /not available in Node/);
  assert.equal(d.origin, 'bytes');
});

test('embeddings match onnxruntime-node (native) on the same preprocessed input, and are unit-norm', async () => {
  await using enc = await Encoder.open({ manifest, bytes }, { device: 'wasm', batchSize: 3 });
  const embs = await enc.embed(images);
  assert.equal(embs.length, images.length);
  const native = await ortNode.InferenceSession.create(bytes);
  const x = preprocessBatch(images, manifest.input);
  const out = (await native.run({ input: new ortNode.Tensor('float32', x, [images.length, 1, 16, 16]) }))['embedding']!
    .data as Float32Array;
  for (let k = 0; k < images.length; k++) {
    const e = embs[k]!;
    assert.equal(e.length, 16);
    assert.ok(Math.abs(Math.hypot(...e) - 1) < 1e-5);
    assert.ok(cosine(e, out.subarray(k * 16, (k + 1) * 16)) > 0.99999);
  }
  // Different images give different embeddings: the test would catch a constant output.
  assert.ok(cosine(embs[0]!, embs[1]!) < 0.9999);
  await native.release();
});

test('batching does not change results; normalize:false returns raw outputs', async () => {
  await using a = await Encoder.open({ manifest, bytes }, { batchSize: 1, normalize: false });
  await using b = await Encoder.open({ manifest, bytes }, { batchSize: 16, normalize: false });
  const [ea, eb] = [await a.embed(images), await b.embed(images)];
  for (let k = 0; k < images.length; k++)
    for (let j = 0; j < 16; j++) assert.ok(Math.abs(ea[k]![j]! - eb[k]![j]!) < 1e-5);
  assert.ok(Math.abs(Math.hypot(...ea[0]!) - 1) > 1e-3);
});

test('progress reports verify → compile → warmup → ready in order', async () => {
  const phases: string[] = [];
  await using enc = await Encoder.open(
    { manifest, bytes },
    { device: 'wasm', onProgress: (p: LoadProgress) => phases.push(p.phase) },
  );
  assert.deepEqual(phases, ['verify', 'compile', 'warmup', 'ready']);
  assert.ok(enc.diagnostics.loadMs > 0);
});

test('a URL source downloads with progress, verifies, fills the cache, and opens from the cache offline', async () => {
  const files: Record<string, Uint8Array> = {
    'https://models.example/m/tiny.json': new TextEncoder().encode(JSON.stringify(manifest)),
    [`https://models.example/m/${manifest.file}`]: bytes,
  };
  const fetched: string[] = [];
  const fakeFetch = (async (url: string) => {
    fetched.push(url);
    const body = files[url];
    return body ? new Response(body.slice(), { status: 200 }) : new Response('no', { status: 404 });
  }) as typeof fetch;
  const store = new Map<string, { manifest: unknown; bytes: Uint8Array }>();
  const cache = {
    getModel: async (id: string) => store.get(id),
    putModel: async (id: string, m: unknown, b: Uint8Array) => void store.set(id, { manifest: m, bytes: b }),
  };
  const downloads: number[] = [];
  const enc = await Encoder.open('https://models.example/m/tiny.json', {
    fetch: fakeFetch,
    cache,
    onProgress: (p) => p.phase === 'download' && downloads.push(p.loaded),
  });
  assert.equal(enc.diagnostics.origin, 'url');
  assert.equal(downloads.at(-1), bytes.byteLength);
  assert.ok(store.has(manifest.id));
  await enc.dispose();
  fetched.length = 0;
  const again = await Encoder.open('https://models.example/m/tiny.json', { fetch: fakeFetch, cache });
  assert.equal(again.diagnostics.origin, 'cache');
  assert.deepEqual(fetched, ['https://models.example/m/tiny.json']);
  await again.dispose();
  const offline = await Encoder.open({ cache, id: manifest.id });
  assert.equal(offline.diagnostics.origin, 'cache');
  await offline.dispose();
  await assert.rejects(
    Encoder.open('https://models.example/m/missing.json', { fetch: fakeFetch }),
    code('MODEL_NOT_FOUND'),
  );
  await assert.rejects(Encoder.open({ cache, id: 'nope' }), code('MODEL_NOT_FOUND'));
});

test('checksum mismatch and truncated bytes are refused before reaching the runtime', async () => {
  const flipped = bytes.slice();
  flipped[100] = flipped[100]! ^ 1;
  await assert.rejects(
    Encoder.open({ manifest, bytes: flipped }),
    (e) => isEdgetuneError(e, 'CHECKSUM_MISMATCH') && /SHA-256/.test((e as Error).message),
  );
  await assert.rejects(Encoder.open({ manifest, bytes: bytes.slice(0, 50) }), code('CHECKSUM_MISMATCH'));
});

test('corrupt bytes with a matching manifest → MODEL_CORRUPT; TFLite bytes declared as ONNX → MODEL_CORRUPT', async () => {
  const junk = Uint8Array.from({ length: 64 }, (_, k) => (k * 37) & 255);
  await assert.rejects(Encoder.open({ manifest: await manifestFor(junk), bytes: junk }), code('MODEL_CORRUPT'));
  const tfl = new Uint8Array(64);
  tfl.set([0x54, 0x46, 0x4c, 0x33], 4);
  await assert.rejects(
    Encoder.open({ manifest: await manifestFor(tfl), bytes: tfl }),
    (e) => isEdgetuneError(e, 'MODEL_CORRUPT') && /TFL3/.test((e as Error).message),
  );
});

test('an invalid manifest names the bad field', async () => {
  const cases: [string, Record<string, unknown>][] = [
    ['sha256', { sha256: 'abc' }],
    ['format', { format: 'pt' }],
    ['input.shape', { input: { ...manifest.input, shape: [null, 3, 16, 16] } }],
    ['input.std', { input: { ...manifest.input, std: [0] } }],
    ['output.dim', { output: { ...manifest.output, dim: 0 } }],
  ];
  for (const [field, patch] of cases) {
    await assert.rejects(
      Encoder.open({ manifest: { ...manifest, ...patch }, bytes }),
      (e) =>
        isEdgetuneError(e, 'MANIFEST_INVALID') &&
        (e as unknown as { details: { field: string } }).details.field === field &&
        (e as Error).message.includes(field),
    );
  }
  await assert.rejects(
    Encoder.open({ manifest: { ...manifest, output: { ...manifest.output, dim: 32 } }, bytes }),
    (e) => isEdgetuneError(e, 'MANIFEST_INVALID') && /output\.dim/.test((e as Error).message),
  );
});

test('unsupported operator → UNSUPPORTED_OP; a NaN-producing model → NON_FINITE at open', async () => {
  const u = unsupportedOpModel();
  await assert.rejects(
    Encoder.open({ manifest: await manifestFor(u, { dim: 256 }), bytes: u }),
    code('UNSUPPORTED_OP'),
  );
  const n = nanModel();
  await assert.rejects(Encoder.open({ manifest: await manifestFor(n, { dim: 256 }), bytes: n }), code('NON_FINITE'));
});

test('bad inputs to embed: wrong shape, wrong type, NaN; the encoder keeps working afterwards', async () => {
  await using enc = await Encoder.open({ manifest, bytes });
  await assert.rejects(
    enc.embed([{ data: new Uint8Array(10), width: 16, height: 16, channels: 1 }]),
    code('INPUT_SHAPE'),
  );
  await assert.rejects(enc.embed([42 as never]), code('INPUT_TYPE'));
  await assert.rejects(
    enc.embed([{ data: new Float32Array(256).fill(Number.NaN), width: 16, height: 16, channels: 1 }]),
    code('NON_FINITE'),
  );
  // Any size is resized to the model's: a 40×40 RGBA image embeds fine.
  const [e] = await enc.embed(testImages(1, 40, 4));
  assert.equal(e!.length, 16);
});

test('use after dispose → DISPOSED; await using disposes at scope end', async () => {
  let leaked: Encoder | undefined;
  {
    await using enc = await Encoder.open({ manifest, bytes });
    leaked = enc;
  }
  await assert.rejects(async () => leaked!.embed(images), code('DISPOSED'));
  await leaked.dispose(); // idempotent
});

test('abort: an aborted signal stops open and embed with ABORTED', async () => {
  const c = new AbortController();
  c.abort();
  await assert.rejects(Encoder.open({ manifest, bytes }, { signal: c.signal }), code('ABORTED'));
  await using enc = await Encoder.open({ manifest, bytes });
  await assert.rejects(enc.embed(images, { signal: c.signal }), code('ABORTED'));
});

test('unknown device → INVALID_ARGUMENT listing the valid ones', async () => {
  await assert.rejects(
    Encoder.open({ manifest, bytes }, { device: 'tpu' as never }),
    (e) => isEdgetuneError(e, 'INVALID_ARGUMENT') && /webnn-npu, webnn-gpu, webgpu, wasm/.test((e as Error).message),
  );
});

/** An "accelerator" that runs the real WASM session and then corrupts (or not) its output. */
function injectedAccelerator(corrupt: (out: Float32Array) => void): Backend {
  return {
    name: 'injected-accelerator',
    format: 'onnx',
    devices: ['webgpu'],
    probe: async () => undefined,
    async createSession(req) {
      const inner = await onnxBackend.createSession({ ...req, device: 'wasm' });
      return {
        run: async (input, batch) => {
          const out = await inner.run(input, batch);
          corrupt(out);
          return out;
        },
        dispose: () => inner.dispose(),
      };
    },
  };
}

test('self-check rejects an accelerator that returns wrong numbers and falls back to WASM', async () => {
  // A plausible silent failure: a bias-like offset on every output, as a mis-handled zero point would give.
  const unregister = registerBackend(
    injectedAccelerator((out) => out.forEach((v, k) => (out[k] = v + (k % 3 === 0 ? 2 : -1)))),
    10,
  );
  try {
    await using enc = await Encoder.open({ manifest, bytes }, { device: ['webgpu', 'wasm'] });
    assert.equal(enc.backend, 'wasm');
    const gpu = enc.diagnostics.attempts[0]!;
    assert.equal(gpu.status, 'rejected');
    assert.ok(gpu.cosine! < 0.99, `cosine ${gpu.cosine}`);
    assert.match(gpu.reason!, /self-check failed/);
    // Without the self-check the faulty backend would have been used: the check is what saves us.
    await using unchecked = await Encoder.open({ manifest, bytes }, { device: ['webgpu', 'wasm'], selfCheck: false });
    assert.equal(unchecked.backend, 'webgpu');
  } finally {
    unregister();
  }
});

test('self-check accepts an accelerator that agrees with WASM', async () => {
  const unregister = registerBackend(
    injectedAccelerator((out) => out.forEach((v, k) => (out[k] = v * (1 + 1e-6)))),
    10,
  );
  try {
    await using enc = await Encoder.open({ manifest, bytes }, { device: ['webgpu', 'wasm'] });
    assert.equal(enc.backend, 'webgpu');
    assert.ok(enc.diagnostics.attempts[0]!.cosine! > 0.9999);
    assert.equal(enc.diagnostics.attempts[1]!.status, 'skipped');
  } finally {
    unregister();
  }
});

test('a failing accelerator is recorded with its reason and the next device is used', async () => {
  const unregister = registerBackend(
    {
      name: 'broken',
      format: 'onnx',
      devices: ['webgpu'],
      probe: async () => undefined,
      createSession: async () => {
        throw new Error('device lost');
      },
    },
    10,
  );
  try {
    await using enc = await Encoder.open({ manifest, bytes }, { device: ['webgpu', 'wasm'] });
    assert.equal(enc.backend, 'wasm');
    assert.deepEqual(
      [enc.diagnostics.attempts[0]!.status, enc.diagnostics.attempts[0]!.reason],
      ['failed', 'device lost'],
    );
    await assert.rejects(
      Encoder.open({ manifest, bytes }, { device: 'webgpu' }),
      (e) => isEdgetuneError(e, 'BACKEND_UNAVAILABLE') && /device lost/.test((e as Error).message),
    );
  } finally {
    unregister();
  }
});
