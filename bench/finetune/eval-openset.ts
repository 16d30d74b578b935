// Harness open-set section: 3 of 10 classes never taught; AUROC of max-softmax, energy, a diagonal Mahalanobis and the learner's own familiarity.
import { performance } from 'node:perf_hooks';
import { Learner } from '../../src/finetune/index.js';
import { auroc, heldOutClasses } from './openset-metrics.js';
import {
  QUICK,
  SEED,
  N_SRC,
  N_STREAM,
  ds,
  enc,
  srcE,
  srcY,
  streamY,
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
  out(
    `## Open set: 3 of 10 classes never taught (${N_SRC} source images minus the held-out classes; the clean stream of ${N_STREAM} holds all 10; mean of ${draws} seeded draws)`,
  );
  out();
  out(
    '| held out | AUROC max-softmax | AUROC energy | AUROC diag-Mahalanobis | AUROC ours (`familiarity`: shrunk full-covariance Mahalanobis on unaligned inputs + energy, LOO-calibrated) | unknown flagged: held-out / taught | unknowns pseudo-labelled | accuracy on taught |',
  );
  out('|---|---|---|---|---|---|---|---|');
  const agg = { msp: [] as number[], energy: [] as number[], maha: [] as number[], proto: [] as number[] };
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
    let flagHeld = 0,
      flagKnown = 0,
      okKnown = 0;
    cleanStream.forEach((x, i) => {
      const p = l.predict(x);
      sc.msp.push(-p.confidence);
      sc.energy.push(p.energy);
      sc.maha.push(maha(x));
      sc.proto.push(-p.familiarity);
      if (p.unknown) pos[i] ? flagHeld++ : flagKnown++;
      if (!pos[i] && p.label === streamY[i]) okKnown++;
    });
    const nHeld = pos.filter(Boolean).length;
    const run = Learner.fromState(l.getState());
    let unkPseudo = 0;
    for (let i = 0; i < cleanStream.length; i++) {
      const o = run.observe(cleanStream[i]!);
      if (o.accepted && pos[i]) unkPseudo++;
      if (o.adaptDue) await run.adapt();
    }
    const a = {
      msp: auroc(sc.msp, pos),
      energy: auroc(sc.energy, pos),
      maha: auroc(sc.maha, pos),
      proto: auroc(sc.proto, pos),
    };
    for (const k of ['msp', 'energy', 'maha', 'proto'] as const) agg[k].push(a[k]);
    out(
      `| ${held.join(', ')} | ${a.msp.toFixed(3)} | ${a.energy.toFixed(3)} | ${a.maha.toFixed(3)} | ${a.proto.toFixed(3)} | ${pct(flagHeld / nHeld)}% / ${pct(flagKnown / (pos.length - nHeld))}% | ${unkPseudo} of ${run.stats().accepted} | ${pct(okKnown / (pos.length - nHeld))} |`,
    );
  }
  out(
    `| **mean** | ${mean(agg.msp).toFixed(3)} | ${mean(agg.energy).toFixed(3)} | ${mean(agg.maha).toFixed(3)} | ${mean(agg.proto).toFixed(3)} | | | |`,
  );
  out();
  summary.push({
    target: 'unknown-class AUROC ≥ 0.90 (3 of 10 held out; the score `unknown` uses)',
    value: mean(agg.proto).toFixed(3),
    pass: mean(agg.proto) >= 0.9,
  });
  section['open'] = performance.now() - openT0;
}
