// Classifier heads on top of frozen embeddings: nearest class mean, linear softmax and a residual adapter, all over flat Float32Array parameters.
import type { Rng } from './rng.js';

/** Which head the learner trains. */
export type HeadKind = 'ncm' | 'linear' | 'adapter';

/** All head kinds, for validation messages. */
export const HEAD_KINDS: readonly HeadKind[] = Object.freeze(['ncm', 'linear', 'adapter']);

/**
 * Shape and maths of a head. Parameters live in one flat vector so the optimiser,
 * the EMA teacher, rollback snapshots and the saved state all treat heads alike.
 */
export interface HeadSpec {
  readonly kind: HeadKind;
  readonly dim: number;
  /** Hidden width (adapter only; 0 otherwise). */
  readonly hidden: number;
  /** Number of parameters for `c` classes. */
  size(c: number): number;
  /** Fresh parameters for `c` classes. */
  init(rng: Rng, c: number): Float32Array;
  /** Writes the `c` logits of `x` into `out`. */
  forward(p: Float32Array, c: number, x: Float32Array, out: Float64Array): void;
  /** Adds d(loss)/d(params) for one sample, given d(loss)/d(logits), into `grad`. */
  backward(p: Float32Array, c: number, x: Float32Array, dlogits: Float64Array, grad: Float64Array): void;
  /** 1 where weight decay applies. */
  decayMask(c: number): Uint8Array;
  /** Parameters with one more class (its row starts at zero). */
  addClass(p: Float32Array, c: number): Float32Array;
  /** Parameters with `k` more classes in one copy (their rows start at zero), so adding many classes stays linear. */
  addClasses(p: Float32Array, c: number, k: number): Float32Array;
  /** Parameters without class `idx`. */
  removeClass(p: Float32Array, c: number, idx: number): Float32Array;
  /** The representation the classifier rows act on (T3A works in this space). */
  features(p: Float32Array, x: Float32Array): Float32Array;
  /** Classifier row of class `k` (a copy). */
  row(p: Float32Array, c: number, k: number): Float32Array;
}

/** Logit scale of the cosine (NCM, T3A) classifiers, i.e. inverse temperature. */
export const COSINE_SCALE = 16;

function cosineLogits(rows: Float32Array, c: number, d: number, x: Float32Array, out: Float64Array): void {
  let nx = 0;
  for (let j = 0; j < d; j++) nx += x[j]! * x[j]!;
  nx = Math.sqrt(nx) || 1;
  for (let k = 0; k < c; k++) {
    let s = 0;
    let nr = 0;
    const o = k * d;
    for (let j = 0; j < d; j++) {
      const r = rows[o + j]!;
      s += r * x[j]!;
      nr += r * r;
    }
    out[k] = nr > 0 ? (COSINE_SCALE * s) / (nx * Math.sqrt(nr)) : -COSINE_SCALE;
  }
}

/** Drops a block of `n` values at `at` from `p`. */
function cut(p: Float32Array, at: number, n: number): Float32Array {
  const q = new Float32Array(p.length - n);
  q.set(p.subarray(0, at), 0);
  q.set(p.subarray(at + n), at);
  return q;
}

/** Inserts `n` zeros at `at`. */
function grow(p: Float32Array, at: number, n: number): Float32Array {
  const q = new Float32Array(p.length + n);
  q.set(p.subarray(0, at), 0);
  q.set(p.subarray(at), at + n);
  return q;
}

/** Nearest class mean: parameters are the C×D prototypes, scored by scaled cosine similarity. */
function ncmSpec(dim: number): HeadSpec {
  return {
    kind: 'ncm',
    dim,
    hidden: 0,
    size: (c) => c * dim,
    init: (_r, c) => new Float32Array(c * dim),
    forward: (p, c, x, out) => cosineLogits(p, c, dim, x, out),
    backward: () => {
      // Prototypes are set from class means, not by gradient.
    },
    decayMask: (c) => new Uint8Array(c * dim),
    addClass: (p, c) => grow(p, c * dim, dim),
    addClasses: (p, c, k) => grow(p, c * dim, k * dim),
    removeClass: (p, _c, idx) => cut(p, idx * dim, dim),
    features: (_p, x) => Float32Array.from(x),
    row: (p, _c, k) => p.slice(k * dim, (k + 1) * dim),
  };
}

/** Linear softmax: W (C×D) then b (C). */
function linearSpec(dim: number): HeadSpec {
  return {
    kind: 'linear',
    dim,
    hidden: 0,
    size: (c) => c * dim + c,
    init: (_r, c) => new Float32Array(c * dim + c),
    forward(p, c, x, out) {
      const bo = c * dim;
      for (let k = 0; k < c; k++) {
        let s = p[bo + k]!;
        const o = k * dim;
        for (let j = 0; j < dim; j++) s += p[o + j]! * x[j]!;
        out[k] = s;
      }
    },
    backward(_p, c, x, dl, g) {
      const bo = c * dim;
      for (let k = 0; k < c; k++) {
        const d = dl[k]!;
        if (d === 0) continue;
        const o = k * dim;
        for (let j = 0; j < dim; j++) g[o + j] = g[o + j]! + d * x[j]!;
        g[bo + k] = g[bo + k]! + d;
      }
    },
    decayMask(c) {
      const m = new Uint8Array(c * dim + c);
      m.fill(1, 0, c * dim);
      return m;
    },
    addClass(p, c) {
      // New bias slot after the old biases, new weight row after the old rows.
      const q = grow(p, c * dim + c, 1);
      return grow(q, c * dim, dim);
    },
    addClasses(p, c, k) {
      const q = grow(p, c * dim + c, k);
      return grow(q, c * dim, k * dim);
    },
    removeClass(p, c, idx) {
      const q = cut(p, c * dim + idx, 1);
      return cut(q, idx * dim, dim);
    },
    features: (_p, x) => Float32Array.from(x),
    row: (p, _c, k) => p.slice(k * dim, (k + 1) * dim),
  };
}

/**
 * Residual adapter (TinyTL-style "lite residual"): a = x + W2·relu(W1·x + b1), then a linear
 * classifier. W2 starts at zero so an untrained adapter is exactly the linear head.
 * Layout: W1 (H×D), b1 (H), W2 (D×H), Wc (C×D), bc (C).
 */
function adapterSpec(dim: number, hidden: number): HeadSpec {
  const h = hidden;
  const oB1 = h * dim;
  const oW2 = oB1 + h;
  const oWc = oW2 + dim * h;
  const hid = (p: Float32Array, x: Float32Array): Float64Array => {
    const z = new Float64Array(h);
    for (let i = 0; i < h; i++) {
      let s = p[oB1 + i]!;
      const o = i * dim;
      for (let j = 0; j < dim; j++) s += p[o + j]! * x[j]!;
      z[i] = s > 0 ? s : 0;
    }
    return z;
  };
  const adapt = (p: Float32Array, x: Float32Array, z: Float64Array): Float32Array => {
    const a = Float32Array.from(x);
    for (let j = 0; j < dim; j++) {
      let s = 0;
      const o = oW2 + j * h;
      for (let i = 0; i < h; i++) s += p[o + i]! * z[i]!;
      a[j] = a[j]! + s;
    }
    return a;
  };
  return {
    kind: 'adapter',
    dim,
    hidden: h,
    size: (c) => oWc + c * dim + c,
    init(rng, c) {
      const p = new Float32Array(oWc + c * dim + c);
      const s = Math.sqrt(2 / dim);
      for (let i = 0; i < h * dim; i++) p[i] = rng.normal() * s;
      return p;
    },
    forward(p, c, x, out) {
      const a = adapt(p, x, hid(p, x));
      const bo = oWc + c * dim;
      for (let k = 0; k < c; k++) {
        let s = p[bo + k]!;
        const o = oWc + k * dim;
        for (let j = 0; j < dim; j++) s += p[o + j]! * a[j]!;
        out[k] = s;
      }
    },
    backward(p, c, x, dl, g) {
      const z = hid(p, x);
      const a = adapt(p, x, z);
      const bo = oWc + c * dim;
      const da = new Float64Array(dim);
      for (let k = 0; k < c; k++) {
        const d = dl[k]!;
        if (d === 0) continue;
        const o = oWc + k * dim;
        for (let j = 0; j < dim; j++) {
          g[o + j] = g[o + j]! + d * a[j]!;
          da[j] = da[j]! + d * p[o + j]!;
        }
        g[bo + k] = g[bo + k]! + d;
      }
      const dz = new Float64Array(h);
      for (let j = 0; j < dim; j++) {
        const dj = da[j]!;
        const o = oW2 + j * h;
        for (let i = 0; i < h; i++) {
          g[o + i] = g[o + i]! + dj * z[i]!;
          dz[i] = dz[i]! + dj * p[o + i]!;
        }
      }
      for (let i = 0; i < h; i++) {
        if (z[i]! <= 0) continue;
        const d = dz[i]!;
        const o = i * dim;
        for (let j = 0; j < dim; j++) g[o + j] = g[o + j]! + d * x[j]!;
        g[oB1 + i] = g[oB1 + i]! + d;
      }
    },
    decayMask(c) {
      const m = new Uint8Array(oWc + c * dim + c);
      m.fill(1, 0, oB1);
      m.fill(1, oW2, oWc + c * dim);
      return m;
    },
    addClass(p, c) {
      const q = grow(p, oWc + c * dim + c, 1);
      return grow(q, oWc + c * dim, dim);
    },
    addClasses(p, c, k) {
      const q = grow(p, oWc + c * dim + c, k);
      return grow(q, oWc + c * dim, k * dim);
    },
    removeClass(p, c, idx) {
      const q = cut(p, oWc + c * dim + idx, 1);
      return cut(q, oWc + idx * dim, dim);
    },
    features: (p, x) => adapt(p, x, hid(p, x)),
    row: (p, _c, k) => p.slice(oWc + k * dim, oWc + (k + 1) * dim),
  };
}

/**
 * The spec of a head kind.
 *
 * @param kind - head kind
 * @param dim - embedding size
 * @param hidden - adapter bottleneck width
 */
export function headSpec(kind: HeadKind, dim: number, hidden = 32): HeadSpec {
  if (kind === 'ncm') return ncmSpec(dim);
  if (kind === 'linear') return linearSpec(dim);
  return adapterSpec(dim, hidden);
}
