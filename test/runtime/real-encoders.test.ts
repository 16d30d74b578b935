// Runtime features for real encoders on real ONNX models: pooling, fixed batch, crop policy, ROI and background, file paths, cache-first URL opens and uncached fallback.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { test } from 'node:test';
import { isEdgetuneError } from '../../src/core/errors.js';
import {
  Encoder,
  validateManifest,
  type LoadProgress,
  type ModelCache,
  type ModelManifest,
} from '../../src/runtime/index.js';
import { heartbeat } from '../../src/runtime/heartbeat.js';
import { poolOutput } from '../../src/runtime/pooling.js';
import { createBackground, preprocessBatch } from '../../src/runtime/preprocess.js';
import { buildModel, DT, rng, tinyCnn } from '../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../fixtures/models.js';

test('poolOutput: cls takes token 0, mean averages tokens [T, D] or positions [C, H, W]', () => {
  const raw = Float32Array.of(1, 2, 3, 4, 5, 6); // one sample: T=3, D=2, or C=2, H×W=3
  const tokens = { name: 'o', dim: 2, normalized: false, shape: [null, 3, 2] };
  assert.deepEqual(Array.from(poolOutput(raw, 1, { ...tokens, pooling: 'cls' })), [1, 2]);
  assert.deepEqual(Array.from(poolOutput(raw, 1, { ...tokens, pooling: 'mean' })), [3, 4]);
  assert.deepEqual(
    Array.from(poolOutput(raw, 1, { name: 'o', dim: 2, normalized: false, shape: [null, 2, 3, 1], pooling: 'mean' })),
    [2, 5],
  );
  assert.throws(
    () => poolOutput(raw, 1, { ...tokens, dim: 4, pooling: 'mean' }),
    (e) => isEdgetuneError(e, 'MANIFEST_INVALID'),
  );
});

test('manifest: mean/std in 0..255 units with range [0, 1] are refused; pooling needs a matching output shape', async () => {
  const m = await manifestFor(tinyCnn());
  assert.throws(
    () => validateManifest({ ...m, input: { ...m.input, mean: [123.7], std: [58.4] } }),
    (e) => isEdgetuneError(e, 'MANIFEST_INVALID') && /0\.485, not 123\.7/.test((e as Error).message),
  );
  assert.throws(
    () => validateManifest({ ...m, input: { ...m.input, range: [0, 255], mean: [0.485], std: [0.229] } }),
    (e) => isEdgetuneError(e, 'MANIFEST_INVALID'),
  );
  validateManifest({ ...m, input: { ...m.input, range: [0, 255], mean: [0], std: [1] } }); // raw 0..255 models are fine
  assert.throws(
    () => validateManifest({ ...m, output: { ...m.output, pooling: 'cls', shape: [null, 16, 1, 1] } }),
    (e) => isEdgetuneError(e, 'MANIFEST_INVALID'),
  );
  assert.throws(
    () => validateManifest({ ...m, input: { ...m.input, crop: 'squash' } }),
    (e) => isEdgetuneError(e, 'MANIFEST_INVALID'),
  );
});

/** [1, 1, 4, 4] → Flatten → MatMul → [1, 8]: an export with its batch fixed at 1. */
function batchOneModel(): Uint8Array {
  const r = rng(9);
  return buildModel({
    input: { name: 'input', dims: [1, 1, 4, 4] },
    output: { name: 'embedding', dims: [1, 8] },
    inits: [{ name: 'w', dims: [16, 8], type: DT.FLOAT, data: Float32Array.from({ length: 128 }, () => r() - 0.5) }],
    nodes: [
      { op: 'Flatten', inputs: ['input'], outputs: ['f'] },
      { op: 'MatMul', inputs: ['f', 'w'], outputs: ['embedding'] },
    ],
  });
}

test('a batch-1 export embeds 5 inputs one at a time, with the results of single calls', async () => {
  const bytes = batchOneModel();
  const m = await manifestFor(bytes, { size: 4, dim: 8 });
  const manifest = { ...m, input: { ...m.input, shape: [1, 1, 4, 4] } };
  await using enc = await Encoder.open({ manifest, bytes }, { device: 'wasm', batchSize: 8 });
  const imgs = testImages(5, 4);
  const all = await enc.embed(imgs);
  assert.equal(all.length, 5);
  for (const [k, img] of imgs.entries())
    assert.deepEqual(Array.from((await enc.embed([img]))[0]!), Array.from(all[k]!));
});

test('crop policy: centre crop keeps the middle of a wide frame, stretch squashes it, pad letterboxes with the mean', () => {
  // 8×4 frame: left quarter 0, middle half 200, right quarter 0.
  const data = Uint8Array.from({ length: 32 }, (_, k) => (k % 8 >= 2 && k % 8 < 6 ? 200 : 0));
  const frame = { data, width: 8, height: 4, channels: 1 as const };
  const spec = {
    name: 'x',
    shape: [null, 1, 4, 4],
    layout: 'NCHW' as const,
    channels: 1 as const,
    height: 4,
    width: 4,
    range: [0, 1] as const,
    mean: [0.5],
    std: [0.5],
  };
  const px = (v: number): number => (v / 255 - 0.5) / 0.5;
  const center = preprocessBatch([frame], spec);
  assert.ok(
    Array.from(center).every((v) => Math.abs(v - px(200)) < 1e-5),
    'centre crop sees only the middle',
  );
  const stretch = preprocessBatch([frame], { ...spec, crop: 'stretch' });
  assert.ok(Math.abs(stretch[0]! - px(0)) < 1e-5 && Math.abs(stretch[1]! - px(200)) < 1e-5);
  const pad = preprocessBatch([frame], { ...spec, crop: 'pad' });
  assert.ok(Math.abs(pad[0]!) < 1e-5, 'padding normalises to zero');
  // A 0.5 crop fraction keeps the central 2×2 of the 4×4 square region.
  const frac = preprocessBatch(
    [
      {
        data: Uint8Array.from({ length: 16 }, (_, k) => ((k >> 2) % 3 && (k & 3) % 3 ? 255 : 0)),
        width: 4,
        height: 4,
        channels: 1,
      },
    ],
    { ...spec, cropFraction: 0.5 },
  );
  assert.ok(Array.from(frac).every((v) => Math.abs(v - px(255)) < 1e-5));
});

test('roi and background: embed sees the viewfinder box, or the bounding box of what changed against the empty scene', async () => {
  const bytes = tinyCnn({ channels: 3, size: 16 });
  const manifest = await manifestFor(bytes, { channels: 3, size: 16 });
  await using enc = await Encoder.open({ manifest, bytes }, { device: 'wasm' });
  const W = 64;
  const H = 48;
  const scene = (object: boolean): { data: Uint8Array; width: number; height: number; channels: 3 } => {
    const data = new Uint8Array(W * H * 3);
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < 3; c++)
          data[(y * W + x) * 3 + c] =
            object && x >= 40 && x < 56 && y >= 8 && y < 24 ? (x * 13 + y * 7 + c * 50) & 255 : 90 + c * 20;
    return { data, width: W, height: H, channels: 3 };
  };
  const empty = scene(false);
  const withObject = scene(true);
  const crop = { data: new Uint8Array(16 * 16 * 3), width: 16, height: 16, channels: 3 as const };
  for (let y = 0; y < 16; y++)
    for (let x = 0; x < 16; x++)
      for (let c = 0; c < 3; c++) crop.data[(y * 16 + x) * 3 + c] = withObject.data[((y + 8) * W + x + 40) * 3 + c]!;
  const [direct] = await enc.embed([crop]);
  const [viaRoi] = await enc.embed([withObject], { roi: { x: 40, y: 8, width: 16, height: 16 } });
  assert.deepEqual(Array.from(viaRoi!), Array.from(direct!));
  const background = createBackground(empty, { margin: 0 });
  const [viaBg] = await enc.embed([withObject], { background });
  const cos = viaBg!.reduce((s, v, k) => s + v * direct![k]!, 0);
  assert.ok(cos > 0.99, `background crop finds the object (cosine ${cos})`);
  const [whole] = await enc.embed([withObject]);
  assert.ok(
    whole!.reduce((s, v, k) => s + v * direct![k]!, 0) < cos,
    'the whole frame is further from the object crop',
  );
  await assert.rejects(enc.embed([withObject], { roi: { x: 60, y: 0, width: 16, height: 16 } }), (e) =>
    isEdgetuneError(e, 'INVALID_ARGUMENT'),
  );
  await assert.rejects(enc.embed([testImages(1, 16, 3)[0]!], { background }), (e) => isEdgetuneError(e, 'INPUT_SHAPE'));
});

test('Encoder.open takes a manifest file path or file:// URL in Node', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-open-'));
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  writeFileSync(join(dir, manifest.file), bytes);
  writeFileSync(join(dir, 'm.json'), JSON.stringify(manifest));
  await using a = await Encoder.open(join(dir, 'm.json'), { device: 'wasm' });
  await using b = await Encoder.open(pathToFileURL(join(dir, 'm.json')).href, { device: 'wasm' });
  assert.deepEqual(Array.from((await a.embed(testImages(1)))[0]!), Array.from((await b.embed(testImages(1)))[0]!));
  await assert.rejects(Encoder.open(join(dir, 'missing.json')), (e) => isEdgetuneError(e, 'MODEL_NOT_FOUND'));
  // A local manifest's file is confined to its directory like a URL's: the file exists one level up, and is still refused.
  const sub = join(dir, 'sub');
  mkdirSync(sub);
  for (const file of [`../${manifest.file}`, join(dir, manifest.file), pathToFileURL(join(dir, manifest.file)).href]) {
    writeFileSync(join(sub, 'm.json'), JSON.stringify({ ...manifest, file }));
    await assert.rejects(
      Encoder.open(join(sub, 'm.json'), { device: 'wasm' }),
      (e) => isEdgetuneError(e, 'MANIFEST_INVALID') && (e.details as { field?: string }).field === 'file',
    );
  }
  // resolveFile is the opt-in, as for URLs.
  await using c = await Encoder.open(join(sub, 'm.json'), {
    device: 'wasm',
    resolveFile: (_f, base) => new URL(`../${manifest.file}`, base),
  });
  assert.equal(c.manifest.id, manifest.id);
});

test('modelBaseUrl: the model file comes from another folder, confined there; a string, so a Worker takes it too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-base-'));
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  mkdirSync(join(dir, 'manifests'));
  mkdirSync(join(dir, 'weights'));
  writeFileSync(join(dir, 'weights', manifest.file), bytes);
  writeFileSync(join(dir, 'manifests', 'm.json'), JSON.stringify(manifest));
  const path = join(dir, 'manifests', 'm.json');
  await assert.rejects(Encoder.open(path, { device: 'wasm' }), (e) => isEdgetuneError(e, 'MODEL_NOT_FOUND'));
  // Relative to the manifest, absolute file:// URL, with or without the trailing slash.
  for (const modelBaseUrl of ['../weights/', '../weights', pathToFileURL(join(dir, 'weights')).href]) {
    await using enc = await Encoder.open(path, { device: 'wasm', modelBaseUrl });
    assert.equal(enc.manifest.sha256, manifest.sha256);
  }
  // The confinement moves with the base: `file` may not climb out of it.
  writeFileSync(path, JSON.stringify({ ...manifest, file: `../weights/${manifest.file}` }));
  await assert.rejects(
    Encoder.open(path, { device: 'wasm', modelBaseUrl: '../weights/' }),
    (e) => isEdgetuneError(e, 'MANIFEST_INVALID') && (e.details as { field?: string }).field === 'file',
  );
  await assert.rejects(Encoder.open(path, { modelBaseUrl: '' }), (e) => isEdgetuneError(e, 'INVALID_ARGUMENT'));
  // Over HTTP: manifest on the app, model on another path of the same origin.
  const fetched: string[] = [];
  const fetchFn = (async (url: string) => {
    fetched.push(url);
    if (url === 'https://app.example/m/enc.json') return new Response(JSON.stringify(manifest));
    if (url === `https://app.example/cdn/v2/${manifest.file}`) return new Response(bytes.slice());
    return new Response('', { status: 404 });
  }) as typeof fetch;
  await using web = await Encoder.open('https://app.example/m/enc.json', {
    device: 'wasm',
    fetch: fetchFn,
    modelBaseUrl: '/cdn/v2',
  });
  assert.deepEqual(fetched, ['https://app.example/m/enc.json', `https://app.example/cdn/v2/${manifest.file}`]);
  assert.equal(web.manifest.id, manifest.id);
});

test('downloads land in one buffer of the manifest size; a longer or shorter body is refused by the size check', async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  const serveBody = (body: Uint8Array): typeof fetch =>
    (async (url: string) => {
      if (url.endsWith('.json')) return new Response(JSON.stringify(manifest));
      // Many small chunks, as a network delivers them.
      return new Response(
        new ReadableStream({
          start(c) {
            for (let o = 0; o < body.length; o += 1000) c.enqueue(body.slice(o, o + 1000));
            c.close();
          },
        }),
      );
    }) as typeof fetch;
  const loaded: number[] = [];
  const { loadModel } = await import('../../src/runtime/source.js');
  const ok = await loadModel('https://app.example/m/enc.json', {
    fetch: serveBody(bytes),
    onProgress: (p) => void (p.phase === 'download' && loaded.push(p.loaded)),
  });
  assert.deepEqual(ok.bytes, bytes);
  assert.equal(ok.bytes.byteOffset, 0);
  assert.equal(ok.bytes.buffer.byteLength, manifest.bytes, 'no over-allocation or joined copy');
  assert.equal(loaded.at(-1), manifest.bytes);
  const longer = new Uint8Array(bytes.length + 10);
  longer.set(bytes);
  for (const body of [longer, bytes.subarray(0, bytes.length - 10)])
    await assert.rejects(
      loadModel('https://app.example/m/enc.json', { fetch: serveBody(body) }),
      (e) => isEdgetuneError(e, 'CHECKSUM_MISMATCH') && /bytes but its manifest says/.test((e as Error).message),
    );
});

test('readLocalModel: one read into a buffer of the file size, hashed with node:crypto on the way', async () => {
  const { readLocalModel, modelSha256 } = await import('../../src/runtime/source-extra.js');
  const { createHash } = await import('node:crypto');
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-hash-'));
  // Larger than one 16 MiB hashing step, with a non-repeating pattern so a skipped or reordered step changes the hash.
  const big = new Uint8Array(40 * 1024 * 1024 + 123);
  for (let k = 0; k < big.length; k++) big[k] = (k * 2654435761) >>> 24;
  writeFileSync(join(dir, 'big.bin'), big);
  const want = createHash('sha256').update(big).digest('hex');
  const r = await readLocalModel(join(dir, 'big.bin'));
  assert.equal(r.sha256, want);
  assert.equal(r.bytes.buffer.byteLength, big.length);
  assert.equal(await modelSha256(big), want);
  assert.equal(
    await modelSha256(big.subarray(5, 17_000_000)),
    createHash('sha256').update(big.subarray(5, 17_000_000)).digest('hex'),
  );
  await assert.rejects(readLocalModel(join(dir, 'none.bin')), (e) => isEdgetuneError(e, 'MODEL_NOT_FOUND'));
});

/** A Map-backed cache; `refuse` makes putModel fail like a full quota. */
function memoryCache(refuse = false): ModelCache & { puts: number } {
  const m = new Map<string, { manifest: unknown; bytes: Uint8Array }>();
  return {
    puts: 0,
    async getModel(id) {
      return m.get(id);
    },
    async putModel(id, manifest, bytes) {
      this.puts++;
      if (refuse) throw Object.assign(new Error('quota exceeded'), { code: 'QUOTA_EXCEEDED' });
      m.set(id, { manifest, bytes: bytes.slice() });
    },
  };
}

async function site(): Promise<{
  manifest: ModelManifest;
  files: Map<string, Uint8Array>;
  fetchFn: typeof fetch;
  log: string[];
  online: { value: boolean };
}> {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes, { id: 'enc' });
  const files = new Map<string, Uint8Array>([
    ['https://app.example/models/enc.json', new TextEncoder().encode(JSON.stringify(manifest))],
    [`https://app.example/models/${manifest.file}`, bytes],
  ]);
  const log: string[] = [];
  const online = { value: true };
  const fetchFn = (async (url: string) => {
    log.push(url);
    if (!online.value) throw new TypeError('Failed to fetch');
    const f = files.get(url);
    return f ? new Response(f.slice()) : new Response('', { status: 404 });
  }) as typeof fetch;
  return { manifest, files, fetchFn, log, online };
}

test('Encoder.open(url, { cache }) starts offline from the cache, then looks for an update in the background', async () => {
  const { manifest, files, fetchFn, log, online } = await site();
  const cache = memoryCache();
  const url = 'https://app.example/models/enc.json';
  await (await Encoder.open(url, { cache, fetch: fetchFn, device: 'wasm' })).dispose();
  assert.equal(cache.puts, 1);
  online.value = false;
  log.length = 0;
  await using offline = await Encoder.open(url, { cache, fetch: fetchFn, device: 'wasm' });
  assert.equal(offline.diagnostics.origin, 'cache');
  // A newer model is published: the next cache-first open stores it for the open after.
  online.value = true;
  const next = tinyCnn({ seed: 7 });
  const m2 = await manifestFor(next, { id: 'enc' });
  files.set(url, new TextEncoder().encode(JSON.stringify({ ...m2, file: 'enc-v2.onnx' })));
  files.set('https://app.example/models/enc-v2.onnx', next);
  const events: LoadProgress[] = [];
  const updated = new Promise<void>((resolve) => {
    void Encoder.open(url, {
      cache,
      fetch: fetchFn,
      device: 'wasm',
      onProgress: (p) => (events.push(p), p.phase === 'update' && resolve()),
    }).then((e) => {
      assert.equal(e.diagnostics.origin, 'cache');
      assert.equal(e.manifest.sha256, manifest.sha256, 'this open runs the cached version');
      return e.dispose();
    });
  });
  await updated;
  assert.deepEqual(
    events.find((p) => p.phase === 'update'),
    { phase: 'update', id: 'enc', sha256: m2.sha256, status: 'stored' },
  );
  online.value = false;
  await using third = await Encoder.open(url, { cache, fetch: fetchFn, device: 'wasm' });
  assert.equal(third.manifest.sha256, m2.sha256);
});

test('a cache that refuses the model, or an origin without room, gives a warning and the model runs uncached', async () => {
  const { fetchFn } = await site();
  const url = 'https://app.example/models/enc.json';
  const refusing = memoryCache(true);
  const events: LoadProgress[] = [];
  await using a = await Encoder.open(url, {
    cache: refusing,
    fetch: fetchFn,
    device: 'wasm',
    onProgress: (p) => events.push(p),
  });
  assert.equal((await a.embed(testImages(1))).length, 1);
  const warning = events.find((p) => p.phase === 'warning');
  assert.ok(warning && warning.phase === 'warning' && warning.code === 'QUOTA_EXCEEDED', JSON.stringify(events));

  // navigator.storage.estimate() says there is no room: warned before the download, nothing stored.
  const nav = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  Object.defineProperty(globalThis, 'navigator', {
    value: { storage: { estimate: async () => ({ quota: 1000, usage: 900 }) } },
    configurable: true,
  });
  try {
    const cache = memoryCache();
    const seen: string[] = [];
    await using b = await Encoder.open(url, {
      cache,
      fetch: fetchFn,
      device: 'wasm',
      onProgress: (p) => seen.push(p.phase === 'warning' ? `warning:${p.code}` : p.phase),
    });
    assert.equal(cache.puts, 0);
    assert.ok(
      seen.indexOf('warning:QUOTA_EXCEEDED') >= 0 && seen.indexOf('warning:QUOTA_EXCEEDED') < seen.indexOf('download'),
      seen.join(','),
    );
    assert.equal(b.diagnostics.origin, 'url');
  } finally {
    if (nav) Object.defineProperty(globalThis, 'navigator', nav);
    else delete (globalThis as { navigator?: unknown }).navigator;
  }
});

test('heartbeat: a silent phase repeats with elapsedMs until the next event; other phases do not', async () => {
  const seen: { phase: string; elapsedMs?: number }[] = [];
  let twoBeats!: () => void;
  const beats = new Promise<void>((r) => (twoBeats = r));
  const beat = heartbeat<{ phase: string; elapsedMs?: number }>((p) => {
    seen.push(p);
    if (seen.filter((x) => x.elapsedMs !== undefined).length === 2) twoBeats();
  }, 10);
  // The heartbeat's timer is unref'd (it never keeps a process alive): hold the loop open meanwhile.
  const keep = setInterval(() => undefined, 1000);
  beat.emit!({ phase: 'compile' });
  await beats;
  beat.emit!({ phase: 'download' });
  const n = seen.length;
  await new Promise((r) => setTimeout(r, 40));
  beat.stop();
  clearInterval(keep);
  assert.ok(
    seen.filter((p) => p.phase === 'compile' && typeof p.elapsedMs === 'number').length >= 2,
    JSON.stringify(seen),
  );
  assert.equal(seen.length, n, 'no beats after a non-silent phase');
  assert.deepEqual(heartbeat(undefined).emit, undefined);
  // A callback that throws on a beat stops the beats instead of throwing from a timer (an uncaught exception).
  let calls = 0;
  const throwing = heartbeat<{ phase: string; elapsedMs?: number }>((p) => {
    calls++;
    if (p.elapsedMs !== undefined) throw new Error('app bug');
  }, 5);
  const keep2 = setInterval(() => undefined, 1000);
  throwing.emit!({ phase: 'warmup' });
  await new Promise((r) => setTimeout(r, 60));
  clearInterval(keep2);
  throwing.stop();
  assert.equal(calls, 2, 'one event, one throwing beat, then silence');
});
