// Stream-side novelty for the open-set score: an input whose nearest neighbours are recent stream frames rather than labels belongs to something the app never taught.
import { metricCoords, type OpenSetModel } from './openset.js';
import type { ResolvedLearnerOptions } from './options.js';
import type { ReplayEntry } from './replay.js';
import { RecentFrames } from './stream.js';

/** Labels read by the stream-side novelty at most (evenly spread), to bound its cost per input. */
const NOVELTY_MAX_LABELS = 2000;
/** Past stream fractions whose median is the reference of the novelty term. */
export const NOVELTY_REFERENCE = 200;

/**
 * Stream-side novelty: a class the app never taught shows up in the user's stream as frames whose
 * nearest neighbours (in the open-set model's metric) are other stream frames, not labels. The term is
 * the share of stream frames among an input's `k` nearest neighbours in the labels and the last frames
 * seen, minus the median of that share over the last {@link NOVELTY_REFERENCE} frames: a stream shifted as a whole
 * (a corruption, one class shown for long) has every frame's neighbours in the stream and cancels out.
 * Scored before the frame joins the ring (prequential: a frame never counts as its own neighbour).
 */
export class StreamNovelty {
  /** The last stream frames (normalised, unaligned), a ring. */
  readonly frames: RecentFrames;
  /** The last stream fractions (a ring of 1-value frames): their median is the reference. */
  readonly fractions: RecentFrames;
  #model: OpenSetModel | undefined;
  #labelCoords: Float64Array[] = [];
  #frameCoords: Float64Array[] = [];

  /**
   * @param capacity - frames kept
   * @param dim - embedding size
   * @param state - a saved ring pair to continue from
   */
  constructor(
    capacity: number,
    dim: number,
    state?: {
      frames: { x: Float32Array; length: number; next: number };
      fractions: { x: Float32Array; length: number; next: number };
    },
  ) {
    this.frames = new RecentFrames(capacity, dim, state?.frames);
    this.fractions = new RecentFrames(NOVELTY_REFERENCE, 1, state?.fractions);
  }

  /** Metric coordinates of the labels and ring frames under `m` (recomputed when the model changes). */
  #sync(m: OpenSetModel, labeled: readonly (readonly ReplayEntry[])[]): void {
    if (this.#model === m) return;
    this.#model = m;
    const all = labeled.flat();
    const stride = Math.max(1, Math.ceil(all.length / NOVELTY_MAX_LABELS));
    this.#labelCoords = all.filter((_, i) => i % stride === 0).map((e) => metricCoords(m, e.x));
    const d = this.frames.dim;
    this.#frameCoords = Array.from({ length: this.frames.length }, (_, i) =>
      metricCoords(m, this.frames.x.subarray(i * d, (i + 1) * d)),
    );
  }

  /**
   * The share of stream frames among the `k` nearest neighbours of `u` (normalised, unaligned) in the
   * labels and the ring, or undefined while the ring holds fewer than `k` frames.
   */
  fraction(
    m: OpenSetModel,
    labeled: readonly (readonly ReplayEntry[])[],
    u: ArrayLike<number>,
    k: number,
  ): number | undefined {
    if (this.frames.length < k) return undefined;
    this.#sync(m, labeled);
    const w = metricCoords(m, u);
    // The k smallest distances so far, largest first, and whether each is a stream frame.
    const dist = new Float64Array(k).fill(Number.POSITIVE_INFINITY);
    const fromStream = new Uint8Array(k);
    const consider = (v: Float64Array, s: number): void => {
      let t = 0;
      for (let j = 0; j < v.length; j++) {
        const e = v[j]! - w[j]!;
        t += e * e;
        if (t >= dist[0]!) return;
      }
      // Insert, keeping dist sorted in decreasing order (the worst of the k at 0).
      let i = 0;
      while (i + 1 < k && dist[i + 1]! > t) {
        dist[i] = dist[i + 1]!;
        fromStream[i] = fromStream[i + 1]!;
        i++;
      }
      dist[i] = t;
      fromStream[i] = s;
    };
    for (const v of this.#labelCoords) consider(v, 0);
    for (const v of this.#frameCoords) consider(v, 1);
    let n = 0;
    for (let i = 0; i < k; i++) n += fromStream[i]!;
    return n / k;
  }

  /** The median stream fraction of the last frames (0 before any). */
  reference(): number {
    const f = this.fractions;
    if (f.length === 0) return 0;
    const s = Array.from(f.x.subarray(0, f.length)).sort((a, b) => a - b);
    return (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2;
  }

  /** Adds a stream frame (after it was scored) and its fraction, when it had one. */
  push(m: OpenSetModel, u: Float32Array, fraction: number | undefined): void {
    if (fraction !== undefined) this.fractions.push(Float32Array.of(fraction));
    const slot = this.frames.next;
    this.frames.push(u);
    if (this.#model === m) this.#frameCoords[slot] = metricCoords(m, u);
    else this.#model = undefined;
  }

  /** Forgets every frame and fraction. */
  clear(): void {
    this.frames.clear();
    this.fractions.clear();
    this.#frameCoords = [];
  }
}

/** Whether the stream-side novelty is on (`openSet` enabled and `streamNovelty` > 0). */
export function noveltyOn(o: ResolvedLearnerOptions): boolean {
  return o.openSet.enabled && o.openSet.streamNovelty > 0;
}

/** Frames the stream-side novelty keeps: `openSet.streamWindow`, or 1 when it is off. */
export function noveltyCapacity(o: ResolvedLearnerOptions): number {
  return noveltyOn(o) ? o.openSet.streamWindow : 1;
}
