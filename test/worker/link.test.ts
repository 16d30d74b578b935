// The page↔worker link in Node over a real MessageChannel: errors as enveloped values (codes kept, comlink's throw handler untouched), the allowlists, and a closed link rejecting pending and later calls.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expose, transferHandlers, wrap } from 'comlink';
import { EdgetuneError, isEdgetuneError } from '../../src/core/errors.js';
import { WorkerApi } from '../../src/worker/api.js';
import { Link } from '../../src/worker/link.js';
import type { Guarded } from '../../src/worker/protocol.js';
import { guard } from '../../src/worker/worker-script.js';

function connect(): { link: Link; close(): void } {
  const { port1, port2 } = new MessageChannel();
  expose(guard(new WorkerApi()), port1 as unknown as Parameters<typeof expose>[1]);
  const link = new Link(wrap<Guarded<WorkerApi>>(port2 as unknown as Parameters<typeof wrap>[0]));
  return { link, close: () => (port1.close(), port2.close()) };
}

test('errors cross as values: EdgetuneError with its code and details; the allowlists refuse other members; comlink is untouched', async () => {
  const before = transferHandlers.get('throw');
  const { link, close } = connect();
  try {
    const e = await link.call('learnerCall', 999, 'stats', []).catch((x: unknown) => x);
    assert.ok(e instanceof EdgetuneError && e.code === 'DISPOSED', String(e));
    const { handle } = await link.call('createLearner', { options: { dim: 4, classes: ['a'] } });
    await assert.rejects(link.call('learnerCall', handle, 'dispose' as never, [] as never), (x) =>
      isEdgetuneError(x, 'INVALID_ARGUMENT'),
    );
    await assert.rejects(
      link.call('learnerCall', handle, 'addLabeled', [new Float32Array(3), 'a']),
      (x) => isEdgetuneError(x, 'INPUT_SHAPE') && /4 values/.test((x as Error).message),
    );
    await assert.rejects(link.call('personalizerCall', 1, 'constructor' as never, [] as never), (x) =>
      isEdgetuneError(x, 'INVALID_ARGUMENT'),
    );
    const r = await link.call('learnerCall', handle, 'addLabeled', [new Float32Array([1, 0, 0, 0]), 'a']);
    assert.equal(r.snapshot.ready, true);
    assert.equal(transferHandlers.get('throw'), before, "comlink's global throw handler is the same object");
  } finally {
    close();
  }
});

test('a closed link rejects the pending call and every later one with its reason', async () => {
  const { link, close } = connect();
  try {
    const pending = link.call('openStorage', { name: `link-${Date.now()}` });
    link.close(new EdgetuneError('WORKER_LOST', 'gone'));
    await assert.rejects(pending, (x) => isEdgetuneError(x, 'WORKER_LOST'));
    await assert.rejects(link.call('configure', {}), (x) => isEdgetuneError(x, 'WORKER_LOST'));
    assert.equal(link.closed?.code, 'WORKER_LOST');
  } finally {
    close();
  }
});
