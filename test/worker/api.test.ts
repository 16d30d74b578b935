// The worker's API object in Node, without a Worker: handle bookkeeping, the storage allowlist, tokens and typed errors.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WorkerApi } from '../../src/worker/api.js';
import { isEdgetuneError } from '../../src/core/errors.js';

const code = (e: unknown): string => (isEdgetuneError(e) ? e.code : String(e));

test('learner handles: calls return results with the mirrored getters; unknown or disposed handles are DISPOSED', async () => {
  const api = new WorkerApi();
  const { handle, dim, snapshot } = await api.createLearner({ options: { dim: 4, classes: ['a', 'b'] } });
  assert.equal(dim, 4);
  assert.deepEqual(snapshot, { classes: ['a', 'b'], ready: false });
  assert.throws(
    () => api.learnerCall(handle, 'predict', [new Float32Array(4)]),
    (e) => code(e) === 'NOT_READY',
  );
  api.learnerCall(handle, 'addLabeled', [new Float32Array([1, 0, 0, 0]), 'a']);
  const r = api.learnerCall(handle, 'addLabeled', [new Float32Array([0, 1, 0, 0]), 'b']);
  assert.equal(r.snapshot.ready, true);
  const p = api.learnerCall(handle, 'predict', [new Float32Array([0.9, 0.1, 0, 0])]).result as { label: string };
  assert.equal(p.label, 'a');
  api.disposeLearner(handle);
  assert.throws(
    () => api.learnerCall(handle, 'stats', []),
    (e) => code(e) === 'DISPOSED',
  );
  assert.throws(
    () => api.learnerCall(999, 'stats', []),
    (e) => code(e) === 'DISPOSED',
  );
});

test('storage calls: only listed methods pass; options regain signal and progress; a page abort by token cancels', async () => {
  const api = new WorkerApi();
  const { handle } = await api.openStorage({ name: `api-test-${Date.now()}` });
  await assert.rejects(api.storageCall(handle, { kind: 'root' }, 'dispose', []), (e) => code(e) === 'INVALID_ARGUMENT');
  await assert.rejects(
    api.storageCall(handle, { kind: 'root' }, 'constructor', []),
    (e) => code(e) === 'INVALID_ARGUMENT',
  );
  await assert.rejects(
    api.storageCall(handle, { kind: 'meta' }, 'toString', []),
    (e) => code(e) === 'INVALID_ARGUMENT',
  );
  const phases: string[] = [];
  const saved = (await api.storageCall(
    handle,
    { kind: 'checkpoints', slot: 's' },
    'save',
    [{ w: new Float32Array([1, 2]) }, {}],
    undefined,
    (p) => phases.push((p as { phase: string }).phase),
  )) as { version: number };
  assert.equal(saved.version, 1);
  assert.ok(phases.includes('write'), phases.join());
  const loaded = (await api.storageCall(handle, { kind: 'checkpoints', slot: 's' }, 'load', [])) as {
    payload: { w: Float32Array };
  };
  assert.deepEqual([...loaded.payload.w], [1, 2]);
  // The page aborts by token while the save waits for its first progress callback.
  const pending = api.storageCall(handle, { kind: 'checkpoints', slot: 's' }, 'save', [{ w: 3 }, {}], 't1', () =>
    api.abort('t1'),
  );
  await assert.rejects(pending, (e) => code(e) === 'ABORTED');
  const versions = (await api.storageCall(handle, { kind: 'checkpoints', slot: 's' }, 'list', [])) as Array<{
    version: number;
  }>;
  assert.deepEqual(
    versions.map((v) => v.version),
    [1],
    'the aborted save wrote nothing',
  );
  await api.disposeAll();
  await assert.rejects(api.storageCall(handle, { kind: 'meta' }, 'keys', []), (e) => code(e) === 'DISPOSED');
});

test('encoder from a storage handle that does not hold the model is MODEL_NOT_FOUND; configure reports a non-classic scope in Node', async () => {
  const api = new WorkerApi();
  assert.deepEqual(await api.configure({}), { classic: false, lifeline: false });
  const { handle } = await api.openStorage({ name: `api-enc-${Date.now()}` });
  await assert.rejects(
    api.openEncoder({ storage: handle, id: 'missing' }, { device: 'wasm' }),
    (e) => code(e) === 'MODEL_NOT_FOUND',
  );
  await assert.rejects(api.openEncoder({ storage: 12345, id: 'x' }), (e) => code(e) === 'DISPOSED');
  await api.disposeAll();
});

test('region options cross the boundary: embed forwards roi and a structured-cloned background reference; the personalizer keeps its background in the worker', async () => {
  const { readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { Encoder } = await import('../../src/runtime/encoder.js');
  const { createBackground } = await import('../../src/runtime/preprocess.js');
  const root = join(import.meta.dirname, '..', '..');
  const id = (JSON.parse(readFileSync(join(root, 'models', 'index.json'), 'utf8')) as { default: string }).default;
  const manifest = JSON.parse(readFileSync(join(root, 'models', `${id}.json`), 'utf8')) as { file: string };
  const bytes = new Uint8Array(readFileSync(join(root, 'models', manifest.file)));
  // A 64×64 gray room with a bright square in it, and the same room empty.
  const room = new Uint8Array(64 * 64).map((_, i) => 60 + ((i * 7) % 40));
  const frame = room.slice();
  for (let y = 20; y < 40; y++) for (let x = 30; x < 50; x++) frame[y * 64 + x] = 250;
  const px = (data: Uint8Array) => ({ data: data.slice(), width: 64, height: 64, channels: 1 as const });
  const api = new WorkerApi();
  const local = await Encoder.open({ manifest, bytes: bytes.slice() }, { device: 'wasm' });
  try {
    const { handle } = await api.openEncoder({ manifest, bytes: bytes.slice() }, { device: 'wasm' });
    // What postMessage does to the reference on its way to the worker.
    const bg = structuredClone(createBackground(px(room)));
    const roi = { x: 8, y: 8, width: 48, height: 48 };
    const [viaApi] = await api.embed(handle, [px(frame)], undefined, { roi, background: bg });
    const [direct] = await local.embed([px(frame)], { roi, background: createBackground(px(room)) });
    const [whole] = await local.embed([px(frame)]);
    assert.deepEqual([...viaApi!], [...direct!], 'same embedding as in-thread with the same options');
    assert.notDeepEqual([...viaApi!], [...whole!], 'and not the whole frame');
    await assert.rejects(
      api.embed(handle, [px(frame)], undefined, { background: { ...bg, kind: 'other' } as unknown as typeof bg }),
      (e) => code(e) === 'INVALID_ARGUMENT',
    );
    const p = await api.openPersonalizer({ model: { manifest, bytes: bytes.slice() }, device: 'wasm', storage: false });
    const info = await api.personalizerCall(p.handle, 'setBackground', structuredClone([px(room), undefined]));
    assert.deepEqual(info, { width: 64, height: 64, threshold: 25, margin: 0.1, mask: true });
    assert.deepEqual((await api.personalizerCall(p.handle, 'stats', [])).background, info);
    // The options cross with the frame: a crop-only reference is held as one.
    const cropOnly = await api.personalizerCall(
      p.handle,
      'setBackground',
      structuredClone([px(room), { mask: false }]),
    );
    assert.equal(cropOnly?.mask, false);
    await api.personalizerCall(p.handle, 'setBackground', structuredClone([px(room), undefined]));
    const [emb] = await local.embed([px(frame)], { background: createBackground(px(room)) });
    await api.personalizerCall(p.handle, 'teach', [emb!, 'square']);
    await api.personalizerCall(p.handle, 'teach', [whole!, 'room']);
    const r = await api.personalizerCall(p.handle, 'predict', structuredClone([px(frame), undefined]));
    assert.equal(r.label, 'square', 'the frame is cropped against the reference held in the worker');
    const off = await api.personalizerCall(p.handle, 'predict', structuredClone([px(frame), { background: false }]));
    assert.equal(off.label, 'room', 'background: false embeds the whole frame');
    assert.equal(await api.personalizerCall(p.handle, 'setBackground', [null]), undefined);
  } finally {
    await local.dispose();
    await api.disposeAll();
  }
});
