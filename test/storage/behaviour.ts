// Storage behaviour cases shared by the Node tests (fake-indexeddb) and the real-Chromium page, so both run the same checks.
import { isEdgetuneError, type ErrorCode } from '../../src/core/errors.js';
import { sha256Hex } from '../../src/core/hash.js';
import { openStorage, type EdgetuneStorage, type StorageOptions } from '../../src/storage/index.js';
import { Cipher } from '../../src/storage/crypto.js';
import { encodeProfile } from '../../src/storage/profile.js';
import { createV1Database } from '../fixtures/storage/v1.js';
import { createV2Database } from '../fixtures/storage/v2.js';
import { fixtureBytes, fixtureEmbedding } from '../fixtures/storage/v1.js';

/** Where a case runs: a factory and key-range class of one IndexedDB implementation. */
export interface Env {
  readonly factory: IDBFactory;
  readonly keyRange: typeof IDBKeyRange;
  /** PBKDF2 iterations to use (small in tests; the default is 600k). */
  readonly iterations: number;
}

/** One behaviour case. */
export interface Case {
  readonly name: string;
  run(env: Env): Promise<void>;
}

// ---------- small portable asserts (node:assert does not bundle for the browser) ----------

function fail(msg: string): never {
  throw new Error(`assertion failed: ${msg}`);
}
function ok(v: unknown, msg: string): void {
  if (!v) fail(msg);
}
function same(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof ArrayBuffer && b instanceof ArrayBuffer) return same(new Uint8Array(a), new Uint8Array(b));
  if (ArrayBuffer.isView(a) && ArrayBuffer.isView(b)) {
    if (a.constructor !== b.constructor || a.byteLength !== b.byteLength) return false;
    const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    return x.every((v, i) => v === y[i]);
  }
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => same((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
function eq(a: unknown, b: unknown, msg: string): void {
  if (!same(a, b)) fail(`${msg}: got ${show(a)}, expected ${show(b)}`);
}
function show(v: unknown): string {
  try {
    return (
      JSON.stringify(v, (_k, x) =>
        ArrayBuffer.isView(x) ? `<${x.constructor.name} ${x.byteLength}B>` : typeof x === 'bigint' ? String(x) : x,
      )?.slice(0, 300) ?? String(v)
    );
  } catch {
    return String(v);
  }
}
async function rejects(p: Promise<unknown>, code: ErrorCode, msg: string): Promise<Error> {
  try {
    await p;
  } catch (e) {
    if (isEdgetuneError(e, code)) return e;
    fail(
      `${msg}: expected ${code}, got ${e instanceof Error ? `${e.name} ${(e as { code?: string }).code ?? ''} ${e.message}` : String(e)}`,
    );
  }
  fail(`${msg}: expected ${code}, but it succeeded`);
}

// ---------- helpers ----------

let counter = 0;
function dbName(tag: string): string {
  return `t-${tag}-${Date.now().toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 7)}`;
}

function open(env: Env, name: string, extra: Partial<StorageOptions> = {}): Promise<EdgetuneStorage> {
  return openStorage({ name, indexedDB: env.factory, IDBKeyRange: env.keyRange, ...extra });
}

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
}

/** Raw access to the database, bypassing edgetune (tampering, dumps). */
async function raw<T>(env: Env, name: string, fn: (db: IDBDatabase) => Promise<T>): Promise<T> {
  const db = await req(env.factory.open(name));
  try {
    return await fn(db);
  } finally {
    db.close();
  }
}

async function rawGet(env: Env, name: string, store: string, key: IDBValidKey): Promise<unknown> {
  return raw(env, name, (db) => req(db.transaction(store).objectStore(store).get(key)));
}
async function rawPut(env: Env, name: string, store: string, value: unknown, key?: IDBValidKey): Promise<void> {
  await raw(env, name, async (db) => {
    const tx = db.transaction(store, 'readwrite');
    tx.objectStore(store).put(value, key);
    await new Promise<void>((res, rej) => {
      tx.oncomplete = () => res();
      tx.onerror = () => rej(tx.error);
    });
  });
}
/** Every record of every store, for "nothing changed" checks. */
async function rawDump(env: Env, name: string): Promise<Record<string, unknown[]>> {
  return raw(env, name, async (db) => {
    const out: Record<string, unknown[]> = {};
    const names = Array.from(db.objectStoreNames);
    const tx = db.transaction(names, 'readonly');
    for (const s of names) out[s] = [await req(tx.objectStore(s).getAllKeys()), await req(tx.objectStore(s).getAll())];
    return out;
  });
}

function head(n: number, seed: number): { weights: Float32Array; bias: Float32Array; classes: string[]; step: number } {
  return {
    weights: fixtureEmbedding(n, seed),
    bias: fixtureEmbedding(10, seed + 1),
    classes: Array.from({ length: 10 }, (_, i) => `c${i}`),
    step: seed,
  };
}

function containsBytes(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

async function appKey(): Promise<CryptoKey> {
  return crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/** Creates a database that is not edgetune's: `version` with the given stores and one record in each. */
async function foreignDatabase(env: Env, name: string, version: number, stores: string[]): Promise<void> {
  const r = env.factory.open(name, version);
  r.onupgradeneeded = () => {
    for (const st of stores) r.result.createObjectStore(st).put({ mine: st }, 'k');
  };
  const db = await req(r);
  db.close();
}

/** Collects unhandled promise rejections (Node or browser) while `fn` runs, and a moment after. */
async function unhandledDuring(fn: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const proc = (
    globalThis as {
      process?: { on(e: string, l: (r: unknown) => void): void; off(e: string, l: (r: unknown) => void): void };
    }
  ).process;
  const onNode = (r: unknown): void => void seen.push(r);
  const onBrowser = (ev: Event): void => {
    seen.push((ev as PromiseRejectionEvent).reason);
    ev.preventDefault();
  };
  if (proc?.on) proc.on('unhandledRejection', onNode);
  else globalThis.addEventListener?.('unhandledrejection', onBrowser);
  try {
    await fn();
    await new Promise((res) => setTimeout(res, 50));
  } finally {
    if (proc?.off) proc.off('unhandledRejection', onNode);
    else globalThis.removeEventListener?.('unhandledrejection', onBrowser);
  }
  return seen;
}

/** A profile file whose header carries `kdf` as given (valid checksum, body sealed under a random key). */
async function craftedEncryptedProfile(kdf: unknown): Promise<Uint8Array> {
  const key = await appKey();
  const data = { models: [], checkpoints: [], heads: [], samples: [], meta: [], seqs: {} };
  return encodeProfile(data, new Cipher(key, 'crafted'), kdf as never);
}

// ---------- cases ----------

export const CASES: Case[] = [
  {
    name: 'checkpoints: save/load/list round-trip, versions increase, keepLast prunes old versions',
    async run(env) {
      const name = dbName('ckpt');
      await using s = await open(env, name, { keepLast: 3 });
      const c = s.checkpoints<ReturnType<typeof head>>();
      eq(await c.load(), undefined, 'empty profile has no checkpoint');
      const saved = [];
      for (let i = 1; i <= 5; i++) {
        const p = head(1280, i);
        saved.push(p);
        const r = await c.save(p, { label: `step ${i}` });
        eq(r.version, i, 'version numbers count up from 1');
      }
      const list = await c.list();
      eq(
        list.map((v) => v.version),
        [3, 4, 5],
        'keepLast 3 keeps the newest three',
      );
      eq(
        list.map((v) => v.current),
        [false, false, true],
        'newest is current',
      );
      eq(list[0]!.label, 'step 3', 'labels kept');
      const cur = await c.load();
      eq(cur?.version, 5, 'current is v5');
      eq(cur?.payload, saved[4], 'payload round-trips with typed arrays');
      eq((await c.load(4))?.payload, saved[3], 'older kept version loads');
      eq(await c.load(1), undefined, 'pruned version is gone');
      const count = await raw(env, name, (db) => req(db.transaction('checkpoints').objectStore('checkpoints').count()));
      eq(count, 3, 'no orphan checkpoint records');
    },
  },
  {
    name: 'checkpoints: rollback moves the pointer; next save continues numbering; pruned version refused',
    async run(env) {
      const name = dbName('rb');
      await using s = await open(env, name, { keepLast: 3 });
      const c = s.checkpoints('learner-b');
      for (let i = 1; i <= 4; i++) await c.save({ i });
      await c.rollback(2);
      eq((await c.load())?.payload, { i: 2 }, 'rollback makes v2 current');
      eq((await c.list()).find((v) => v.current)?.version, 2, 'list marks v2 current');
      const r = await c.save({ i: 5 });
      eq(r.version, 5, 'numbering continues after rollback');
      // keepLast 3 keeps the newest three (3,4,5); v2 was current until now so it was kept until this save.
      eq(
        (await c.list()).map((v) => v.version),
        [3, 4, 5],
        'pruned after moving on',
      );
      await rejects(c.rollback(1), 'INVALID_ARGUMENT', 'rollback to a pruned version');
      eq((await c.load())?.version, 5, 'failed rollback changed nothing');
      eq(await s.checkpoints('other').load(), undefined, 'slots are independent');
    },
  },
  {
    name: 'checkpoints: a save aborted before commit writes nothing; readers always see whole checkpoints',
    async run(env) {
      const name = dbName('abort');
      await using s = await open(env, name);
      const c = s.checkpoints<{ v: number; data: Float32Array; sum: number }>();
      await c.save({ v: 1, data: new Float32Array([1, 2]), sum: 3 });
      const before = await rawDump(env, name);
      const ac = new AbortController();
      ac.abort(new Error('user cancelled'));
      await rejects(
        c.save({ v: 2, data: new Float32Array(4), sum: 0 }, { signal: ac.signal }),
        'ABORTED',
        'aborted save',
      );
      eq(await rawDump(env, name), before, 'nothing written by the aborted save');
      // Interleave loads with saves: every load must be a complete checkpoint consistent with its version.
      const saves: Promise<unknown>[] = [];
      const loads: Promise<unknown>[] = [];
      for (let i = 2; i <= 12; i++) {
        const data = fixtureEmbedding(512, i);
        saves.push(c.save({ v: i, data, sum: data.reduce((a, b) => a + b, 0) }));
        loads.push(
          c.load().then((got) => {
            ok(got, 'a load during saves finds a checkpoint');
            eq(got!.payload.v, got!.version, 'payload belongs to the version the pointer names');
            eq(
              got!.payload.sum,
              got!.payload.data.reduce((a, b) => a + b, 0),
              'payload is whole',
            );
          }),
        );
      }
      await Promise.all([...saves, ...loads]);
      eq((await c.load())?.version, 12, 'last save is current');
    },
  },
  {
    name: 'models: SHA-256 checked on put and on every read; damaged stored bytes are refused',
    async run(env) {
      const name = dbName('models');
      await using s = await open(env, name);
      const bytes = fixtureBytes(10_000, 3);
      const manifest = { sha256: await sha256Hex(bytes), format: 'onnx', dim: 128 };
      await rejects(
        s.putModel('m', { ...manifest, sha256: await sha256Hex(fixtureBytes(10, 1)) }, bytes),
        'CHECKSUM_MISMATCH',
        'put with wrong hash',
      );
      eq(await s.listModels(), [], 'refused model not stored');
      await s.putModel('m', manifest, bytes);
      const got = await s.getModel('m');
      eq(got?.bytes, bytes, 'bytes round-trip');
      eq(got?.manifest, manifest, 'manifest round-trips');
      eq(await s.getModel('missing'), undefined, 'unknown id gives undefined');
      const rec = (await rawGet(env, name, 'modelBytes', 'm')) as {
        id: string;
        body: { kind: string; value: ArrayBuffer };
      };
      const damaged = new Uint8Array(rec.body.value.slice(0));
      damaged[5000] = damaged[5000]! ^ 1;
      await rawPut(env, name, 'modelBytes', { ...rec, body: { kind: 'plain', value: damaged.buffer } });
      await rejects(s.getModel('m'), 'CHECKSUM_MISMATCH', 'one flipped bit in stored model bytes');
      await s.deleteModel('m');
      eq(await s.listModels(), [], 'deleted');
      eq((await s.estimate()).tracked.models, 0, 'usage back to zero');
    },
  },
  {
    name: 'budget: LRU eviction of cached models, never of checkpoints; over budget gives QUOTA_EXCEEDED with state intact',
    async run(env) {
      const name = dbName('budget');
      await using s = await open(env, name, { budgetBytes: 40_000 });
      const evictedEvents: string[] = [];
      s.on('evicted', (e) => evictedEvents.push(...e.ids));
      const model = async (id: string, seed: number) => {
        const b = fixtureBytes(12_000, seed);
        return s.putModel(id, { sha256: await sha256Hex(b) }, b);
      };
      const c = s.checkpoints();
      await c.save({ w: fixtureEmbedding(2000, 1) }); // ~8 KB
      await model('a', 1);
      await model('b', 2);
      await s.getModel('a'); // b is now least recently used
      const r = await model('c', 3); // 8k + 36k > 40k: one model must go
      eq(r.evicted, ['b'], 'least recently used model evicted');
      eq((await s.listModels()).map((m) => m.id).sort(), ['a', 'c'], 'a and c stay');
      eq(evictedEvents, ['b'], 'evicted event');
      const before = await c.load();
      const big = await c.save({ w: fixtureEmbedding(4000, 2) }); // 16 KB: needs more eviction
      ok(big.evicted.length >= 1, 'checkpoint save evicted models to fit');
      await rejects(c.save({ w: fixtureEmbedding(20_000, 3) }), 'QUOTA_EXCEEDED', 'checkpoint larger than the budget');
      const after = await c.load();
      eq(after?.version, big.version, 'current still the last committed checkpoint');
      ok(before && before.version < big.version, 'sanity');
      const est = await s.estimate();
      ok(est.tracked.total <= 40_000, `tracked total ${est.tracked.total} within budget`);
      eq(est.budgetBytes, 40_000, 'budget surfaced');
    },
  },
  {
    name: 'samples: add, count, ordered iterate in batches, delete, trim, clear, with usage accounting',
    async run(env) {
      const name = dbName('samples');
      await using s = await open(env, name);
      const sm = s.samples<{ e: Float32Array; y: number }>();
      const vals = Array.from({ length: 25 }, (_, i) => ({ e: fixtureEmbedding(32, i), y: i % 3 }));
      const seqs = await sm.add(vals);
      eq(
        seqs,
        Array.from({ length: 25 }, (_, i) => i + 1),
        'sequence numbers',
      );
      eq(await sm.count(), 25, 'count');
      const it: number[] = [];
      for await (const x of sm.iterate({ batchSize: 7 })) it.push(x.seq);
      eq(it, seqs, 'iterate yields all in order across batches');
      eq((await sm.getAll())[3]?.value, vals[3], 'values round-trip');
      await sm.delete([1, 2, 3]);
      eq(await sm.count(), 22, 'deleted three');
      eq(await sm.trim(10), 12, 'trim removed 12 oldest');
      eq(
        (await sm.getAll()).map((x) => x.seq),
        Array.from({ length: 10 }, (_, i) => 16 + i),
        'newest ten remain',
      );
      eq(await s.samples('other').count(), 0, 'other slot empty');
      eq((await sm.add([{ e: new Float32Array(1), y: 0 }]))[0], 26, 'seq keeps counting after deletes');
      await sm.clear();
      eq(await sm.count(), 0, 'cleared');
      eq((await s.estimate()).tracked.samples, 0, 'sample usage back to zero');
    },
  },
  {
    name: 'meta: get/set/delete/keys; estimate and persist surfaced from the StorageManager',
    async run(env) {
      const name = dbName('meta');
      let persistAsked = 0;
      await using s = await open(env, name, {
        storageManager: {
          estimate: async () => ({ usage: 1234, quota: 99_999 }),
          persist: async () => (persistAsked++, true),
          persisted: async () => persistAsked > 0,
        },
      });
      await s.meta.set('classes', ['a', 'b']);
      await s.meta.set('n', 3);
      eq(await s.meta.get('classes'), ['a', 'b'], 'get');
      eq((await s.meta.keys()).sort(), ['classes', 'n'], 'keys');
      await s.meta.delete('n');
      eq(await s.meta.get('n'), undefined, 'deleted');
      const e1 = await s.estimate();
      eq([e1.usage, e1.quota, e1.persisted], [1234, 99_999, false], 'estimate surfaced');
      eq(await s.persist(), true, 'persist surfaced');
      eq((await s.estimate()).persisted, true, 'persisted after persist()');
    },
  },
  {
    name: 'encryption (passphrase): nothing readable at rest; right passphrase reopens; wrong one gives DECRYPT_FAILED and changes nothing',
    async run(env) {
      const name = dbName('enc');
      const enc = { passphrase: 'correct horse', iterations: env.iterations };
      const secret = fixtureEmbedding(256, 42);
      {
        await using s = await open(env, name, { encryption: enc });
        ok(s.encrypted, 'encrypted');
        await s.checkpoints().save({ secret });
        await s.samples().add([{ secret }]);
        await s.meta.set('who', 'alice-secret-name');
        const b = fixtureBytes(3000, 9);
        await s.putModel('m', { sha256: await sha256Hex(b) }, b);
      }
      const dump = await rawDump(env, name);
      const flat = new Uint8Array(
        await new Blob([
          JSON.stringify(dump, (_k, x) =>
            ArrayBuffer.isView(x) || x instanceof ArrayBuffer
              ? Array.from(new Uint8Array(ArrayBuffer.isView(x) ? x.buffer : x))
              : x,
          ),
        ]).arrayBuffer(),
      );
      ok(!new TextDecoder().decode(flat).includes('alice-secret-name'), 'meta value not stored in clear');
      const ck = (await rawGet(env, name, 'checkpoints', ['default', 1])) as {
        body: { kind: string; ct: ArrayBuffer; iv: Uint8Array };
      };
      eq(ck.body.kind, 'sealed', 'checkpoint sealed');
      ok(
        !containsBytes(new Uint8Array(ck.body.ct), new Uint8Array(secret.buffer).subarray(0, 64)),
        'embedding bytes not in the ciphertext',
      );
      eq(ck.body.iv.byteLength, 12, '96-bit IV');
      await rejects(
        open(env, name, { encryption: { passphrase: 'wrong', iterations: env.iterations } }),
        'DECRYPT_FAILED',
        'wrong passphrase',
      );
      await rejects(open(env, name), 'DECRYPT_FAILED', 'no key for an encrypted profile');
      eq(await rawDump(env, name), dump, 'failed opens changed nothing');
      await using s2 = await open(env, name, { encryption: enc });
      eq((await s2.checkpoints().load())?.payload, { secret }, 'right passphrase reads it back');
      eq(await s2.meta.get('who'), 'alice-secret-name', 'meta decrypts');
      ok((await s2.getModel('m'))?.bytes.byteLength === 3000, 'model decrypts and verifies');
    },
  },
  {
    name: 'encryption: opening a plain profile with a key encrypts it in place; PBKDF2 defaults to 600k iterations with a random 16-byte salt',
    async run(env) {
      const name = dbName('inplace');
      {
        await using s = await open(env, name);
        await s.checkpoints().save({ w: new Float32Array([1, 2, 3]) });
        await s.samples().add(['x']);
        await s.meta.set('m', 'clear-meta-value');
      }
      const key = await appKey();
      {
        await using s = await open(env, name, { encryption: { key } });
        eq(
          (await s.checkpoints().load())?.payload,
          { w: new Float32Array([1, 2, 3]) },
          'readable after encrypting in place',
        );
        eq(
          (await s.samples().getAll()).map((x) => x.value),
          ['x'],
          'samples too',
        );
      }
      const dump = await rawDump(env, name);
      for (const store of ['checkpoints', 'samples', 'meta']) {
        for (const r of (dump[store]?.[1] ?? []) as { body: { kind: string } }[])
          eq(r.body.kind, 'sealed', `${store} record sealed`);
      }
      await rejects(open(env, name), 'DECRYPT_FAILED', 'now needs the key');
      // Default iteration count (slow on purpose: this is the real cost of opening with a passphrase).
      const a = dbName('kdf');
      const b = dbName('kdf');
      await (await open(env, a, { encryption: { passphrase: 'same' } })).dispose();
      await (await open(env, b, { encryption: { passphrase: 'same', iterations: env.iterations } })).dispose();
      const ca = (await rawGet(env, a, 'sys', 'crypto')) as {
        kdf: { iterations: number; salt: Uint8Array; hash: string };
      };
      const cb = (await rawGet(env, b, 'sys', 'crypto')) as { kdf: { salt: Uint8Array } };
      eq(
        [ca.kdf.iterations, ca.kdf.hash, ca.kdf.salt.byteLength],
        [600_000, 'SHA-256', 16],
        'PBKDF2-SHA-256, 600k iterations, 16-byte salt',
      );
      ok(!same(ca.kdf.salt, cb.kdf.salt), 'salts differ between profiles with the same passphrase');
    },
  },
  {
    name: 'encryption: fresh IV per record; app key must be non-extractable; wrong app key refused',
    async run(env) {
      const name = dbName('appkey');
      const extractable = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, [
        'encrypt',
        'decrypt',
      ]);
      await rejects(
        open(env, name, { encryption: { key: extractable } }),
        'INVALID_ARGUMENT',
        'extractable key refused',
      );
      const key = await appKey();
      {
        await using s = await open(env, name, { encryption: { key } });
        const c = s.checkpoints();
        for (let i = 0; i < 3; i++) await c.save({ same: 'payload' }); // identical plaintexts
        await s.samples().add([1, 1, 1, 1]);
      }
      const ivs = new Set<string>();
      const dump = await rawDump(env, name);
      for (const store of ['checkpoints', 'samples', 'meta']) {
        for (const r of (dump[store]?.[1] ?? []) as { body: { iv: Uint8Array } }[])
          ivs.add(Array.from(r.body.iv).join(','));
      }
      eq(ivs.size, 3 + 4, 'every record has its own IV');
      await rejects(open(env, name, { encryption: { key: await appKey() } }), 'DECRYPT_FAILED', 'another app key');
      await rejects(
        open(env, name, { encryption: { passphrase: 'x', iterations: env.iterations } }),
        'DECRYPT_FAILED',
        'passphrase for an app-key profile',
      );
      eq(await rawDump(env, name), dump, 'refused opens changed nothing');
    },
  },
  {
    name: 'tamper: flipped ciphertext byte, ciphertext moved to another version, clear record planted → DECRYPT_FAILED, nothing overwritten',
    async run(env) {
      const name = dbName('tamper');
      const key = await appKey();
      await using s = await open(env, name, { encryption: { key } });
      const c = s.checkpoints();
      await c.save({ n: 1 });
      await c.save({ n: 2 });
      type Rec = {
        slot: string;
        version: number;
        body: { kind: string; ct: ArrayBuffer; iv: Uint8Array; keyId: string };
      };
      const v1 = (await rawGet(env, name, 'checkpoints', ['default', 1])) as Rec;
      const v2 = (await rawGet(env, name, 'checkpoints', ['default', 2])) as Rec;
      // 1. ciphertext of v1 placed under v2's key: AAD binds the version.
      await rawPut(env, name, 'checkpoints', { ...v2, body: v1.body });
      let dump = await rawDump(env, name);
      await rejects(c.load(), 'DECRYPT_FAILED', 'swapped ciphertext');
      await rejects(
        c.update((cur) => cur!.payload),
        'DECRYPT_FAILED',
        'update over a tampered record',
      );
      eq(await rawDump(env, name), dump, 'nothing overwritten');
      // 2. one flipped byte.
      const flipped = new Uint8Array(v2.body.ct.slice(0));
      flipped[0] = flipped[0]! ^ 0x80;
      await rawPut(env, name, 'checkpoints', { ...v2, body: { ...v2.body, ct: flipped.buffer } });
      await rejects(c.load(), 'DECRYPT_FAILED', 'flipped byte');
      // 3. a clear record planted in an encrypted profile.
      await rawPut(env, name, 'checkpoints', { ...v2, body: { kind: 'plain', value: { n: 666 } } });
      await rejects(c.load(), 'DECRYPT_FAILED', 'planted clear record');
      // Restore and check it reads again: tampering detection did not destroy anything.
      await rawPut(env, name, 'checkpoints', v2);
      eq((await c.load())?.payload, { n: 2 }, 'original record still reads');
      eq((await c.load(1))?.payload, { n: 1 }, 'v1 untouched');
      dump = await rawDump(env, name);
      ok((dump['checkpoints']?.[1] as unknown[] | undefined)?.length === 2, 'two records');
    },
  },
  {
    name: 'key rotation: write counter persisted; limit forces KEY_ROTATION_REQUIRED (app key) or automatic rotation (passphrase)',
    async run(env) {
      const name = dbName('rot');
      const k1 = await appKey();
      let firstKeyId: string | undefined;
      {
        await using s = await open(env, name, { encryption: { key: k1 }, maxWritesPerKey: 8 });
        const u0 = await s.keyUsage();
        eq(u0?.writes, 1, 'key check counted');
        firstKeyId = u0?.keyId;
        const c = s.checkpoints();
        for (let i = 1; i <= 7; i++) await c.save({ i });
        eq((await s.keyUsage())?.writes, 8, 'one encryption per save');
      }
      {
        await using s = await open(env, name, { encryption: { key: k1 }, maxWritesPerKey: 8 });
        eq((await s.keyUsage())?.writes, 8, 'counter persisted across reopen');
        const before = await rawDump(env, name);
        await rejects(s.checkpoints().save({ i: 8 }), 'KEY_ROTATION_REQUIRED', 'limit reached');
        eq(await rawDump(env, name), before, 'refused write changed nothing');
        const k2 = await appKey();
        await s.rotateKey({ key: k2 });
        const u = await s.keyUsage();
        ok(u && u.keyId !== firstKeyId, 'new key id');
        eq(u?.writes, 4, 'kept records (3) + key check re-encrypted under the new key');
        await s.checkpoints().save({ i: 8 });
        eq((await s.checkpoints().load())?.payload, { i: 8 }, 'saves go on after rotation');
        eq((await s.checkpoints().load(7))?.payload, { i: 7 }, 'old records re-encrypted and readable');
        await rejects(
          open(env, name, { encryption: { key: k1 } }),
          'DECRYPT_FAILED',
          'old key no longer opens the profile',
        );
      }
      const name2 = dbName('autorot');
      const enc = { passphrase: 'pw', iterations: env.iterations };
      await using p = await open(env, name2, { encryption: enc, maxWritesPerKey: 6 });
      const id0 = (await p.keyUsage())?.keyId;
      for (let i = 1; i <= 12; i++) await p.checkpoints().save({ i });
      const id1 = (await p.keyUsage())?.keyId;
      ok(id0 !== id1, 'passphrase key rotated itself (new salt, new key)');
      ok((await p.keyUsage())!.writes <= 6, 'counter under the limit');
      eq((await p.checkpoints().load())?.payload, { i: 12 }, 'latest readable');
      await p.dispose();
      await using p2 = await open(env, name2, { encryption: enc, maxWritesPerKey: 6 });
      eq(
        (await p2.checkpoints().list()).map((v) => v.version),
        [10, 11, 12],
        'all kept versions survive rotation',
      );
    },
  },
  {
    name: 'export/import: full round-trip; damaged, truncated or inconsistent files refused with IMPORT_INVALID and nothing replaced',
    async run(env) {
      const src = dbName('exp');
      const dst = dbName('imp');
      await using a = await open(env, src);
      const b0 = fixtureBytes(5000, 5);
      await a.putModel('enc', { sha256: await sha256Hex(b0), name: 'enc' }, b0);
      for (let i = 1; i <= 4; i++) await a.checkpoints().save(head(640, i), { label: `s${i}` });
      await a.checkpoints().rollback(3);
      await a.checkpoints('slot2').save({ x: 1 });
      await a.samples().add([{ e: fixtureEmbedding(8, 1) }, { e: fixtureEmbedding(8, 2) }]);
      await a.meta.set('k', { nested: [1, 2n, new Date(5), new Map([[1, 'x']])] });
      const file = await a.exportProfile();
      await using b = await open(env, dst);
      await b.checkpoints().save({ replaced: 'never' });
      const before = await rawDump(env, dst);
      const bad = file.slice();
      bad[bad.length - 40] = bad[bad.length - 40]! ^ 1;
      await rejects(b.importProfile(bad), 'IMPORT_INVALID', 'one flipped byte');
      await rejects(b.importProfile(file.subarray(0, file.length - 100)), 'IMPORT_INVALID', 'truncated');
      await rejects(
        b.importProfile(new TextEncoder().encode('hello world, not a profile at all........')),
        'IMPORT_INVALID',
        'not a profile',
      );
      // A well-formed, checksummed file whose head names a checkpoint it lacks.
      const incoherent = await encodeProfile(
        {
          models: [],
          checkpoints: [{ slot: 'default', version: 1, createdAt: 1, payload: 1 }],
          heads: [{ slot: 'default', current: 2, next: 3, versions: [{ version: 2, createdAt: 1, size: 1 }] }],
          samples: [],
          meta: [],
          seqs: {},
        },
        null,
        null,
      );
      await rejects(b.importProfile(incoherent), 'IMPORT_INVALID', 'head naming a missing checkpoint');
      const wrongModel = await encodeProfile(
        {
          models: [{ id: 'x', manifest: { sha256: '0'.repeat(64) }, bytes: b0, storedAt: 1, lastUsed: 1 }],
          checkpoints: [],
          heads: [],
          samples: [],
          meta: [],
          seqs: {},
        },
        null,
        null,
      );
      await rejects(b.importProfile(wrongModel), 'IMPORT_INVALID', 'model bytes not matching manifest');
      eq(await rawDump(env, dst), before, 'refused imports replaced nothing');
      await b.importProfile(file);
      eq(await b.checkpoints().list(), await a.checkpoints().list(), 'versions, labels and current pointer imported');
      eq((await b.checkpoints().load())?.payload, head(640, 3), 'current payload imported');
      eq((await b.checkpoints('slot2').load())?.payload, { x: 1 }, 'second slot imported');
      eq((await b.getModel('enc'))?.bytes, b0, 'model imported and verifies');
      eq(
        (await b.samples().getAll()).map((x) => x.value),
        (await a.samples().getAll()).map((x) => x.value),
        'samples imported',
      );
      eq(await b.meta.get('k'), await a.meta.get('k'), 'meta imported with bigint/Date/Map');
      eq((await b.samples().add([{ e: new Float32Array(1) }]))[0], 3, 'sample sequence continues');
      eq((await b.estimate()).tracked.checkpoints > 0, true, 'usage recomputed');
    },
  },
  {
    name: 'export/import encrypted: no plaintext in the file; same passphrase on another profile imports; wrong passphrase → DECRYPT_FAILED',
    async run(env) {
      const enc = { passphrase: 'pp', iterations: env.iterations };
      await using a = await open(env, dbName('eexp'), { encryption: enc });
      const secret = fixtureEmbedding(64, 77);
      await a.checkpoints().save({ secret, tag: 'SECRET-TAG-123' });
      const file = await a.exportProfile();
      ok(!new TextDecoder('latin1').decode(file).includes('SECRET-TAG-123'), 'no plaintext string in export');
      ok(!containsBytes(file, new Uint8Array(secret.buffer).subarray(0, 32)), 'no plaintext bytes in export');
      const dstName = dbName('eimp');
      await using other = await open(env, dstName, { encryption: { passphrase: 'pp', iterations: env.iterations } });
      await other.checkpoints().save({ keep: true });
      const before = await rawDump(env, dstName);
      await rejects(other.importProfile(file, { passphrase: 'not-it' }), 'DECRYPT_FAILED', 'wrong passphrase');
      const plainStore = await open(env, dbName('eplain'));
      // Refused before any key work: importing would store the records in clear (see the allowPlaintext case).
      await rejects(plainStore.importProfile(file), 'IMPORT_INVALID', 'encrypted export into a store with no key');
      await plainStore.dispose();
      eq(await rawDump(env, dstName), before, 'nothing replaced');
      await other.importProfile(file);
      eq(
        (await other.checkpoints().load())?.payload,
        { secret, tag: 'SECRET-TAG-123' },
        'imported under this profile key',
      );
      const rec = (await rawGet(env, dstName, 'checkpoints', ['default', 1])) as { body: { kind: string } };
      eq(rec.body.kind, 'sealed', 'imported records are re-encrypted');
    },
  },
  {
    name: 'migration: a v1 database (fixture) migrates to v2 with every record, the current pointer and sample sequence kept',
    async run(env) {
      const name = dbName('v1');
      const v1 = await createV1Database(env.factory, name);
      await using s = await open(env, name);
      const c = s.checkpoints();
      eq(
        (await c.list()).map((v) => [v.version, v.current]),
        [
          [1, false],
          [2, true],
          [3, false],
        ],
        'versions and current pointer migrated',
      );
      for (const ck of v1.checkpoints)
        eq((await c.load(ck.version))?.payload, ck.payload, `checkpoint v${ck.version} payload`);
      eq((await c.load())?.version, 2, 'current is v2');
      for (const m of v1.models) {
        const got = await s.getModel(m.id);
        eq(got?.bytes, m.bytes, `model ${m.id} bytes verified`);
        eq(got?.manifest, m.manifest, `model ${m.id} manifest`);
      }
      const samples = await s.samples().getAll();
      eq(
        samples.map((x) => x.seq),
        v1.samples.map((x) => x.key),
        'sample keys became sequence numbers',
      );
      eq(
        samples.map((x) => x.value),
        v1.samples.map((x) => x.value),
        'sample values',
      );
      eq((await s.samples().add(['next']))[0], 7, 'sequence continues after the largest v1 key');
      eq(await s.meta.get('appVersion'), '0.0.9', 'app meta migrated');
      eq(await s.meta.get('current'), undefined, 'v1 pointer key is not app meta');
      const est = await s.estimate();
      ok(est.tracked.models === v1.models.reduce((n, m) => n + m.bytes.byteLength, 0), 'model usage accounted');
      eq((await c.save({ after: 'migration' })).version, 4, 'saving after migration continues numbering');
      const version = await raw(env, name, async (db) => db.version);
      eq(version, 2, 'database now at schema version 2');
    },
  },
  {
    name: 'migration: a v2 database (fixture) opens as is',
    async run(env) {
      const name = dbName('v2');
      const fx = await createV2Database(env.factory, name);
      await using s = await open(env, name);
      eq((await s.checkpoints().load())?.payload, { w: fx.current }, 'current checkpoint');
      eq(
        (await s.checkpoints().list()).map((v) => v.label ?? ''),
        ['', 'second'],
        'labels',
      );
      eq((await s.getModel('enc-v2'))?.bytes, fx.modelBytes, 'model verified');
      eq(await s.samples().count(), 2, 'samples');
      eq(await s.meta.get('appVersion'), '0.1.0', 'meta');
    },
  },
  {
    name: 'versionchange: an open storage notifies the app and closes itself so a newer version opens without blocking; then DB_CLOSED',
    async run(env) {
      const name = dbName('vc');
      const s = await open(env, name);
      await s.checkpoints().save({ a: 1 });
      const seen: string[] = [];
      s.on('versionchange', (e) => seen.push(`versionchange ${e.oldVersion}->${e.newVersion}`));
      s.on('closed', (e) => seen.push(`closed ${e.reason}`));
      let blocked = false;
      const r = env.factory.open(name, 3);
      r.onblocked = () => (blocked = true);
      r.onupgradeneeded = () => undefined;
      const db = await req(r);
      db.close();
      eq(blocked, false, 'newer version was not blocked');
      eq(seen, ['versionchange 2->3', 'closed versionchange'], 'app notified before close');
      await rejects(s.checkpoints().save({ a: 2 }), 'DB_CLOSED', 'writes after versionchange');
      await rejects(s.checkpoints().load(), 'DB_CLOSED', 'reads after versionchange');
      await rejects(open(env, name), 'STATE_INVALID', 'old code on a newer database');
      await s.dispose();
    },
  },
  {
    name: 'blocked: an old connection that never closes gives DB_BLOCKED after the timeout, and the open succeeds once it closes',
    async run(env) {
      const name = dbName('blk');
      const old = await req(
        (() => {
          const r = env.factory.open(name, 1);
          r.onupgradeneeded = () => {
            r.result.createObjectStore('models', { keyPath: 'id' });
            r.result.createObjectStore('checkpoints', { keyPath: 'version' });
            r.result.createObjectStore('samples', { autoIncrement: true });
            r.result.createObjectStore('meta');
          };
          return r;
        })(),
      );
      // The old tab ignores versionchange.
      const infos: string[] = [];
      await rejects(
        open(env, name, { blockedTimeoutMs: 200, onBlocked: (i) => infos.push(`${i.oldVersion}->${i.newVersion}`) }),
        'DB_BLOCKED',
        'upgrade blocked by old connection',
      );
      eq(infos, ['1->2'], 'app told about the block');
      old.close();
      // The abandoned request completes in the background; give it a moment, then open normally.
      await new Promise((r) => setTimeout(r, 50));
      await using s = await open(env, name);
      eq(await s.checkpoints().load(), undefined, 'opens (and migrated the empty v1) after the old tab closed');
    },
  },
  {
    name: 'multi-tab: update() from two storages on one database loses no update; the other learns of checkpoints by broadcast',
    async run(env) {
      const name = dbName('mt');
      await using a = await open(env, name);
      await using b = await open(env, name);
      const heard: number[] = [];
      b.on('checkpoint', (e) => {
        if (e.source === 'remote') heard.push(e.version);
      });
      const ca = a.checkpoints<{ items: string[] }>();
      const cb = b.checkpoints<{ items: string[] }>();
      const work: Promise<unknown>[] = [];
      for (let i = 0; i < 10; i++) {
        work.push(ca.update((cur) => ({ items: [...(cur?.payload.items ?? []), `a${i}`] })));
        work.push(cb.update((cur) => ({ items: [...(cur?.payload.items ?? []), `b${i}`] })));
      }
      await Promise.all(work);
      const final = await ca.load();
      eq(final?.version, 20, 'twenty versions');
      eq(final?.payload.items.length, 20, 'no update lost');
      eq(new Set(final?.payload.items).size, 20, 'each update once');
      for (let t = 0; t < 50 && heard.length < 10; t++) await new Promise((r) => setTimeout(r, 10));
      ok(heard.length >= 1 && heard.every((v) => v >= 1 && v <= 20), `b heard a's checkpoints (${heard.join(',')})`);
    },
  },
  {
    name: 'lock: a write waiting longer than lockTimeoutMs gives LOCK_TIMEOUT; dispose then DISPOSED',
    async run(env) {
      const name = dbName('lock');
      await using a = await open(env, name);
      const b = await open(env, name, { lockTimeoutMs: 100 });
      let release!: () => void;
      const held = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      const slow = a.checkpoints().update(async () => {
        entered();
        await held;
        return { slow: true };
      });
      await inside;
      await rejects(b.checkpoints().save({ fast: true }), 'LOCK_TIMEOUT', 'lock held by the other storage');
      release();
      await slow;
      eq((await b.checkpoints().load())?.payload, { slow: true }, 'holder saved');
      await b.dispose();
      await b.dispose();
      await rejects(b.checkpoints().load(), 'DISPOSED', 'after dispose');
    },
  },
  {
    name: 'hardening: a foreign database under the profile name (v1 or v2 layout) → DB_FOREIGN, no unhandled rejection, data untouched',
    async run(env) {
      for (const [version, stores] of [
        [1, ['things']],
        [2, ['a', 'b']],
        [1, ['models']],
      ] as const) {
        const name = dbName(`foreign${version}`);
        await foreignDatabase(env, name, version, [...stores]);
        const before = await rawDump(env, name);
        const unhandled = await unhandledDuring(async () => {
          await rejects(open(env, name), 'DB_FOREIGN', `foreign v${version} [${stores.join(',')}]`);
        });
        eq(unhandled.length, 0, `no unhandled rejection (${unhandled.map(String).join('; ')})`);
        eq(await rawDump(env, name), before, 'foreign data untouched');
        const v = await raw(env, name, async (db) => db.version);
        eq(v, version, 'the foreign database keeps its version');
      }
    },
  },
  {
    name: 'hardening: importProfile of a crafted header (1e8 PBKDF2 iterations, 1 iteration, non-bytes or short salt) → IMPORT_INVALID before any KDF work',
    async run(env) {
      const name = dbName('kdf');
      await using s = await open(env, name);
      await s.meta.set('keep', 1);
      const salt = new Uint8Array(16).fill(7);
      const bad = [
        { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 1e8 },
        { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 1 },
        { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 2.5e3 + 0.5 },
        { name: 'PBKDF2', hash: 'SHA-256', salt: 'not bytes', iterations: 1000 },
        { name: 'PBKDF2', hash: 'SHA-256', salt: new Uint8Array(4), iterations: 1000 },
        { name: 'scrypt', hash: 'SHA-256', salt, iterations: 1000 },
        'a string',
      ];
      for (const kdf of bad) {
        const file = await craftedEncryptedProfile(kdf);
        const e = await rejects(
          s.importProfile(file, { passphrase: 'x', allowPlaintext: true }),
          'IMPORT_INVALID',
          `kdf ${show(kdf)}`,
        );
        ok(/header/.test(e.message), `message names the header: ${e.message}`);
      }
      eq(await s.meta.get('keep'), 1, 'nothing replaced');
      await rejects(
        open(env, dbName('kdf-open'), { encryption: { passphrase: 'p', iterations: 1e8 } }),
        'INVALID_ARGUMENT',
        'opening with 1e8 iterations',
      );
    },
  },
  {
    name: 'hardening: an encrypted export imported into an unencrypted profile is refused unless allowPlaintext; then it is stored in clear',
    async run(env) {
      const enc = await open(env, dbName('enc-src'), {
        encryption: { passphrase: 'secret', iterations: env.iterations },
      });
      await enc.checkpoints().save({ w: 1 });
      const file = await enc.exportProfile();
      await enc.dispose();
      await using plain = await open(env, dbName('plain-dst'));
      await plain.meta.set('mine', 'still here');
      await rejects(
        plain.importProfile(file, { passphrase: 'secret' }),
        'IMPORT_INVALID',
        'encrypted file into a plain profile',
      );
      eq(await plain.meta.get('mine'), 'still here', 'nothing replaced');
      eq(await plain.checkpoints().load(), undefined, 'no checkpoint imported');
      await plain.importProfile(file, { passphrase: 'secret', allowPlaintext: true });
      eq((await plain.checkpoints().load())?.payload, { w: 1 }, 'imported with the explicit option');
      eq(plain.encrypted, false, 'the profile stays unencrypted');
    },
  },
];
