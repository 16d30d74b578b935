// Issue-14 rows of the learner: every option validated, calls during adapt() safe, damaged states refused by field, many classes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isEdgetuneError } from '../../src/core/errors.js';
import { Learner, MAX_CLASSES, type LearnerOptions, type LearnerState } from '../../src/finetune/index.js';
import { Rng } from '../../src/finetune/rng.js';

const DIM = 8;

function clustered(rng: Rng, n: number, classes: number): { x: Float32Array[]; y: string[] } {
  const mus = Array.from({ length: classes }, () => Float32Array.from({ length: DIM }, () => rng.normal() * 2));
  const x: Float32Array[] = [];
  const y: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    x.push(Float32Array.from(mus[k]!, (m) => m + rng.normal()));
    y.push(`c${k}`);
  }
  return { x, y };
}

const refused =
  (code: 'INVALID_ARGUMENT' | 'STATE_INVALID', field: RegExp) =>
  (e: unknown): boolean => {
    assert.ok(isEdgetuneError(e, code), `expected ${code}, got ${String(e)}`);
    assert.match((e as Error).message, field);
    return true;
  };

test('every option is validated at construction: range, integer, enum and misspelt keys name the option', () => {
  const bad: Array<[Partial<LearnerOptions> | Record<string, unknown>, RegExp]> = [
    [{ batchSize: 0 }, /'batchSize' is 0/],
    [{ batchSize: -1 }, /'batchSize' is -1/],
    [{ batchSize: Number.NaN }, /'batchSize' is NaN/],
    [{ batchSize: 0.5 }, /'batchSize' is 0\.5.*integer/],
    [{ mode: 'selftrain' as 'frozen' }, /'mode' is 'selftrain'.*'self-train'/],
    [{ optimizer: { kind: 'sgdd' as 'sgd' } }, /'optimizer\.kind' is 'sgdd'/],
    [{ batchsize: 8 }, /'batchsize'.*no such option/],
    [{ epochs: 0 }, /'epochs'/],
    [{ firstEpochs: 2.5 }, /'firstEpochs'/],
    [{ threshold: { tau: 1.5 } }, /'threshold\.tau'/],
    [{ threshold: { kind: 'flex' as 'fixed' } }, /'threshold\.kind'/],
    [{ emaDecay: 2 }, /'emaDecay'/],
    [{ featureAlignment: 'std' as 'mean' }, /'featureAlignment'/],
    [{ replay: { pseudoCapacity: -5 } }, /'replay\.pseudoCapacity'/],
    [{ guard: { every: 1 } }, /'guard\.every'/],
    [{ guard: 'on' as unknown as false }, /'guard'/],
    [{ drift: { detectors: ['adwn' as 'adwin'] } }, /'drift\.detectors\[0\]'/],
    [{ drift: { adwin: { maxWindow: 1e9 } } }, /'drift\.adwin\.maxWindow'/],
    [{ drift: { pageHinkley: { threshold: 0 } } }, /'drift\.pageHinkley\.threshold'/],
    [{ adaptEvery: 0 }, /'adaptEvery'/],
    [{ head: 'mlp' as 'linear' }, /'head'/],
    [{ dim: 0 }, /'dim'/],
    [{ hidden: 0, head: 'adapter' }, /'hidden'/],
  ];
  for (const [o, msg] of bad)
    assert.throws(
      () => new Learner({ dim: DIM, ...o } as LearnerOptions),
      refused('INVALID_ARGUMENT', msg),
      JSON.stringify(o),
    );
  // The same values arriving through a saved state are refused with STATE_INVALID naming options.<field>.
  const s = new Learner({ dim: DIM }).getState();
  for (const [patch, field] of [
    [{ batchSize: 0 }, /'options\.batchSize'/],
    [{ mode: 'selftrain' }, /'options\.mode'/],
    [{ optimizer: { ...s.options.optimizer, kind: 'sgdd' } }, /'options\.optimizer\.kind'/],
  ] as const) {
    assert.throws(
      () => Learner.fromState({ ...s, options: { ...s.options, ...patch } } as unknown as LearnerState),
      refused('STATE_INVALID', field),
    );
  }
});

test('addLabeled, removeClass, renameClass and observe while adapt() runs are safe; a state saved at any moment restores', async () => {
  const rng = new Rng(3);
  const d = clustered(rng, 90, 3);
  const l = new Learner({ dim: DIM, seed: 2, firstEpochs: 200, adaptEvery: 1e9 });
  d.x.forEach((x, i) => l.addLabeled(x, d.y[i]!));
  let done = false;
  const round = l.adapt().then((r) => ((done = true), r));
  let during = 0;
  const extra = clustered(rng, 30, 3);
  while (!done) {
    await new Promise((r) => setImmediate(r));
    if (done) break;
    const i = during++ % extra.x.length;
    const y = extra.y[i]!;
    l.addLabeled(extra.x[i]!, during > 6 && y === 'c2' ? 'c-two' : y);
    if (during === 3) l.addLabeled(extra.x[i]!, 'late');
    if (during === 5) l.removeClass('late');
    if (during === 6) l.renameClass('c2', 'c-two');
    const o = l.observe(extra.x[(i + 1) % extra.x.length]!);
    assert.ok(o.prediction.probs.every(Number.isFinite));
    // A checkpoint taken mid-round is a valid state.
    const restored = Learner.fromState(structuredClone(l.getState()));
    assert.ok(restored.predict(extra.x[0]!).probs.every(Number.isFinite));
  }
  const r = await round;
  assert.ok(during >= 6, `only ${during} calls landed during adapt()`);
  assert.equal(r.rolledBack, false);
  // Queued changes were applied in order once the round ended.
  assert.deepEqual(l.classes, ['c0', 'c1', 'c-two']);
  // One label per call, plus 'late' which went again with its class.
  assert.equal(l.stats().labeled, 90 + during);
  const s = l.getState();
  assert.ok(s.replay.step.every(Number.isFinite));
  await l.adapt();
  const again = Learner.fromState(l.getState());
  assert.ok(again.predict(d.x[0]!).probs.every(Number.isFinite));
  assert.equal(again.predict(d.x[0]!).label, 'c0');
});

test('fromState checks every field and names it: NaN anchorSq, duplicate class names, a huge ADWIN length, bad indices', async () => {
  const rng = new Rng(4);
  const d = clustered(rng, 40, 2);
  const l = new Learner({ dim: DIM, seed: 1 });
  d.x.forEach((x, i) => l.addLabeled(x, d.y[i]!));
  await l.adapt();
  for (const x of d.x) l.observe(x);
  const s = l.getState();
  const nanSq = Float64Array.from(s.anchorSq);
  nanSq[2] = Number.NaN;
  const cls = Int32Array.from(s.replay.cls);
  cls[0] = 7;
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ anchorSq: nanSq }, /'anchorSq' holds NaN at index 2/],
    [{ classes: ['c0', 'c0'] }, /'classes\[1\]' repeats/],
    [{ adwin: { ...s.adwin, length: 1e9 } }, /'adwin\.length'/],
    [{ replay: { ...s.replay, cls } }, /'replay\.cls'/],
    [{ replay: { ...s.replay, count: 1e9 } }, /'replay\.count'/],
    [{ student: undefined }, /'student'/],
    [{ optimizer: { ...s.optimizer, m: new Float32Array(2) } }, /'optimizer\.m'/],
    [{ rng: [1, 2, 3, 4] }, /'rng'/],
    [{ thresholds: { ...s.thresholds, global: Number.POSITIVE_INFINITY } }, /'thresholds\.global'/],
    [{ pageHinkley: { ...s.pageHinkley, n: Number.NaN } }, /'pageHinkley\.n'/],
    [{ supports: { ...s.supports, count: 1e9 } }, /'supports\.count'/],
    [{ counters: { ...s.counters, seen: -1 } }, /'counters\.seen'/],
    [{ counters: undefined }, /'counters'/],
    [{ fitted: 'yes' }, /'fitted'/],
    [{ streamN: 0.5 }, /'streamN'/],
    [{ options: undefined }, /options/],
  ];
  for (const [patch, field] of cases) {
    assert.throws(
      () => Learner.fromState({ ...s, ...patch } as unknown as LearnerState),
      refused('STATE_INVALID', field),
      Object.keys(patch).join(),
    );
  }
  assert.throws(
    () => Learner.fromState(null as unknown as LearnerState),
    refused('STATE_INVALID', /Not a learner state/),
  );
  // The untouched state still restores.
  assert.deepEqual(Learner.fromState(s).getState(), s);
});

test(`up to MAX_CLASSES (${MAX_CLASSES}) classes; one more is refused; predict and state work at the limit`, () => {
  const names = Array.from({ length: MAX_CLASSES }, (_, i) => `k${i}`);
  const l = new Learner({ dim: DIM, classes: names, replay: { pseudoCapacity: 0 } });
  assert.throws(() => l.addClass('one-too-many'), refused('INVALID_ARGUMENT', /at most 10000 classes/));
  assert.throws(() => new Learner({ dim: DIM, classes: [...names, 'x'] }), refused('INVALID_ARGUMENT', /'classes'/));
  l.addLabeled(new Float32Array(DIM).fill(1), 'k9999');
  l.addLabeled(new Float32Array(DIM).fill(-1), 'k0');
  const p = l.predict(new Float32Array(DIM).fill(1));
  assert.equal(p.probs.length, MAX_CLASSES);
  assert.equal(p.label, 'k9999');
  const s = l.getState();
  assert.equal(s.student.length, MAX_CLASSES * DIM + MAX_CLASSES);
  assert.equal(Learner.fromState(s).predict(new Float32Array(DIM).fill(-1)).label, 'k0');
});

test('an abort from another task lands within about one mini-batch, not after a long epoch (2000 classes)', async () => {
  const classes = 2000;
  const l = new Learner({ dim: 64, classes: Array.from({ length: classes }, (_, i) => `k${i}`), batchSize: 8 });
  const rng = new Rng(9);
  for (let i = 0; i < classes; i++)
    l.addLabeled(
      Float32Array.from({ length: 64 }, () => rng.normal()),
      `k${i}`,
    );
  const ac = new AbortController();
  const phases: string[] = [];
  setTimeout(() => ac.abort(), 0);
  await assert.rejects(l.adapt({ signal: ac.signal, onProgress: (p) => phases.push(p.phase) }), (e) =>
    isEdgetuneError(e, 'ABORTED'),
  );
  // One epoch here is 250 mini-batches; before the fix the abort could only land after it.
  assert.deepEqual(phases, ['prepare']);
  assert.equal(l.stats().fitted, false);
});
