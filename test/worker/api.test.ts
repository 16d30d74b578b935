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
