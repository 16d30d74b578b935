// Feature alignment: maps stream embeddings onto the labeled embeddings' per-dimension mean and spread (the frozen-encoder analogue of test-time batch-norm statistics).
import type { FeatureAlignment } from './options.js';
import type { ReplayEntry } from './replay.js';

/** Settings the aligner reads (a subset of the resolved learner options). */
export interface AlignSettings {
  readonly featureAlignment: FeatureAlignment;
  readonly featureMomentum: number;
  readonly featurePrior: number;
  readonly anchorShrink: number;
}

/** Labeled ("anchor") sums and running stream statistics of L2-normalised embeddings. */
export class FeatureAligner {
  anchorSum: Float64Array;
  anchorSq: Float64Array;
  anchorN = 0;
  streamMean: Float64Array;
  streamSq: Float64Array;
  streamN = 0;

  /** @param dim - embedding size */
  constructor(readonly dim: number) {
    this.anchorSum = new Float64Array(dim);
    this.anchorSq = new Float64Array(dim);
    this.streamMean = new Float64Array(dim);
    this.streamSq = new Float64Array(dim);
  }

  /** Folds one labeled embedding into the anchor sums. */
  addAnchor(u: Float32Array): void {
    for (let j = 0; j < u.length; j++) {
      this.anchorSum[j] = this.anchorSum[j]! + u[j]!;
      this.anchorSq[j] = this.anchorSq[j]! + u[j]! * u[j]!;
    }
    this.anchorN++;
  }

  /** Recomputes the anchor sums from the labels kept in replay (after a class is removed). */
  recomputeAnchor(labeled: readonly (readonly ReplayEntry[])[]): void {
    this.anchorSum.fill(0);
    this.anchorSq.fill(0);
    this.anchorN = 0;
    for (const list of labeled) for (const e of list) this.addAnchor(e.x);
  }

  /** Maps a normalised stream embedding onto the labeled statistics. */
  align(o: AlignSettings, u: Float32Array): Float32Array {
    // Before the first stream frame the stream statistics are the labels' own: the mapping is the identity.
    if (o.featureAlignment === 'none' || this.anchorN === 0 || this.streamN === 0) return u;
    const n = this.anchorN;
    const a = n / (n + o.anchorShrink);
    const z = new Float32Array(u.length);
    for (let j = 0; j < u.length; j++) {
      const ms = this.streamMean[j]!;
      const ma = a * (this.anchorSum[j]! / n) + (1 - a) * ms;
      let r = 1;
      if (o.featureAlignment === 'meanstd') {
        const va = Math.max(a * (this.anchorSq[j]! / n) + (1 - a) * this.streamSq[j]! - ma * ma, 1e-6);
        const vs = Math.max(this.streamSq[j]! - ms * ms, 1e-6);
        // Clamped so one noisy coordinate cannot be blown up.
        r = Math.min(3, Math.max(1 / 3, Math.sqrt(va / vs)));
      }
      z[j] = (u[j]! - ms) * r + ma;
    }
    return z;
  }

  /** Restarts the stream statistics from the labeled ones. */
  resetStream(): void {
    const n = Math.max(this.anchorN, 1);
    for (let j = 0; j < this.dim; j++) {
      this.streamMean[j] = this.anchorSum[j]! / n;
      this.streamSq[j] = this.anchorSq[j]! / n;
    }
    this.streamN = 0;
  }

  /** Moves the stream statistics a share `rate` of the way back to the labels' statistics. */
  relax(rate: number): void {
    if (this.anchorN === 0 || this.streamN === 0) return;
    const n = this.anchorN;
    for (let j = 0; j < this.dim; j++) {
      this.streamMean[j] = this.streamMean[j]! + rate * (this.anchorSum[j]! / n - this.streamMean[j]!);
      this.streamSq[j] = this.streamSq[j]! + rate * (this.anchorSq[j]! / n - this.streamSq[j]!);
    }
  }

  /** Folds one normalised stream embedding into the running statistics, with weight `w` in (0, 1]. */
  updateStream(o: AlignSettings, u: Float32Array, w = 1): void {
    if (this.streamN === 0) this.resetStream();
    // Running mean at first (with the labeled statistics as a prior of featurePrior samples), then an EMA.
    const m = w * Math.max(1 / (this.streamN + 1 + o.featurePrior), o.featureMomentum);
    for (let j = 0; j < u.length; j++) {
      this.streamMean[j] = this.streamMean[j]! + m * (u[j]! - this.streamMean[j]!);
      this.streamSq[j] = this.streamSq[j]! + m * (u[j]! * u[j]! - this.streamSq[j]!);
    }
    this.streamN++;
  }
}
