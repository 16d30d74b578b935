// Re-centring of the class means on a shifted stream (recentre.ts): it moves the means when most of the stream is unfamiliar, refuses on a familiar stream where moving hurts and on an unfamiliar one whose classes have not moved, and survives getState/fromState.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Learner, type LearnerOptions, type LearnerState } from '../../src/finetune/index.js';
import { Rng } from '../../src/finetune/rng.js';

const DIM = 16;
const K = 4;
const NAMES = ['a', 'b', 'c', 'd'];

interface World {
  rng: Rng;
  /** The labels every learner of a test is given (drawn once, so learners differ only in their options). */
  labels: { x: Float32Array[]; y: string[] };
  mus: Float32Array[];
  /** Per class, where a shifted sensor moves it: part of the way to the next class (alignment cannot absorb it). */
  moves: Float32Array[];
  /** One offset of the whole shifted stream (what makes it unfamiliar, and what alignment removes). */
  offset: Float32Array;
}

function world(seed: number, sep = 1.5): World {
  const rng = new Rng(seed);
  const g = () => Float32Array.from({ length: DIM }, () => rng.normal());
  const mus = NAMES.map(() => g().map((v) => v * sep));
  const moves = mus.map((m, k) => m.map((v, j) => mus[(k + 1) % K]![j]! - v));
  const w: World = { rng, labels: { x: [], y: [] }, mus, moves, offset: g().map((v) => v * 3) };
  w.labels = draw(w, 4 * 30, 0);
  return w;
}

/** `n` samples of class `k`; with `shift` > 0 moved that share of the way to the next class, plus the stream's offset. */
function sample(w: World, k: number, n: number, shift = 0): Float32Array[] {
  const m = w.mus[k]!;
  const mv = w.moves[k]!;
  const off = shift > 0 ? w.offset : new Float32Array(DIM);
  return Array.from({ length: n }, () =>
    Float32Array.from(m, (v, j) => v + shift * mv[j]! + off[j]! + w.rng.normal() * 0.8),
  );
}

function draw(w: World, n: number, shift: number, classes = K): { x: Float32Array[]; y: string[] } {
  const x: Float32Array[] = [];
  const y: string[] = [];
  for (let i = 0; i < n; i++) {
    x.push(sample(w, i % classes, 1, shift)[0]!);
    y.push(NAMES[i % classes]!);
  }
  return { x, y };
}

/** Re-centring without the minChange rule (the mechanism itself). */
const MOVE: Partial<LearnerOptions> = { recentre: { minChange: 0 } };

async function run(w: World, stream: Float32Array[], o: Partial<LearnerOptions>): Promise<Learner> {
  const l = new Learner({ dim: DIM, seed: 3, mode: 'frozen', ...o });
  w.labels.x.forEach((x, i) => l.addLabeled(x, w.labels.y[i]!));
  await l.adapt();
  for (const x of stream) if (l.observe(x).adaptDue) await l.adapt();
  return l;
}

const accuracy = (l: Learner, d: { x: Float32Array[]; y: string[] }): number =>
  d.x.filter((x, i) => l.predict(x).label === d.y[i]).length / d.x.length;

test('on a stream that has shifted as a whole, the re-centred means raise accuracy (label-free)', async () => {
  const w = world(21);
  const stream = draw(w, 600, 0.45);
  // In this small world the re-centring changes 30–40% of the class posterior's calls: below the default minChange.
  const on = await run(w, stream.x, MOVE);
  const off = await run(w, stream.x, { recentre: false });
  assert.equal(on.getState().recentre?.means.length, K * DIM, 'the means moved');
  assert.ok(
    accuracy(on, stream) > accuracy(off, stream) + 0.05,
    `on ${accuracy(on, stream).toFixed(3)} vs off ${accuracy(off, stream).toFixed(3)}`,
  );
});

test('the gate refuses on a familiar stream where moving the means hurts', async () => {
  // A camera on two of four classes: nothing is unfamiliar, and an EM with all four classes would pull the
  // means of the absent two onto the edges of the present ones.
  const w = world(22, 0.5);
  const stream = draw(w, 600, 0, 2).x;
  const probe = draw(w, 400, 0);
  const ungated = await run(w, stream, { recentre: { minUnknown: 0, minChange: 0 } });
  const off = await run(w, stream, { recentre: false });
  assert.ok(
    accuracy(ungated, probe) < accuracy(off, probe) - 0.02,
    `moving hurts here: ${accuracy(ungated, probe).toFixed(3)} vs ${accuracy(off, probe).toFixed(3)}`,
  );
  const gated = await run(w, stream, {});
  assert.equal(gated.getState().recentre?.means.length, 0, 'the gate refused');
  for (const x of probe.x.slice(0, 50)) {
    const a = gated.predict(x).probs;
    const b = off.predict(x).probs;
    assert.deepEqual(a, b);
  }
});

test('an unfamiliar stream whose classes sit where the labels put them keeps the label means (minChange)', async () => {
  // The whole stream is offset (unfamiliar; alignment removes the offset) but its classes have barely moved:
  // the moved means would change few of the class posterior's calls.
  const w = world(25);
  const stream = draw(w, 600, 0.02).x;
  const kept = await run(w, stream, { recentre: { minChange: 0 } });
  assert.equal(kept.getState().recentre?.means.length, K * DIM, 'without the rule the means move');
  const gated = await run(w, stream, {});
  assert.equal(gated.getState().recentre?.means.length, 0, 'the rule kept the label means');
  const off = await run(w, stream, { recentre: false });
  for (const x of draw(w, 50, 0.02).x) assert.deepEqual(gated.predict(x).probs, off.predict(x).probs);
});

test('re-centred means and frames survive getState/fromState; a state saved before re-centring restores with it off', async () => {
  const w = world(23);
  const l = await run(w, draw(w, 250, 0.45).x, MOVE);
  const saved = structuredClone(l.getState());
  assert.equal(saved.recentre?.means.length, K * DIM);
  const r = Learner.fromState(saved);
  for (const x of draw(w, 250, 0.45).x) {
    const a = l.observe(x);
    const b = r.observe(x);
    assert.deepEqual(b.prediction.probs, a.prediction.probs);
  }
  const { recentre: _drop, ...rest } = saved;
  const { recentre: _opt, ...opts } = saved.options;
  const old = Learner.fromState({ ...rest, options: opts } as unknown as LearnerState);
  assert.equal(old.getState().options.recentre.enabled, false);
  assert.throws(
    () => Learner.fromState({ ...saved, recentre: { ...saved.recentre!, means: new Float32Array(3) } }),
    /recentre\.means/,
  );
});

test('recentre options are checked', () => {
  assert.throws(() => new Learner({ dim: 4, recentre: { every: 0 } }), /recentre\.every/);
  assert.throws(() => new Learner({ dim: 4, recentre: { minUnknown: 2 } }), /recentre\.minUnknown/);
  assert.throws(() => new Learner({ dim: 4, recentre: { minChange: -0.1 } }), /recentre\.minChange/);
  assert.throws(() => new Learner({ dim: 4, recentre: { typo: 1 } as never }), /recentre\.typo/);
  assert.equal(new Learner({ dim: 4, recentre: false }).getState().options.recentre.enabled, false);
  assert.equal(new Learner({ dim: 4 }).getState().options.recentre.enabled, true);
  const fresh = new Learner({ dim: 4 }).getState();
  assert.equal(fresh.options.recentre.minChange, 0.5);
  const { minChange: _mc, ...before } = fresh.options.recentre;
  const restored = Learner.fromState({
    ...fresh,
    options: { ...fresh.options, recentre: before },
  } as unknown as LearnerState);
  assert.equal(
    restored.getState().options.recentre.minChange,
    0,
    'saved before minChange: every re-centring kept, as then',
  );
});

test('a change of input (the embedding test) clears the re-centring frames and means', async () => {
  const w = world(24);
  const l = await run(w, draw(w, 300, 0.45).x, MOVE);
  assert.equal(l.getState().recentre?.means.length, K * DIM);
  let atDrift: LearnerState | undefined;
  let detector = '';
  l.on((e) => {
    if (e.type === 'drift' && !atDrift) {
      atDrift = l.getState();
      detector = e.change.detector;
    }
  });
  for (const x of draw(w, 400, 0.45).x) {
    l.observe(Float32Array.from(x, (v, j) => v + (j % 2 ? 4 : -4)));
    if (atDrift) break;
  }
  assert.ok(atDrift, 'the shift was caught');
  assert.equal(detector, 'embedding');
  assert.equal(atDrift.recentre?.means.length, 0);
  assert.equal(atDrift.recentre?.length, 0);
});
