// The learner the app talks to: one interface, so the stand-in and edgetune/finetune's Learner are interchangeable.
import { LocalLearner, type Observation, type Prediction } from './local-learner.js';

export type { Observation, Prediction } from './local-learner.js';

/** What the UI needs from a learner. */
export interface AppLearner {
  readonly classes: readonly string[];
  readonly ready: boolean;
  counts(): Record<string, number>;
  stats(): { labeled: number; seen: number; pseudo: number; drifts: number };
  addClass(name: string): void;
  addLabeled(e: Float32Array, label: string): void;
  predict(e: Float32Array): Prediction | undefined;
  observe(e: Float32Array): Observation;
  adapt(): number;
  /** Structured-cloneable state for IndexedDB. */
  getState(): unknown;
}

/** Name of the learner implementation, shown in the diagnostics. */
export const LEARNER_NAME = 'example stand-in (class prototypes + pseudo-labels + Page-Hinkley)';

/** A fresh learner for embeddings of `dim` values. */
export function newLearner(dim: number): AppLearner {
  return new LocalLearner(dim);
}

/** Restores a learner saved with `getState()`. @throws Error when the state has an unknown format */
export function restoreLearner(state: unknown): AppLearner {
  return LocalLearner.fromState(state as Parameters<typeof LocalLearner.fromState>[0]);
}
