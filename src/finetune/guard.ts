// The rollback guard: which labels score an adaptation round, the score, and the slack a round may lose.
import { yieldToEventLoop } from '../core/errors.js';
import { argmax } from './ops.js';
import { YIELD_MS } from './train.js';
import type { ReplayBuffer, ReplayEntry } from './replay.js';

/** Held-back labels, or every label when none are held back. */
export function guardSet(replay: ReplayBuffer): ReplayEntry[] {
  const labeled = replay.labeled.flat();
  const set = labeled.filter((e) => e.holdout);
  return set.length ? set : labeled;
}

/**
 * Accuracy of `probs` on `set` (NaN for an empty set). Yields every {@link YIELD_MS} and runs
 * `check` then, so scoring thousands of labels over thousands of classes stays abortable.
 */
export async function guardScore(
  set: readonly ReplayEntry[],
  probs: (x: Float32Array) => ArrayLike<number>,
  check: () => void,
): Promise<number> {
  if (set.length === 0) return Number.NaN;
  let ok = 0;
  let slice = performance.now();
  for (let i = 0; i < set.length; i++) {
    if ((i & 15) === 0 && performance.now() - slice > YIELD_MS) {
      await yieldToEventLoop();
      check();
      slice = performance.now();
    }
    const e = set[i]!;
    if (argmax(probs(e.x)) === e.cls) ok++;
  }
  return ok / set.length;
}

/** Accuracy a round may lose: `tolerance`, but at least one sample's worth on small guard sets, so a single borderline label cannot veto every round. */
export function guardSlack(tolerance: number, setSize: number): number {
  return Math.max(tolerance, 1 / Math.max(setSize, 1));
}
