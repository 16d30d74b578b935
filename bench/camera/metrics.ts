// Few-shot classifiers and open-set scores for the camera benchmark: nearest class mean, k-NN, the SDK's Learner, AUROC.
import { Learner } from '../../src/finetune/index.js';

/** L2-normalised copy (zero vectors stay zero). */
export function unit(v: Float32Array): Float32Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return v.map((x) => x / n);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export interface Scored {
  /** Predicted class per query. */
  readonly pred: number[];
  /** Known-ness score per query (higher = more like a labelled class). */
  readonly score: number[];
}

/** Nearest class mean on unit embeddings: the class whose (re-normalised) mean is most cosine-similar. */
export function ncm(shots: Float32Array[], labels: number[], classes: number, queries: Float32Array[]): Scored {
  const dim = shots[0]!.length;
  const means = Array.from({ length: classes }, () => new Float32Array(dim));
  shots.forEach((s, i) => means[labels[i]!]!.forEach((_, d, m) => (m[d]! += s[d]!)));
  const units = means.map(unit);
  const pred: number[] = [];
  const score: number[] = [];
  for (const q of queries) {
    let best = -1;
    let bs = -Infinity;
    units.forEach((m, c) => {
      const s = dot(m, q);
      if (s > bs) [bs, best] = [s, c];
    });
    pred.push(best);
    score.push(bs);
  }
  return { pred, score };
}

/** k-NN majority vote by cosine (ties to the larger summed similarity); score = the nearest shot's similarity. */
export function knn(
  shots: Float32Array[],
  labels: number[],
  classes: number,
  queries: Float32Array[],
  k: number,
): Scored {
  const pred: number[] = [];
  const score: number[] = [];
  for (const q of queries) {
    const sims = shots.map((s, i) => [dot(s, q), labels[i]!] as const).sort((a, b) => b[0] - a[0]);
    const votes = new Float64Array(classes);
    for (const [s, l] of sims.slice(0, k)) votes[l]! += 1 + 1e-3 * s;
    let best = 0;
    votes.forEach((v, c) => (v > votes[best]! ? (best = c) : 0));
    pred.push(best);
    score.push(sims[0]![0]);
  }
  return { pred, score };
}

export function accuracy(pred: number[], truth: number[]): number {
  let ok = 0;
  pred.forEach((p, i) => (p === truth[i] ? ok++ : 0));
  return ok / pred.length;
}

/** Probability that a known query scores above an unknown one (ties count half). */
export function auroc(known: number[], unknown: number[]): number {
  let s = 0;
  for (const a of known) for (const b of unknown) s += a > b ? 1 : a === b ? 0.5 : 0;
  return s / (known.length * unknown.length);
}

export interface LearnerResult {
  readonly fewShot: number;
  readonly stream: number;
  readonly auroc: number;
}

/**
 * The SDK's Learner as an app uses it: label the shots, adapt, predict; then observe the unlabeled test
 * stream (self-training with its defaults), adapting when it says so, and predict the same stream again.
 */
export async function learner(
  shots: Float32Array[],
  labels: number[],
  classes: number,
  test: Float32Array[],
  truth: number[],
  unknown: Float32Array[],
): Promise<LearnerResult> {
  const names = Array.from({ length: classes }, (_, c) => `c${c}`);
  const l = new Learner({ dim: shots[0]!.length, classes: names, seed: 1 });
  shots.forEach((s, i) => l.addLabeled(s, names[labels[i]!]!));
  await l.adapt();
  const acc = (): number =>
    accuracy(
      test.map((x) => names.indexOf(l.predict(x).label)),
      truth,
    );
  const fewShot = acc();
  const conf = (xs: Float32Array[]): number[] => xs.map((x) => l.predict(x).confidence);
  const open = auroc(conf(test), conf(unknown));
  for (const x of test) {
    if (l.observe(x).adaptDue) await l.adapt();
  }
  await l.adapt();
  const stream = acc();
  l.dispose();
  return { fewShot, stream, auroc: open };
}
