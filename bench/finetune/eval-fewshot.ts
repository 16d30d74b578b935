// Harness section 2: few-shot personalisation (k = 1, 5, 10) of ours against k-NN, NCM, a linear head and a cross-validated logistic regression.
import { performance } from 'node:perf_hooks';
import { CORRUPTIONS, type Corruption } from './corruptions.js';
import { logregAccuracy } from './logreg.js';
import {
  DEV,
  QUICK,
  FEWSHOT_SEV,
  FEWSHOT_REPEATS,
  FINAL_ROUNDS,
  embedSplit,
  streamY,
  poolY,
  OURS,
  HEAD_ONLY,
  VARIANTS,
  trained,
  knnAccuracy,
  drawLabels,
  tally,
  precision,
  runStream,
  summary,
  section,
  accuracy,
  mean,
  pct,
  out,
} from './harness.js';

/** Runs the section and prints its table; adds its targets to the summary. */
export async function fewShotSection(): Promise<void> {
  out(
    `## 2. Few-shot personalisation (final accuracy % on the unlabeled stream; labels drawn from a disjoint pool of the same domain, severity ${FEWSHOT_SEV}; mean of ${FEWSHOT_REPEATS} draws)`,
  );
  out();
  out(
    '| domain | k | k-NN (k=3, cosine) | NCM | linear on k | logistic regression (CV λ) | ours (k + stream) | ours PL precision / accept % |',
  );
  out('|---|---|---|---|---|---|---|---|');
  const fewT0 = performance.now();
  const fewPseudo = tally();
  const fewDomains: Array<Corruption | 'clean'> = DEV
    ? ['clean', 'gaussian-noise', 'rotation']
    : QUICK
      ? ['clean', 'gaussian-noise', 'blur']
      : ['clean', ...CORRUPTIONS];
  const fewAgg: Record<number, { knn: number[]; ncm: number[]; lin: number[]; lr: number[]; ours: number[] }> = {};

  for (const dom of fewDomains) {
    const xs = await embedSplit('stream', dom === 'clean' ? 'clean' : dom, FEWSHOT_SEV);
    const pool = await embedSplit('pool', dom === 'clean' ? 'clean' : dom, FEWSHOT_SEV);
    for (const k of [1, 5, 10]) {
      const acc = {
        knn: [] as number[],
        ncm: [] as number[],
        lin: [] as number[],
        lr: [] as number[],
        ours: [] as number[],
      };
      const kp = tally();
      for (let rep = 0; rep < FEWSHOT_REPEATS; rep++) {
        const li = drawLabels(pool.length, k, 1000 + rep);
        const lx = li.map((j) => pool[j]!);
        const ly = li.map((j) => poolY[j]!);
        acc.knn.push(knnAccuracy(lx, ly, xs, streamY));
        acc.ncm.push(accuracy(await trained(VARIANTS.ncm!, lx, ly), xs, streamY));
        acc.lin.push(
          accuracy(
            await trained(
              { mode: 'frozen', guard: false, featureAlignment: 'none', drift: false, ...HEAD_ONLY },
              lx,
              ly,
            ),
            xs,
            streamY,
          ),
        );
        acc.lr.push(logregAccuracy(lx, ly, xs, streamY, 1000 + rep).accuracy);
        const ours = await trained(OURS, lx, ly);
        const run = await runStream(ours, xs, streamY);
        for (const key of ['seen', 'accepted', 'correct'] as const) {
          kp[key] += run.pseudo[key];
          fewPseudo[key] += run.pseudo[key];
        }
        // The stream is over: two more self-training rounds over what replay holds, as an app would do when idle.
        for (let r = 0; r < FINAL_ROUNDS; r++) await ours.adapt();
        acc.ours.push(accuracy(ours, xs, streamY));
      }
      const a = (fewAgg[k] ??= { knn: [], ncm: [], lin: [], lr: [], ours: [] });
      for (const key of ['knn', 'ncm', 'lin', 'lr', 'ours'] as const) a[key].push(mean(acc[key]));
      out(
        `| ${dom} | ${k} | ${pct(mean(acc.knn))} | ${pct(mean(acc.ncm))} | ${pct(mean(acc.lin))} | ${pct(mean(acc.lr))} | ${pct(mean(acc.ours))} | ${pct(precision(kp))} / ${pct(kp.accepted / kp.seen)} |`,
      );
    }
  }
  for (const k of [1, 5, 10]) {
    const a = fewAgg[k]!;
    out(
      `| **mean** | ${k} | ${pct(mean(a.knn))} | ${pct(mean(a.ncm))} | ${pct(mean(a.lin))} | ${pct(mean(a.lr))} | ${pct(mean(a.ours))} | |`,
    );
  }
  const f5 = fewAgg[5]!;
  const best5 = Math.max(mean(f5.knn), mean(f5.lin), mean(f5.lr));
  out();
  out(
    `5-shot: ours − k-NN = **${(100 * (mean(f5.ours) - mean(f5.knn))).toFixed(2)} pts**, ours − linear = **${(100 * (mean(f5.ours) - mean(f5.lin))).toFixed(2)} pts**, ours − logistic regression = **${(100 * (mean(f5.ours) - mean(f5.lr))).toFixed(2)} pts** (target ≥ 3 over the best of them). Pseudo-labels over the few-shot streams: precision ${pct(precision(fewPseudo))}% at ${pct(fewPseudo.accepted / fewPseudo.seen)}% accepted.`,
  );
  out();
  summary.push({
    target: '5-shot + stream − best of k-NN, linear, CV logistic regression ≥ +3',
    value: `${(100 * (mean(f5.ours) - best5)).toFixed(2)}`,
    pass: mean(f5.ours) - best5 >= 0.03,
  });
  summary.push({
    target: 'pseudo-label precision, few-shot streams (info)',
    value: `${pct(precision(fewPseudo))}% at ${pct(fewPseudo.accepted / fewPseudo.seen)}% accepted`,
    pass: undefined,
  });
  section['few'] = performance.now() - fewT0;
}
