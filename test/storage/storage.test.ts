// Node unit tests of edgetune storage on fake-indexeddb: the shared behaviour cases plus codec and lock details.
import { test } from 'node:test';
import assert from 'node:assert/strict';
// idb needs the IDB interface classes as globals; the factory itself is still passed in explicitly.
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { sha256Hex } from '../../src/core/hash.js';
import { decodeValue, encodeValue } from '../../src/storage/codec.js';
import { openStorage, type LockManagerLike, type StorageProgress } from '../../src/storage/index.js';
import { fixtureBytes } from '../fixtures/storage/v1.js';
import { CASES, type Env } from './behaviour.js';

const env: Env = { factory: new IDBFactory(), keyRange: IDBKeyRange, iterations: 1000 };

for (const c of CASES) {
  test(`storage (fake-indexeddb): ${c.name}`, () => c.run(env));
}

test('codec: round-trips structured-clone data, refuses cycles and functions, rejects damage', () => {
  const v = {
    n: [0, -0, 1.5, -7, 2 ** 40, NaN, Infinity],
    s: 'héllo ☃',
    b: [true, false, null, undefined],
    big: -123456789012345678901234567890n,
    d: new Date(1234),
    ab: new Uint8Array([1, 2, 3]).buffer,
    f32: new Float32Array([1.5, -2.25]),
    sub: new Float64Array(new Float64Array([1, 2, 3, 4]).buffer, 8, 2),
    i16: new Int16Array([-1, 300]),
    m: new Map<unknown, unknown>([['k', { x: 1 }]]),
    set: new Set([1, 'a']),
  };
  const back = decodeValue(encodeValue(v)) as typeof v;
  assert.deepEqual(back, v);
  assert.deepEqual(Array.from(back.sub), [2, 3]);
  assert.ok(Object.is(back.n[1], -0));
  const cyc: Record<string, unknown> = {};
  cyc['self'] = cyc;
  assert.throws(
    () => encodeValue(cyc),
    (e: { code?: string }) => e.code === 'INVALID_ARGUMENT',
  );
  assert.throws(
    () => encodeValue({ f: () => 1 }),
    (e: { code?: string }) => e.code === 'INVALID_ARGUMENT',
  );
  const bytes = encodeValue({ a: 'xyz' });
  assert.throws(
    () => decodeValue(bytes.subarray(0, bytes.length - 1)),
    (e: { code?: string }) => e.code === 'STATE_INVALID',
  );
  const proto = decodeValue(encodeValue(JSON.parse('{"__proto__": {"polluted": 1}}'))) as Record<string, unknown>;
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  assert.deepEqual(Object.keys(proto), ['__proto__']);
});

test('locks: writes go through the Web Locks manager when one is given', async () => {
  const names: string[] = [];
  let tail = Promise.resolve();
  const locks: LockManagerLike = {
    request(name, _opts, cb) {
      names.push(name);
      const run = tail.then(() => cb(null));
      tail = run.then(
        () => undefined,
        () => undefined,
      );
      return run;
    },
  };
  await using s = await openStorage({ name: 'locks', indexedDB: new IDBFactory(), IDBKeyRange, locks });
  await s.checkpoints().save({ a: 1 });
  await s.samples().add([1]);
  await s.meta.set('k', 1);
  assert.deepEqual(names, ['edgetune:locks', 'edgetune:locks', 'edgetune:locks']);
});

test('options: bad values are refused with the value in the message', async () => {
  const base = { indexedDB: new IDBFactory(), IDBKeyRange };
  await assert.rejects(openStorage({ ...base, keepLast: 0 }), /keepLast must be an integer >= 1, got 0/);
  await assert.rejects(openStorage({ ...base, maxWritesPerKey: 2 ** 33 }), /maxWritesPerKey/);
  await assert.rejects(openStorage({ ...base, budgetBytes: -1 }), /budgetBytes must be > 0, got -1/);
});

test('progress: every long operation ends on one ready phase, and a failed one reports none', async () => {
  await using s = await openStorage({ name: 'progress', indexedDB: new IDBFactory(), IDBKeyRange });
  const seen: string[][] = [];
  const track = () => {
    const phases: string[] = [];
    seen.push(phases);
    return { onProgress: (p: StorageProgress) => phases.push(p.phase) };
  };
  const bytes = fixtureBytes(1000, 2);
  await s.checkpoints().save({ a: 1 }, track());
  await s.checkpoints().load(undefined, track());
  await s.checkpoints().update((c) => ({ a: Number((c?.payload as { a?: number } | undefined)?.a ?? 0) + 1 }), track());
  await s.samples().add([1, 2], track());
  await s.putModel('m', { sha256: await sha256Hex(bytes) }, bytes, track());
  await s.getModel('m', track());
  const file = await s.exportProfile(track());
  await s.importProfile(file, track());
  await s.forget(track());
  assert.equal(seen.length, 9);
  for (const phases of seen) {
    assert.equal(phases.at(-1), 'ready', phases.join(','));
    assert.equal(phases.filter((p) => p === 'ready').length, 1, phases.join(','));
  }
  const failed = track();
  await assert.rejects(s.putModel('bad', { sha256: await sha256Hex(fixtureBytes(10, 1)) }, bytes, failed));
  assert.ok(!seen.at(-1)?.includes('ready'), seen.at(-1)?.join(','));
});
