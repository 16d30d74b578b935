// Baseline for the harness: multinomial logistic regression on the same labels, its L2 strength chosen by k-fold cross-validation on those labels only.
import { Rng } from '../../src/finetune/rng.js';

/** L2-normalised and scaled by √dim, as the learner sees its inputs. */
function prep(x: Float32Array): Float64Array {
  let s = 0;
  for (let j = 0; j < x.length; j++) s += x[j]! * x[j]!;
  const k = s > 0 ? Math.sqrt(x.length / s) : 0;
  return Float64Array.from(x, (v) => v * k);
}

/** A fitted model: weights C×D and biases C. */
interface Model {
  w: Float64Array;
  b: Float64Array;
  c: number;
  d: number;
}

/** Full-batch Adam on the mean cross-entropy + λ/2‖W‖², a fixed number of iterations (deterministic). */
function fit(xs: Float64Array[], ys: number[], c: number, lambda: number, iters = 300): Model {
  const d = xs[0]!.length;
  const p = c * d + c;
  const w = new Float64Array(p);
  const m = new Float64Array(p);
  const v = new Float64Array(p);
  const g = new Float64Array(p);
  const z = new Float64Array(c);
  const lr = 0.05;
  for (let t = 1; t <= iters; t++) {
    g.fill(0);
    for (let i = 0; i < xs.length; i++) {
      const x = xs[i]!;
      let mx = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < c; k++) {
        let s = w[c * d + k]!;
        for (let j = 0; j < d; j++) s += w[k * d + j]! * x[j]!;
        z[k] = s;
        mx = Math.max(mx, s);
      }
      let se = 0;
      for (let k = 0; k < c; k++) se += z[k] = Math.exp(z[k]! - mx);
      for (let k = 0; k < c; k++) {
        const dk = (z[k]! / se - (k === ys[i] ? 1 : 0)) / xs.length;
        for (let j = 0; j < d; j++) g[k * d + j] = g[k * d + j]! + dk * x[j]!;
        g[c * d + k] = g[c * d + k]! + dk;
      }
    }
    for (let i = 0; i < c * d; i++) g[i] = g[i]! + lambda * w[i]!;
    const c1 = 1 - 0.9 ** t,
      c2 = 1 - 0.999 ** t;
    for (let i = 0; i < p; i++) {
      m[i] = 0.9 * m[i]! + 0.1 * g[i]!;
      v[i] = 0.999 * v[i]! + 0.001 * g[i]! * g[i]!;
      w[i] = w[i]! - (lr * (m[i]! / c1)) / (Math.sqrt(v[i]! / c2) + 1e-8);
    }
  }
  return { w: w.subarray(0, c * d), b: w.subarray(c * d), c, d };
}

function predict(m: Model, x: Float64Array): number {
  let best = 0,
    bv = Number.NEGATIVE_INFINITY;
  for (let k = 0; k < m.c; k++) {
    let s = m.b[k]!;
    for (let j = 0; j < m.d; j++) s += m.w[k * m.d + j]! * x[j]!;
    if (s > bv) {
      bv = s;
      best = k;
    }
  }
  return best;
}

/** The L2 strengths tried by cross-validation. */
export const LAMBDAS = [1e-4, 1e-3, 1e-2, 3e-2, 1e-1, 3e-1, 1];

/**
 * Trains logistic regression on the labels with λ picked by k-fold CV (k = min(5, labels per class),
 * at least 2; folds stratified by class, seeded) and returns accuracy on `test` plus the λ chosen.
 */
export function logregAccuracy(
  lx: Float32Array[],
  ly: string[],
  tx: Float32Array[],
  ty: string[],
  seed = 1,
): { accuracy: number; lambda: number } {
  const names = [...new Set(ly)].sort();
  const idx = new Map(names.map((n, i) => [n, i]));
  const xs = lx.map(prep);
  const ys = ly.map((y) => idx.get(y)!);
  const c = names.length;
  const perClass = Math.min(...names.map((_, k) => ys.filter((y) => y === k).length));
  const folds = Math.max(2, Math.min(5, perClass));
  const rng = new Rng(seed);
  const fold = new Int32Array(xs.length);
  for (let k = 0; k < c; k++) {
    const members = rng.shuffle(ys.flatMap((y, i) => (y === k ? [i] : [])));
    members.forEach((i, r) => (fold[i] = r % folds));
  }
  let bestL = LAMBDAS[0]!,
    bestA = -1;
  for (const lambda of LAMBDAS) {
    let ok = 0,
      n = 0;
    for (let f = 0; f < folds; f++) {
      const tr = xs.flatMap((_, i) => (fold[i] !== f ? [i] : []));
      const te = xs.flatMap((_, i) => (fold[i] === f ? [i] : []));
      if (!te.length || !tr.length) continue;
      const m = fit(
        tr.map((i) => xs[i]!),
        tr.map((i) => ys[i]!),
        c,
        lambda,
        150,
      );
      for (const i of te) if (predict(m, xs[i]!) === ys[i]) ok++;
      n += te.length;
    }
    const a = n ? ok / n : 0;
    if (a > bestA + 1e-12) {
      bestA = a;
      bestL = lambda;
    }
  }
  const m = fit(xs, ys, c, bestL);
  let ok = 0;
  tx.forEach((x, i) => (names[predict(m, prep(x))] === ty[i] ? ok++ : 0));
  return { accuracy: ok / tx.length, lambda: bestL };
}
