// Issue-13 regressions on synthetic clusters: alignment before the first frame, drift that is real, repeated and one-class streams, held-back labels, open-set unknown, calibration.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Learner, type LearnerOptions } from '../../src/finetune/index.js';
import { Rng } from '../../src/finetune/rng.js';

const DIM = 16;
const K = 4;
const NAMES = ['a', 'b', 'c', 'd'];

function world(seed: number, sep = 1.2): { rng: Rng; mus: Float32Array[] } {
  const rng = new Rng(seed);
  return { rng, mus: NAMES.map(() => Float32Array.from({ length: DIM }, () => rng.normal() * sep)) };
}

function draw(
  w: { rng: Rng; mus: Float32Array[] },
  n: number,
  opts: { only?: number; noise?: number; shift?: number } = {},
): { x: Float32Array[]; y: string[] } {
  const x: Float32Array[] = [];
  const y: string[] = [];
  for (let i = 0; i < n; i++) {
    const k = opts.only ?? i % K;
    x.push(Float32Array.from(w.mus[k]!, (m) => m + w.rng.normal() * (opts.noise ?? 1) + (opts.shift ?? 0)));
    y.push(NAMES[k]!);
  }
  return { x, y };
}

const acc = (l: Learner, d: { x: Float32Array[]; y: string[] }): number =>
  d.x.filter((x, i) => l.predict(x).label === d.y[i]).length / d.x.length;

async function fit(d: { x: Float32Array[]; y: string[] }, o: Partial<LearnerOptions> = {}): Promise<Learner> {
  const l = new Learner({ dim: DIM, seed: 5, ...o });
  d.x.forEach((x, i) => l.addLabeled(x, d.y[i]!));
  await l.adapt();
  return l;
}

test("predict right after fitting with 'meanstd' is the unaligned prediction (stream statistics do not start at zero)", async () => {
  const w = world(1);
  const labels = draw(w, 120);
  const probe = draw(w, 200);
  const aligned = await fit(labels, { featureAlignment: 'meanstd' });
  const plain = await fit(labels, { featureAlignment: 'none' });
  for (const x of probe.x) assert.deepEqual(aligned.predict(x).probs, plain.predict(x).probs);
});

test('no drift alarm on a stationary stream while the learner grows more confident; a real shift of the inputs is caught and resets the stream statistics', async () => {
  const w = world(2, 0.9);
  const l = await fit(draw(w, 20), { adaptEvery: 50 });
  const drifts: number[] = [];
  l.on((e) => {
    if (e.type === 'drift') drifts.push(e.step);
  });
  const probe = draw(w, 200);
  const meanConf = (): number => probe.x.reduce((a, x) => a + l.predict(x).confidence, 0) / probe.x.length;
  const c0 = meanConf();
  for (const x of draw(w, 3000).x) if (l.observe(x).adaptDue) await l.adapt();
  assert.ok(
    l.stats().adaptations >= 2 && meanConf() > c0,
    `adaptations ${l.stats().adaptations}, confidence ${c0} → ${meanConf()}`,
  );
  assert.deepEqual(drifts, [], `false alarms at ${drifts.join(', ')}`);
  for (const x of draw(w, 600, { shift: 2.5 }).x) if (l.observe(x).adaptDue) await l.adapt();
  assert.ok(drifts.length >= 1 && drifts[0]! >= 3000 && drifts[0]! < 3400, `drift at ${drifts.join(', ')}`);
  // Reset on drift: the stream statistics restarted at the event.
  assert.ok(l.getState().streamN <= 3600 - drifts[drifts.length - 1]!, `streamN ${l.getState().streamN}`);
});

test('one embedding repeated 1000 times changes nothing: no pseudo-labels, no drift of alignment, same accuracy on fresh data', async () => {
  const w = world(3);
  const l = await fit(draw(w, 200));
  const fresh = draw(w, 400);
  const before = acc(l, fresh);
  const x = draw(w, 1, { only: 1 }).x[0]!;
  for (let i = 0; i < 1000; i++) if (l.observe(x).adaptDue) await l.adapt();
  assert.ok(acc(l, fresh) >= before - 0.005, `accuracy ${before} → ${acc(l, fresh)}`);
  assert.ok(l.stats().accepted <= 1);
  assert.equal(l.stats().rejectedDuplicate, 999);
});

test('a one-class stream of 5000 steps: accepted pseudo-labels stay right and accuracy on the other classes holds', async () => {
  const w = world(4, 0.8);
  const l = await fit(draw(w, 200));
  const fresh = draw(w, 400);
  const before = acc(l, fresh);
  let accepted = 0,
    right = 0;
  const s = draw(w, 5000, { only: 2 });
  for (let i = 0; i < s.x.length; i++) {
    const o = l.observe(s.x[i]!);
    if (o.accepted) {
      accepted++;
      if (o.pseudoLabel === 'c') right++;
    }
    if (o.adaptDue) await l.adapt();
  }
  assert.ok(accepted > 0);
  // Clusters this close put ~8% of the class nearer another one (the source head is right on 92% of these frames).
  assert.ok(right / accepted >= 0.85, `precision ${right}/${accepted}`);
  // What is left is the cost of training on one class (−2 points here without alignment); see docs/finetune.md.
  assert.ok(acc(l, fresh) >= before - 0.06, `accuracy ${before} → ${acc(l, fresh)}`);
});

test('held-back labels score one round, then return to training (or stay back with holdout: keep)', async () => {
  const w = world(5);
  const d = draw(w, 200);
  const l = new Learner({ dim: DIM, seed: 1 });
  d.x.forEach((x, i) => l.addLabeled(x, d.y[i]!));
  assert.ok(l.stats().heldBack > 0);
  const first = await l.adapt();
  // The 10th, 15th, … 50th label of each of the 4 classes.
  assert.equal(first.holdoutReturned, 36);
  assert.equal(l.stats().heldBack, 0);
  const second = await l.adapt();
  assert.equal(second.labeledUsed, 200);
  const keep = new Learner({ dim: DIM, seed: 1, guard: { holdout: 'keep' } });
  d.x.forEach((x, i) => keep.addLabeled(x, d.y[i]!));
  await keep.adapt();
  assert.equal(keep.stats().heldBack, 36);
  assert.equal((await keep.adapt()).labeledUsed, 164);
});

test('inputs from no taught class are unknown and never pseudo-labelled; taught ones mostly are not', async () => {
  // With and without the stream-side novelty (openSet.streamNovelty): at its default weight it flags a few more
  // of the taught inputs here (measured 49 → 52 of 400; 62 at weight 2), see docs/finetune.md follow-up 7.
  for (const [streamNovelty, limit] of [
    [0, 0.15],
    [1, 0.15],
  ] as const) {
    const w = world(6, 1.5);
    const l = await fit(draw(w, 150), { openSet: { streamNovelty } });
    // A fifth cluster the learner never saw.
    const far = Float32Array.from({ length: DIM }, () => w.rng.normal() * 1.5);
    let unknown = 0;
    // A stream where one frame in four is of the untaught kind.
    const taught = draw(w, 600);
    for (let i = 0; i < 200; i++) {
      const o = l.observe(Float32Array.from(far, (m) => m + w.rng.normal()));
      if (o.unknown) {
        unknown++;
        assert.equal(o.accepted, false);
      }
      for (let j = 0; j < 3; j++) l.observe(taught.x[3 * i + j]!);
    }
    assert.ok(unknown >= 180, `${unknown} of 200 unknown`);
    const known = draw(w, 400);
    const flagged = known.x.filter((x) => l.predict(x).unknown).length;
    assert.ok(
      flagged <= limit * 400,
      `${flagged} of 400 taught inputs called unknown (streamNovelty ${streamNovelty})`,
    );
  }
});

test('confidence is temperature-calibrated on held-back labels: closer to accuracy than the raw softmax', async () => {
  const w = world(7, 0.5);
  // Few labels and a long first fit: the raw softmax is overconfident.
  const d = draw(w, 100);
  const l = await fit(d, { firstEpochs: 300 });
  const t = l.stats().temperature;
  assert.ok(Number.isFinite(t) && t > 0 && t !== 1, `temperature ${t}`);
  const raw = Learner.fromState({ ...l.getState(), options: { ...l.getState().options, calibration: false } });
  const test2 = draw(w, 800);
  const gap = (m: Learner): number => {
    let c = 0,
      ok = 0;
    for (let i = 0; i < test2.x.length; i++) {
      const p = m.predict(test2.x[i]!);
      c += p.confidence;
      if (p.label === test2.y[i]) ok++;
    }
    return Math.abs(c / test2.x.length - ok / test2.x.length);
  };
  assert.ok(gap(l) < gap(raw), `calibrated gap ${gap(l)} vs raw ${gap(raw)}`);
});

test('a stream shifted as a whole (mostly unknown before alignment) is aligned and classified far better than by the head alone, and never pseudo-labelled wrong en masse', async () => {
  const w = world(21, 1.5);
  const labels = draw(w, 200);
  const shifted = (n: number) => {
    const d = draw(w, n);
    // Every input moved far along a few fixed dimensions: unfamiliar to the labels.
    return { x: d.x.map((x) => Float32Array.from(x, (v, j) => v + (j < 4 ? 6 : 0))), y: d.y };
  };
  const ours = await fit(labels, { mode: 'frozen' });
  const plain = await fit(labels, { mode: 'frozen', featureAlignment: 'none', openSet: { classifierWeight: 0 } });
  const stream = shifted(600);
  let unknown = 0;
  for (const x of stream.x) if (ours.observe(x).unknown) unknown++;
  const fresh = shifted(400);
  const a = acc(ours, fresh);
  const b = acc(plain, fresh);
  assert.ok(unknown > 300, `unknown ${unknown} of 600`);
  assert.ok(a > b + 0.15, `aligned ${a.toFixed(3)} vs unaligned head ${b.toFixed(3)}`);
  const st = await fit(labels);
  let wrong = 0;
  let accepted = 0;
  for (let i = 0; i < stream.x.length; i++) {
    const o = st.observe(stream.x[i]!);
    if (o.accepted) {
      accepted++;
      if (o.pseudoLabel !== stream.y[i]) wrong++;
    }
    if (o.adaptDue) await st.adapt();
  }
  assert.ok(wrong <= Math.max(2, 0.1 * accepted), `${wrong} wrong of ${accepted} accepted`);
});
