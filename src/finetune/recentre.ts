// Re-centring of the class posterior's means on a stream that has shifted as a whole: batch EM over the frames since the last drift, while most of the stream is unfamiliar.
import type { LearnerCore } from './core.js';
import { classLogPosterior, type OpenSetModel, withPosteriorMeans } from './openset.js';
import { argmax } from './ops.js';
import { reestimateMeans } from './reestimate.js';
import { RecentFrames } from './stream.js';

/** The re-centring's own state: its frames since the last drift, frames until the next run, and its means. */
export class Recentring {
  /** Normalised, unaligned frames (not near-duplicates) since the last drift. */
  frames: RecentFrames;
  /** Frames taken since the last run. */
  since = 0;
  /** Class means (classes × dim) the class posterior reads; empty: none. */
  means: Float32Array = new Float32Array(0);

  /**
   * @param window - frames kept (0 when off)
   * @param dim - embedding size
   * @param state - a saved ring to continue from
   */
  constructor(window: number, dim: number, state?: { x: Float32Array; length: number; next: number }) {
    this.frames = new RecentFrames(Math.max(window, 1), dim, state);
  }

  /** Forgets the frames and the means (drift, class changes). */
  clear(): void {
    this.frames.clear();
    this.since = 0;
    this.means = new Float32Array(0);
  }
}

/** Whether the learner re-centres at all: the class posterior must be in its predictions. */
export function recentreApplies(c: LearnerCore): boolean {
  const o = c.o;
  return o.recentre.enabled && o.openSet.enabled && o.openSet.classifierWeight > 0 && o.head !== 'ncm';
}

/**
 * Takes one stream frame `u` (normalised, unaligned, not a near-duplicate) after the stream statistics
 * have seen it; every `recentre.every` frames, re-centres when most of the stream is unfamiliar and
 * drops the means when it is not.
 */
export function recentreFrame(c: LearnerCore, u: Float32Array): void {
  if (!recentreApplies(c)) return;
  const rc = c.recentring;
  rc.frames.push(u);
  rc.since += 1;
  if (rc.since < c.o.recentre.every) return;
  rc.since = 0;
  recentreNow(c);
}

/** Runs the EM on the frames kept when the stream is mostly unfamiliar, else drops the means. */
export function recentreNow(c: LearnerCore): void {
  const r = c.o.recentre;
  const rc = c.recentring;
  if (c.unknownRate < r.minUnknown || rc.frames.length === 0) {
    dropMeans(c);
    return;
  }
  // The EM starts from and is anchored on the label means, which the model keeps whatever means its posterior reads.
  const m = c.openSet();
  const frames = rc.frames.frames().map((f) => c.align.align(c.o, f));
  const means = reestimateMeans(m, frames, c.headLogProbs(frames, r.headWeight), { ...r, hard: false });
  if (!means) return;
  if (r.minChange > 0 && changedShare(m, means, frames) < r.minChange) {
    // The label means already call most of these frames as the moved ones would: the stream is unfamiliar
    // but its classes sit where the labels put them, and moving the means trades a few right calls for wrong ones.
    dropMeans(c);
    return;
  }
  rc.means = means;
  c.open = undefined;
}

/** Back to the label means (the open-set model is rebuilt on next use). */
function dropMeans(c: LearnerCore): void {
  if (c.recentring.means.length === 0) return;
  c.recentring.means = new Float32Array(0);
  c.open = undefined;
}

/**
 * Share of `frames` (aligned) whose most likely class under the class posterior changes when its means
 * move from the label means to `means`.
 */
export function changedShare(m: OpenSetModel, means: Float32Array, frames: readonly Float32Array[]): number {
  if (frames.length === 0) return 0;
  const label: OpenSetModel = { ...m, posteriorMeans: undefined };
  const moved = withPosteriorMeans(m, means);
  let changed = 0;
  for (const z of frames) {
    const a = classLogPosterior(label, z);
    const b = classLogPosterior(moved, z);
    if (a && b && argmax(a) !== argmax(b)) changed++;
  }
  return changed / frames.length;
}
