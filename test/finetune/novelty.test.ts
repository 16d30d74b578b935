// The stream-side novelty of the open-set score (novelty.ts StreamNovelty, `openSet.streamNovelty`): a class never taught that gathers in the stream is told apart from taught inputs the label-only score ranks alike; saved and restored exactly; off for old states.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Learner, type LearnerOptions, type LearnerState } from '../../src/finetune/index.js';
import { Rng } from '../../src/finetune/rng.js';

const DIM = 12;

/**
 * Three taught classes (isotropic, sd 1) and one never taught: a tight cluster (sd 0.3) closer to class 0's mean
 * than class 0's own inputs are, so a distance to the label means ranks it as more familiar than class 0.
 */
function world(seed: number) {
  const rng = new Rng(seed);
  const base = new Float64Array(DIM);
  const mus = Array.from({ length: 3 }, () => Float64Array.from(base, (b) => b + rng.normal() * 3));
  const off = Float64Array.from({ length: DIM }, () => rng.normal());
  const n = Math.hypot(...off);
  const stranger = Float64Array.from(mus[0]!, (m, j) => m + (off[j]! / n) * 0.6 * Math.sqrt(DIM));
  const draw = (mu: Float64Array, sd: number): Float32Array => Float32Array.from(mu, (m) => m + sd * rng.normal());
  const taught = (k: number): Float32Array => draw(mus[k]!, 1);
  const unknown = (): Float32Array => draw(stranger, 0.3);
  return { rng, taught, unknown };
}

function auroc(neg: number[], pos: number[]): number {
  let s = 0;
  for (const p of pos) for (const q of neg) s += p > q ? 1 : p === q ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

async function learnerOn(seed: number, opts: Partial<LearnerOptions>) {
  const w = world(seed);
  const l = new Learner({ dim: DIM, seed, ...opts });
  for (let k = 0; k < 3; k++) for (let i = 0; i < 60; i++) l.addLabeled(w.taught(k), `c${k}`);
  await l.adapt();
  // The user's stream: the taught classes and, a third of it, the class never taught.
  const stream = Array.from({ length: 300 }, (_, i) => (i % 3 === 2 ? w.unknown() : w.taught(i % 3)));
  return { w, l, stream };
}

test('after a stream holding a class never taught, its inputs score unfamiliar where the label-only score ranks them like taught ones', async () => {
  const aurocs: Record<string, number> = {};
  for (const [name, streamNovelty] of [
    ['label-only', 0],
    ['stream-side (default weight 1)', 1],
    ['stream-side, weight 2', 2],
  ] as const) {
    const { w, l, stream } = await learnerOn(5, { openSet: { streamNovelty }, mode: 'frozen' });
    for (const x of stream) l.observe(x);
    const known = Array.from({ length: 90 }, (_, i) => -l.predict(w.taught(i % 3)).familiarity);
    const strangers = Array.from({ length: 90 }, () => -l.predict(w.unknown()).familiarity);
    aurocs[name] = auroc(known, strangers);
  }
  // The same learner, labels and stream; only the stream-side term differs (measured here: 0.44, 0.70 at weight 1, 0.84 at 2).
  assert.ok(aurocs['label-only']! < 0.6, `label-only AUROC ${aurocs['label-only']}`);
  assert.ok(
    aurocs['stream-side (default weight 1)']! > 0.65,
    `default AUROC ${aurocs['stream-side (default weight 1)']}`,
  );
  assert.ok(aurocs['stream-side, weight 2']! > 0.8, `weight-2 AUROC ${aurocs['stream-side, weight 2']}`);
});

test('the novelty frames are saved and restored: a restored learner continues exactly', async () => {
  const { w, l, stream } = await learnerOn(7, {});
  for (const x of stream.slice(0, 150)) l.observe(x);
  const state = l.getState();
  assert.ok(state.novelty && state.novelty.frames.length > 0 && state.novelty.fractions.length > 0);
  const copy = Learner.fromState(structuredClone(state));
  for (const x of stream.slice(150)) {
    const a = l.observe(x);
    const b = copy.observe(x);
    assert.equal(b.prediction.familiarity, a.prediction.familiarity);
    assert.equal(b.accepted, a.accepted);
  }
  const probe = w.unknown();
  assert.equal(copy.predict(probe).familiarity, l.predict(probe).familiarity);
});

test('a state saved before the stream-side novelty restores with it off and continues exactly', async () => {
  const { w, l, stream } = await learnerOn(8, { openSet: { streamNovelty: 0 } });
  for (const x of stream.slice(0, 100)) l.observe(x);
  const s = structuredClone(l.getState()) as unknown as Record<string, unknown>;
  // What such a state looked like: no novelty rings, no novelty options.
  delete s['novelty'];
  const os = { ...((s['options'] as Record<string, unknown>)['openSet'] as Record<string, unknown>) };
  delete os['streamNovelty'];
  delete os['neighbours'];
  delete os['streamWindow'];
  s['options'] = { ...(s['options'] as Record<string, unknown>), openSet: os };
  const old = Learner.fromState(s as unknown as LearnerState);
  assert.equal(old.getState().options.openSet.streamNovelty, 0);
  for (const x of [...stream.slice(100), w.unknown()]) {
    const a = l.observe(x);
    const b = old.observe(x);
    assert.equal(b.prediction.familiarity, a.prediction.familiarity);
  }
});
