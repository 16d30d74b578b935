// Pseudo-label acceptance thresholds: fixed (FixMatch), class-wise by learning effect (FlexMatch), self-adaptive (FreeMatch).

/** How the acceptance threshold is set. */
export type ThresholdKind = 'fixed' | 'flexmatch' | 'freematch';

/** All threshold kinds, for validation messages. */
export const THRESHOLD_KINDS: readonly ThresholdKind[] = Object.freeze(['fixed', 'flexmatch', 'freematch']);

/** Threshold settings. */
export interface ThresholdOptions {
  /** @defaultValue `'freematch'` */
  readonly kind?: ThresholdKind;
  /** Base confidence threshold τ (FixMatch uses 0.95); the upper bound for the adaptive kinds. @defaultValue 0.95 */
  readonly tau?: number;
  /** Lowest threshold any class may get, so an adaptive threshold never accepts near-chance guesses. @defaultValue 0.5 */
  readonly floor?: number;
  /** EMA decay of the adaptive statistics per observed sample. @defaultValue 0.995 */
  readonly decay?: number;
}

/** Resolved threshold settings. */
export interface ResolvedThresholds {
  kind: ThresholdKind;
  tau: number;
  floor: number;
  decay: number;
}

/** Serialisable threshold statistics. */
export interface ThresholdState {
  /** FlexMatch: decayed count of confident predictions per class. */
  sigma: Float64Array;
  /** FlexMatch: decayed count of unconfident samples. */
  unused: number;
  /** FreeMatch: global confidence EMA. */
  global: number;
  /** FreeMatch: per-class mean probability EMA. */
  local: Float64Array;
}

/** Fills defaults. */
export function resolveThresholds(o: ThresholdOptions = {}): ResolvedThresholds {
  return { kind: o.kind ?? 'freematch', tau: o.tau ?? 0.95, floor: o.floor ?? 0.5, decay: o.decay ?? 0.995 };
}

/** Starting statistics for `c` classes. */
export function newThresholdState(c: number): ThresholdState {
  return {
    sigma: new Float64Array(c),
    unused: 1,
    global: 1 / Math.max(c, 1),
    local: new Float64Array(c).fill(1 / Math.max(c, 1)),
  };
}

/** The current threshold of every class. */
export function classThresholds(o: ResolvedThresholds, s: ThresholdState): Float64Array {
  const c = s.local.length;
  const t = new Float64Array(c);
  if (o.kind === 'fixed') return t.fill(o.tau);
  if (o.kind === 'flexmatch') {
    let max = s.unused;
    for (let k = 0; k < c; k++) max = Math.max(max, s.sigma[k]!);
    for (let k = 0; k < c; k++) {
      const beta = max > 0 ? s.sigma[k]! / max : 0;
      // Convex warping x/(2-x) from the FlexMatch paper: thresholds rise slowly while a class is still being learnt.
      t[k] = Math.max(o.floor, (beta / (2 - beta)) * o.tau);
    }
    return t;
  }
  let max = 0;
  for (let k = 0; k < c; k++) max = Math.max(max, s.local[k]!);
  for (let k = 0; k < c; k++) t[k] = Math.min(o.tau, Math.max(o.floor, (max > 0 ? s.local[k]! / max : 1) * s.global));
  return t;
}

/** Folds one sample's class probabilities into the statistics. */
export function updateThresholds(o: ResolvedThresholds, s: ThresholdState, probs: ArrayLike<number>): void {
  const c = s.local.length;
  const d = o.decay;
  let best = 0;
  for (let k = 1; k < c; k++) if (probs[k]! > probs[best]!) best = k;
  const conf = probs[best]!;
  for (let k = 0; k < c; k++) {
    s.sigma[k] = s.sigma[k]! * d + (k === best && conf >= o.tau ? 1 : 0);
    s.local[k] = s.local[k]! * d + (1 - d) * probs[k]!;
  }
  s.unused = s.unused * d + (conf >= o.tau ? 0 : 1);
  s.global = s.global * d + (1 - d) * conf;
}
