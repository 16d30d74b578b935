// Head training with edgetune's kernels exactly as the learner's inner loop calls them (forward → softmax → backward per sample, one optimiser step per batch); shared by the peer and scale benches.
import { headSpec, type HeadKind } from '../../src/finetune/heads.js';
import { argmax, softmaxInPlace } from '../../src/finetune/ops.js';
import { newOptimizerState, optimizerStep, resolveOptimizer } from '../../src/finetune/optim.js';
import { Rng } from '../../src/finetune/rng.js';
import type { EmbeddingSet } from './common.js';

/** Training settings shared with the tfjs peer so both train the same thing. */
export interface TrainSettings {
  readonly kind: Exclude<HeadKind, 'ncm'>;
  readonly hidden: number;
  readonly epochs: number;
  readonly batch: number;
  readonly lr: number;
  readonly seed: number;
}

/** Trains a head on `train`; returns its parameters. Weight decay is 0 (tfjs' Adam has none). */
export function trainEdgetune(
  train: EmbeddingSet,
  s: TrainSettings,
): { params: Float32Array; predict: (x: Float32Array) => number } {
  const spec = headSpec(s.kind, train.dim, s.hidden);
  const c = train.classes;
  const rng = new Rng(s.seed);
  const p = spec.init(rng, c);
  const opt = resolveOptimizer({ kind: 'adam', lr: s.lr, weightDecay: 0 });
  const state = newOptimizerState(p.length);
  const grad = new Float64Array(p.length);
  const logits = new Float64Array(c);
  const mask = spec.decayMask(c);
  const order = Array.from({ length: train.x.length }, (_, i) => i);
  for (let ep = 0; ep < s.epochs; ep++) {
    rng.shuffle(order);
    for (let b = 0; b < order.length; b += s.batch) {
      grad.fill(0);
      const end = Math.min(b + s.batch, order.length);
      for (let i = b; i < end; i++) {
        const j = order[i]!;
        const x = train.x[j]!;
        const cls = train.y[j]!;
        spec.forward(p, c, x, logits);
        softmaxInPlace(logits);
        for (let k = 0; k < c; k++) logits[k] = logits[k]! - (k === cls ? 1 : 0);
        spec.backward(p, c, x, logits, grad);
      }
      const inv = 1 / (end - b);
      for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! * inv;
      optimizerStep(opt, state, p, grad, mask);
    }
  }
  const out = new Float64Array(c);
  return {
    params: p,
    predict: (x) => {
      spec.forward(p, c, x, out);
      return argmax(out);
    },
  };
}

/** Fraction of `test` that `predict` gets right. */
export function accuracy(test: EmbeddingSet, predict: (x: Float32Array) => number): number {
  let ok = 0;
  for (let i = 0; i < test.x.length; i++) if (predict(test.x[i]!) === test.y[i]) ok++;
  return ok / test.x.length;
}
