// Semi-supervised re-estimation of the class means (reestimate.ts): EM moves a few labels' displaced means to their clusters, is off with many labels, and survives getState/fromState.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Learner, type LearnerOptions, type LearnerState } from '../../src/finetune/index.js';
import { fitOpenSet } from '../../src/finetune/openset.js';
import { reestimateMeans } from '../../src/finetune/reestimate.js';
import type { ReplayEntry } from '../../src/finetune/replay.js';
import { Rng } from '../../src/finetune/rng.js';

const DIM = 16;
const K = 4;
const NAMES = ['a', 'b', 'c', 'd'];

interface World {
  rng: Rng;
  mus: Float32Array[];
}

function world(seed: number, sep = 1.5): World {
  const rng = new Rng(seed);
  return { rng, mus: NAMES.map(() => Float32Array.from({ length: DIM }, () => rng.normal() * sep)) };
}

/** `n` samples of class `k`, moved by `bias` of the way towards class `(k + 1) mod K`. */
function sample(w: World, k: number, n: number, bias = 0): Float32Array[] {
  const m = w.mus[k]!;
  const to = w.mus[(k + 1) % K]!;
  return Array.from({ length: n }, () =>
    Float32Array.from(m, (v, j) => v + bias * (to[j]! - v) + w.rng.normal() * 0.8),
  );
}

/** Few labels per class, each class's labels displaced towards a neighbour (a biased few-shot draw). */
function displacedLabels(w: World, perClass: number, bias: number): { x: Float32Array[]; y: string[] } {
  const x: Float32Array[] = [];
  const y: string[] = [];
  for (let k = 0; k < K; k++)
    for (const v of sample(w, k, perClass, bias)) {
      x.push(v);
      y.push(NAMES[k]!);
    }
  return { x, y };
}

function balanced(w: World, n: number): { x: Float32Array[]; y: string[] } {
  const x: Float32Array[] = [];
  const y: string[] = [];
  for (let i = 0; i < n; i++) {
    x.push(sample(w, i % K, 1)[0]!);
    y.push(NAMES[i % K]!);
  }
  return { x, y };
}

const dist = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return Math.sqrt(s);
};

test('EM moves a displaced label mean towards its true cluster', () => {
  const w = world(11);
  const labeled: ReplayEntry[][] = NAMES.map((_, k) =>
    sample(w, k, 3, 0.35).map((x) => ({ x, x2: undefined, cls: k, labeled: true, holdout: false, conf: 1, step: 0 })),
  );
  const m = fitOpenSet(labeled, DIM, {
    quantile: 0.05,
    margin: 0,
    covariance: 'full',
    shrinkage: 0.2,
    energyWeight: 0,
  });
  const frames = balanced(w, 800).x;
  const means = reestimateMeans(m, frames, undefined, { iterations: 5, labelWeight: 2, headWeight: 0, hard: false });
  assert.ok(means, 'means were re-estimated');
  for (let k = 0; k < K; k++) {
    const before = dist(m.means.subarray(k * DIM, (k + 1) * DIM), w.mus[k]!);
    const after = dist(means.subarray(k * DIM, (k + 1) * DIM), w.mus[k]!);
    assert.ok(after < 0.6 * before, `class ${k}: ${after.toFixed(2)} from its cluster, was ${before.toFixed(2)}`);
  }
  // Without frames nothing can be estimated.
  assert.equal(
    reestimateMeans(m, [], undefined, { iterations: 3, labelWeight: 5, headWeight: 1, hard: false }),
    undefined,
  );
});

async function runLearner(
  labels: { x: Float32Array[]; y: string[] },
  stream: Float32Array[],
  o: Partial<LearnerOptions>,
): Promise<Learner> {
  const l = new Learner({ dim: DIM, seed: 3, ...o });
  labels.x.forEach((x, i) => l.addLabeled(x, labels.y[i]!));
  await l.adapt();
  for (const x of stream) if (l.observe(x).adaptDue) await l.adapt();
  await l.adapt();
  return l;
}

test('with a few displaced labels, re-estimating on the stream raises accuracy on fresh data', async () => {
  const w = world(12);
  const labels = displacedLabels(w, 3, 0.4);
  const stream = balanced(w, 600).x;
  const probe = balanced(w, 800);
  const acc = (l: Learner): number =>
    probe.x.filter((x, i) => l.predict(x).label === probe.y[i]).length / probe.x.length;
  const on = await runLearner(labels, stream, { reestimate: { when: 'auto' } });
  const off = await runLearner(labels, stream, { reestimate: false });
  assert.ok(acc(on) > acc(off) + 0.02, `on ${acc(on).toFixed(3)} vs off ${acc(off).toFixed(3)}`);
  assert.equal(on.getState().reestimate?.means.length, K * DIM);
  assert.equal(off.getState().reestimate?.means.length, 0);
});

test("'auto' leaves a learner with many labels exactly as with re-estimation off; frozen learners never re-estimate", async () => {
  const w = world(13);
  const labels = displacedLabels(w, 60, 0);
  const stream = balanced(w, 400).x;
  const probe = balanced(w, 100).x;
  const auto = await runLearner(labels, stream, { reestimate: { when: 'auto' } });
  const off = await runLearner(labels, stream, { reestimate: false });
  for (const x of probe) assert.deepEqual(auto.predict(x).probs, off.predict(x).probs);
  assert.equal(auto.getState().reestimate?.means.length, 0);
  // Forced on, the same learner does move.
  const always = await runLearner(labels, stream, { reestimate: { when: 'always' } });
  assert.equal(always.getState().reestimate?.means.length, K * DIM);
  const frozen = await runLearner(displacedLabels(w, 3, 0.4), stream, { mode: 'frozen', reestimate: true });
  assert.equal(frozen.getState().reestimate?.means.length, 0);
});

test('re-estimated means and frames survive getState/fromState; a state saved before re-estimation restores with it off', async () => {
  const w = world(14);
  const l = await runLearner(displacedLabels(w, 3, 0.4), balanced(w, 300).x, { reestimate: { when: 'auto' } });
  const saved = structuredClone(l.getState());
  assert.equal(saved.reestimate?.means.length, K * DIM);
  const r = Learner.fromState(saved);
  const more = balanced(w, 250).x;
  for (const x of more) {
    const a = l.observe(x);
    const b = r.observe(x);
    assert.deepEqual(b.prediction.probs, a.prediction.probs);
    if (a.adaptDue) {
      await l.adapt();
      await r.adapt();
    }
  }
  await l.adapt();
  await r.adapt();
  for (const x of balanced(w, 50).x) assert.deepEqual(r.predict(x).probs, l.predict(x).probs);
  // An older state: no re-estimation field and no option for it.
  const { reestimate: _drop, ...rest } = saved;
  const { reestimate: _opt, ...opts } = saved.options;
  const old = Learner.fromState({ ...rest, options: opts } as unknown as LearnerState);
  assert.equal(old.getState().options.reestimate.when, 'never');
  // A damaged field is refused by name.
  assert.throws(
    () =>
      Learner.fromState({
        ...saved,
        reestimate: { ...saved.reestimate!, means: new Float32Array(3) },
      }),
    /reestimate\.means/,
  );
});

test('reestimate options are checked', () => {
  assert.throws(() => new Learner({ dim: 4, reestimate: { when: 'sometimes' as 'auto' } }), /reestimate\.when/);
  assert.throws(() => new Learner({ dim: 4, reestimate: { window: 0 } }), /reestimate\.window/);
  assert.throws(() => new Learner({ dim: 4, reestimate: { typo: 1 } as never }), /reestimate\.typo/);
  assert.equal(new Learner({ dim: 4, reestimate: true }).getState().options.reestimate.when, 'always');
});

test('re-estimation is off unless asked for; giving its options opts in with when: auto', async () => {
  // On by default it lowered the README's contrast-4 stream with 5 labels per class (docs/finetune.md follow-up 4).
  assert.equal(new Learner({ dim: 4 }).getState().options.reestimate.when, 'never');
  assert.equal(new Learner({ dim: 4, reestimate: { labelWeight: 2 } }).getState().options.reestimate.when, 'auto');
  const w = world(12);
  const l = await runLearner(displacedLabels(w, 3, 0.4), balanced(w, 600).x, {});
  assert.equal(l.getState().reestimate?.means.length, 0);
});

test('drift clears the re-estimation frames and means (they describe the old stream)', async () => {
  const w = world(15);
  const l = await runLearner(displacedLabels(w, 3, 0.4), balanced(w, 300).x, { reestimate: { when: 'auto' } });
  assert.equal(l.getState().reestimate?.means.length, K * DIM);
  let atDrift: LearnerState | undefined;
  l.on((e) => {
    if (e.type === 'drift' && !atDrift) atDrift = l.getState();
  });
  // The same classes seen through a shifted sensor: every input moved by 4 in every dimension.
  for (const x of balanced(w, 400).x) {
    l.observe(Float32Array.from(x, (v) => v + 4));
    if (atDrift) break;
  }
  assert.ok(atDrift, 'the shift was caught');
  assert.equal(atDrift.reestimate?.means.length, 0);
  assert.equal(atDrift.reestimate?.length, 0);
});
