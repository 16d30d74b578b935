// Small numeric helpers shared by the heads, the learner and the detectors.
import { EdgetuneError } from '../core/errors.js';

/**
 * Throws `NON_FINITE` when `v` holds NaN or ±Infinity, naming where and at which index.
 *
 * @param v - values to check
 * @param what - what the values are, for the message
 */
export function assertFinite(v: ArrayLike<number>, what: string): void {
  for (let i = 0; i < v.length; i++) {
    if (!Number.isFinite(v[i]!)) {
      throw new EdgetuneError(
        'NON_FINITE',
        `${what} has a non-finite value (${v[i]}) at index ${i}; check the encoder output or the values passed in.`,
        { details: { index: i, value: v[i] } },
      );
    }
  }
}

/** True when every value is finite. */
export function allFinite(v: ArrayLike<number>): boolean {
  for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) return false;
  return true;
}

/** In-place softmax of `logits` (length n) with temperature 1; returns the array. */
export function softmaxInPlace(x: Float64Array): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i]! > m) m = x[i]!;
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const e = Math.exp(x[i]! - m);
    x[i] = e;
    s += e;
  }
  for (let i = 0; i < x.length; i++) x[i] = x[i]! / s;
  return x;
}

/** Index of the largest value (first on ties). */
export function argmax(x: ArrayLike<number>): number {
  let b = 0;
  for (let i = 1; i < x.length; i++) if (x[i]! > x[b]!) b = i;
  return b;
}

/** Shannon entropy of a probability vector, divided by ln(n) so it lies in [0, 1]. */
export function normalizedEntropy(p: ArrayLike<number>): number {
  if (p.length < 2) return 0;
  let h = 0;
  for (let i = 0; i < p.length; i++) {
    const v = p[i]!;
    if (v > 0) h -= v * Math.log(v);
  }
  return h / Math.log(p.length);
}

/** Dot product of two equal-length vectors. */
export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Euclidean norm. */
export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** Index of the largest `p[i] · w[i]` (first on ties). */
export function weightedArgmax(p: ArrayLike<number>, w: ArrayLike<number>): number {
  let best = 0;
  let bv = -1;
  for (let j = 0; j < p.length; j++) {
    const v = p[j]! * w[j]!;
    if (v > bv) {
      bv = v;
      best = j;
    }
  }
  return best;
}

/** log Σ exp(x), stable. */
export function logSumExp(x: ArrayLike<number>): number {
  let m = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < x.length; i++) m = Math.max(m, x[i]!);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.exp(x[i]! - m);
  return m + Math.log(s);
}

/** A copy of `a` without index `i`. */
export function dropAt(a: Float64Array, i: number): Float64Array {
  const q = new Float64Array(a.length - 1);
  q.set(a.subarray(0, i), 0);
  q.set(a.subarray(i + 1), i);
  return q;
}
