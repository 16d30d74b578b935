// The training loop of one adaptation round: shuffled weighted mini-batches of cross-entropy, the optimiser step and the EMA teacher.
import { yieldToEventLoop } from '../core/errors.js';
import type { HeadSpec } from './heads.js';
import { allFinite, softmaxInPlace } from './ops.js';
import { optimizerStep, type OptimizerState, type ResolvedOptimizer } from './optim.js';
import type { ReplayEntry } from './replay.js';
import type { Rng } from './rng.js';

/** Longest stretch of synchronous work between two yields to the event loop, in ms (yielding never changes the result). */
export const YIELD_MS = 20;

/** One training sample of a round and its loss weight. */
export interface TrainItem {
  readonly e: ReplayEntry;
  readonly w: number;
}

/** What one call of {@link trainRound} works on; `student`, `teacher` and `opt` are updated in place. */
export interface TrainJob {
  readonly spec: HeadSpec;
  readonly classes: number;
  readonly optimizer: ResolvedOptimizer;
  readonly epochs: number;
  readonly batchSize: number;
  /** EMA decay of the teacher per step, or undefined when the teacher is not moved (first fit). */
  readonly emaDecay: number | undefined;
  readonly student: Float32Array;
  readonly teacher: Float32Array;
  readonly opt: OptimizerState;
  readonly rng: Rng;
  readonly train: readonly TrainItem[];
  /** Throws to stop the round (abort, dispose); called before every mini-batch. */
  readonly check: () => void;
  readonly onEpoch: ((epoch: number, epochs: number, loss: number) => void) | undefined;
}

/** Outcome of a round: steps taken, mean loss of the last epoch, and whether a gradient went non-finite. */
export interface TrainOutcome {
  readonly steps: number;
  readonly loss: number;
  readonly nonFinite: boolean;
}

/**
 * Runs `epochs` passes of shuffled mini-batches on the job's arrays. `check` runs before every
 * mini-batch (it throws on abort; the caller keeps its own copy). The loop yields to the event loop
 * after every epoch and whenever a slice of {@link YIELD_MS} has passed, so an abort (or any other
 * call) gets in within about one mini-batch even when an epoch takes seconds (10k classes).
 */
export async function trainRound(j: TrainJob): Promise<TrainOutcome> {
  let slice = performance.now();
  const c = j.classes;
  const grad = new Float64Array(j.student.length);
  const logits = new Float64Array(c);
  const mask = j.spec.decayMask(c);
  const order = Array.from(j.train.keys());
  let steps = 0;
  let loss = 0;
  for (let ep = 0; ep < j.epochs; ep++) {
    j.rng.shuffle(order);
    let sum = 0;
    let wsum = 0;
    for (let b = 0; b < order.length; b += j.batchSize) {
      if (performance.now() - slice > YIELD_MS) {
        await yieldToEventLoop();
        slice = performance.now();
      }
      j.check();
      grad.fill(0);
      let bw = 0;
      for (let i = b; i < Math.min(b + j.batchSize, order.length); i++) {
        const t = j.train[order[i]!]!;
        const x = t.e.x2 ?? t.e.x;
        j.spec.forward(j.student, c, x, logits);
        softmaxInPlace(logits);
        sum -= t.w * Math.log(Math.max(logits[t.e.cls]!, 1e-12));
        wsum += t.w;
        bw += t.w;
        for (let k = 0; k < c; k++) logits[k] = t.w * (logits[k]! - (k === t.e.cls ? 1 : 0));
        j.spec.backward(j.student, c, x, logits, grad);
      }
      if (bw === 0) continue;
      for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! / bw;
      if (!allFinite(grad)) return { steps, loss, nonFinite: true };
      optimizerStep(j.optimizer, j.opt, j.student, grad, mask);
      steps++;
      if (j.emaDecay !== undefined) {
        const d = j.emaDecay;
        for (let i = 0; i < j.teacher.length; i++) j.teacher[i] = d * j.teacher[i]! + (1 - d) * j.student[i]!;
      }
    }
    loss = wsum > 0 ? sum / wsum : 0;
    j.onEpoch?.(ep + 1, j.epochs, loss);
    await yieldToEventLoop();
    slice = performance.now();
  }
  return { steps, loss, nonFinite: false };
}
