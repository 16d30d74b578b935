// The open-set candidates measured side by side on the harness's held-out-classes setup (3 of 10 classes never taught): which score `unknown` uses was chosen here, on --dev.
// Run: node --import tsx bench/finetune/openset-scores.ts [--dev]
import { Learner } from '../../src/finetune/index.js';
import {
  classDistances,
  classLogPosterior,
  fitOpenSet,
  metricCoords,
  openSetScore,
  type OpenSetSettings,
} from '../../src/finetune/openset.js';
import type { ReplayEntry } from '../../src/finetune/replay.js';
import { Rng } from '../../src/finetune/rng.js';
import { loadDataset } from './data.js';
import { embedCached, loadEncoder } from './encoder.js';
import { auroc, heldOutClasses } from './openset-metrics.js';

const DEV = process.argv.includes('--dev');
const SEED = 7;
const ds = await loadDataset(DEV);
const enc = await loadEncoder();
const perm = new Rng(SEED).shuffle(Array.from({ length: ds.count }, (_, i) => i));
const nStream = DEV ? 500 : 1000;
const srcIdx = perm.slice(0, 2000);
const streamIdx = perm.slice(2000, 2000 + nStream);
const gather = (idx: number[]): Uint8Array => {
  const out = new Uint8Array(idx.length * 784);
  idx.forEach((j, i) => out.set(ds.images.subarray(j * 784, (j + 1) * 784), i * 784));
  return out;
};
// The harness's cache keys, so its embeddings are reused.
const srcE = await embedCached(enc, `${DEV ? 'dev-' : ''}src2000-s${SEED}-clean-0`, gather(srcIdx));
const stE = await embedCached(enc, `${DEV ? 'dev-' : ''}stream${nStream}-s${SEED}-clean-0`, gather(streamIdx));
const srcY = srcIdx.map((j) => ds.classes[ds.labels[j]!]!);
const stY = streamIdx.map((j) => ds.classes[ds.labels[j]!]!);
// Fresh frames, seen neither as labels nor in the stream: where a stream-side score is measured after the stream.
const freshIdx = perm.slice(DEV ? 2500 : 3000, DEV ? 3000 : 3500);
const frE = await embedCached(enc, `${DEV ? 'dev-' : ''}fresh${freshIdx.length}-s${SEED}-clean-0`, gather(freshIdx));
const frY = freshIdx.map((j) => ds.classes[ds.labels[j]!]!);

/**
 * Stream-side novelty: of the k nearest neighbours of `w` (metric coordinates) among the labels and the
 * stream frames seen so far, the fraction that are stream frames. A never-taught class has no labels
 * near it, so its frames' neighbours are stream frames; a taught frame's neighbours are mostly labels.
 */
function streamFraction(
  w: Float64Array,
  labels: readonly Float64Array[],
  seen: readonly Float64Array[],
  k: number,
): number {
  const best: Array<[number, boolean]> = [];
  const consider = (v: Float64Array, fromStream: boolean): void => {
    let d = 0;
    for (let j = 0; j < v.length; j++) d += (v[j]! - w[j]!) ** 2;
    if (best.length < k) {
      best.push([d, fromStream]);
      best.sort((a, b) => b[0] - a[0]);
    } else if (d < best[0]![0]) {
      best[0] = [d, fromStream];
      best.sort((a, b) => b[0] - a[0]);
    }
  };
  for (const v of labels) consider(v, false);
  for (const v of seen) consider(v, true);
  return best.filter((b) => b[1]).length / best.length;
}
const median = (v: readonly number[]): number => {
  const s = [...v].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : 0;
};

/** The learner's input scaling: L2-normalised, times √dim. */
const prep = (x: Float32Array): Float32Array => {
  const n = Math.hypot(...x) || 1;
  return Float32Array.from(x, (v) => (v * Math.sqrt(x.length)) / n);
};

const draws = DEV ? 2 : 3;
const res = new Map<string, number[]>();
const put = (k: string, v: number): void => void res.set(k, [...(res.get(k) ?? []), v]);
for (let dr = 0; dr < draws; dr++) {
  const held = heldOutClasses(ds.classes, SEED, dr);
  const keep = srcY.flatMap((y, i) => (held.includes(y) ? [] : [i]));
  const names = [...new Set(keep.map((i) => srcY[i]!))];
  const labeled: ReplayEntry[][] = names.map(() => []);
  for (const i of keep)
    labeled[names.indexOf(srcY[i]!)]!.push({
      x: prep(srcE[i]!),
      x2: undefined,
      cls: names.indexOf(srcY[i]!),
      labeled: true,
      holdout: false,
      conf: 1,
      step: 0,
    });
  const l = new Learner({ dim: enc.dim, seed: SEED, openSet: { classifierWeight: 0 } });
  for (const i of keep) l.addLabeled(srcE[i]!, srcY[i]!);
  await l.adapt();
  const pos = stY.map((y) => held.includes(y));
  const preds = stE.map((x) => l.predict(x));
  const energyOf = (x: Float32Array): number => l.predict(x).energy;
  put(
    'max-softmax',
    auroc(
      preds.map((p) => -p.confidence),
      pos,
    ),
  );
  put(
    'energy',
    auroc(
      preds.map((p) => p.energy),
      pos,
    ),
  );
  const base: OpenSetSettings = { quantile: 0.05, margin: 0, covariance: 'diagonal', shrinkage: 0.2, energyWeight: 0 };
  const cands: Array<[string, OpenSetSettings]> = [
    ['diagonal Mahalanobis', base],
    ...[0.01, 0.05, 0.2, 0.5].map((a): [string, OpenSetSettings] => [
      `full covariance, shrinkage ${a}`,
      { ...base, covariance: 'full', shrinkage: a },
    ]),
    ...[0.3, 0.5, 1, 2].map((w): [string, OpenSetSettings] => [
      `full (shrinkage 0.2) + ${w} × energy`,
      { ...base, covariance: 'full', energyWeight: w },
    ]),
  ];
  for (const [name, s] of cands) {
    const m = fitOpenSet(labeled, enc.dim, s, s.energyWeight > 0 ? energyOf : undefined);
    // Labels are in the learner's input space; the energy is the head's on the same (raw) embedding.
    put(
      name,
      auroc(
        stE.map((x, i) => -openSetScore(m, prep(x), preds[i]!.energy).margin),
        pos,
      ),
    );
  }
  const unitL = keep.map((i) => {
    const u = prep(srcE[i]!);
    const n = Math.hypot(...u);
    return u.map((v) => v / n);
  });
  for (const k of [1, 10]) {
    put(
      `k-NN cosine distance (k = ${k})`,
      auroc(
        stE.map((x) => {
          const u = prep(x);
          const n = Math.hypot(...u);
          const sims = unitL.map((v) => v.reduce((s, t, j) => s + (t * u[j]!) / n, 0)).sort((a, b) => b - a);
          return -sims[k - 1]!;
        }),
        pos,
      ),
    );
  }
  {
    // Ambiguity between taught classes: a near neighbour of two taught classes sits between their means.
    // Standardised on the (non-held-out) labels' own scores; combined with the shipped score at weight w.
    const m = fitOpenSet(labeled, enc.dim, { ...base, covariance: 'full', energyWeight: 1 }, energyOf);
    const amb = (u: Float32Array): [number, number] => {
      const g = classLogPosterior(m, u)!;
      const d = [...classDistances(m, u)].sort((a, b) => a - b);
      return [1 - Math.exp(Math.max(...g)), d[0]! / d[1]!];
    };
    const lab = labeled.flat().map((e) => amb(e.x));
    const zs = (v: number[]): ((x: number) => number) => {
      const mu = v.reduce((a, b) => a + b, 0) / v.length;
      const sd = Math.sqrt(v.reduce((a, b) => a + (b - mu) ** 2, 0) / v.length) || 1;
      return (x) => (x - mu) / sd;
    };
    const zp = zs(lab.map((a) => a[0]));
    const zr = zs(lab.map((a) => a[1]));
    const shipped = stE.map((x, i) => -openSetScore(m, prep(x), preds[i]!.energy).margin);
    const st = stE.map((x) => amb(prep(x)));
    const zShip = zs(labeled.flat().map((e) => -openSetScore(m, e.x, energyOf(e.x)).margin));
    put(
      'posterior ambiguity 1 − max p (alone)',
      auroc(
        st.map((a) => a[0]),
        pos,
      ),
    );
    put(
      'distance ratio d1/d2 (alone)',
      auroc(
        st.map((a) => a[1]),
        pos,
      ),
    );
    for (const w of [0.25, 0.5, 1]) {
      put(
        `shipped + ${w} × z(ambiguity)`,
        auroc(
          shipped.map((v, i) => zShip(v) + w * zp(st[i]![0])),
          pos,
        ),
      );
      put(
        `shipped + ${w} × z(d1/d2)`,
        auroc(
          shipped.map((v, i) => zShip(v) + w * zr(st[i]![1])),
          pos,
        ),
      );
    }
  }
  {
    // Stream-side novelty (prequential): frame t is scored with the labels and frames 0..t−1 only; its kNN
    // stream fraction, minus the median of the last 200 such fractions (a stream shifted as a whole has every
    // frame's neighbours in the stream, and then the term cancels), × 4w, is added to the shipped score.
    // After the stream, fresh frames are scored against the labels and the whole stream.
    const m = fitOpenSet(labeled, enc.dim, { ...base, covariance: 'full', energyWeight: 1 }, energyOf);
    const labW = labeled.flat().map((e) => metricCoords(m, e.x));
    const stW = stE.map((x) => metricCoords(m, prep(x)));
    const frW = frE.map((x) => metricCoords(m, prep(x)));
    const shipped = stE.map((x, i) => -openSetScore(m, prep(x), preds[i]!.energy).margin);
    const frPred = frE.map((x) => l.predict(x));
    const frShipped = frE.map((x, i) => -openSetScore(m, prep(x), frPred[i]!.energy).margin);
    const frPos = frY.map((y) => held.includes(y));
    put(
      'fresh frames: the learner as shipped (familiarity)',
      auroc(
        frPred.map((p) => -p.familiarity),
        frPos,
      ),
    );
    for (const k of [10, 20]) {
      const fr: number[] = [];
      const pre = stW.map((w, t) => {
        if (t < k) return shipped[t]!;
        const f = streamFraction(w, labW, stW.slice(0, t), k);
        fr.push(f);
        return [f - median(fr.slice(-200)), shipped[t]!] as const;
      });
      const med = median(fr.slice(-200));
      const after = frW.map((w) => streamFraction(w, labW, stW, k) - med);
      for (const wt of [1, 2, 3]) {
        put(
          `stream: shipped + ${wt} × 4 × (kNN stream fraction − median), k = ${k}, prequential`,
          auroc(
            pre.map((v) => (typeof v === 'number' ? v : v[1] + 4 * wt * v[0])),
            pos,
          ),
        );
        put(
          `fresh frames after the stream: shipped + ${wt} × 4 × (kNN stream fraction − median), k = ${k}`,
          auroc(
            frShipped.map((v, i) => v + 4 * wt * after[i]!),
            frPos,
          ),
        );
      }
    }
  }
  put(
    'the learner as shipped (familiarity)',
    auroc(
      preds.map((p) => -p.familiarity),
      pos,
    ),
  );
}
console.log(`Open-set AUROC, ${DEV ? 'DEV' : 'TEST'} split, mean of ${draws} draws (encoder ${enc.id})\n`);
console.log('| score | AUROC per draw | mean |\n|---|---|---|');
for (const [k, v] of res)
  console.log(
    `| ${k} | ${v.map((x) => x.toFixed(3)).join(' / ')} | ${(v.reduce((a, b) => a + b, 0) / v.length).toFixed(3)} |`,
  );
