// Harness hostile streams: one class for 5000 steps, one frame ×1000, and a source switch to procedural test patterns.
import { performance } from 'node:perf_hooks';
import { Learner } from '../../src/finetune/index.js';
import { Rng } from '../../src/finetune/rng.js';
import { embedCached } from './encoder.js';
import { testPatterns } from './patterns.js';
import {
  SEED,
  ds,
  enc,
  embedSplit,
  srcE,
  srcY,
  streamY,
  poolY,
  tally,
  precision,
  runStream,
  summary,
  section,
  accuracy,
  pct,
  out,
  type Baselines,
} from './harness.js';

/** Runs the section and prints its table; adds its targets to the summary. */
export async function hostileSection({ states, cleanStream }: Baselines): Promise<void> {
  const stT0 = performance.now();
  out('## Hostile streams (ours, from the source learner)');
  out();
  out(
    '| stream | accuracy on a balanced clean set before → after | pseudo-labels accepted (precision) | rollbacks (stream) | drifts | note |',
  );
  out('|---|---|---|---|---|---|');
  const evalX = cleanStream;
  const evalY = streamY;
  const poolClean = await embedSplit('pool', 'clean', 0);
  {
    // One class for 5000 steps: every clean image of one class (labels, stream and pool) in a seeded order, cycled.
    const cls = ds.classes[0]!;
    const frames = [
      ...srcE.filter((_, i) => srcY[i] === cls),
      ...cleanStream.filter((_, i) => streamY[i] === cls),
      ...poolClean.filter((_, i) => poolY[i] === cls),
    ];
    const order = new Rng(SEED).shuffle(Array.from(frames.keys()));
    const l = Learner.fromState(states.ours!);
    const before = accuracy(l, evalX, evalY);
    const t = tally();
    const ys = Array.from({ length: 5000 }, () => cls);
    const xs = ys.map((_, i) => frames[order[i % order.length]!]!);
    const r = await runStream(l, xs, ys);
    const st = l.stats();
    t.accepted = r.pseudo.accepted;
    t.correct = r.pseudo.correct;
    out(
      `| one class ('${cls}', ${frames.length} distinct frames, 5000 steps) | ${pct(before)} → ${pct(accuracy(l, evalX, evalY))} | ${t.accepted} (${pct(precision(t))}%) | ${st.rollbacks} | ${st.drifts} | capped ${st.rejectedCap}, disagreed ${st.rejectedDisagreement} |`,
    );
    summary.push({
      target: 'one-class stream: accepted pseudo-labels precision (info; was 60%)',
      value: `${pct(precision(t))}% of ${t.accepted}`,
      pass: undefined,
    });
  }
  {
    // One embedding repeated 1000 times.
    const l = Learner.fromState(states.ours!);
    const before = accuracy(l, poolClean, poolY);
    const x = cleanStream[0]!;
    const r = await runStream(
      l,
      Array.from({ length: 1000 }, () => x),
      Array.from({ length: 1000 }, () => streamY[0]!),
    );
    const after = accuracy(l, poolClean, poolY);
    out(
      `| one frame ×1000 | ${pct(before)} → ${pct(after)} (pool) | ${r.pseudo.accepted} | ${l.stats().rollbacks} | ${l.stats().drifts} | duplicates ${l.stats().rejectedDuplicate} |`,
    );
    summary.push({
      target: 'one frame ×1000: accuracy change on fresh data (was −6.1)',
      value: `${(100 * (after - before)).toFixed(1)}`,
      pass: after >= before - 0.005,
    });
  }
  {
    // Source switch: the clean stream, then 1000 procedural test patterns (no taught class).
    const pat = await embedCached(enc, `patterns1000-s${SEED}`, testPatterns(1000, SEED));
    const l = Learner.fromState(states.ours!);
    const events: number[] = [];
    l.on((e) => {
      if (e.type === 'drift') events.push(e.step);
    });
    let unk = 0,
      acc2 = 0,
      okFirst = 0;
    for (let i = 0; i < cleanStream.length + pat.length; i++) {
      const first = i < cleanStream.length;
      const o = l.observe(first ? cleanStream[i]! : pat[i - cleanStream.length]!);
      if (first && o.label === streamY[i]) okFirst++;
      if (!first && o.unknown) unk++;
      if (!first && o.accepted) acc2++;
      if (o.adaptDue) await l.adapt();
    }
    const caught = events.find((e) => e >= cleanStream.length);
    const falseFirst = events.filter((e) => e < cleanStream.length).length;
    out(
      `| clean ${cleanStream.length} → test patterns ${pat.length} | ${pct(okFirst / cleanStream.length)} on the clean part | ${acc2} on patterns | ${l.stats().rollbacks} | ${events.join(', ') || '—'} | drift ${caught === undefined ? 'missed' : `after ${caught - cleanStream.length}`}; ${pct(unk / pat.length)}% of patterns unknown; ${falseFirst} alarms on the clean part |`,
    );
    summary.push({
      target: 'source switch (clothing → test patterns) caught by drift',
      value: caught === undefined ? 'missed' : `after ${caught - cleanStream.length} frames`,
      pass: caught !== undefined,
    });
    summary.push({
      target: 'test patterns called unknown (info)',
      value: `${pct(unk / pat.length)}%, ${acc2} pseudo-labelled`,
      pass: undefined,
    });
  }
  out();
  section['streams'] = performance.now() - stT0;
}
