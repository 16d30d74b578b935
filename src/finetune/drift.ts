// Label-free drift detectors (Page-Hinkley and ADWIN, after the river library) over a scalar stream such as 1 − confidence.

/** Page-Hinkley settings. Defaults follow river's `PageHinkley` except the threshold, scaled for a signal in [0, 1]. */
export interface PageHinkleyOptions {
  /** Samples before a change may be reported. @defaultValue 30 */
  readonly minInstances?: number;
  /** Magnitude of change tolerated. @defaultValue 0.005 */
  readonly delta?: number;
  /** Cumulative deviation that signals drift (river uses 50 for unscaled signals; this is for 1 − confidence in [0, 1]). @defaultValue 8 */
  readonly threshold?: number;
  /** Forgetting factor of the cumulative sum. @defaultValue 0.9999 */
  readonly alpha?: number;
  /** Which direction counts: `'up'` (signal rises), `'down'` or `'both'`. @defaultValue `'up'` */
  readonly mode?: 'up' | 'down' | 'both';
}

/** Serialisable Page-Hinkley state. */
export interface PageHinkleyState {
  n: number;
  mean: number;
  sumUp: number;
  minUp: number;
  sumDown: number;
  maxDown: number;
}

/** What a detector reports with a change. */
export interface DetectorChange {
  /** `'page-hinkley'` or `'adwin'`. */
  readonly detector: 'page-hinkley' | 'adwin' | 'embedding';
  /** Mean of the signal before the change (as the detector estimated it; 0 for `'embedding'`). */
  readonly meanBefore: number;
  /** Mean of the signal after the change (the statistic for `'embedding'`). */
  readonly meanAfter: number;
  /** Detector statistic at the moment of the change (PH: cumulative deviation; ADWIN: |mean difference|; embedding: standardised χ²). */
  readonly statistic: number;
  /** Samples the detector had seen since its last reset. */
  readonly samples: number;
}

/** Page-Hinkley test for a change in the mean. */
export class PageHinkley {
  readonly options: Required<PageHinkleyOptions>;
  state: PageHinkleyState;

  /** @param options - detector settings */
  constructor(options: PageHinkleyOptions = {}, state?: PageHinkleyState) {
    this.options = {
      minInstances: options.minInstances ?? 30,
      delta: options.delta ?? 0.005,
      threshold: options.threshold ?? 8,
      alpha: options.alpha ?? 0.9999,
      mode: options.mode ?? 'up',
    };
    this.state = state ? { ...state } : PageHinkley.fresh();
  }

  private static fresh(): PageHinkleyState {
    return { n: 0, mean: 0, sumUp: 0, minUp: 0, sumDown: 0, maxDown: 0 };
  }

  /** Forgets everything seen. */
  reset(): void {
    this.state = PageHinkley.fresh();
  }

  /** Adds one value; returns the change when one is detected (and resets). */
  update(x: number): DetectorChange | undefined {
    const s = this.state;
    const o = this.options;
    s.n++;
    s.mean += (x - s.mean) / s.n;
    s.sumUp = o.alpha * s.sumUp + (x - s.mean - o.delta);
    s.sumDown = o.alpha * s.sumDown + (x - s.mean + o.delta);
    s.minUp = Math.min(s.minUp, s.sumUp);
    s.maxDown = Math.max(s.maxDown, s.sumDown);
    if (s.n < o.minInstances) return undefined;
    const up = s.sumUp - s.minUp;
    const down = s.maxDown - s.sumDown;
    let stat = 0;
    if (o.mode !== 'down' && up > o.threshold) stat = up;
    if (o.mode !== 'up' && down > o.threshold) stat = Math.max(stat, down);
    if (stat === 0) return undefined;
    // The running mean mixes both regimes; report it and the last value's side as an estimate.
    const change: DetectorChange = {
      detector: 'page-hinkley',
      meanBefore: s.mean,
      meanAfter: x,
      statistic: stat,
      samples: s.n,
    };
    this.reset();
    return change;
  }
}

/** ADWIN settings. */
export interface AdwinOptions {
  /** Confidence of the cut test. @defaultValue 0.002 (river's default) */
  readonly delta?: number;
  /** Check for a cut every `clock` samples. @defaultValue 32 */
  readonly clock?: number;
  /** Longest window kept (older values drop out). @defaultValue 1000 */
  readonly maxWindow?: number;
  /** Smallest sub-window on either side of a cut. @defaultValue 10 */
  readonly minWindow?: number;
}

/** Serialisable ADWIN state: the window, oldest first. */
export interface AdwinState {
  window: Float64Array;
  length: number;
  seen: number;
}

/**
 * ADaptive WINdowing (Bifet & Gavaldà 2007): keeps the longest recent window whose two halves
 * have statistically equal means, dropping the older part when they differ. This version keeps
 * the values themselves in a bounded ring (not the exponential histogram) and tests every split.
 */
export class Adwin {
  readonly options: Required<AdwinOptions>;
  state: AdwinState;

  /** @param options - detector settings */
  constructor(options: AdwinOptions = {}, state?: AdwinState) {
    this.options = {
      delta: options.delta ?? 0.002,
      clock: options.clock ?? 32,
      maxWindow: options.maxWindow ?? 1000,
      minWindow: options.minWindow ?? 10,
    };
    this.state = state
      ? { window: Float64Array.from(state.window), length: state.length, seen: state.seen }
      : { window: new Float64Array(this.options.maxWindow), length: 0, seen: 0 };
  }

  /** Forgets everything seen. */
  reset(): void {
    this.state = { window: new Float64Array(this.options.maxWindow), length: 0, seen: 0 };
  }

  /** Current window width. */
  get width(): number {
    return this.state.length;
  }

  /** Mean over the current window. */
  get mean(): number {
    const s = this.state;
    let t = 0;
    for (let i = 0; i < s.length; i++) t += s.window[i]!;
    return s.length ? t / s.length : 0;
  }

  /** Adds one value; returns the change when the window was cut. */
  update(x: number): DetectorChange | undefined {
    const s = this.state;
    const o = this.options;
    if (s.length === o.maxWindow) {
      s.window.copyWithin(0, 1);
      s.length--;
    }
    s.window[s.length++] = x;
    s.seen++;
    if (s.seen % o.clock !== 0 || s.length < 2 * o.minWindow) return undefined;
    let change: DetectorChange | undefined;
    // Cut repeatedly: after dropping the old part the remaining window may still hold a change.
    for (;;) {
      const cut = this.findCut();
      if (!cut) break;
      change = {
        detector: 'adwin',
        meanBefore: cut.m0,
        meanAfter: cut.m1,
        statistic: Math.abs(cut.m0 - cut.m1),
        samples: s.length,
      };
      s.window.copyWithin(0, cut.at, s.length);
      s.length -= cut.at;
    }
    return change;
  }

  private findCut(): { at: number; m0: number; m1: number } | undefined {
    const s = this.state;
    const n = s.length;
    const o = this.options;
    if (n < 2 * o.minWindow) return undefined;
    let total = 0;
    let sq = 0;
    for (let i = 0; i < n; i++) {
      const v = s.window[i]!;
      total += v;
      sq += v * v;
    }
    const mean = total / n;
    const variance = Math.max(sq / n - mean * mean, 0);
    const dd = Math.log((2 * Math.log(n)) / o.delta);
    let head = 0;
    for (let i = 0; i < n - o.minWindow; i++) {
      head += s.window[i]!;
      const n0 = i + 1;
      if (n0 < o.minWindow) continue;
      const n1 = n - n0;
      const m0 = head / n0;
      const m1 = (total - head) / n1;
      const m = 1 / n0 + 1 / n1;
      const eps = Math.sqrt(2 * m * variance * dd) + (2 / 3) * dd * m;
      if (Math.abs(m0 - m1) > eps) return { at: n0, m0, m1 };
    }
    return undefined;
  }
}

/** Settings of the embedding-statistics drift test. */
export interface EmbeddingDriftOptions {
  /** Frames in the reference and in the sliding window. @defaultValue 100 */
  readonly window?: number;
  /** Standardised statistic, (χ² − dim) / √(2·dim), that signals drift (stationary Fashion-MNIST streams peaked at 22 on the --dev split, a corruption reaches hundreds). @defaultValue 50 */
  readonly threshold?: number;
}

/** Serialisable state of {@link EmbeddingDrift}. */
export interface EmbeddingDriftState {
  /** Reference: frames folded in, per-dimension sum and sum of squares. */
  refN: number;
  refSum: Float64Array;
  refSq: Float64Array;
  /** Sliding window ring (window × dim), frames in it, next slot. */
  ring: Float32Array;
  length: number;
  next: number;
  seen: number;
}

/**
 * Two-sample test on embeddings: the mean of the last `window` frames against the mean of the first
 * `window` frames after the last reset, each dimension standardised by the reference variance and
 * summed (a linear-kernel MMD, after "Failing loudly", Rabanser et al. 2019). It watches the inputs,
 * not the learner's confidence, so the learner growing surer of itself cannot trigger it.
 */
export class EmbeddingDrift {
  readonly window: number;
  readonly threshold: number;
  readonly dim: number;
  state: EmbeddingDriftState;

  /**
   * @param dim - embedding size
   * @param options - window and threshold
   * @param state - a saved state to resume
   */
  constructor(dim: number, options: EmbeddingDriftOptions = {}, state?: EmbeddingDriftState) {
    this.dim = dim;
    this.window = options.window ?? 100;
    this.threshold = options.threshold ?? 50;
    this.state = state
      ? {
          ...state,
          refSum: Float64Array.from(state.refSum),
          refSq: Float64Array.from(state.refSq),
          ring: Float32Array.from(state.ring),
        }
      : this.#fresh();
  }

  #fresh(): EmbeddingDriftState {
    return {
      refN: 0,
      refSum: new Float64Array(this.dim),
      refSq: new Float64Array(this.dim),
      ring: new Float32Array(this.window * this.dim),
      length: 0,
      next: 0,
      seen: 0,
    };
  }

  /** Forgets the reference and the window. */
  reset(): void {
    this.state = this.#fresh();
  }

  /** Current standardised statistic (0 until both windows are full). */
  statistic(): number {
    const s = this.state;
    const d = this.dim;
    if (s.refN < this.window || s.length < this.window) return 0;
    let chi = 0;
    for (let j = 0; j < d; j++) {
      const mr = s.refSum[j]! / s.refN;
      const vr = Math.max(s.refSq[j]! / s.refN - mr * mr, 1e-4);
      let mw = 0;
      for (let i = 0; i < s.length; i++) mw += s.ring[i * d + j]!;
      mw /= s.length;
      chi += ((mw - mr) * (mw - mr)) / (vr * (1 / s.refN + 1 / s.length));
    }
    return (chi - d) / Math.sqrt(2 * d);
  }

  /** Adds one frame; returns the change when the window has moved away from the reference (and resets). */
  update(u: Float32Array): DetectorChange | undefined {
    const s = this.state;
    const d = this.dim;
    s.seen++;
    if (s.refN < this.window) {
      for (let j = 0; j < d; j++) {
        s.refSum[j] = s.refSum[j]! + u[j]!;
        s.refSq[j] = s.refSq[j]! + u[j]! * u[j]!;
      }
      s.refN++;
      return undefined;
    }
    s.ring.set(u, s.next * d);
    s.next = (s.next + 1) % this.window;
    s.length = Math.min(s.length + 1, this.window);
    // Checked every window/4 frames: the statistic costs O(window × dim).
    if (s.length < this.window || s.seen % Math.max(1, Math.floor(this.window / 4)) !== 0) return undefined;
    const stat = this.statistic();
    if (!(stat > this.threshold)) return undefined;
    const change: DetectorChange = {
      detector: 'embedding',
      meanBefore: 0,
      meanAfter: stat,
      statistic: stat,
      samples: s.seen,
    };
    this.reset();
    return change;
  }
}
