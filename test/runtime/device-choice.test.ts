import { test } from 'node:test';
import assert from 'node:assert/strict';
import 'fake-indexeddb/auto';
import { IDBFactory, IDBKeyRange as FakeKeyRange } from 'fake-indexeddb';
import { Encoder, env } from '../../src/runtime/index.js';
import { choiceKey, type RememberedChoice } from '../../src/runtime/devices.js';
import { openStorage } from '../../src/storage/index.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../fixtures/models.js';

async function withStorage(name: string, fn: (s: Awaited<ReturnType<typeof openStorage>>) => Promise<void>) {
  const storage = await openStorage({ indexedDB: new IDBFactory(), IDBKeyRange: FakeKeyRange, name });
  try {
    await fn(storage);
  } finally {
    await storage.dispose();
  }
}

test('auto with a storage cache: the first open decides and stores a plain meta record, the second reuses it without probing', async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  await withStorage('choice-1', async (storage) => {
    const first = await Encoder.open({ manifest, bytes }, { cache: storage });
    assert.equal(first.device, 'wasm');
    const c1 = first.diagnostics.choice!;
    assert.equal(c1.how, 'only');
    assert.equal(c1.saved, true);
    // In Node only WASM is viable: the reason names why the others were passed over.
    assert.match(c1.reason, /only viable device.*webgpu: webgpu is not available in Node/);
    const [a] = await first.embed(testImages(1));
    await first.dispose();
    const rec = await storage.meta.get<RememberedChoice>(choiceKey(manifest.id));
    assert.equal(rec?.device, 'wasm');
    assert.equal(rec?.sha256, manifest.sha256);

    const second = await Encoder.open({ manifest, bytes }, { cache: storage });
    const c2 = second.diagnostics.choice!;
    assert.equal(c2.how, 'remembered');
    assert.match(c2.reason, /remembered from an earlier open/);
    assert.equal(c2.measuredAt, c1.measuredAt);
    // The remembered device is tried first and alone: the others are not probed.
    assert.deepEqual(
      second.diagnostics.attempts.map((x) => [x.device, x.status]),
      [
        ['wasm', 'ok'],
        ['webnn-npu', 'skipped'],
        ['webnn-gpu', 'skipped'],
        ['webgpu', 'skipped'],
      ],
    );
    const [b] = await second.embed(testImages(1));
    assert.deepEqual(Array.from(b!), Array.from(a!));
    await second.dispose();
  });
});

test('a changed model (sha256), browser/thread setting or device list measures again', async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  await withStorage('choice-2', async (storage) => {
    await (await Encoder.open({ manifest, bytes }, { cache: storage })).dispose();
    // New bytes under the same id (a model update): the old decision does not apply.
    const bytes2 = tinyCnn({ seed: 2 });
    const manifest2 = { ...(await manifestFor(bytes2)), id: manifest.id };
    const updated = await Encoder.open({ manifest: manifest2, bytes: bytes2 }, { cache: storage });
    assert.equal(updated.diagnostics.choice!.how, 'only');
    await updated.dispose();
    const again = await Encoder.open({ manifest: manifest2, bytes: bytes2 }, { cache: storage });
    assert.equal(again.diagnostics.choice!.how, 'remembered');
    await again.dispose();
    // A different device list is a different decision.
    const listed = await Encoder.open(
      { manifest: manifest2, bytes: bytes2 },
      { cache: storage, device: ['webgpu', 'wasm'] },
    );
    assert.equal(listed.diagnostics.choice!.how, 'only');
    await listed.dispose();
    // The platform fingerprint includes the thread setting.
    const before = env.numThreads;
    try {
      env.numThreads = 1;
      const threads = await Encoder.open(
        { manifest: manifest2, bytes: bytes2 },
        { cache: storage, device: ['webgpu', 'wasm'] },
      );
      assert.equal(threads.diagnostics.choice!.how, 'only');
      await threads.dispose();
    } finally {
      env.numThreads = before;
    }
  });
});

test('a damaged or foreign record is ignored, and one device asked for is neither measured nor stored', async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  await withStorage('choice-3', async (storage) => {
    await storage.meta.set(choiceKey(manifest.id), { v: 1, device: 'tpu', sha256: manifest.sha256 });
    const enc = await Encoder.open({ manifest, bytes }, { cache: storage });
    assert.equal(enc.diagnostics.choice!.how, 'only');
    await enc.dispose();
    const rec = await storage.meta.get<RememberedChoice>(choiceKey(manifest.id));
    assert.equal(rec?.device, 'wasm');
    const one = await Encoder.open({ manifest, bytes }, { cache: storage, device: 'wasm' });
    assert.equal(one.diagnostics.choice!.saved, false);
    await one.dispose();
  });
});
