// Open-set recognition and confidence calibration: a diagonal Mahalanobis distance to the labels' class means with thresholds calibrated on the labels themselves (leave-one-out), and temperature scaling.
import type { ReplayEntry } from './replay.js';

/** Label class means, a shared per-dimension within-class variance and, per class, the distance past which an input is called unknown. */
export interface OpenSetModel {
  readonly classes: number;
  /** Class means of the labels, classes × dim. */
  readonly means: Float32Array;
  /** Shared within-class variance per dimension (floored). */
  readonly variance: Float64Array;
  /** Per class: unknown when the distance to its mean is above this (+Infinity: never). */
  readonly threshold: Float64Array;
  /** Labels per class used. */
  readonly counts: Float64Array;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.POSITIVE_INFINITY;
  const at = q * (sorted.length - 1);
  const lo = Math.floor(at);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (at - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Mean squared standardised distance of `x` to the row of `means` at `off`. */
function distance(x: ArrayLike<number>, means: ArrayLike<number>, off: number, variance: Float64Array): number {
  let s = 0;
  const d = variance.length;
  for (let j = 0; j < d; j++) {
    const t = x[j]! - means[off + j]!;
    s += (t * t) / variance[j]!;
  }
  return s / d;
}

/**
 * Fits the open-set model on the labels: class means, a diagonal within-class variance shared by
 * all classes (Mahalanobis with a diagonal covariance, after Lee et al. 2018; a full covariance is
 * out of reach with a few labels), and per class the `1 − quantile` point of each label's distance
 * to the mean of the *other* labels of its class (leave-one-out, so a label does not vouch for
 * itself): about `quantile` of inputs of a taught class are then called unknown. Classes with
 * fewer than `minPerClass` labels use the pooled value of all classes; with no class of two or more
 * labels nothing is ever called unknown. The harness measured this against max-softmax, energy and
 * the cosine to class means (docs/finetune.md).
 *
 * @param labeled - per class, its labeled entries (in the head's input space)
 * @param dim - embedding size
 * @param q - share of labels past the threshold
 * @param margin - added to every threshold, in units of the distance (looser when positive)
 */
export function fitOpenSet(
  labeled: readonly (readonly ReplayEntry[])[],
  dim: number,
  q: number,
  margin: number,
  minPerClass = 5,
): OpenSetModel {
  const c = labeled.length;
  const sums = new Float64Array(c * dim);
  const counts = new Float64Array(c);
  for (let k = 0; k < c; k++) {
    for (const e of labeled[k]!) {
      for (let j = 0; j < dim; j++) sums[k * dim + j] = sums[k * dim + j]! + e.x[j]!;
      counts[k] = counts[k]! + 1;
    }
  }
  const means = new Float32Array(c * dim);
  for (let k = 0; k < c; k++)
    if (counts[k]! > 0) for (let j = 0; j < dim; j++) means[k * dim + j] = sums[k * dim + j]! / counts[k]!;
  const variance = new Float64Array(dim);
  let n = 0;
  for (let k = 0; k < c; k++) {
    for (const e of labeled[k]!) {
      for (let j = 0; j < dim; j++) variance[j] = variance[j]! + (e.x[j]! - means[k * dim + j]!) ** 2;
      n++;
    }
  }
  // Floored at a tenth of the mean variance so a dimension the few labels happen not to vary in cannot dominate.
  let mv = 0;
  for (let j = 0; j < dim; j++) mv += (variance[j] = n > c ? variance[j]! / (n - c) : 1) / dim;
  for (let j = 0; j < dim; j++) variance[j] = Math.max(variance[j]!, 0.1 * mv, 1e-6);
  const per: number[][] = [];
  const pooled: number[] = [];
  const loo = new Float64Array(dim);
  for (let k = 0; k < c; k++) {
    const ds: number[] = [];
    const m = counts[k]!;
    if (m >= 2) {
      for (const e of labeled[k]!) {
        for (let j = 0; j < dim; j++) loo[j] = (sums[k * dim + j]! - e.x[j]!) / (m - 1);
        ds.push(distance(e.x, loo, 0, variance));
      }
    }
    ds.sort((a, b) => a - b);
    per.push(ds);
    pooled.push(...ds);
  }
  pooled.sort((a, b) => a - b);
  const global = quantile(pooled, 1 - q);
  const threshold = new Float64Array(c);
  for (let k = 0; k < c; k++)
    threshold[k] = (per[k]!.length >= minPerClass ? quantile(per[k]!, 1 - q) : global) + margin;
  return { classes: c, means, variance, threshold, counts };
}

/** Nearest class mean of `z`, its distance, and the margin under that class's threshold (negative: unknown). */
export function openSetScore(
  m: OpenSetModel,
  z: Float32Array,
): { readonly cls: number; readonly distance: number; readonly margin: number } {
  const d = z.length;
  let best = 0;
  let dist = Number.POSITIVE_INFINITY;
  for (let k = 0; k < m.classes; k++) {
    if (m.counts[k] === 0) continue;
    const s = distance(z, m.means, k * d, m.variance);
    if (s < dist) {
      dist = s;
      best = k;
    }
  }
  return { cls: best, distance: dist, margin: m.threshold[best]! - dist };
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

/** softmax(logits / T) from probabilities: the normalised p^(1/T), whatever the head produced them. */
export function temperatureScale(raw: Float64Array, t: number): Float64Array {
  if (t === 1) return raw;
  const p = new Float64Array(raw.length);
  let m = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < raw.length; k++) m = Math.max(m, Math.log(Math.max(raw[k]!, 1e-300)) / t);
  let s = 0;
  for (let k = 0; k < raw.length; k++) s += p[k] = Math.exp(Math.log(Math.max(raw[k]!, 1e-300)) / t - m);
  for (let k = 0; k < raw.length; k++) p[k] = p[k]! / s;
  return p;
}

/** Probability of class `k` after temperature scaling `raw` by `t`. */
export function calibratedAt(raw: Float64Array, k: number, t: number): number {
  if (t === 1) return raw[k]!;
  let s = 0;
  const lk = Math.log(Math.max(raw[k]!, 1e-300)) / t;
  for (let j = 0; j < raw.length; j++) s += Math.exp(Math.log(Math.max(raw[j]!, 1e-300)) / t - lk);
  return 1 / s;
}
