// The open-set model (openset.ts): shrunk full covariance vs diagonal, the energy term, the tempered class posterior, and states saved before them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Learner, type LearnerState } from '../../src/finetune/index.js';
import { addClassPosterior, classDistances, fitOpenSet, openSetScore } from '../../src/finetune/openset.js';
import type { ReplayEntry } from '../../src/finetune/replay.js';
import { Rng } from '../../src/finetune/rng.js';

const DIM = 12;

/** Classes spread along one shared direction with strongly correlated noise: the case a diagonal covariance cannot describe. */
function correlated(seed: number, perClass: number, classes = 3) {
  const rng = new Rng(seed);
  const dir = Float64Array.from({ length: DIM }, () => rng.normal());
  const n = Math.hypot(...dir);
  for (let j = 0; j < DIM; j++) dir[j] = dir[j]! / n;
  const mus = Array.from({ length: classes }, () => Float64Array.from({ length: DIM }, () => rng.normal() * 2));
  const sample = (mu: Float64Array, off = 0): Float32Array => {
    const t = rng.normal() * 3;
    return Float32Array.from(mu, (m, j) => m + t * dir[j]! + 0.3 * rng.normal() + (j === 0 ? off : 0));
  };
  const labeled: ReplayEntry[][] = mus.map((mu, k) =>
    Array.from({ length: perClass }, () => ({
      x: sample(mu),
      x2: undefined,
      cls: k,
      labeled: true,
      holdout: false,
      conf: 1,
      step: 0,
    })),
  );
  return { rng, mus, sample, labeled };
}

function auroc(neg: number[], pos: number[]): number {
  let s = 0;
  for (const p of pos) for (const q of neg) s += p > q ? 1 : p === q ? 0.5 : 0;
  return s / (pos.length * neg.length);
}

const settings = { quantile: 0.05, margin: 0, shrinkage: 0.2, energyWeight: 0 } as const;

test('a shrunk full covariance separates inputs off the classes’ correlated spread better than a diagonal one', () => {
  const w = correlated(3, 60);
  const full = fitOpenSet(w.labeled, DIM, { ...settings, covariance: 'full' });
  const diag = fitOpenSet(w.labeled, DIM, { ...settings, covariance: 'diagonal' });
  assert.ok(full.chol !== undefined && diag.chol === undefined);
  // Taught: fresh draws of the classes. Unknown: each class mean pushed 1.5 off its spread along one axis.
  const known = w.mus.flatMap((mu) => Array.from({ length: 40 }, () => w.sample(mu)));
  const unknown = w.mus.flatMap((mu) => Array.from({ length: 40 }, () => w.sample(mu, 1.5)));
  const score = (m: typeof full, x: Float32Array) => -openSetScore(m, x).margin;
  const aFull = auroc(
    known.map((x) => score(full, x)),
    unknown.map((x) => score(full, x)),
  );
  const aDiag = auroc(
    known.map((x) => score(diag, x)),
    unknown.map((x) => score(diag, x)),
  );
  assert.ok(aFull > aDiag + 0.05, `full ${aFull.toFixed(3)} vs diagonal ${aDiag.toFixed(3)}`);
  assert.ok(aFull > 0.9, `full ${aFull.toFixed(3)}`);
  // Leave-one-out thresholds: about `quantile` of taught inputs are called unknown, not most of them.
  const flagged = known.filter((x) => openSetScore(full, x).margin < 0).length / known.length;
  assert.ok(flagged < 0.2, `taught flagged ${flagged}`);
});

test('the class posterior is scaled on leave-one-out labels (≈ 1 when the classes are Gaussian with one covariance), and leaves a one-class model alone', () => {
  for (const sep of [0.5, 0.8]) {
    const rng = new Rng(4);
    const mus = Array.from({ length: 3 }, () => Float64Array.from({ length: DIM }, () => rng.normal() * sep));
    const labeled = mus.map((mu, k) =>
      Array.from({ length: 300 }, () => ({
        x: Float32Array.from(mu, (m) => m + rng.normal()),
        x2: undefined,
        cls: k,
        labeled: true,
        holdout: false,
        conf: 1,
        step: 0,
      })),
    );
    const m = fitOpenSet(labeled, DIM, { ...settings, shrinkage: 0, covariance: 'full' });
    assert.ok(m.posteriorScale > 0.7 && m.posteriorScale < 1.4, `β ${m.posteriorScale} at separation ${sep}`);
  }
  const w = correlated(5, 30);
  const m = fitOpenSet(w.labeled, DIM, { ...settings, covariance: 'full' });
  const x = w.sample(w.mus[1]!);
  const logits = new Float64Array([0, 0, 0]);
  addClassPosterior(m, x, logits, 1);
  const d = classDistances(m, x);
  assert.equal(logits.indexOf(Math.max(...logits)), d.indexOf(Math.min(...d)));
  const one = fitOpenSet([w.labeled[0]!, [], []], DIM, { ...settings, covariance: 'full' });
  const flat = new Float64Array([0.5, 0.2, 0.1]);
  addClassPosterior(one, x, flat, 1);
  assert.deepEqual([...flat], [0.5, 0.2, 0.1]);
});

test('a state saved before the full-covariance open set restores with the model it was saved with, and continues exactly', async () => {
  const w = correlated(6, 20);
  const l = new Learner({ dim: DIM, seed: 2 });
  w.labeled.forEach((list, k) => {
    for (const e of list) l.addLabeled(e.x, `c${k}`);
  });
  await l.adapt();
  const s = l.getState();
  assert.equal(s.options.openSet.covariance, 'full');
  // Such a state also predates the stream-side novelty (its options and rings).
  const { covariance, shrinkage, energyWeight, classifierWeight, streamNovelty, neighbours, streamWindow, ...older } =
    s.options.openSet;
  void [covariance, shrinkage, energyWeight, classifierWeight, streamNovelty, neighbours, streamWindow];
  const { novelty, ...rest } = s;
  void novelty;
  const saved = { ...rest, options: { ...s.options, openSet: older } } as unknown as LearnerState;
  const a = Learner.fromState(structuredClone(saved));
  const b = Learner.fromState(structuredClone(saved));
  assert.deepEqual(
    { ...a.getState().options.openSet },
    {
      enabled: true,
      quantile: 0.05,
      margin: 0,
      covariance: 'diagonal',
      shrinkage: 0.2,
      energyWeight: 0,
      classifierWeight: 0,
      streamNovelty: 0,
      neighbours: 20,
      streamWindow: 1000,
    },
  );
  for (let i = 0; i < 200; i++) {
    const x = w.sample(w.mus[i % 3]!, i > 120 ? 2 : 0);
    assert.deepEqual(a.observe(x), b.observe(x));
  }
  assert.deepEqual(a.getState(), b.getState());
});
