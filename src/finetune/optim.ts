// Our own optimisers (SGD with momentum, Adam) over one flat parameter vector, with weight decay.

/** Optimiser settings. */
export interface OptimizerOptions {
  /** `'adam'` (decoupled weight decay, i.e. AdamW) or `'sgd'` (momentum, L2 decay added to the gradient). @defaultValue `'adam'` */
  readonly kind?: 'adam' | 'sgd';
  /** Learning rate. @defaultValue 0.01 for Adam, 0.1 for SGD */
  readonly lr?: number;
  /** SGD momentum. @defaultValue 0.9 */
  readonly momentum?: number;
  /** Weight decay. @defaultValue 1e-4 */
  readonly weightDecay?: number;
  /** Adam β1. @defaultValue 0.9 */
  readonly beta1?: number;
  /** Adam β2. @defaultValue 0.999 */
  readonly beta2?: number;
}

/** Resolved optimiser settings. */
export interface ResolvedOptimizer {
  kind: 'adam' | 'sgd';
  lr: number;
  momentum: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
}

/** Fills optimiser defaults. */
export function resolveOptimizer(o: OptimizerOptions = {}): ResolvedOptimizer {
  const kind = o.kind ?? 'adam';
  return {
    kind,
    lr: o.lr ?? (kind === 'adam' ? 0.01 : 0.1),
    momentum: o.momentum ?? 0.9,
    weightDecay: o.weightDecay ?? 1e-4,
    beta1: o.beta1 ?? 0.9,
    beta2: o.beta2 ?? 0.999,
  };
}

/** Serialisable optimiser moments. */
export interface OptimizerState {
  m: Float32Array;
  v: Float32Array;
  t: number;
}

/** A fresh zero state for `n` parameters. */
export function newOptimizerState(n: number): OptimizerState {
  return { m: new Float32Array(n), v: new Float32Array(n), t: 0 };
}

/**
 * One update of `params` with gradient `grad` (already averaged over the batch).
 * `decayMask[i] = 0` exempts a parameter (biases) from weight decay.
 */
export function optimizerStep(
  o: ResolvedOptimizer,
  s: OptimizerState,
  params: Float32Array,
  grad: Float64Array,
  decayMask: Uint8Array,
): void {
  s.t++;
  const { lr, weightDecay: wd } = o;
  if (o.kind === 'sgd') {
    const mu = o.momentum;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i]! + (decayMask[i] ? wd * params[i]! : 0);
      const m = mu * s.m[i]! + g;
      s.m[i] = m;
      params[i] = params[i]! - lr * m;
    }
    return;
  }
  const { beta1: b1, beta2: b2 } = o;
  const c1 = 1 - b1 ** s.t;
  const c2 = 1 - b2 ** s.t;
  for (let i = 0; i < params.length; i++) {
    const g = grad[i]!;
    const m = b1 * s.m[i]! + (1 - b1) * g;
    const v = b2 * s.v[i]! + (1 - b2) * g * g;
    s.m[i] = m;
    s.v[i] = v;
    let p = params[i]!;
    if (decayMask[i]) p -= lr * wd * p;
    params[i] = p - (lr * (m / c1)) / (Math.sqrt(v / c2) + 1e-8);
  }
}
