// Open-set recognition, the Gaussian class posterior and confidence calibration: a Mahalanobis distance (shared, shrunk covariance) to the labels' class means, combined with the head's energy, with thresholds calibrated on the labels themselves (leave-one-out); temperature scaling.
import type { ReplayEntry } from './replay.js';

/** What {@link fitOpenSet} reads of the resolved `openSet` options. */
export interface OpenSetSettings {
  readonly quantile: number;
  readonly margin: number;
  readonly covariance: 'full' | 'diagonal';
  readonly shrinkage: number;
  readonly energyWeight: number;
}

/**
 * Label class means, a shared within-class covariance (full and shrunk, or diagonal) and, per class,
 * the score past which an input is called unknown.
 */
export interface OpenSetModel {
  readonly classes: number;
  readonly dim: number;
  /** Class means of the labels, classes × dim. */
  readonly means: Float32Array;
  /** Shared within-class variance per dimension (floored): the diagonal model's metric. */
  readonly variance: Float64Array;
  /** Lower Cholesky factor of the shrunk shared covariance (dim × dim), or undefined for the diagonal model. */
  readonly chol: Float64Array | undefined;
  /** Class means whitened by `chol` (classes × dim), empty for the diagonal model. */
  readonly whiteMeans: Float64Array;
  /** Per class: unknown when the score at its mean is above this (+Infinity: never). */
  readonly threshold: Float64Array;
  /** Labels per class used. */
  readonly counts: Float64Array;
  /** β of the class posterior softmax(−β · squared distance / 2), fitted on leave-one-out label distances (1 for the diagonal model). */
  readonly posteriorScale: number;
  /** Standardisation of distance and energy on the labels (score = z(distance) + energyWeight · z(energy)); weight 0: the raw distance. */
  readonly energyWeight: number;
  readonly distMean: number;
  readonly distSd: number;
  readonly energyMean: number;
  readonly energySd: number;
  /**
   * Class means of the class posterior in the model's metric coordinates (classes × dim) when they were
   * re-estimated on the stream (reestimate.ts); undefined: the posterior uses the label means.
   */
  readonly posteriorMeans?: Float64Array | undefined;
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

/** Solves L·y = x (forward substitution): `x` in the whitened coordinates of the covariance L·Lᵀ. */
function whiten(chol: Float64Array, d: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    let s = x[i]!;
    const row = i * d;
    for (let k = 0; k < i; k++) s -= chol[row + k]! * y[k]!;
    y[i] = s / chol[row + i]!;
  }
  return y;
}

/** Cholesky factor of a symmetric positive-definite d × d matrix (row-major, lower). */
function cholesky(a: Float64Array, d: number): Float64Array {
  const l = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * d + j]!;
      for (let k = 0; k < j; k++) s -= l[i * d + k]! * l[j * d + k]!;
      l[i * d + j] = i === j ? Math.sqrt(Math.max(s, 1e-9)) : s / l[j * d + j]!;
    }
  }
  return l;
}

/** Largest dimension and class count for the full covariance (its cost is dim² per input plus classes × dim² per fit). */
const FULL_MAX_DIM = 1024;
const FULL_MAX_CLASSES = 256;
/** Labels used for the covariance at most (evenly spread over the label order), to bound a refit. */
const FULL_MAX_LABELS = 2000;

/**
 * Fits the open-set model on the labels: class means and a within-class covariance shared by all
 * classes (Mahalanobis, after Lee et al. 2018). `covariance: 'full'` shrinks the sample covariance
 * towards its mean variance by `max(shrinkage, dim / (dim + labels))` (a few labels get mostly the
 * identity); `'diagonal'` keeps per-dimension variances floored at a tenth of their mean. An input's
 * score is its distance to the nearest class mean — with `energyWeight` > 0, standardised on the labels
 * and added to the weighted, standardised energy of the head (Liu et al. 2020). Per class, the threshold
 * is the `1 − quantile` point of its labels' scores, each at its distance to the mean of the *other*
 * labels of its class (leave-one-out, so a label does not vouch for itself): about `quantile` of inputs of
 * a taught class are then called unknown. With the energy term, and for classes with fewer than `minPerClass`
 * labels, the threshold is the pooled value of all classes; with no class of two or more labels nothing is ever called unknown. The harness measured
 * the scores it chose between (docs/finetune.md).
 *
 * @param labeled - per class, its labeled entries (in the head's input space)
 * @param dim - embedding size
 * @param s - the `openSet` settings
 * @param energyOf - the head's energy of an input (read when `energyWeight` > 0)
 */
export function fitOpenSet(
  labeled: readonly (readonly ReplayEntry[])[],
  dim: number,
  s: OpenSetSettings,
  energyOf?: (x: Float32Array) => number,
  minPerClass = 5,
): OpenSetModel {
  const { quantile: q, margin } = s;
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
  const full = s.covariance === 'full' && n > c && dim <= FULL_MAX_DIM && c <= FULL_MAX_CLASSES;
  let chol: Float64Array | undefined;
  let whiteMeans = new Float64Array(0);
  if (full) {
    const cov = new Float64Array(dim * dim);
    const stride = Math.max(1, Math.ceil(n / FULL_MAX_LABELS));
    let used = 0;
    let i = 0;
    const r = new Float64Array(dim);
    for (let k = 0; k < c; k++) {
      for (const e of labeled[k]!) {
        if (i++ % stride !== 0) continue;
        used++;
        for (let j = 0; j < dim; j++) r[j] = e.x[j]! - means[k * dim + j]!;
        for (let a = 0; a < dim; a++) {
          const ra = r[a]!;
          if (ra === 0) continue;
          const row = a * dim;
          for (let b = 0; b <= a; b++) cov[row + b] = cov[row + b]! + ra * r[b]!;
        }
      }
    }
    const alpha = Math.min(1, Math.max(s.shrinkage, dim / (dim + n)));
    const denom = Math.max(used - (c * used) / n, 1);
    for (let a = 0; a < dim; a++) {
      for (let b = 0; b <= a; b++) {
        const v = (1 - alpha) * (cov[a * dim + b]! / denom) + (a === b ? alpha * mv + 1e-6 : 0);
        cov[a * dim + b] = v;
        cov[b * dim + a] = v;
      }
    }
    chol = cholesky(cov, dim);
    whiteMeans = new Float64Array(c * dim);
    for (let k = 0; k < c; k++)
      if (counts[k]! > 0) whiteMeans.set(whiten(chol, dim, means.subarray(k * dim, (k + 1) * dim)), k * dim);
  }
  for (let j = 0; j < dim; j++) variance[j] = Math.max(variance[j]!, 0.1 * mv, 1e-6);
  const dists: number[][] = [];
  const energies: number[][] = [];
  const loo = new Float64Array(dim);
  const ew = energyOf ? s.energyWeight : 0;
  // Leave-one-out squared distances of labels to every class mean (own class first), for the posterior's scale.
  const rows: Array<{ own: number; all: Float64Array }> = [];
  const rowStride = Math.max(1, Math.ceil(n / FULL_MAX_LABELS));
  let li = 0;
  for (let k = 0; k < c; k++) {
    const ds: number[] = [];
    const es: number[] = [];
    const m = counts[k]!;
    if (m >= 2) {
      for (const e of labeled[k]!) {
        if (chol) {
          // In whitened coordinates the leave-one-out mean is exact: x − mean₋ₓ = m/(m−1) · (x − mean).
          const w = whiten(chol, dim, e.x);
          let t = 0;
          for (let j = 0; j < dim; j++) t += (w[j]! - whiteMeans[k * dim + j]!) ** 2;
          ds.push(((m / (m - 1)) ** 2 * t) / dim);
          if (li++ % rowStride === 0) {
            const all = new Float64Array(c);
            for (let o = 0; o < c; o++) {
              if (counts[o] === 0) all[o] = Number.POSITIVE_INFINITY;
              else if (o === k) all[o] = (m / (m - 1)) ** 2 * t;
              else {
                let u = 0;
                for (let j = 0; j < dim; j++) u += (w[j]! - whiteMeans[o * dim + j]!) ** 2;
                all[o] = u;
              }
            }
            rows.push({ own: k, all });
          }
        } else {
          for (let j = 0; j < dim; j++) loo[j] = (sums[k * dim + j]! - e.x[j]!) / (m - 1);
          ds.push(distance(e.x, loo, 0, variance));
        }
        if (ew > 0) es.push(energyOf!(e.x));
      }
    }
    dists.push(ds);
    energies.push(es);
  }
  const stats = (a: number[]): [number, number] => {
    if (a.length === 0) return [0, 1];
    const mean = a.reduce((x, y) => x + y, 0) / a.length;
    const sd = Math.sqrt(a.reduce((x, y) => x + (y - mean) ** 2, 0) / a.length);
    return [mean, Math.max(sd, 1e-9)];
  };
  const [distMean, distSd] = ew > 0 ? stats(dists.flat()) : [0, 1];
  const [energyMean, energySd] = ew > 0 ? stats(energies.flat()) : [0, 1];
  const per: number[][] = [];
  const pooled: number[] = [];
  for (let k = 0; k < c; k++) {
    const sc = dists[k]!.map((dv, i) =>
      ew > 0 ? (dv - distMean) / distSd + (ew * (energies[k]![i]! - energyMean)) / energySd : dv,
    );
    sc.sort((a, b) => a - b);
    per.push(sc);
    pooled.push(...sc);
  }
  pooled.sort((a, b) => a - b);
  const global = quantile(pooled, 1 - q);
  const threshold = new Float64Array(c);
  // The standardised score is comparable across classes: one pooled threshold keeps its ranking (per-class ones cost AUROC on --dev).
  for (let k = 0; k < c; k++)
    threshold[k] = (ew === 0 && per[k]!.length >= minPerClass ? quantile(per[k]!, 1 - q) : global) + margin;
  return {
    classes: c,
    dim,
    posteriorScale: posteriorScale(rows),
    means,
    variance,
    chol,
    whiteMeans,
    threshold,
    counts,
    energyWeight: ew,
    distMean,
    distSd,
    energyMean,
    energySd,
  };
}

/**
 * The β minimising the negative log-likelihood of each label's class under softmax(−β · d² / 2) over its
 * leave-one-out squared distances `all` to the class means: the Gaussian posterior in a few hundred
 * dimensions is far surer than it is right, more so with few labels; 1 with nothing to fit on.
 */
function posteriorScale(rows: ReadonlyArray<{ own: number; all: Float64Array }>): number {
  if (rows.length === 0) return 1;
  const nll = (beta: number): number => {
    let t = 0;
    for (const { own, all } of rows) {
      let mx = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < all.length; k++) if (Number.isFinite(all[k]!)) mx = Math.max(mx, (-beta * all[k]!) / 2);
      let se = 0;
      for (let k = 0; k < all.length; k++) if (Number.isFinite(all[k]!)) se += Math.exp((-beta * all[k]!) / 2 - mx);
      t -= (-beta * all[own]!) / 2 - mx - Math.log(se);
    }
    return t;
  };
  let best = 0;
  let bestV = Number.POSITIVE_INFINITY;
  for (let g = -8; g <= 1.0001; g += 0.1) {
    const v = nll(Math.exp(g));
    if (v < bestV) {
      bestV = v;
      best = g;
    }
  }
  const lo = best - 0.1;
  for (let g = lo; g <= lo + 0.2001; g += 0.01) {
    const v = nll(Math.exp(g));
    if (v < bestV) {
      bestV = v;
      best = g;
    }
  }
  return Math.exp(best);
}

/**
 * The metric coordinates of `x` under `m`: whitened by the shared covariance's Cholesky factor, or
 * divided by the per-dimension standard deviation for the diagonal model. Squared distances there are
 * the model's Mahalanobis distances, and means map to means (the map is linear).
 */
export function metricCoords(m: OpenSetModel, x: ArrayLike<number>): Float64Array {
  const d = m.dim;
  if (m.chol) return whiten(m.chol, d, x);
  const y = new Float64Array(d);
  for (let j = 0; j < d; j++) y[j] = x[j]! / Math.sqrt(m.variance[j]!);
  return y;
}

/** Back from metric coordinates to the input space (the inverse of {@link metricCoords}). */
export function fromMetric(m: OpenSetModel, y: ArrayLike<number>): Float32Array {
  const d = m.dim;
  const x = new Float32Array(d);
  const L = m.chol;
  if (L) {
    for (let i = 0; i < d; i++) {
      let s = 0;
      const row = i * d;
      for (let k = 0; k <= i; k++) s += L[row + k]! * y[k]!;
      x[i] = s;
    }
  } else for (let j = 0; j < d; j++) x[j] = y[j]! * Math.sqrt(m.variance[j]!);
  return x;
}

/** Squared distance of `z` to every class mean in the model's metric, divided by dim (+Infinity for a class without labels). */
export function classDistances(m: OpenSetModel, z: ArrayLike<number>): Float64Array {
  if (m.chol) return metricDistances(m, whiten(m.chol, m.dim, z), m.whiteMeans);
  const out = new Float64Array(m.classes);
  for (let k = 0; k < m.classes; k++)
    out[k] = m.counts[k] === 0 ? Number.POSITIVE_INFINITY : distance(z, m.means, k * m.dim, m.variance);
  return out;
}

/** Squared distances (÷ dim) of `w` (metric coordinates) to `means` (metric coordinates, classes × dim); +Infinity for a class without labels. */
function metricDistances(m: OpenSetModel, w: Float64Array, means: Float64Array): Float64Array {
  const d = m.dim;
  const out = new Float64Array(m.classes);
  for (let k = 0; k < m.classes; k++) {
    if (m.counts[k] === 0) {
      out[k] = Number.POSITIVE_INFINITY;
      continue;
    }
    let t = 0;
    const off = k * d;
    for (let j = 0; j < d; j++) {
      const v = w[j]! - means[off + j]!;
      t += v * v;
    }
    out[k] = t / d;
  }
  return out;
}

/**
 * Nearest class mean of `z`, its distance, and the margin of the score under that class's threshold
 * (negative: unknown). `energy` (the head's, of the same input) enters the score when the model weighs it.
 */
export function openSetScore(
  m: OpenSetModel,
  z: Float32Array,
  energy = 0,
  dists: Float64Array = classDistances(m, z),
): { readonly cls: number; readonly distance: number; readonly margin: number } {
  let best = 0;
  let dist = Number.POSITIVE_INFINITY;
  for (let k = 0; k < m.classes; k++) {
    if (dists[k]! < dist) {
      dist = dists[k]!;
      best = k;
    }
  }
  const score =
    m.energyWeight > 0
      ? (dist - m.distMean) / m.distSd + (m.energyWeight * (energy - m.energyMean)) / m.energySd
      : dist;
  return { cls: best, distance: dist, margin: m.threshold[best]! - score };
}

/**
 * The model with its class posterior centred on `means` (input space, classes × dim) instead of the
 * label means; the unknown score keeps the label means it was calibrated on.
 */
export function withPosteriorMeans(m: OpenSetModel, means: Float32Array): OpenSetModel {
  const d = m.dim;
  const pm = new Float64Array(m.classes * d);
  for (let k = 0; k < m.classes; k++) pm.set(metricCoords(m, means.subarray(k * d, (k + 1) * d)), k * d);
  return { ...m, posteriorMeans: pm };
}

/** Squared distances (÷ dim) of `z` to the posterior's class means (+Infinity for a class without labels). */
function posteriorDistances(m: OpenSetModel, z: ArrayLike<number>): Float64Array {
  const pm = m.posteriorMeans;
  return pm ? metricDistances(m, metricCoords(m, z), pm) : classDistances(m, z);
}

/**
 * Adds the model's class posterior — a Gaussian per class with the shared covariance (linear
 * discriminant analysis) — to `logits` in place, with weight `weight`: the head's log-probabilities
 * plus `weight` × the Gaussian log-posterior, a product of the two experts. A class without labels
 * gets the lowest posterior of the others. No-op with fewer than two classes with labels.
 */
export function addClassPosterior(m: OpenSetModel, z: ArrayLike<number>, logits: Float64Array, weight: number): void {
  if (weight === 0 || m.classes !== logits.length) return;
  const g = classLogPosterior(m, z);
  if (!g) return;
  const c = logits.length;
  let hm = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < c; k++) hm = Math.max(hm, logits[k]!);
  let hs = 0;
  for (let k = 0; k < c; k++) hs += Math.exp(logits[k]! - hm);
  const hz = hm + Math.log(hs);
  for (let k = 0; k < c; k++) logits[k] = logits[k]! - hz + weight * g[k]!;
}

/**
 * Log of the model's class posterior softmax(−β · d² / 2) at `z` (a class without labels gets the lowest
 * of the others); undefined with fewer than two classes with labels.
 */
export function classLogPosterior(m: OpenSetModel, z: ArrayLike<number>): Float64Array | undefined {
  const c = m.classes;
  let labeledClasses = 0;
  for (let k = 0; k < c; k++) if (m.counts[k]! > 0) labeledClasses++;
  if (labeledClasses < 2) return undefined;
  const dists = posteriorDistances(m, z);
  const half = (m.posteriorScale * m.dim) / 2;
  let lo = Number.POSITIVE_INFINITY;
  let mx = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < c; k++) {
    if (Number.isFinite(dists[k]!)) {
      const v = -half * dists[k]!;
      lo = Math.min(lo, v);
      mx = Math.max(mx, v);
    }
  }
  const g = new Float64Array(c);
  let se = 0;
  for (let k = 0; k < c; k++) {
    g[k] = Number.isFinite(dists[k]!) ? -half * dists[k]! : lo;
    se += Math.exp(g[k]! - mx);
  }
  const lz = mx + Math.log(se);
  for (let k = 0; k < c; k++) g[k] = g[k]! - lz;
  return g;
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
  for (let g = -2; g <= 4.0001; g += 0.1) {
    const v = nll(Math.exp(g));
    if (v < bestV) {
      bestV = v;
      best = g;
    }
  }
  const from = best - 0.1;
  for (let g = from; g <= from + 0.2001; g += 0.01) {
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
