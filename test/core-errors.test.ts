import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EdgetuneError, isEdgetuneError, throwIfAborted } from '../src/core/errors.js';

test('isEdgetuneError recognises errors by name and code, also after structured cloning', () => {
  const err = new EdgetuneError('CHECKSUM_MISMATCH', 'bad bytes', { details: { field: 'sha256' } });
  assert.ok(isEdgetuneError(err));
  assert.ok(isEdgetuneError(err, 'CHECKSUM_MISMATCH'));
  assert.ok(!isEdgetuneError(err, 'MODEL_CORRUPT'));
  const plain: EdgetuneError = new EdgetuneError('CHECKSUM_MISMATCH', 'bad bytes');
  const cloned = structuredClone({ name: plain.name, code: plain.code, message: plain.message });
  assert.ok(isEdgetuneError(cloned, 'CHECKSUM_MISMATCH'));
  assert.ok(!isEdgetuneError(new Error('x')));
  assert.ok(!isEdgetuneError(null));
});

test('throwIfAborted throws ABORTED only for an aborted signal', () => {
  throwIfAborted(undefined);
  const c = new AbortController();
  throwIfAborted(c.signal);
  c.abort(new Error('stop'));
  assert.throws(
    () => throwIfAborted(c.signal),
    (e: unknown) => isEdgetuneError(e, 'ABORTED'),
  );
});
