// The learner the app talks to: edgetune/finetune's Learner behind the few calls the UI needs.
import { Learner, type LearnerState } from '../../../src/finetune/index.js';

/** One prediction, as the UI shows it. */
export interface Prediction {
  readonly label: string;
  readonly confidence: number;
}

/** What `observe` did with an unlabeled embedding. */
export interface Observation {
  readonly prediction: Prediction;
  readonly pseudoLabeled: boolean;
  readonly drift: boolean;
  /** Enough new pseudo-labels (or a drift) that an `adapt()` is worthwhile. */
  readonly adaptDue: boolean;
}

/** What the UI needs from a learner. */
export interface AppLearner {
  readonly classes: readonly string[];
  /** True when two classes have labels, so a prediction means something. */
  readonly ready: boolean;
  counts(): Record<string, number>;
  stats(): { labeled: number; seen: number; pseudo: number; drifts: number; adaptations: number; rollbacks: number };
  addClass(name: string): void;
  addLabeled(e: Float32Array, label: string): void;
  predict(e: Float32Array): Prediction | undefined;
  observe(e: Float32Array): Observation | undefined;
  /** Trains on labels and accepted pseudo-labels; resolves to false when a round was already running. */
  adapt(): Promise<boolean>;
  /** Structured-cloneable state for IndexedDB. */
  getState(): unknown;
}

/** Learner settings of the example: the library defaults, but adapting after 20 pseudo-labels instead of 100 so a short demo shows it. */
const OPTIONS = { adaptEvery: 20 } as const;

/** How the learner is set up, shown in the diagnostics. */
export const LEARNER_NAME = `edgetune/finetune Learner (linear head, self-training with FreeMatch thresholds, Page-Hinkley + ADWIN drift, adapt every ${OPTIONS.adaptEvery} pseudo-labels), on the main thread`;

class FinetuneLearner implements AppLearner {
  readonly #l: Learner;
  #adapting = false;

  constructor(l: Learner) {
    this.#l = l;
  }

  get classes(): readonly string[] {
    return this.#l.classes;
  }

  get ready(): boolean {
    return this.#l.stats().perClass.filter((c) => c.labeled > 0).length >= 2;
  }

  counts(): Record<string, number> {
    return Object.fromEntries(this.#l.stats().perClass.map((c) => [c.label, c.labeled]));
  }

  stats(): ReturnType<AppLearner['stats']> {
    const s = this.#l.stats();
    return { labeled: s.labeled, seen: s.seen, pseudo: s.accepted, drifts: s.drifts, adaptations: s.adaptations, rollbacks: s.rollbacks };
  }

  addClass(name: string): void {
    this.#l.addClass(name);
  }

  addLabeled(e: Float32Array, label: string): void {
    this.#l.addLabeled(e, label);
  }

  predict(e: Float32Array): Prediction | undefined {
    if (!this.ready) return undefined;
    const p = this.#l.predict(e);
    return { label: p.label, confidence: p.confidence };
  }

  observe(e: Float32Array): Observation | undefined {
    if (!this.ready) return undefined;
    const o = this.#l.observe(e);
    return { prediction: { label: o.label, confidence: o.confidence }, pseudoLabeled: o.accepted, drift: o.drift !== undefined, adaptDue: o.adaptDue };
  }

  async adapt(): Promise<boolean> {
    if (this.#adapting || !this.ready) return false;
    this.#adapting = true;
    try {
      await this.#l.adapt();
      return true;
    } finally {
      this.#adapting = false;
    }
  }

  getState(): unknown {
    return this.#l.getState();
  }
}

/** A fresh learner for embeddings of `dim` values. */
export function newLearner(dim: number): AppLearner {
  return new FinetuneLearner(new Learner({ dim, ...OPTIONS }));
}

/** Restores a learner saved with `getState()`. @throws EdgetuneError `STATE_INVALID` when the state has an unknown format */
export function restoreLearner(state: unknown): AppLearner {
  return new FinetuneLearner(Learner.fromState(state as LearnerState));
}
