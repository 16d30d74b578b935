// The load-time warm-up: it stops once run times have dropped and settled, honours a fixed count and a budget, validates the option, and Encoder.open records what it did.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { isEdgetuneError } from '../../src/core/errors.js';
import { Encoder, type ModelManifest } from '../../src/runtime/index.js';
import { warmUp } from '../../src/runtime/warmup.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';
import { manifestFor } from '../fixtures/models.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('auto stops as steady once a slow start has given way to fast runs', async () => {
  let n = 0;
  // Three slow calls (like code still on the baseline tier), then fast ones.
  const r = await warmUp(() => sleep(n++ < 3 ? 150 : 2), { budgetMs: 20_000 });
  assert.equal(r.stopped, 'steady');
  assert.ok(r.runs >= 6, `runs ${r.runs}`);
  assert.ok(r.firstMs >= 100 && r.lastMs < r.firstMs / 3, `first ${r.firstMs} last ${r.lastMs}`);
});

test('a fixed count runs exactly that often; a zero budget stops after the first runs', async () => {
  let n = 0;
  const fixed = await warmUp(async () => void n++, 5);
  assert.deepEqual([fixed.runs, fixed.stopped, n], [5, 'count', 5]);
  const capped = await warmUp(() => sleep(5), { budgetMs: 0 });
  assert.deepEqual([capped.runs, capped.stopped], [1, 'budget']);
});

test('Encoder.open warms up past the first run, records it, and rejects a bad warmup option', async () => {
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);
  await using enc = await Encoder.open({ manifest, bytes }, { device: 'wasm' });
  const w = enc.diagnostics.warmup;
  assert.ok(w && w.runs >= 2 && (w.stopped === 'steady' || w.stopped === 'budget'), JSON.stringify(w));
  await using one = await Encoder.open({ manifest, bytes }, { device: 'wasm', warmup: 1 });
  assert.deepEqual([one.diagnostics.warmup?.runs, one.diagnostics.warmup?.stopped], [1, 'count']);
  for (const bad of [0, 1.5, -1, 'fast', { budgetMs: Number.NaN }]) {
    await assert.rejects(
      Encoder.open({ manifest, bytes }, { device: 'wasm', warmup: bad as never }),
      (e: unknown) => isEdgetuneError(e, 'INVALID_ARGUMENT') && /warmup/.test((e as Error).message),
    );
  }
});

test('the shipped encoder warms up with more than one run and then embeds', async () => {
  const dir = join(import.meta.dirname, '..', '..', 'models');
  const manifest = JSON.parse(readFileSync(join(dir, 'fmnist-cnn-vicreg-int8.json'), 'utf8')) as ModelManifest;
  await using enc = await Encoder.open(
    { manifest, bytes: new Uint8Array(readFileSync(join(dir, manifest.file))) },
    { device: 'wasm' },
  );
  const w = enc.diagnostics.warmup!;
  // Behaviour, not speed (timings are the bench's job): the warm-up ran more than once and said why it stopped.
  assert.ok(w.runs >= 2 && ['steady', 'budget'].includes(w.stopped) && w.ms >= w.firstMs, JSON.stringify(w));
  const out = await enc.embed([{ data: new Uint8Array(784).fill(90), width: 28, height: 28, channels: 1 }]);
  assert.equal(out[0]!.length, 256);
});
