// Dev tuning loop for few-shot personalisation: ours under several option sets (FT_LIST, a JSON array) against the best of k-NN, the linear head and CV logistic regression, on the harness's few-shot streams.
// Run: FT_LIST='[{}, {"reestimate":{"labelWeight":2}}]' node --import tsx bench/finetune/few-sweep.ts --dev   (same labels, streams and baselines as eval.ts section 2; FT_K=5 picks the shots, FT_REPEATS=3 the label draws) FT_DOMAINS=a,b FT_SEV=4 pick the shifts.
// FT_STREAM=2500: the README main job's shape on dev images instead — a 2500-frame stream (contrast 4 unless FT_DOMAINS/FT_SEV say
// otherwise) of images outside the harness's splits, no final rounds, scored on 1500 further held-out images after the labels and after the stream.
// FT_DETAIL=1 prints one line per (domain, draw): the three baselines, ours after the labels and after the stream, accepted pseudo-labels and their precision.
import type { LearnerOptions } from '../../src/finetune/index.js';
import { type Corruption, corrupt } from './corruptions.js';
import { loadDevExtra } from './data.js';
import { embedCached } from './encoder.js';
import { logregAccuracy } from './logreg.js';
import {
  DEV,
  FEWSHOT_REPEATS,
  FEWSHOT_SEV,
  FINAL_ROUNDS,
  HEAD_ONLY,
  accuracy,
  embedSplit,
  enc,
  knnAccuracy,
  drawLabels,
  mean,
  poolY,
  precision,
  runStream,
  streamY,
  trained,
} from './harness.js';

if (!DEV) throw new Error('few-sweep tunes on the --dev split only; run it with --dev.');
const list = JSON.parse(process.env.FT_LIST ?? '[{}]') as Partial<LearnerOptions>[];
const ks = (process.env.FT_K ?? '1,5,10').split(',').map(Number);
// FT_DOMAINS (comma-separated) and FT_SEV pick other shifts than eval.ts's, e.g. FT_DOMAINS=contrast,brightness FT_SEV=4.
const long = Number(process.env.FT_STREAM ?? 0);
const domains = (process.env.FT_DOMAINS ?? (long ? 'contrast' : 'clean,gaussian-noise,rotation')).split(',') as Array<
  Corruption | 'clean'
>;
const severity = Number(process.env.FT_SEV ?? (long ? 4 : FEWSHOT_SEV));
const HELD_OUT = 1500;
// The long stream and its held-out set are training images after the dev split's 5000; corrupted with their own seeds, as the main job does.
const extra = long ? await loadDevExtra(long + HELD_OUT) : undefined;
const extraY = extra ? Array.from(extra.labels, (c) => extra.classes[c]!) : [];
const embedLong = (
  from: number,
  n: number,
  name: string,
  dom: Corruption | 'clean',
  seed: number,
): Promise<Float32Array[]> => {
  const imgs = extra!.images.subarray(from * 784, (from + n) * 784);
  return embedCached(
    enc,
    `dev-${name}${n}-from${5000 + from}-${dom}-${dom === 'clean' ? 0 : severity}-c${seed}`,
    dom === 'clean' ? imgs : corrupt(imgs, dom, severity, seed),
  );
};
// More label draws than eval.ts's one on --dev steady a comparison (FT_REPEATS; draws 1000, 1001, … as there).
const repeats = Number(process.env.FT_REPEATS ?? FEWSHOT_REPEATS);

// The label draws and the baselines do not depend on the option sets: once per (domain, k, draw).
interface Case {
  /** The stream and its labels. */
  xs: Float32Array[];
  ys: string[];
  /** Where accuracy is scored: the stream itself (as eval.ts), or the held-out set with FT_STREAM. */
  ex: Float32Array[];
  ey: string[];
  lx: Float32Array[];
  ly: string[];
  k: number;
  /** Domain and draw, for FT_DETAIL. */
  dom: string;
  rep: number;
  /** k-NN, linear head, CV logistic regression. */
  base: [number, number, number];
}
const cases: Case[] = [];
for (const dom of domains) {
  const xs = long ? await embedLong(0, long, 'long', dom, 2) : await embedSplit('stream', dom, severity);
  const ys = long ? extraY.slice(0, long) : streamY;
  const ex = long ? await embedLong(long, HELD_OUT, 'held', dom, 3) : xs;
  const ey = long ? extraY.slice(long) : ys;
  const pool = await embedSplit('pool', dom, severity);
  for (const k of ks) {
    for (let rep = 0; rep < repeats; rep++) {
      const li = drawLabels(pool.length, k, 1000 + rep);
      const lx = li.map((j) => pool[j]!);
      const ly = li.map((j) => poolY[j]!);
      const lin = accuracy(
        await trained({ mode: 'frozen', guard: false, featureAlignment: 'none', drift: false, ...HEAD_ONLY }, lx, ly),
        ex,
        ey,
      );
      const lr = logregAccuracy(lx, ly, ex, ey, 1000 + rep).accuracy;
      cases.push({ xs, ys, ex, ey, lx, ly, k, dom, rep, base: [knnAccuracy(lx, ly, ex, ey), lin, lr] });
    }
  }
}
for (const opts of list) {
  const byK = new Map<number, { ours: number[]; labels: number[]; base: Array<[number, number, number]> }>();
  const runs: string[] = [];
  for (const cs of cases) {
    const l = await trained(opts, cs.lx, cs.ly);
    const afterLabels = accuracy(l, cs.ex, cs.ey);
    const run = await runStream(l, cs.xs, cs.ys);
    // The main job ends with the stream; eval.ts's few-shot section adds FINAL_ROUNDS rounds.
    if (!long) for (let r = 0; r < FINAL_ROUNDS; r++) await l.adapt();
    const a = byK.get(cs.k) ?? { ours: [], labels: [], base: [] };
    const acc = accuracy(l, cs.ex, cs.ey);
    a.ours.push(acc);
    a.labels.push(afterLabels);
    a.base.push(cs.base);
    byK.set(cs.k, a);
    const st = l.stats();
    // FT_DETAIL=1: one line per case — where the gain over the baselines is made and where it is lost.
    if (process.env.FT_DETAIL)
      console.log(
        `  ${cs.dom} k${cs.k} draw ${cs.rep}: knn/lin/lr ${cs.base.map((b) => (100 * b).toFixed(1)).join('/')}, after labels ${(100 * afterLabels).toFixed(1)}, after stream ${(100 * acc).toFixed(1)}, PL ${run.pseudo.accepted}/${run.pseudo.seen} at ${(100 * precision(run.pseudo)).toFixed(1)}%`,
      );
    if (long)
      runs.push(
        `${(100 * afterLabels).toFixed(1)}→${(100 * acc).toFixed(1)} (${st.accepted} PL, ${st.adaptations} rounds, ${st.rollbacks} rb)`,
      );
  }
  // As eval.ts: the best of the baselines' means over domains and draws.
  const cells = [...byK].map(([k, a]) => {
    const best = Math.max(...[0, 1, 2].map((b) => mean(a.base.map((v) => v[b]!))));
    const from = long ? `after labels ${(100 * mean(a.labels)).toFixed(1)}, after stream ` : '';
    return `${k}-shot ${from}ours ${(100 * mean(a.ours)).toFixed(1)} − best ${(100 * best).toFixed(1)} = **${(100 * (mean(a.ours) - best)).toFixed(2)}**`;
  });
  console.log(`${JSON.stringify(opts)}: ${cells.join('; ')}${long ? ` [${runs.join(', ')}]` : ''}`);
}
