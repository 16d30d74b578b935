// Dev tuning loop for few-shot personalisation: ours under several option sets (FT_LIST, a JSON array) against the best of k-NN, the linear head and CV logistic regression, on the harness's few-shot streams.
// Run: FT_LIST='[{}, {"reestimate":{"labelWeight":2}}]' node --import tsx bench/finetune/few-sweep.ts --dev   (same labels, streams and baselines as eval.ts section 2; FT_K=5 picks the shots, FT_REPEATS=3 the label draws) FT_DOMAINS=a,b FT_SEV=4 pick the shifts.
import type { LearnerOptions } from '../../src/finetune/index.js';
import type { Corruption } from './corruptions.js';
import { logregAccuracy } from './logreg.js';
import {
  DEV,
  FEWSHOT_REPEATS,
  FEWSHOT_SEV,
  FINAL_ROUNDS,
  HEAD_ONLY,
  accuracy,
  embedSplit,
  knnAccuracy,
  drawLabels,
  mean,
  poolY,
  runStream,
  streamY,
  trained,
} from './harness.js';

if (!DEV) throw new Error('few-sweep tunes on the --dev split only; run it with --dev.');
const list = JSON.parse(process.env.FT_LIST ?? '[{}]') as Partial<LearnerOptions>[];
const ks = (process.env.FT_K ?? '1,5,10').split(',').map(Number);
// FT_DOMAINS (comma-separated) and FT_SEV pick other shifts than eval.ts's, e.g. FT_DOMAINS=contrast,brightness FT_SEV=4.
const domains = (process.env.FT_DOMAINS ?? 'clean,gaussian-noise,rotation').split(',') as Array<Corruption | 'clean'>;
const severity = Number(process.env.FT_SEV ?? FEWSHOT_SEV);
// More label draws than eval.ts's one on --dev steady a comparison (FT_REPEATS; draws 1000, 1001, … as there).
const repeats = Number(process.env.FT_REPEATS ?? FEWSHOT_REPEATS);

// The label draws and the baselines do not depend on the option sets: once per (domain, k, draw).
interface Case {
  xs: Float32Array[];
  lx: Float32Array[];
  ly: string[];
  k: number;
  /** k-NN, linear head, CV logistic regression. */
  base: [number, number, number];
}
const cases: Case[] = [];
for (const dom of domains) {
  const xs = await embedSplit('stream', dom, severity);
  const pool = await embedSplit('pool', dom, severity);
  for (const k of ks) {
    for (let rep = 0; rep < repeats; rep++) {
      const li = drawLabels(pool.length, k, 1000 + rep);
      const lx = li.map((j) => pool[j]!);
      const ly = li.map((j) => poolY[j]!);
      const lin = accuracy(
        await trained({ mode: 'frozen', guard: false, featureAlignment: 'none', drift: false, ...HEAD_ONLY }, lx, ly),
        xs,
        streamY,
      );
      const lr = logregAccuracy(lx, ly, xs, streamY, 1000 + rep).accuracy;
      cases.push({ xs, lx, ly, k, base: [knnAccuracy(lx, ly, xs, streamY), lin, lr] });
    }
  }
}
for (const opts of list) {
  const byK = new Map<number, { ours: number[]; base: Array<[number, number, number]> }>();
  for (const cs of cases) {
    const l = await trained(opts, cs.lx, cs.ly);
    await runStream(l, cs.xs, streamY);
    for (let r = 0; r < FINAL_ROUNDS; r++) await l.adapt();
    const a = byK.get(cs.k) ?? { ours: [], base: [] };
    a.ours.push(accuracy(l, cs.xs, streamY));
    a.base.push(cs.base);
    byK.set(cs.k, a);
  }
  // As eval.ts: the best of the baselines' means over domains and draws.
  const cells = [...byK].map(([k, a]) => {
    const best = Math.max(...[0, 1, 2].map((b) => mean(a.base.map((v) => v[b]!))));
    return `${k}-shot ours ${(100 * mean(a.ours)).toFixed(1)} − best ${(100 * best).toFixed(1)} = **${(100 * (mean(a.ours) - best)).toFixed(2)}**`;
  });
  console.log(`${JSON.stringify(opts)}: ${cells.join('; ')}`);
}
