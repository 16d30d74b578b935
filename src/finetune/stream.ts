// What the learner remembers of the recent stream: a ring of the last frames for the near-duplicate test and the stream side of the rollback guard.
import { argmax } from './ops.js';

/** A fixed ring of the last `capacity` normalised frames. */
export class RecentFrames {
  x: Float32Array;
  length = 0;
  next = 0;

  /**
   * @param capacity - frames kept
   * @param dim - embedding size
   */
  constructor(
    readonly capacity: number,
    readonly dim: number,
    state?: { x: Float32Array; length: number; next: number },
  ) {
    this.x = state ? Float32Array.from(state.x) : new Float32Array(capacity * dim);
    if (state) {
      this.length = state.length;
      this.next = state.next;
    }
  }

  /** Adds a frame, dropping the oldest when full. */
  push(u: Float32Array): void {
    this.x.set(u, this.next * this.dim);
    this.next = (this.next + 1) % this.capacity;
    this.length = Math.min(this.length + 1, this.capacity);
  }

  /** True when `u` has a cosine above `limit` with a frame in the ring (all frames have the same norm √dim). */
  isDuplicate(u: Float32Array, limit: number): boolean {
    const d = this.dim;
    let nu = 0;
    for (let j = 0; j < d; j++) nu += u[j]! * u[j]!;
    for (let i = 0; i < this.length; i++) {
      let s = 0;
      let nv = 0;
      const o = i * d;
      for (let j = 0; j < d; j++) {
        const v = this.x[o + j]!;
        s += v * u[j]!;
        nv += v * v;
      }
      if (nu > 0 && nv > 0 && s / Math.sqrt(nu * nv) > limit) return true;
    }
    return false;
  }

  /** Forgets every frame. */
  clear(): void {
    this.length = 0;
    this.next = 0;
  }

  /** The frames, oldest first (copies). */
  frames(): Float32Array[] {
    const out: Float32Array[] = [];
    const start = this.length < this.capacity ? 0 : this.next;
    for (let i = 0; i < this.length; i++) {
      const at = (start + i) % this.capacity;
      out.push(this.x.slice(at * this.dim, (at + 1) * this.dim));
    }
    return out;
  }
}

/** How an adapted model behaves on the recent stream compared with the model before it. */
export interface StreamCheck {
  /** Share of frames on which old and new predictions agree. */
  readonly agreement: number;
  /** Share on which each agrees with the nearest label prototype. */
  readonly protoBefore: number;
  readonly protoAfter: number;
  /** Effective number of predicted classes (exp of the entropy of the prediction histogram), before and after. */
  readonly classesBefore: number;
  readonly classesAfter: number;
}

function effectiveClasses(pred: readonly number[], c: number): number {
  const h = new Float64Array(c);
  for (const k of pred) h[k] = h[k]! + 1;
  let e = 0;
  for (let k = 0; k < c; k++) {
    const p = h[k]! / pred.length;
    if (p > 0) e -= p * Math.log(p);
  }
  return Math.exp(e);
}

/**
 * Compares old and new predictions on `frames` (already in the head's input space).
 *
 * @param before - class probabilities of the old model
 * @param after - class probabilities of the new model
 * @param proto - nearest label prototype of a frame
 */
export function checkStream(
  frames: readonly Float32Array[],
  c: number,
  before: (z: Float32Array) => ArrayLike<number>,
  after: (z: Float32Array) => ArrayLike<number>,
  proto: (z: Float32Array) => number,
): StreamCheck {
  const pb: number[] = [];
  const pa: number[] = [];
  let agree = 0,
    ob = 0,
    oa = 0;
  for (const z of frames) {
    const b = argmax(before(z));
    const a = argmax(after(z));
    const p = proto(z);
    pb.push(b);
    pa.push(a);
    if (a === b) agree++;
    if (b === p) ob++;
    if (a === p) oa++;
  }
  const n = Math.max(frames.length, 1);
  return {
    agreement: agree / n,
    protoBefore: ob / n,
    protoAfter: oa / n,
    classesBefore: effectiveClasses(pb, c),
    classesAfter: effectiveClasses(pa, c),
  };
}

/** Why the stream says a round should be undone, or undefined when it does not. */
export function streamVerdict(s: StreamCheck, minAgreement: number): string | undefined {
  if (s.agreement < minAgreement)
    return `agrees with the previous model on ${(100 * s.agreement).toFixed(0)}% of recent frames`;
  if (s.protoAfter < s.protoBefore - 0.1)
    return `agreement with the label prototypes fell from ${(100 * s.protoBefore).toFixed(0)}% to ${(100 * s.protoAfter).toFixed(0)}%`;
  if (s.classesBefore >= 2 && s.classesAfter < 0.5 * s.classesBefore)
    return `predictions collapsed from ${s.classesBefore.toFixed(1)} to ${s.classesAfter.toFixed(1)} effective classes`;
  return undefined;
}
