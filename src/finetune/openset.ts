// Open-set recognition and confidence calibration: class-mean prototypes of the labels with thresholds calibrated on the labels themselves (leave-one-out), and temperature scaling.
import type { ReplayEntry } from './replay.js';

/** Label prototypes (unit class means) and, per class, the similarity under which an input is called unknown. */
export interface OpenSetModel {
  readonly classes: number;
  /** Unit class means of the labels, classes × dim. */
  readonly protos: Float32Array;
  /** Per class: unknown when the cosine to its prototype is below this (−Infinity: never). */
  readonly threshold: Float64Array;
  /** Labels per class used. */
  readonly counts: Float64Array;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NEGATIVE_INFINITY;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (at - lo) * (sorted[hi]! - sorted[lo]!);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>, off: number, d: number): number {
  let s = 0, na = 0, nb = 0;
  for (let j = 0; j < d; j++) {
    const x = a[j]!, y = b[off + j]!;
    s += x * y;
    na += x * x;
    nb += y * y;
  }
  return na > 0 && nb > 0 ? s / Math.sqrt(na * nb) : 0;
}

/**
 * Fits the open-set model on the labels: each label's cosine to the mean of the *other* labels of
 * its class (leave-one-out, so a label does not vouch for itself), and per class the `quantile` of
 * those similarities as the threshold — about `quantile` of inputs of a taught class are then
 * called unknown. Classes with fewer than `minPerClass` labels use the pooled quantile of all
 * classes; with no class of two or more labels nothing is ever called unknown.
 *
 * @param labeled - per class, its labeled entries (in the head's input space)
 * @param dim - embedding size
 * @param quantile - share of labels below the threshold
 * @param margin - subtracted from every threshold (a looser bar for small label sets)
 */
export function fitOpenSet(labeled: readonly (readonly ReplayEntry[])[], dim: number, q: number, margin: number, minPerClass = 5): OpenSetModel {
  const c = labeled.length;
  const sums = new Float64Array(c * dim);
  const counts = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    for (const e of labeled[k]!) {
      for (let j = 0; j < dim; j++) sums[k * dim + j] = sums[k * dim + j]! + e.x[j]!;
      counts[k] = counts[k]! + 1;
    }
  }
  const protos = new Float32Array(c * dim);
  for (let k = 0; k < c; k++) {
    let n = 0;
    for (let j = 0; j < dim; j++) n += sums[k * dim + j]! ** 2;
    const s = n > 0 ? 1 / Math.sqrt(n) : 0;
    for (let j = 0; j < dim; j++) protos[k * dim + j] = sums[k * dim + j]! * s;
  }
  const per: number[][] = [];
  const pooled: number[] = [];
  const loo = new Float64Array(dim);
  for (let k = 0; k < c; k++) {
    const sims: number[] = [];
    const n = counts[k]!;
    if (n >= 2) {
      for (const e of labeled[k]!) {
        for (let j = 0; j < dim; j++) loo[j] = sums[k * dim + j]! - e.x[j]!;
        sims.push(cosine(e.x, loo, 0, dim));
      }
    }
    sims.sort((a, b) => a - b);
    per.push(sims);
    pooled.push(...sims);
  }
  pooled.sort((a, b) => a - b);
  const global = pooled.length ? quantile(pooled, q) : Number.NEGATIVE_INFINITY;
  const threshold = new Float64Array(c);
  for (let k = 0; k < c; k++) threshold[k] = (per[k]!.length >= minPerClass ? quantile(per[k]!, q) : global) - margin;
  return { classes: c, protos, threshold, counts };
}

/** Nearest prototype of `z`, its cosine, and the margin over that class's threshold (negative: unknown). */
export function openSetScore(m: OpenSetModel, z: Float32Array): { readonly cls: number; readonly similarity: number; readonly margin: number } {
  const d = z.length;
  let best = 0;
  let sim = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < m.classes; k++) {
    if (m.counts[k] === 0) continue;
    const s = cosine(z, m.protos, k * d, d);
    if (s > sim) {
      sim = s;
      best = k;
    }
  }
  return { cls: best, similarity: sim, margin: sim - m.threshold[best]! };
}

/**
 * Temperature that minimises the negative log-likelihood of `labels` under softmax(logits / T)
 * (Guo et al. 2017), searched on a log grid then refined; 1 when there is nothing to fit on.
 *
 * @param logits - one row of class logits per sample
 * @param labels - the true class of each row
 */
export function fitTemperature(logits: readonly Float64Array[], labels: readonly number[]): number {
  if (logits.length === 0) return 1;
  const nll = (t: number): number => {
    let s = 0;
    for (let i = 0; i < logits.length; i++) {
      const z = logits[i]!;
      let m = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < z.length; k++) m = Math.max(m, z[k]! / t);
      let e = 0;
      for (let k = 0; k < z.length; k++) e += Math.exp(z[k]! / t - m);
      s -= z[labels[i]!]! / t - m - Math.log(e);
    }
    return s;
  };
  let best = 0;
  let bestV = Number.POSITIVE_INFINITY;
  for (let g = -2; g <= 2.0001; g += 0.1) {
    const v = nll(Math.exp(g));
    if (v < bestV) {
      bestV = v;
      best = g;
    }
  }
  for (let g = best - 0.1; g <= best + 0.1001; g += 0.01) {
    const v = nll(Math.exp(g));
    if (v < bestV) {
      bestV = v;
      best = g;
    }
  }
  return Math.exp(best);
}
