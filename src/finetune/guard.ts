// The rollback guard: which labels score an adaptation round, the score, and the slack a round may lose.
import { argmax } from './ops.js';
import type { ReplayBuffer, ReplayEntry } from './replay.js';

/** Held-back labels, or every label when none are held back. */
export function guardSet(replay: ReplayBuffer): ReplayEntry[] {
  const labeled = replay.labeled.flat();
  const set = labeled.filter((e) => e.holdout);
  return set.length ? set : labeled;
}

/** Accuracy of `probs` on `set` (NaN for an empty set). */
export function guardScore(set: readonly ReplayEntry[], probs: (x: Float32Array) => ArrayLike<number>): number {
  if (set.length === 0) return Number.NaN;
  let ok = 0;
  for (const e of set) if (argmax(probs(e.x)) === e.cls) ok++;
  return ok / set.length;
}

/** Accuracy a round may lose: `tolerance`, but at least one sample's worth on small guard sets, so a single borderline label cannot veto every round. */
export function guardSlack(tolerance: number, setSize: number): number {
  return Math.max(tolerance, 1 / Math.max(setSize, 1));
}
