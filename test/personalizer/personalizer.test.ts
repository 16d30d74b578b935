// Node tests of the personalizer in-thread on fake-indexeddb with the shipped default encoder: the shared behaviour cases, offline model cache, model-version keying, hostile options.
import 'fake-indexeddb/auto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { isEdgetuneError } from '../../src/core/errors.js';
import { openPersonalizer, type PersonalizerOptions } from '../../src/personalizer/index.js';
import { choiceKey, THREADS_KEY } from '../../src/runtime/devices.js';
import type { ModelManifest } from '../../src/runtime/manifest.js';
import { openStorage } from '../../src/storage/index.js';
import { loadFmnistSample } from '../../scripts/lib/fmnist.js';
import { CASES, image, ofClass, profileName, type PEnv } from './behaviour.js';

const root = join(import.meta.dirname, '..', '..');
const factory = new IDBFactory();
const readModel = (name: string): { manifest: ModelManifest; bytes: Uint8Array } => {
  const manifest = JSON.parse(readFileSync(join(root, 'models', `${name}.json`), 'utf8')) as ModelManifest;
  return { manifest, bytes: new Uint8Array(readFileSync(join(root, 'models', manifest.file))) };
};
const def = (JSON.parse(readFileSync(join(root, 'models', 'index.json'), 'utf8')) as { default: string }).default;
const model = readModel(def);
const sample = await loadFmnistSample();

function req<T>(r: IDBRequest<T>): Promise<T> {
  return new Promise((res, rej) => {
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
}

const env: PEnv = {
  model,
  sample,
  open: (profile, extra = {}) =>
    openPersonalizer({
      model: { manifest: model.manifest, bytes: model.bytes.slice() },
      device: 'wasm',
      storage: { name: profile, indexedDB: factory, IDBKeyRange },
      ...extra,
    } as PersonalizerOptions),
  async raw(profile) {
    const db = await req(factory.open(profile));
    try {
      const out: Record<string, { keys: unknown[]; values: unknown[] }> = {};
      const names = Array.from(db.objectStoreNames);
      const tx = db.transaction(names, 'readonly');
      for (const s of names)
        out[s] = { keys: await req(tx.objectStore(s).getAllKeys()), values: await req(tx.objectStore(s).getAll()) };
      return out;
    } finally {
      db.close();
    }
  },
};

for (const c of CASES) test(`personalizer (node, in-thread): ${c.name}`, () => c.run(env));

test('personalizer: a model opened from its URL is cached in the profile and opens offline afterwards; another version of the model never loads this head', async () => {
  const server = http.createServer((q, res) => {
    try {
      res.end(
        readFileSync(
          join(root, 'models', decodeURIComponent(new URL(q.url!, 'http://x').pathname).replace(/^\/+/, '')),
        ),
      );
    } catch {
      res.statusCode = 404;
      res.end();
    }
  });
  server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/${def}.json`;
  const profile = profileName('url');
  const storage = { name: profile, indexedDB: factory, IDBKeyRange };
  const a = await openPersonalizer({ model: url, device: 'wasm', storage });
  for (const k of ofClass(sample, 1, 3)) await a.teach(image(sample, k), 'trouser');
  for (const k of ofClass(sample, 8, 3)) await a.teach(image(sample, k), 'bag');
  await a.dispose();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  // The server is gone: the manifest fetch fails and the cached copy serves.
  const b = await openPersonalizer({ model: url, device: 'wasm', storage });
  assert.deepEqual((await b.classes()).sort(), ['bag', 'trouser']);
  await b.dispose();
  await assert.rejects(
    openPersonalizer({ model: 'http://127.0.0.1:1/never-cached.json', device: 'wasm', storage }),
    (e) => isEdgetuneError(e, 'MODEL_NOT_FOUND'),
  );
  // Same id, other bytes (the fp32 build under the int8 id): a new version of the model starts empty.
  const fp32 = readModel(def.replace('-int8', '-fp32'));
  const other = await openPersonalizer({
    model: { manifest: { ...fp32.manifest, id: model.manifest.id }, bytes: fp32.bytes },
    device: 'wasm',
    storage,
  });
  assert.deepEqual(await other.classes(), []);
  await other.dispose();
  const back = await openPersonalizer({ model: { id: model.manifest.id }, device: 'wasm', storage });
  // { id } opens the copy cached last under that id (the fp32 one now): still not the int8 head.
  assert.equal((await back.stats()).modelSha256, fp32.manifest.sha256);
  await back.dispose();
});

test('personalizer: storage false keeps everything in memory; bad options and inputs are typed errors', async () => {
  await using p = await openPersonalizer({
    model: { manifest: model.manifest, bytes: model.bytes.slice() },
    device: 'wasm',
    storage: false,
  });
  await p.teach(image(sample, ofClass(sample, 1, 1)[0]!), 'trouser');
  assert.equal((await p.stats()).profile, undefined);
  assert.equal(await p.save(), 0);
  await assert.rejects(p.exportProfile(), (e) => isEdgetuneError(e, 'INVALID_ARGUMENT'));
  await assert.rejects(p.teach(new Float32Array(3), 'x'), (e) => isEdgetuneError(e, 'INPUT_SHAPE'));
  await assert.rejects(p.predict({ data: new Uint8Array(10), width: 28, height: 28, channels: 1 }), (e) =>
    isEdgetuneError(e),
  );
  await assert.rejects(openPersonalizer({} as PersonalizerOptions), (e) => isEdgetuneError(e, 'INVALID_ARGUMENT'));
  await assert.rejects(openPersonalizer({ model: { id: 'x' }, storage: false }), (e) =>
    isEdgetuneError(e, 'INVALID_ARGUMENT'),
  );
  await assert.rejects(openPersonalizer({ model: { id: 'x' }, autosaveMs: -1 }), (e) =>
    isEdgetuneError(e, 'INVALID_ARGUMENT'),
  );
});

test('personalizer: the remembered device choice stays on the device: not exported, kept by an import, deleted by forget', async () => {
  const key = choiceKey(model.manifest.id);
  const remember = async (profile: string, device: string): Promise<void> => {
    await using s = await openStorage({ name: profile, indexedDB: factory, IDBKeyRange });
    await s.meta.set(key, { device });
    await s.meta.set(THREADS_KEY, { device });
  };
  const metaKeys = async (profile: string): Promise<unknown[]> => (await env.raw(profile))['meta']!.keys;
  const src = profileName('choice-src');
  const a = await env.open(src);
  for (const k of ofClass(sample, 1, 2)) await a.teach(image(sample, k), 'trouser');
  await a.save();
  await remember(src, 'webgpu');
  const file = await a.exportProfile();
  await a.dispose();
  const fresh = profileName('choice-fresh');
  const b = await env.open(fresh);
  await b.importProfile(file);
  assert.deepEqual(await b.classes(), ['trouser']);
  await b.dispose();
  const leaked = (await metaKeys(fresh)).filter((k) => k === key || k === THREADS_KEY);
  assert.deepEqual(leaked, [], 'the export carried no device-local record');
  const own = profileName('choice-own');
  await remember(own, 'wasm');
  const c = await env.open(own);
  await c.importProfile(file);
  await c.dispose();
  {
    await using s = await openStorage({ name: own, indexedDB: factory, IDBKeyRange });
    assert.deepEqual(await s.meta.get(key), { device: 'wasm' }, "the import kept this device's own choice");
    assert.deepEqual(await s.meta.get(THREADS_KEY), { device: 'wasm' });
  }
  const d = await env.open(own);
  await d.forget();
  await d.dispose();
  assert.deepEqual(await metaKeys(own), [], 'forget deleted the device choice too');
});
