import { test } from 'node:test';
import assert from 'node:assert/strict';
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange as FakeKeyRange } from 'fake-indexeddb';
import { Encoder, type ModelManifest } from '../../src/runtime/index.js';
import { openStorage } from '../../src/storage/index.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../fixtures/models.js';

test('edgetune/storage is a model cache for the runtime: download once, then start offline from IndexedDB', async () => {
  const bytes = tinyCnn();
  const manifest: ModelManifest = await manifestFor(bytes);
  const files: Record<string, Uint8Array> = {
    'https://app.example/m.json': new TextEncoder().encode(JSON.stringify(manifest)),
    [`https://app.example/${manifest.file}`]: bytes,
  };
  let online = true;
  const fetchFn = (async (url: string) => {
    if (!online) throw new TypeError('Failed to fetch');
    return new Response(files[url]!.slice());
  }) as typeof fetch;
  const storage = await openStorage({ indexedDB: new IDBFactory(), IDBKeyRange: FakeKeyRange, name: 'cache-test' });
  try {
    const first = await Encoder.open('https://app.example/m.json', { fetch: fetchFn, cache: storage });
    const [a] = await first.embed(testImages(1));
    await first.dispose();
    online = false;
    const offline = await Encoder.open({ cache: storage, id: manifest.id });
    assert.equal(offline.diagnostics.origin, 'cache');
    const [b] = await offline.embed(testImages(1));
    assert.deepEqual(Array.from(b!), Array.from(a!));
    await offline.dispose();
  } finally {
    await storage.dispose();
  }
});
