// Behaviour of the fine-tuner on synthetic Gaussian-cluster embeddings: heads, pseudo-labels, thresholds, EMA, drift, replay, guards, state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEdgetuneError } from '../../src/core/errors.js';
import { Learner, type LearnerOptions, type LearnerState } from '../../src/finetune/index.js';
// Internals are not part of edgetune/finetune's public surface: imported from their modules.
import { Adwin, PageHinkley } from '../../src/finetune/drift.js';
import { ReplayBuffer } from '../../src/finetune/replay.js';
import { Rng } from '../../src/finetune/rng.js';
import {
  classThresholds,
  newThresholdState,
  resolveThresholds,
  updateThresholds,
} from '../../src/finetune/thresholds.js';

const DIM = 16;
const CLASSES = ['a', 'b', 'c', 'd'];

/** Class centres on a random orthogonal-ish basis, scaled by `sep`. */
function centres(rng: Rng, sep: number): Float32Array[] {
  return CLASSES.map(() => Float32Array.from({ length: DIM }, () => rng.normal() * sep));
}

function draw(
  rng: Rng,
  mus: Float32Array[],
  n: number,
  opts: { noise?: number; shift?: Float32Array; weights?: number[] } = {},
): { x: Float32Array[]; y: string[] } {
  const x: Float32Array[] = [];
  const y: string[] = [];
  const w = opts.weights ?? CLASSES.map(() => 1);
  const tot = w.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n; i++) {
    let r = rng.next() * tot;
    let k = 0;
    while (r > w[k]! && k < w.length - 1) r -= w[k++]!;
    const v = Float32Array.from(mus[k]!, (m, j) => m + rng.normal() * (opts.noise ?? 1) + (opts.shift?.[j] ?? 0));
    x.push(v);
    y.push(CLASSES[k]!);
  }
  return { x, y };
}

const acc = (l: Learner, d: { x: Float32Array[]; y: string[] }): number =>
  d.x.filter((x, i) => l.predict(x).label === d.y[i]).length / d.x.length;

async function fit(opts: Partial<LearnerOptions>, d: { x: Float32Array[]; y: string[] }): Promise<Learner> {
  const l = new Learner({ dim: DIM, seed: 3, classes: CLASSES, ...opts });
  d.x.forEach((x, i) => l.addLabeled(x, d.y[i]!));
  await l.adapt();
  return l;
}

test('every head learns separable clusters', async () => {
  const rng = new Rng(1);
  const mus = centres(rng, 1.5);
  const train = draw(rng, mus, 200);
  const testSet = draw(rng, mus, 400);
  for (const head of ['ncm', 'linear', 'adapter'] as const) {
    const l = await fit({ head, mode: 'frozen' }, train);
    assert.ok(acc(l, testSet) > 0.9, `${head}: ${acc(l, testSet)}`);
    assert.equal(l.stats().fitted, head !== 'ncm' || l.stats().fitted);
  }
  // Chance on 4 classes is 0.25; an untrained linear head must not already score like a trained one.
  const untrained = new Learner({ dim: DIM, classes: CLASSES });
  untrained.addLabeled(train.x[0]!, train.y[0]!);
  assert.ok(acc(untrained, testSet) < 0.6);
});

test('training is deterministic for a seed and differs across seeds', async () => {
  const rng = new Rng(2);
  const mus = centres(rng, 1);
  const train = draw(rng, mus, 120);
  const a = await fit({ seed: 5 }, train);
  const b = await fit({ seed: 5 }, train);
  const c = await fit({ seed: 6 }, train);
  assert.deepEqual(a.getState().student, b.getState().student);
  assert.notDeepEqual(a.getState().student, c.getState().student);
});

test('self-training on a shifted unlabeled stream beats the frozen source head', async () => {
  const rng = new Rng(4);
  const mus = centres(rng, 0.8);
  const src = draw(rng, mus, 200, { noise: 1 });
  const shift = Float32Array.from({ length: DIM }, () => rng.normal() * 2);
  const stream = draw(rng, mus, 1000, { noise: 1, shift });
  const frozen = await fit({ mode: 'frozen', featureAlignment: 'none' }, src);
  const ours = await fit({}, src);
  for (const x of stream.x) if (ours.observe(x).adaptDue) await ours.adapt();
  await ours.adapt();
  const before = acc(frozen, stream);
  const after = acc(ours, stream);
  assert.ok(after > before + 0.05, `frozen ${before}, self-trained ${after}`);
  assert.ok(ours.stats().accepted > 0);
  assert.ok(ours.stats().adaptations > 1);
});

test('fixed threshold accepts only confident samples and counts each rejection', async () => {
  const rng = new Rng(5);
  const mus = centres(rng, 0.6);
  const l = await fit(
    { threshold: { kind: 'fixed', tau: 0.95 }, distributionAlignment: false, featureAlignment: 'none' },
    draw(rng, mus, 80),
  );
  const stream = draw(rng, mus, 300);
  let accepted = 0;
  for (const x of stream.x) {
    const o = l.observe(x);
    if (o.accepted) {
      accepted++;
      assert.ok(o.confidence >= 0.95, `accepted at ${o.confidence}`);
    }
  }
  const s = l.stats();
  assert.equal(s.accepted, accepted);
  assert.equal(
    s.accepted +
      s.rejectedLowConfidence +
      s.rejectedByReservoir +
      s.rejectedUnknown +
      s.rejectedDuplicate +
      s.rejectedDisagreement +
      s.rejectedCap,
    300,
  );
  assert.ok(s.rejectedLowConfidence > 0);
});

test('class-adaptive thresholds lower the bar for a class that is rarely predicted confidently', () => {
  for (const kind of ['flexmatch', 'freematch'] as const) {
    const o = resolveThresholds({ kind, tau: 0.95, floor: 0.3, decay: 0.99 });
    const s = newThresholdState(3);
    for (let i = 0; i < 500; i++) {
      // Class 0 confident and common, class 2 rare and unsure.
      updateThresholds(o, s, i % 10 === 0 ? [0.2, 0.2, 0.6] : [0.97, 0.02, 0.01]);
    }
    const t = classThresholds(o, s);
    assert.ok(t[2]! < t[0]!, `${kind}: ${Array.from(t).join(',')}`);
    assert.ok(t[0]! <= 0.95 && t[2]! >= 0.3);
  }
  const fixed = classThresholds(resolveThresholds({ kind: 'fixed', tau: 0.9 }), newThresholdState(3));
  assert.deepEqual(Array.from(fixed), [0.9, 0.9, 0.9]);
});

test('EMA teacher moves towards the student but more slowly; decay 0 makes them equal', async () => {
  const rng = new Rng(6);
  const mus = centres(rng, 1);
  const first = draw(rng, mus, 100);
  const more = draw(rng, mus, 100);
  for (const emaDecay of [0.99, 0]) {
    const l = await fit({ emaDecay, guard: false }, first);
    const before = l.getState().teacher;
    more.x.forEach((x, i) => l.addLabeled(x, more.y[i]!));
    await l.adapt();
    const s = l.getState();
    const dist = (a: Float32Array, b: Float32Array): number => Math.hypot(...a.map((v, i) => v - b[i]!));
    if (emaDecay === 0) assert.deepEqual(s.teacher, s.student);
    else {
      assert.ok(dist(s.teacher, before) > 0);
      assert.ok(dist(s.teacher, before) < dist(s.student, before));
    }
  }
});

test('Page-Hinkley and ADWIN fire soon after a mean change and stay quiet on a stationary stream', () => {
  const rng = new Rng(7);
  for (const make of [() => new PageHinkley(), () => new Adwin()]) {
    const quiet = make();
    let alarms = 0;
    for (let i = 0; i < 5000; i++) if (quiet.update(0.2 + 0.1 * rng.normal())) alarms++;
    assert.equal(alarms, 0, `${quiet.constructor.name} false alarms`);
    const d = make();
    let fired = -1;
    for (let i = 0; i < 2000 && fired < 0; i++) {
      const change = d.update((i < 1000 ? 0.2 : 0.45) + 0.1 * rng.normal());
      if (change) {
        fired = i;
        assert.ok(change.meanAfter > change.meanBefore);
      }
    }
    assert.ok(fired >= 1000 && fired < 1200, `${d.constructor.name} fired at ${fired}`);
  }
});

test('learner raises a drift event when the stream moves, and refreshes aged replay', async () => {
  const rng = new Rng(8);
  const mus = centres(rng, 1.5);
  const l = await fit({ featureAlignment: 'none', drift: { maxAge: 200 } }, draw(rng, mus, 200));
  const events: number[] = [];
  l.on((e) => {
    if (e.type === 'drift') events.push(e.step);
  });
  for (const x of draw(rng, mus, 600).x) l.observe(x);
  assert.equal(events.length, 0);
  // Far-off inputs: every class looks equally likely, so uncertainty jumps.
  for (const x of draw(rng, mus, 400, { noise: 6 }).x) l.observe(x);
  assert.ok(events.length >= 1 && events[0]! >= 600 && events[0]! < 750, `drift at ${events.join(',')}`);
  assert.equal(l.stats().drifts, events.length);
});

test('replay stays bounded and class-balanced on a one-class-dominated stream', () => {
  const rng = new Rng(9);
  const b = new ReplayBuffer(5, 100);
  for (let c = 0; c < 4; c++) b.addClass(rng);
  for (let i = 0; i < 5000; i++) {
    const cls = rng.next() < 0.9 ? 0 : 1 + rng.int(3);
    b.addPseudo({ x: new Float32Array(2), x2: undefined, cls, labeled: false, holdout: false, conf: 1, step: i }, rng);
    if (i % 50 === 0)
      b.addLabeled(
        { x: new Float32Array(2), x2: undefined, cls, labeled: true, holdout: false, conf: 1, step: i },
        rng,
      );
  }
  const counts = b.counts();
  assert.ok(b.all().length <= 100 + 4 * 5);
  for (const [lab, ps] of counts) {
    assert.ok(ps <= 25 && lab <= 5);
    assert.ok(ps >= 20, `class under-represented: ${ps}`);
  }
  // Reservoir: the kept class-0 entries span the whole stream, not only its start.
  const steps = b.pseudo[0]!.map((e) => e.step);
  assert.ok(Math.max(...steps) > 2500 && Math.min(...steps) < 2500);
  b.addClass(rng);
  assert.ok(b.pseudo.every((l) => l.length <= 20));
});

test('a harmful adaptation is rolled back and counted; predictions are unchanged', async () => {
  const rng = new Rng(10);
  const mus = centres(rng, 1.2);
  const l = await fit({}, draw(rng, mus, 200));
  const probe = draw(rng, mus, 50);
  const before = probe.x.map((x) => Array.from(l.predict(x).probs));
  // Poison: a wildly high learning rate makes the next step destroy the head.
  const s = l.getState();
  const poisoned = Learner.fromState({
    ...s,
    options: { ...s.options, optimizer: { ...s.options.optimizer, kind: 'sgd', lr: 500, momentum: 0.99 }, emaDecay: 0 },
  });
  const events: string[] = [];
  poisoned.on((e) => {
    if (e.type === 'rollback') events.push(e.reason);
  });
  const r = await poisoned.adapt();
  assert.equal(r.rolledBack, true);
  assert.ok(r.guardAfter < r.guardBefore);
  assert.equal(poisoned.stats().rollbacks, 1);
  assert.equal(events.length, 1);
  assert.deepEqual(
    probe.x.map((x) => Array.from(poisoned.predict(x).probs)),
    before,
  );
  // Without the guard the same step goes through and hurts.
  const unguarded = Learner.fromState({
    ...s,
    options: { ...poisoned.getState().options, guard: { ...s.options.guard, enabled: false } },
  });
  const r2 = await unguarded.adapt();
  assert.equal(r2.rolledBack, false);
  assert.ok(acc(unguarded, probe) < acc(l, probe));
});

test('NaN from a step is rolled back as non-finite', async () => {
  const rng = new Rng(11);
  const mus = centres(rng, 1);
  const l = await fit({}, draw(rng, mus, 100));
  const s = l.getState();
  const bad = Learner.fromState({
    ...s,
    options: { ...s.options, optimizer: { ...s.options.optimizer, kind: 'sgd', lr: 1e38 } },
  });
  const r = await bad.adapt();
  assert.equal(r.rolledBack, true);
  assert.equal(bad.stats().rollbacksNonFinite, 1);
  assert.deepEqual(bad.getState().teacher, s.teacher);
});

test('distribution alignment and balanced replay keep a one-class-dominated stream from collapsing the head', async () => {
  const rng = new Rng(12);
  const mus = centres(rng, 0.9);
  const src = draw(rng, mus, 120);
  const balanced = draw(rng, mus, 400);
  const mk = (o: Partial<LearnerOptions>): Promise<Learner> =>
    fit({ featureAlignment: 'none', threshold: { kind: 'fixed', tau: 0.6 }, ...o }, src);
  const ours = await mk({});
  const naive = await mk({
    distributionAlignment: false,
    guard: false,
    emaDecay: 0,
    replay: { pseudoCapacity: 100000 },
    openSet: false,
    pseudo: { agreement: false, minConfidence: 0, perClassPerRound: 1e9 },
  });
  const start = acc(ours, balanced);
  const skew = draw(rng, mus, 3000, { weights: [0.94, 0.02, 0.02, 0.02] });
  for (const l of [ours, naive]) {
    for (const x of skew.x) if (l.observe(x).adaptDue) await l.adapt();
  }
  const share = (l: Learner): number => balanced.x.filter((x) => l.predict(x).label === 'a').length / balanced.x.length;
  assert.ok(acc(ours, balanced) >= start - 0.03, `ours ${acc(ours, balanced)} vs start ${start}`);
  assert.ok(share(ours) < 0.4, `ours predicts 'a' for ${share(ours)}`);
  assert.ok(share(naive) > share(ours), `naive ${share(naive)} vs ours ${share(ours)}`);
});

test('state survives structuredClone mid-stream and resumes exactly', async () => {
  const rng = new Rng(13);
  const mus = centres(rng, 1);
  const l = await fit({ mode: 'self-train', adaptEvery: 40 }, draw(rng, mus, 100));
  const stream = draw(rng, mus, 400, { shift: Float32Array.from({ length: DIM }, () => 0.5) });
  const run = async (x: Learner, xs: Float32Array[]): Promise<string[]> => {
    const out: string[] = [];
    for (const e of xs) {
      const o = x.observe(e);
      out.push(`${o.label}:${o.confidence}:${o.accepted}`);
      if (o.adaptDue) await x.adapt();
    }
    return out;
  };
  await run(l, stream.x.slice(0, 200));
  const saved = structuredClone(l.getState());
  const restored = Learner.fromState(saved);
  assert.deepEqual(await run(restored, stream.x.slice(200)), await run(l, stream.x.slice(200)));
  assert.deepEqual(restored.getState(), l.getState());
  assert.throws(
    () => Learner.fromState({ ...saved, version: 99 as 2 }),
    (e) => isEdgetuneError(e, 'STATE_INVALID'),
  );
  assert.throws(
    () => Learner.fromState({ ...saved, teacher: new Float32Array(3) }),
    (e) => isEdgetuneError(e, 'STATE_INVALID'),
  );
});

test('NaN and Infinity inputs throw NON_FINITE and leave the state unchanged', async () => {
  const rng = new Rng(14);
  const mus = centres(rng, 1);
  const l = await fit({}, draw(rng, mus, 60));
  for (const x of draw(rng, mus, 30).x) l.observe(x);
  const before = l.getState();
  const bad = new Float32Array(DIM).fill(0.1);
  bad[3] = Number.NaN;
  const inf = new Float32Array(DIM).fill(0.1);
  inf[0] = Infinity;
  assert.throws(
    () => l.observe(bad),
    (e) => isEdgetuneError(e, 'NON_FINITE'),
  );
  assert.throws(
    () => l.addLabeled(inf, 'a'),
    (e) => isEdgetuneError(e, 'NON_FINITE'),
  );
  assert.throws(
    () => l.predict(bad),
    (e) => isEdgetuneError(e, 'NON_FINITE'),
  );
  assert.throws(
    () => l.observe(new Float32Array(DIM), { augmented: bad }),
    (e) => isEdgetuneError(e, 'NON_FINITE'),
  );
  assert.deepEqual(l.getState(), before);
  assert.equal(l.stats().rejectedNonFinite, 4);
  assert.throws(
    () => l.observe(new Float32Array(3)),
    (e) => isEdgetuneError(e, 'INPUT_SHAPE'),
  );
});

test('classes can be added, renamed and removed at run time; T3A and two-view consistency run', async () => {
  const rng = new Rng(15);
  const mus = centres(rng, 1.5);
  const d = draw(rng, mus, 120);
  const l = await fit({}, d);
  l.renameClass('a', 'apple');
  assert.deepEqual(l.classes, ['apple', 'b', 'c', 'd']);
  assert.throws(
    () => l.renameClass('b', 'c'),
    (e) => isEdgetuneError(e, 'INVALID_ARGUMENT'),
  );
  assert.throws(
    () => l.removeClass('zzz'),
    (e) => isEdgetuneError(e, 'UNKNOWN_LABEL'),
  );
  l.removeClass('b');
  assert.deepEqual(l.classes, ['apple', 'c', 'd']);
  assert.equal(l.predict(d.x[0]!).probs.length, 3);
  l.addClass('e');
  assert.equal(l.predict(d.x[0]!).probs.length, 4);
  for (const x of draw(rng, mus, 50).x) l.observe(x, { augmented: x.map((v) => v + 0.1 * rng.normal()) });
  await l.adapt();
  assert.ok(l.stats().perClass.every((p) => p.label !== 'b'));

  const t3a = await fit({ mode: 't3a', featureAlignment: 'none' }, d);
  const test2 = draw(rng, mus, 200);
  for (const x of test2.x) t3a.observe(x);
  assert.ok(acc(t3a, test2) > 0.8);
  assert.ok(t3a.getState().supports.count > 0);
});

test('dispose makes later calls throw DISPOSED; await using disposes', async () => {
  const rng = new Rng(16);
  const mus = centres(rng, 1);
  let kept: Learner | undefined;
  {
    await using l = new Learner({ dim: DIM });
    l.addLabeled(draw(rng, mus, 1).x[0]!, 'a');
    kept = l;
  }
  assert.throws(
    () => kept!.predict(new Float32Array(DIM)),
    (e) => isEdgetuneError(e, 'DISPOSED'),
  );
  const fresh = new Learner({ dim: DIM });
  assert.throws(
    () => fresh.predict(new Float32Array(DIM).fill(1)),
    (e) => isEdgetuneError(e, 'NOT_READY'),
  );
  const ac = new AbortController();
  fresh.addLabeled(new Float32Array(DIM).fill(1), 'a');
  fresh.addLabeled(new Float32Array(DIM).fill(-1), 'b');
  ac.abort();
  await assert.rejects(fresh.adapt({ signal: ac.signal }), (e) => isEdgetuneError(e, 'ABORTED'));
  assert.equal(fresh.stats().fitted, false);
});

test('a version-1 state (counters as a Float64Array) still restores, with its counters by name', async () => {
  const rng = new Rng(17);
  const mus = centres(rng, 1);
  const l = await fit({ adaptEvery: 20 }, draw(rng, mus, 60));
  for (const x of draw(rng, mus, 100).x) if (l.observe(x).adaptDue) await l.adapt();
  const s = l.getState();
  const c = s.counters;
  const order = [
    c.seen,
    c.accepted,
    c.rejectedLowConfidence,
    c.rejectedByReservoir,
    c.pseudoDisagreed,
    c.adaptations,
    c.rollbacks,
    c.rollbacksNonFinite,
    c.drifts,
    c.sinceAdapt,
    c.lastGuardAccuracy,
    c.adaptDue ? 1 : 0,
  ];
  const v1 = { ...s, version: 1, counters: Float64Array.from(order) } as unknown as LearnerState;
  const restored = Learner.fromState(v1);
  const r = restored.getState();
  for (const k of [
    'student',
    'teacher',
    'optimizer',
    'replay',
    'thresholds',
    'anchorSum',
    'streamMean',
    'adwin',
    'pageHinkley',
    'rng',
  ] as const)
    assert.deepEqual(r[k], s[k], k);
  for (const k of Object.keys(c) as Array<keyof typeof c>)
    if (k in r.counters && order.length)
      assert.equal(
        r.counters[k],
        ['rejectedUnknown', 'rejectedDuplicate', 'rejectedDisagreement', 'rejectedCap', 'cappedSinceAdapt'].includes(k)
          ? 0
          : c[k],
        k,
      );
  // Version-1 learners kept their held-back labels for good; that stays so.
  assert.equal(r.options.guard.holdout, 'keep');
  assert.equal(restored.predict(s.replay.x.slice(0, DIM)).label, l.predict(s.replay.x.slice(0, DIM)).label);
  assert.equal(restored.stats().seen, 100);
  assert.throws(
    () => Learner.fromState({ ...v1, counters: new Float64Array(3) } as unknown as LearnerState),
    (e) => isEdgetuneError(e, 'STATE_INVALID') && /counters/.test((e as Error).message),
  );
});
