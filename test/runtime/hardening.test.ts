// Issue 14, runtime rows: failed opens release their sessions, aborts land at every phase, manifest files stay in their directory, bad embed arguments and oversized inputs are typed errors, one code per cause.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-web';
import {
  Encoder,
  ERROR_CODES,
  isEdgetuneError,
  onnxBackend,
  registerBackend,
  type Backend,
  type LoadProgress,
} from '../../src/runtime/index.js';
import type { ErrorCode } from '../../src/core/errors.js';
import { nanModel, tinyCnn } from '../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../fixtures/models.js';

const bytes = tinyCnn();
const manifest = await manifestFor(bytes);
const code = (c: ErrorCode, field?: string) => (e: unknown) => {
  assert.ok(
    isEdgetuneError(e, c),
    `expected ${c}, got ${String((e as Error)?.name)} ${(e as { code?: string })?.code}: ${(e as Error)?.message}`,
  );
  if (field !== undefined)
    assert.equal((e as { details?: { field?: string } }).details?.field, field, (e as Error).message);
  return true;
};

/**
 * Live onnxruntime-web sessions, counted at ORT itself: every `InferenceSession.create` the runtime
 * makes (through any backend path) and every `release`. The sessions are the real ones.
 */
const sessions = (() => {
  let live = 0;
  let created = 0;
  const create = ort.InferenceSession.create.bind(ort.InferenceSession);
  (ort.InferenceSession as { create: unknown }).create = async (...args: Parameters<typeof create>) => {
    const s = await create(...args);
    live++;
    created++;
    const release = s.release.bind(s);
    let released = false;
    s.release = async () => {
      if (!released) live--;
      released = true;
      await release();
    };
    return s;
  };
  return {
    get live() {
      return live;
    },
    get created() {
      return created;
    },
  };
})();

/** Waits (bounded) until every session has been released: a session compiled after an abort is freed when it arrives. */
async function settled(): Promise<number> {
  for (let k = 0; k < 200 && sessions.live > 0; k++) await new Promise((r) => setTimeout(r, 25));
  return sessions.live;
}

test('row 1: every way Encoder.open fails after a session exists releases it; 200 failed opens leave no session and flat memory', async () => {
  const nan = nanModel();
  const nanManifest = await manifestFor(nan, { dim: 256 });
  const failures: {
    name: string;
    source: { manifest: unknown; bytes: Uint8Array };
    code: ErrorCode;
    field?: string;
  }[] = [
    // warm-up finds the wrong output size
    {
      name: 'output.dim',
      source: { manifest: { ...manifest, output: { ...manifest.output, dim: 32 } }, bytes },
      code: 'MANIFEST_INVALID',
      field: 'output.dim',
    },
    {
      name: 'output.name',
      source: { manifest: { ...manifest, output: { ...manifest.output, name: 'emb' } }, bytes },
      code: 'MANIFEST_INVALID',
      field: 'output.name',
    },
    {
      name: 'input.name',
      source: { manifest: { ...manifest, input: { ...manifest.input, name: 'pixels' } }, bytes },
      code: 'MANIFEST_INVALID',
      field: 'input.name',
    },
    // a shape the model rejects (the manifest says 20×20, the model takes 16×16)
    {
      name: 'input.shape',
      source: {
        manifest: { ...manifest, input: { ...manifest.input, shape: [null, 1, 20, 20], height: 20, width: 20 } },
        bytes,
      },
      code: 'MANIFEST_INVALID',
      field: 'input.shape',
    },
    { name: 'NaN output', source: { manifest: nanManifest, bytes: nan }, code: 'NON_FINITE' },
  ];
  const before = sessions.created;
  for (const f of failures) {
    await assert.rejects(Encoder.open(f.source, { device: 'wasm' }), code(f.code, f.field), f.name);
    assert.equal(sessions.live, 0, `${f.name}: a session is still alive after the failed open`);
  }
  assert.ok(
    sessions.created - before >= 3,
    'the failures above must happen after a session was created, or this test proves nothing',
  );
  // Memory: the live-session count is the exact check; RSS is a generous bound that a leak of
  // ~0.4 MB per open (as seen before the fix) would still not trip on its own.
  const rss0 = process.memoryUsage().rss;
  for (let k = 0; k < 200; k++) {
    const f = failures[k % failures.length]!;
    await assert.rejects(Encoder.open(f.source, { device: 'wasm', selfCheck: false }), code(f.code));
    assert.equal(sessions.live, 0, `open ${k} (${f.name}) left a session alive`);
  }
  const grownMb = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.ok(grownMb < 256, `RSS grew ${grownMb.toFixed(1)} MB over 200 failed opens`);
  // And a good open afterwards still works.
  await using enc = await Encoder.open({ manifest, bytes });
  assert.equal((await enc.embed(testImages(1)))[0]!.length, 16);
});

/** An "accelerator" on 'webgpu' that runs a real WASM session underneath, so the self-check phase runs. */
const accelerator: Backend = {
  name: 'test-accelerator',
  format: 'onnx',
  devices: ['webgpu'],
  probe: async () => undefined,
  createSession: (req) => onnxBackend.createSession({ ...req, device: 'wasm' }),
};

/** Serves the test model at https://m.example/dir/ through a fetch that honours its signal. */
function server(overrides: Record<string, () => Response | Promise<Response>> = {}): {
  fetch: typeof fetch;
  fetched: string[];
} {
  const fetched: string[] = [];
  const files: Record<string, () => Response | Promise<Response>> = {
    'https://m.example/dir/tiny.json': () => new Response(JSON.stringify(manifest)),
    [`https://m.example/dir/${manifest.file}`]: () => new Response(bytes.slice()),
    ...overrides,
  };
  const f = (async (url: string) => {
    fetched.push(String(url));
    const body = files[String(url)];
    return body ? body() : new Response('not found', { status: 404 });
  }) as typeof fetch;
  return { fetch: f, fetched };
}

test('row 2: abort at download, verify, compile, selfcheck and warmup → ABORTED, every session released', async () => {
  const unregister = registerBackend(accelerator, 10);
  try {
    for (const phase of ['download', 'verify', 'compile', 'selfcheck', 'warmup'] as const) {
      const c = new AbortController();
      const { fetch } = server();
      const seen: string[] = [];
      const onProgress = (p: LoadProgress): void => {
        seen.push(p.phase);
        if (p.phase === phase) c.abort(new Error(`abort at ${phase}`));
      };
      await assert.rejects(
        Encoder.open('https://m.example/dir/tiny.json', {
          device: ['webgpu', 'wasm'],
          fetch,
          signal: c.signal,
          onProgress,
        }),
        code('ABORTED'),
        phase,
      );
      assert.ok(seen.includes(phase), `${phase} never reached: ${seen.join(',')}`);
      assert.ok(!seen.includes('ready'), `${phase}: open went on to ready after the abort`);
      assert.equal(await settled(), 0, `${phase}: a session is still alive after the abort`);
    }
  } finally {
    unregister();
  }
});

test('row 2: abort 0–40 ms after start never yields an encoder opened under an aborted signal', async () => {
  const unregister = registerBackend(accelerator, 10);
  try {
    let aborted = 0;
    for (const delay of [0, 1, 1, 2, 3, 5, 8, 13, 20, 40]) {
      const c = new AbortController();
      setTimeout(() => c.abort(), delay);
      try {
        const enc = await Encoder.open({ manifest, bytes }, { device: ['webgpu', 'wasm'], signal: c.signal });
        // Resolving is only right when the abort came after open had finished.
        assert.equal(c.signal.aborted, false, `opened with an aborted signal (abort after ${delay} ms)`);
        await enc.dispose();
      } catch (e) {
        code('ABORTED')(e);
        aborted++;
      }
      assert.equal(await settled(), 0, `abort after ${delay} ms left a session alive`);
    }
    assert.ok(aborted >= 1, 'no open was aborted: the delays are too long to test anything');
  } finally {
    unregister();
  }
});

test('row 2: a fetch that ignores the signal, and a body that stalls, still abort (no hang)', {
  timeout: 60_000,
}, async () => {
  const never = (): Promise<Response> => new Promise(() => undefined);
  const stalled = (): Response =>
    new Response(new ReadableStream({ start: (ctl) => ctl.enqueue(bytes.slice(0, 100)) }));
  for (const [what, overrides] of [
    ['manifest fetch', { 'https://m.example/dir/tiny.json': never }],
    ['model fetch', { [`https://m.example/dir/${manifest.file}`]: never }],
    ['model body', { [`https://m.example/dir/${manifest.file}`]: stalled }],
  ] as const) {
    const c = new AbortController();
    const { fetch } = server(overrides);
    setTimeout(() => c.abort(), 50);
    // Ignores the signal on purpose: the runtime must not depend on fetch honouring it.
    const deaf = ((url: string) => fetch(url)) as typeof globalThis.fetch;
    await assert.rejects(
      Encoder.open('https://m.example/dir/tiny.json', { fetch: deaf, signal: c.signal }),
      code('ABORTED'),
      what,
    );
  }
});

test('row 3: a manifest file outside its directory or origin is refused with MANIFEST_INVALID before anything is fetched', async () => {
  const bad = [
    '../x.onnx',
    '../../x.onnx',
    'a/../../x.onnx',
    '%2e%2e/x.onnx',
    '/x.onnx',
    '/dir/x.onnx',
    '//evil.example/x.onnx',
    'https://evil.example/x.onnx',
    'https://m.example/dir/x.onnx',
    'http://m.example/dir/x.onnx',
    'file:///etc/passwd',
    'data:application/octet-stream;base64,AAAA',
    'javascript:alert(1)',
    'blob:https://m.example/1',
    '\\\\evil\\x.onnx',
    '..\\x.onnx',
    '.',
    './',
  ];
  for (const file of bad) {
    const { fetch, fetched } = server({
      'https://m.example/dir/tiny.json': () => new Response(JSON.stringify({ ...manifest, file })),
    });
    await assert.rejects(
      Encoder.open('https://m.example/dir/tiny.json', { fetch }),
      code('MANIFEST_INVALID', 'file'),
      file,
    );
    assert.deepEqual(fetched, ['https://m.example/dir/tiny.json'], `${file}: fetched ${fetched.join(', ')}`);
  }
  // Inside the directory (also a subfolder, with a query) is fine.
  for (const file of ['sub/m.onnx', './m.onnx?v=2']) {
    const { fetch, fetched } = server({
      'https://m.example/dir/tiny.json': () => new Response(JSON.stringify({ ...manifest, file })),
      [new URL(file, 'https://m.example/dir/').href]: () => new Response(bytes.slice()),
    });
    await using enc = await Encoder.open('https://m.example/dir/tiny.json', { fetch });
    assert.equal(fetched[1], new URL(file, 'https://m.example/dir/').href);
    assert.equal(enc.diagnostics.origin, 'url');
  }
  // The app opts in to another origin with its own resolver.
  const { fetch, fetched } = server({ 'https://cdn.example/models/m.onnx': () => new Response(bytes.slice()) });
  await using cdn = await Encoder.open('https://m.example/dir/tiny.json', {
    fetch,
    resolveFile: (file) => `https://cdn.example/models/${file.replace(/.*\//, '')}`.replace(manifest.file, 'm.onnx'),
  });
  assert.deepEqual(fetched, ['https://m.example/dir/tiny.json', 'https://cdn.example/models/m.onnx']);
  assert.equal(cdn.dim, 16);
});

test('row 4: embed() arguments — no brackets, null, string, holes, null pixel data → INPUT_TYPE; the encoder keeps working', async () => {
  await using enc = await Encoder.open({ manifest, bytes });
  const [img] = testImages(1);
  await assert.rejects(enc.embed(img as never), code('INPUT_TYPE'));
  await assert.rejects(enc.embed(null as never), code('INPUT_TYPE'));
  await assert.rejects(enc.embed(undefined as never), code('INPUT_TYPE'));
  await assert.rejects(enc.embed('abc' as never), code('INPUT_TYPE'));
  await assert.rejects(enc.embed(new Uint8Array(256) as never), code('INPUT_TYPE'));
  // biome-ignore lint/suspicious/noSparseArray: an array with a hole is the case under test
  const holey = [img!, , img!] as never;
  await assert.rejects(
    enc.embed(holey),
    (e) => code('INPUT_TYPE')(e) && (e as { details: { index: number } }).details.index === 1,
  );
  await assert.rejects(enc.embed([null as never]), code('INPUT_TYPE'));
  await assert.rejects(enc.embed(['a' as never]), code('INPUT_TYPE'));
  await assert.rejects(enc.embed([{ data: null, width: 16, height: 16, channels: 1 } as never]), code('INPUT_TYPE'));
  await assert.rejects(
    enc.embed([{ data: [1, 2, 3], width: 16, height: 16, channels: 1 } as never]),
    code('INPUT_TYPE'),
  );
  assert.equal((await enc.embed([img!], null as never)).length, 1);
  assert.equal((await enc.embed([img!])).length, 1);
});

test('row 4: a manifest declaring a 100000×100000 input (or a huge output) → MANIFEST_INVALID, nothing allocated', async () => {
  const huge = { ...manifest.input, shape: [null, 1, 100000, 100000], height: 100000, width: 100000 };
  await assert.rejects(
    Encoder.open({ manifest: { ...manifest, input: huge }, bytes }),
    code('MANIFEST_INVALID', 'input.height'),
  );
  const wide = {
    ...manifest.input,
    shape: [null, 3, 8000, 8000],
    channels: 3,
    height: 8000,
    width: 8000,
    mean: [0, 0, 0],
    std: [1, 1, 1],
  };
  await assert.rejects(
    Encoder.open({ manifest: { ...manifest, input: wide }, bytes }),
    code('MANIFEST_INVALID', 'input.shape'),
  );
  await assert.rejects(
    Encoder.open({ manifest: { ...manifest, output: { ...manifest.output, dim: 1e9 } }, bytes }),
    code('MANIFEST_INVALID', 'output.dim'),
  );
  // The import branch's fixed batch and pooled output shape are bounded too (padding and pooling allocate from them).
  await assert.rejects(
    Encoder.open({
      manifest: { ...manifest, input: { ...manifest.input, shape: [1e6, ...manifest.input.shape.slice(1)] } },
      bytes,
    }),
    code('MANIFEST_INVALID', 'input.shape'),
  );
  await assert.rejects(
    Encoder.open({
      manifest: {
        ...manifest,
        output: { ...manifest.output, shape: [null, 100000, 100000, manifest.output.dim], pooling: 'mean' },
      },
      bytes,
    }),
    code('MANIFEST_INVALID', 'output.shape'),
  );
  await assert.rejects(Encoder.open(null as never), code('INVALID_ARGUMENT'));
  await assert.rejects(Encoder.open({ manifest, bytes: null } as never), code('INVALID_ARGUMENT'));
});

test('row 5: raw pixels past the 4096² cap → INPUT_SHAPE without touching the pixels; at the cap they embed', async () => {
  await using enc = await Encoder.open({ manifest, bytes });
  const rss0 = process.memoryUsage().rss;
  // The data is 1 byte: the cap must be checked before anything reads or copies the pixels.
  for (const side of [10000, 20000]) {
    await assert.rejects(
      enc.embed([{ data: new Uint8Array(1), width: side, height: side, channels: 3 }]),
      (e) => code('INPUT_SHAPE')(e) && /cap/.test((e as Error).message),
    );
  }
  const big = new Uint8Array(10000 * 10000);
  await assert.rejects(enc.embed([{ data: big, width: 10000, height: 10000, channels: 1 }]), code('INPUT_SHAPE'));
  assert.ok((process.memoryUsage().rss - rss0) / 2 ** 20 < 400, 'refusing a 10000² input allocated like processing it');
  const atCap = new Uint8Array(4096 * 4096).map((_, k) => k & 255);
  const [e] = await enc.embed([{ data: atCap, width: 4096, height: 4096, channels: 1 }]);
  assert.equal(e!.length, 16);
});

test('row 6: wrong input.name and wrong output.name give the same code (MANIFEST_INVALID) naming the field', async () => {
  await assert.rejects(
    Encoder.open({ manifest: { ...manifest, input: { ...manifest.input, name: 'nope' } }, bytes }),
    code('MANIFEST_INVALID', 'input.name'),
  );
  await assert.rejects(
    Encoder.open({ manifest: { ...manifest, output: { ...manifest.output, name: 'nope' } }, bytes }),
    code('MANIFEST_INVALID', 'output.name'),
  );
  // Also through 'auto' (every device tried): a manifest error is not a device error.
  await assert.rejects(
    Encoder.open({ manifest: { ...manifest, input: { ...manifest.input, name: 'nope' } }, bytes }, { device: 'auto' }),
    code('MANIFEST_INVALID', 'input.name'),
  );
});

test('row 6: docs/errors.md has a row for every code in src/core/errors.ts', () => {
  const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');
  const missing = Object.keys(ERROR_CODES).filter((c) => !new RegExp(`^\\| \`${c}\` \\|`, 'm').test(doc));
  assert.deepEqual(missing, [], `docs/errors.md lacks rows for: ${missing.join(', ')}`);
});

test('merged with the import branch: abort at every phase of a Node file-path open and a cache-first URL open, and a failed fixed-batch open, release every session', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tmpdir } = await import('node:os');
  // A batch-1 export: the encoder wraps its sessions (adaptSession); the wrapper must be released too.
  const m = await manifestFor(bytes, { id: 'tiny' });
  const batch1 = { ...m, input: { ...m.input, shape: [1, ...m.input.shape.slice(1)] } };
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-merged-'));
  writeFileSync(join(dir, m.file), bytes);
  writeFileSync(join(dir, 'tiny.json'), JSON.stringify(batch1));
  const url = 'https://m.example/dir/tiny.json';
  const cache = {
    getModel: async (id: string) =>
      id === 'tiny' ? { manifest: { ...batch1, source: url }, bytes: bytes.slice() } : undefined,
    putModel: async () => undefined,
  };
  const offline = (async () => {
    throw new TypeError('offline');
  }) as typeof fetch;
  const sources = { path: join(dir, 'tiny.json'), 'cache-first': url } as const;
  const unregister = registerBackend(accelerator, 10);
  try {
    for (const [kind, source] of Object.entries(sources)) {
      for (const phase of ['verify', 'compile', 'selfcheck', 'warmup'] as const) {
        const c = new AbortController();
        const seen: string[] = [];
        const onProgress = (p: LoadProgress): void => {
          seen.push(p.phase);
          if (p.phase === phase) c.abort(new Error(`abort at ${phase}`));
        };
        await assert.rejects(
          Encoder.open(source, { device: ['webgpu', 'wasm'], cache, fetch: offline, signal: c.signal, onProgress }),
          code('ABORTED'),
          `${kind} ${phase}`,
        );
        assert.ok(seen.includes(phase) && !seen.includes('ready'), `${kind} ${phase}: ${seen.join(',')}`);
        assert.equal(await settled(), 0, `${kind} ${phase}: a session is still alive after the abort`);
      }
      // Not aborted, the same source opens (from the file, or from the cache with the network off) and embeds one at a time.
      await using enc = await Encoder.open(source, { device: ['webgpu', 'wasm'], cache, fetch: offline });
      assert.equal(enc.diagnostics.origin, kind === 'path' ? 'url' : 'cache');
      assert.equal((await enc.embed(testImages(3))).length, 3);
    }
    // A fixed-batch model whose manifest names the wrong size fails at warm-up, wrapped sessions and all.
    const before = sessions.created;
    await assert.rejects(
      Encoder.open(
        { manifest: { ...batch1, output: { ...batch1.output, dim: 8 } }, bytes },
        { device: ['webgpu', 'wasm'] },
      ),
      (e) => isEdgetuneError(e),
    );
    assert.ok(sessions.created > before, 'no session was created: the case tests nothing');
    assert.equal(await settled(), 0, 'a failed fixed-batch open left a session alive');
  } finally {
    unregister();
  }
});
