// Harness open-set section: 3 of 10 classes never taught; AUROC of max-softmax, energy, a diagonal Mahalanobis and the learner's own familiarity (before, during and after the stream).
import { performance } from 'node:perf_hooks';
import { Learner } from '../../src/finetune/index.js';
import { auroc, heldOutClasses } from './openset-metrics.js';
import {
  QUICK,
  SEED,
  N_SRC,
  N_STREAM,
  ds,
  embedSplit,
  enc,
  srcE,
  srcY,
  streamY,
  poolY,
  OURS,
  trained,
  summary,
  section,
  mean,
  pct,
  out,
  type Baselines,
} from './harness.js';

/** Runs the section and prints its table; adds its targets to the summary. */
export async function openSetSection({ cleanStream }: Baselines): Promise<void> {
  const openT0 = performance.now();
  const draws = QUICK ? 2 : 3;
  // Fresh frames after the stream: the first N_STREAM of the few-shot pool (never labels here, not in the stream).
  const freshE = (await embedSplit('pool', 'clean', 0)).slice(0, N_STREAM);
  const freshY = poolY.slice(0, N_STREAM);
  out(
    `## Open set: 3 of 10 classes never taught (${N_SRC} source images minus the held-out classes; the clean stream of ${N_STREAM} holds all 10; mean of ${draws} seeded draws)`,
  );
  out();
  out(
    "Columns before the stream: the learner fitted on the labels, predicting the stream without observing it (and, like with like for the after column, the fresh frames). Online: each frame's `familiarity` from `observe()` (prequential: the frame is scored before it joins the stream-side novelty). After: `predict()` on " +
      `${N_STREAM} fresh frames (not in the stream) once the learner has observed the stream; the target row uses this column.`,
  );
  out();
  out(
    '| held out | AUROC max-softmax | AUROC energy | AUROC diag-Mahalanobis | AUROC ours before the stream | AUROC ours before, fresh frames | AUROC ours online | AUROC ours after | AUROC after, label-only (`streamNovelty: 0`) | unknown flagged after: held-out / taught (label-only) | unknowns pseudo-labelled | accuracy on taught |',
  );
  out('|---|---|---|---|---|---|---|---|---|---|---|---|');
  const agg = {
    msp: [] as number[],
    energy: [] as number[],
    maha: [] as number[],
    proto: [] as number[],
    fresh: [] as number[],
    online: [] as number[],
    after: [] as number[],
    plain: [] as number[],
    taughtFlagged: [] as number[],
    plainTaughtFlagged: [] as number[],
  };
  for (let dr = 0; dr < draws; dr++) {
    const held = heldOutClasses(ds.classes, SEED, dr);
    const keep = srcY.flatMap((y, i) => (held.includes(y) ? [] : [i]));
    const lx = keep.map((i) => srcE[i]!);
    const ly = keep.map((i) => srcY[i]!);
    const l = await trained(OURS, lx, ly);
    // Diagonal Mahalanobis to the nearest class mean (shared within-class variance), on the learner's input scaling.
    const prep = (x: Float32Array): Float64Array => {
      const n = Math.hypot(...x) || 1;
      return Float64Array.from(x, (v) => (v * Math.sqrt(x.length)) / n);
    };
    const names = [...new Set(ly)];
    const d = enc.dim;
    const mu = names.map((nm) => {
      const m = new Float64Array(d);
      let cnt = 0;
      ly.forEach((y, i) => {
        if (y !== nm) return;
        const u = prep(lx[i]!);
        for (let j = 0; j < d; j++) m[j] = m[j]! + u[j]!;
        cnt++;
      });
      return m.map((v) => v / cnt);
    });
    const vr = new Float64Array(d);
    ly.forEach((y, i) => {
      const u = prep(lx[i]!);
      const m = mu[names.indexOf(y)]!;
      for (let j = 0; j < d; j++) vr[j] = vr[j]! + (u[j]! - m[j]!) ** 2 / ly.length;
    });
    const maha = (x: Float32Array): number => {
      const u = prep(x);
      return Math.min(...mu.map((m) => m.reduce((s, v, j) => s + (u[j]! - v) ** 2 / (vr[j]! + 1e-3), 0)));
    };
    const pos = streamY.map((y) => held.includes(y));
    const sc = { msp: [] as number[], energy: [] as number[], maha: [] as number[], proto: [] as number[] };
    cleanStream.forEach((x) => {
      const p = l.predict(x);
      sc.msp.push(-p.confidence);
      sc.energy.push(p.energy);
      sc.maha.push(maha(x));
      sc.proto.push(-p.familiarity);
    });
    const freshPos = freshY.map((y) => held.includes(y));
    const nHeld = freshPos.filter(Boolean).length;
    const beforeFresh = freshE.map((x) => -l.predict(x).familiarity);
    const run = Learner.fromState(l.getState());
    let unkPseudo = 0;
    const online: number[] = [];
    for (let i = 0; i < cleanStream.length; i++) {
      const o = run.observe(cleanStream[i]!);
      online.push(-o.prediction.familiarity);
      if (o.accepted && pos[i]) unkPseudo++;
      if (o.adaptDue) await run.adapt();
    }
    // The same learner without the stream-side term (openSet.streamNovelty 0), over the same stream: what the term adds.
    const plain = await trained({ ...OURS, openSet: { streamNovelty: 0 } }, lx, ly);
    for (let i = 0; i < cleanStream.length; i++) if (plain.observe(cleanStream[i]!).adaptDue) await plain.adapt();
    let plainHeld = 0,
      plainKnown = 0;
    const plainAfter = freshE.map((x, i) => {
      const p = plain.predict(x);
      if (p.unknown) freshPos[i] ? plainHeld++ : plainKnown++;
      return -p.familiarity;
    });
    let flagHeld = 0,
      flagKnown = 0,
      okKnown = 0;
    const after = freshE.map((x, i) => {
      const p = run.predict(x);
      if (p.unknown) freshPos[i] ? flagHeld++ : flagKnown++;
      if (!freshPos[i] && p.label === freshY[i]) okKnown++;
      return -p.familiarity;
    });
    const a = {
      msp: auroc(sc.msp, pos),
      energy: auroc(sc.energy, pos),
      maha: auroc(sc.maha, pos),
      proto: auroc(sc.proto, pos),
      fresh: auroc(beforeFresh, freshPos),
      online: auroc(online, pos),
      after: auroc(after, freshPos),
      plain: auroc(plainAfter, freshPos),
    };
    agg.taughtFlagged.push(flagKnown / (freshPos.length - nHeld));
    agg.plainTaughtFlagged.push(plainKnown / (freshPos.length - nHeld));
    for (const k of ['msp', 'energy', 'maha', 'proto', 'fresh', 'online', 'after', 'plain'] as const) agg[k].push(a[k]);
    out(
      `| ${held.join(', ')} | ${a.msp.toFixed(3)} | ${a.energy.toFixed(3)} | ${a.maha.toFixed(3)} | ${a.proto.toFixed(3)} | ${a.fresh.toFixed(3)} | ${a.online.toFixed(3)} | ${a.after.toFixed(3)} | ${a.plain.toFixed(3)} | ${pct(flagHeld / nHeld)}% / ${pct(flagKnown / (freshPos.length - nHeld))}% (${pct(plainHeld / nHeld)}% / ${pct(plainKnown / (freshPos.length - nHeld))}%) | ${unkPseudo} of ${run.stats().accepted} | ${pct(okKnown / (freshPos.length - nHeld))} |`,
    );
  }
  out(
    `| **mean** | ${mean(agg.msp).toFixed(3)} | ${mean(agg.energy).toFixed(3)} | ${mean(agg.maha).toFixed(3)} | ${mean(agg.proto).toFixed(3)} | ${mean(agg.fresh).toFixed(3)} | ${mean(agg.online).toFixed(3)} | ${mean(agg.after).toFixed(3)} | ${mean(agg.plain).toFixed(3)} | | | |`,
  );
  out();
  summary.push({
    target: "unknown-class AUROC ≥ 0.90 (3 of 10 held out; `unknown`'s score on fresh frames after the stream)",
    value: mean(agg.after).toFixed(3),
    pass: mean(agg.after) >= 0.9,
  });
  summary.push({
    target: 'taught inputs flagged unknown on those fresh frames (info; label-only learner)',
    value: `${pct(mean(agg.taughtFlagged))}% (${pct(mean(agg.plainTaughtFlagged))}%)`,
    pass: undefined,
  });
  summary.push({
    target: 'unknown-class AUROC online, during the stream (info; before the stream: stream frames / fresh frames)',
    value: `${mean(agg.online).toFixed(3)} (${mean(agg.proto).toFixed(3)} / ${mean(agg.fresh).toFixed(3)})`,
    pass: undefined,
  });
  section['open'] = performance.now() - openT0;
}
