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
  /**
   * Adds d(loss)/d(params) for one sample, given d(loss)/d(logits), into `grad`. Right after
   * `forward(p, c, x, …)` on the same `p` and `x` (the training loop's order) it reuses that call's
   * activations, so change `p` in place only between a backward and the next forward.
   */
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

/*
 * Kernels. V8 does not auto-vectorise JS, so speed comes from what it does do well: monomorphic
 * typed-array loops (one function per element-type pair), four independent partial sums so the adds
 * do not wait on each other, and no allocation per sample. Summation order differs from a plain
 * loop but is fixed, so training stays deterministic.
 */

/** Σ a[ao+j]·b[bo+j], j < n (both Float32Array). */
function dot32(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += a[ao + j]! * b[bo + j]!;
    s1 += a[ao + j + 1]! * b[bo + j + 1]!;
    s2 += a[ao + j + 2]! * b[bo + j + 2]!;
    s3 += a[ao + j + 3]! * b[bo + j + 3]!;
  }
  for (; j < n; j++) s0 += a[ao + j]! * b[bo + j]!;
  return s0 + s1 + s2 + s3;
}

/** Σ a[ao+j]·b[j], j < n (Float32Array weights, Float64Array activations). */
function dot3264(a: Float32Array, ao: number, b: Float64Array, n: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < n; j += 4) {
    s0 += a[ao + j]! * b[j]!;
    s1 += a[ao + j + 1]! * b[j + 1]!;
    s2 += a[ao + j + 2]! * b[j + 2]!;
    s3 += a[ao + j + 3]! * b[j + 3]!;
  }
  for (; j < n; j++) s0 += a[ao + j]! * b[j]!;
  return s0 + s1 + s2 + s3;
}

/** g[go+j] += d·x[j], j < n. */
function axpy32(g: Float64Array, go: number, d: number, x: Float32Array, n: number): void {
  let j = 0;
  for (; j + 3 < n; j += 4) {
    g[go + j] = g[go + j]! + d * x[j]!;
    g[go + j + 1] = g[go + j + 1]! + d * x[j + 1]!;
    g[go + j + 2] = g[go + j + 2]! + d * x[j + 2]!;
    g[go + j + 3] = g[go + j + 3]! + d * x[j + 3]!;
  }
  for (; j < n; j++) g[go + j] = g[go + j]! + d * x[j]!;
}

/** g[go+j] += d·x[j] and da[j] += d·w[wo+j], j < n: one pass over a classifier row for both gradients. */
function axpy2(
  g: Float64Array,
  go: number,
  d: number,
  x: Float64Array,
  da: Float64Array,
  w: Float32Array,
  wo: number,
  n: number,
): void {
  for (let j = 0; j < n; j++) {
    g[go + j] = g[go + j]! + d * x[j]!;
    da[j] = da[j]! + d * w[wo + j]!;
  }
}

/**
 * out[at+r] = Σ_j w[o + r·stride + j]·x[j] for rows r < rows (the rows of a row-major matrix against
 * one vector). Four rows per pass share each load of x.
 */
function rowsDot32(
  w: Float32Array,
  o: number,
  stride: number,
  rows: number,
  x: Float32Array,
  n: number,
  out: Float64Array,
  at: number,
): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const o0 = o + r * stride;
    const o1 = o0 + stride;
    const o2 = o1 + stride;
    const o3 = o2 + stride;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < n; j++) {
      const v = x[j]!;
      s0 += w[o0 + j]! * v;
      s1 += w[o1 + j]! * v;
      s2 += w[o2 + j]! * v;
      s3 += w[o3 + j]! * v;
    }
    out[at + r] = s0;
    out[at + r + 1] = s1;
    out[at + r + 2] = s2;
    out[at + r + 3] = s3;
  }
  for (; r < rows; r++) out[at + r] = dot32(w, o + r * stride, x, 0, n);
}

/** {@link rowsDot32} against a Float64Array vector. */
function rowsDot64(
  w: Float32Array,
  o: number,
  stride: number,
  rows: number,
  x: Float64Array,
  n: number,
  out: Float64Array,
  at: number,
): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const o0 = o + r * stride;
    const o1 = o0 + stride;
    const o2 = o1 + stride;
    const o3 = o2 + stride;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let j = 0; j < n; j++) {
      const v = x[j]!;
      s0 += w[o0 + j]! * v;
      s1 += w[o1 + j]! * v;
      s2 += w[o2 + j]! * v;
      s3 += w[o3 + j]! * v;
    }
    out[at + r] = s0;
    out[at + r + 1] = s1;
    out[at + r + 2] = s2;
    out[at + r + 3] = s3;
  }
  for (; r < rows; r++) out[at + r] = dot3264(w, o + r * stride, x, n);
}

/** g[o + r·stride + j] += d[r]·x[j] for rows r < rows (an outer-product update); four rows share each load of x. */
function rowsAxpy32(
  g: Float64Array,
  o: number,
  stride: number,
  rows: number,
  d: Float64Array,
  x: Float32Array,
  n: number,
): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    const o0 = o + r * stride;
    const o1 = o0 + stride;
    const o2 = o1 + stride;
    const o3 = o2 + stride;
    const d0 = d[r]!;
    const d1 = d[r + 1]!;
    const d2 = d[r + 2]!;
    const d3 = d[r + 3]!;
    for (let j = 0; j < n; j++) {
      const v = x[j]!;
      g[o0 + j] = g[o0 + j]! + d0 * v;
      g[o1 + j] = g[o1 + j]! + d1 * v;
      g[o2 + j] = g[o2 + j]! + d2 * v;
      g[o3 + j] = g[o3 + j]! + d3 * v;
    }
  }
  for (; r < rows; r++) axpy32(g, o + r * stride, d[r]!, x, n);
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
      rowsDot32(p, 0, dim, c, x, dim, out, 0);
      for (let k = 0; k < c; k++) out[k] = out[k]! + p[bo + k]!;
    },
    backward(_p, c, x, dl, g) {
      const bo = c * dim;
      rowsAxpy32(g, 0, dim, c, dl, x, dim);
      for (let k = 0; k < c; k++) g[bo + k] = g[bo + k]! + dl[k]!;
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
  // Scratch reused by every call (JS runs one call at a time): hidden activations, the indices of the
  // active (positive) ones, the adapted features and the backward buffers.
  const z = new Float64Array(h);
  const act = new Int32Array(h);
  let nAct = 0;
  const a = new Float64Array(dim);
  const da = new Float64Array(dim);
  const dz = new Float64Array(h);
  // forward() leaves z/a for (lastP, lastX); backward() on the same pair right after reuses them
  // instead of running the adapter twice (the learner always calls forward, then backward).
  let lastP: Float32Array | undefined;
  let lastX: Float32Array | undefined;
  const run = (p: Float32Array, x: Float32Array): void => {
    nAct = 0;
    rowsDot32(p, 0, dim, h, x, dim, z, 0);
    for (let i = 0; i < h; i++) {
      const s = z[i]! + p[oB1 + i]!;
      if (s > 0) {
        z[i] = s;
        act[nAct++] = i;
      } else z[i] = 0;
    }
    // Inactive units add exactly zero, so only the active columns of W2 are read; four rows of W2
    // per pass share each load of z.
    let j = 0;
    for (; j + 3 < dim; j += 4) {
      const o0 = oW2 + j * h;
      const o1 = o0 + h;
      const o2 = o1 + h;
      const o3 = o2 + h;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let t = 0; t < nAct; t++) {
        const i = act[t]!;
        const v = z[i]!;
        s0 += p[o0 + i]! * v;
        s1 += p[o1 + i]! * v;
        s2 += p[o2 + i]! * v;
        s3 += p[o3 + i]! * v;
      }
      a[j] = x[j]! + s0;
      a[j + 1] = x[j + 1]! + s1;
      a[j + 2] = x[j + 2]! + s2;
      a[j + 3] = x[j + 3]! + s3;
    }
    for (; j < dim; j++) {
      const o = oW2 + j * h;
      let s = 0;
      for (let t = 0; t < nAct; t++) {
        const i = act[t]!;
        s += p[o + i]! * z[i]!;
      }
      a[j] = x[j]! + s;
    }
    lastP = p;
    lastX = x;
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
      run(p, x);
      const bo = oWc + c * dim;
      rowsDot64(p, oWc, dim, c, a, dim, out, 0);
      for (let k = 0; k < c; k++) out[k] = out[k]! + p[bo + k]!;
    },
    backward(p, c, x, dl, g) {
      if (p !== lastP || x !== lastX) run(p, x);
      const bo = oWc + c * dim;
      da.fill(0);
      let k = 0;
      for (; k + 1 < c; k += 2) {
        const d0 = dl[k]!;
        const d1 = dl[k + 1]!;
        const o0 = oWc + k * dim;
        const o1 = o0 + dim;
        for (let q = 0; q < dim; q++) {
          const v = a[q]!;
          g[o0 + q] = g[o0 + q]! + d0 * v;
          g[o1 + q] = g[o1 + q]! + d1 * v;
          da[q] = da[q]! + (d0 * p[o0 + q]! + d1 * p[o1 + q]!);
        }
      }
      if (k < c) axpy2(g, oWc + k * dim, dl[k]!, a, da, p, oWc + k * dim, dim);
      for (let q = 0; q < c; q++) g[bo + q] = g[bo + q]! + dl[q]!;
      for (let t = 0; t < nAct; t++) dz[act[t]!] = 0;
      let j = 0;
      for (; j + 3 < dim; j += 4) {
        const d0 = da[j]!;
        const d1 = da[j + 1]!;
        const d2 = da[j + 2]!;
        const d3 = da[j + 3]!;
        const o0 = oW2 + j * h;
        const o1 = o0 + h;
        const o2 = o1 + h;
        const o3 = o2 + h;
        for (let t = 0; t < nAct; t++) {
          const i = act[t]!;
          const v = z[i]!;
          g[o0 + i] = g[o0 + i]! + d0 * v;
          g[o1 + i] = g[o1 + i]! + d1 * v;
          g[o2 + i] = g[o2 + i]! + d2 * v;
          g[o3 + i] = g[o3 + i]! + d3 * v;
          dz[i] = dz[i]! + (d0 * p[o0 + i]! + d1 * p[o1 + i]! + d2 * p[o2 + i]! + d3 * p[o3 + i]!);
        }
      }
      for (; j < dim; j++) {
        const dj = da[j]!;
        const o = oW2 + j * h;
        for (let t = 0; t < nAct; t++) {
          const i = act[t]!;
          g[o + i] = g[o + i]! + dj * z[i]!;
          dz[i] = dz[i]! + dj * p[o + i]!;
        }
      }
      // W1 rows of the active units, four per pass sharing each load of x.
      let t = 0;
      for (; t + 3 < nAct; t += 4) {
        const i0 = act[t]!;
        const i1 = act[t + 1]!;
        const i2 = act[t + 2]!;
        const i3 = act[t + 3]!;
        const d0 = dz[i0]!;
        const d1 = dz[i1]!;
        const d2 = dz[i2]!;
        const d3 = dz[i3]!;
        const o0 = i0 * dim;
        const o1 = i1 * dim;
        const o2 = i2 * dim;
        const o3 = i3 * dim;
        for (let q = 0; q < dim; q++) {
          const v = x[q]!;
          g[o0 + q] = g[o0 + q]! + d0 * v;
          g[o1 + q] = g[o1 + q]! + d1 * v;
          g[o2 + q] = g[o2 + q]! + d2 * v;
          g[o3 + q] = g[o3 + q]! + d3 * v;
        }
        g[oB1 + i0] = g[oB1 + i0]! + d0;
        g[oB1 + i1] = g[oB1 + i1]! + d1;
        g[oB1 + i2] = g[oB1 + i2]! + d2;
        g[oB1 + i3] = g[oB1 + i3]! + d3;
      }
      for (; t < nAct; t++) {
        const i = act[t]!;
        const d = dz[i]!;
        axpy32(g, i * dim, d, x, dim);
        g[oB1 + i] = g[oB1 + i]! + d;
      }
      // The parameters may change before the next forward (optimiser step): do not trust the cache past here.
      lastP = undefined;
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
    features(p, x) {
      run(p, x);
      lastP = undefined;
      return Float32Array.from(a);
    },
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
