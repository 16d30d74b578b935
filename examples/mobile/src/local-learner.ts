// A small stand-in learner for the example (class prototypes + confident pseudo-labels + Page-Hinkley drift), used until edgetune/finetune ships its Learner.

/** One prediction. */
export interface Prediction {
  readonly label: string;
  readonly confidence: number;
  /** Probability per class, in class order. */
  readonly probs: readonly number[];
}

/** What `observe` did with an unlabeled embedding. */
export interface Observation {
  readonly prediction: Prediction | undefined;
  readonly pseudoLabeled: boolean;
  readonly drift: boolean;
}

interface ClassStats {
  name: string;
  labeled: number;
  labeledSum: number[];
  pseudo: number;
  pseudoMean: number[];
}

/** Serialisable state of {@link LocalLearner} (plain JSON). */
export interface LocalLearnerState {
  readonly kind: 'edgetune-mobile-local-learner';
  readonly version: 1;
  readonly dim: number;
  readonly classes: ClassStats[];
  readonly seen: number;
  readonly pseudoTotal: number;
  readonly drifts: number;
}

const TEMPERATURE = 12;
const PSEUDO_THRESHOLD = 0.75;
// Page-Hinkley on the stream's uncertainty (1 - confidence); values in the range river uses for a 0..1 signal.
const PH_DELTA = 0.01;
const PH_LAMBDA = 3;
const PH_MIN = 20;

function normalize(v: number[]): number[] {
  let s = 0;
  for (const x of v) s += x * x;
  const inv = s > 0 ? 1 / Math.sqrt(s) : 0;
  return v.map((x) => x * inv);
}

/** Nearest-class-mean learner on L2-normalised embeddings that folds confident unlabeled samples into its prototypes. */
export class LocalLearner {
  readonly dim: number;
  #classes: ClassStats[] = [];
  #protos: number[][] = [];
  #pending: { cls: number; e: Float32Array }[] = [];
  #seen = 0;
  #pseudoTotal = 0;
  #drifts = 0;
  #ph = { n: 0, mean: 0, cum: 0, min: 0 };

  constructor(dim: number) {
    this.dim = dim;
  }

  /** Restores a learner from {@link LocalLearner.getState}. */
  static fromState(state: LocalLearnerState): LocalLearner {
    if (state?.kind !== 'edgetune-mobile-local-learner' || state.version !== 1) throw new Error('Saved learner state has an unknown format.');
    const l = new LocalLearner(state.dim);
    l.#classes = structuredClone(state.classes);
    l.#seen = state.seen;
    l.#pseudoTotal = state.pseudoTotal;
    l.#drifts = state.drifts;
    l.#rebuild();
    return l;
  }

  /** Class names in order. */
  get classes(): string[] {
    return this.#classes.map((c) => c.name);
  }

  /** Labeled examples per class. */
  counts(): Record<string, number> {
    return Object.fromEntries(this.#classes.map((c) => [c.name, c.labeled]));
  }

  /** Totals for the UI. */
  stats(): { labeled: number; seen: number; pseudo: number; drifts: number } {
    return { labeled: this.#classes.reduce((a, c) => a + c.labeled, 0), seen: this.#seen, pseudo: this.#pseudoTotal, drifts: this.#drifts };
  }

  /** True when at least two classes have a labeled example. */
  get ready(): boolean {
    return this.#classes.filter((c) => c.labeled > 0).length >= 2;
  }

  /** Adds an empty class (no-op when it exists). */
  addClass(name: string): void {
    if (this.#classes.some((c) => c.name === name)) return;
    this.#classes.push({ name, labeled: 0, labeledSum: new Array<number>(this.dim).fill(0), pseudo: 0, pseudoMean: new Array<number>(this.dim).fill(0) });
    this.#rebuild();
  }

  /** Adds one labeled example (creating the class when new). */
  addLabeled(e: Float32Array, label: string): void {
    this.addClass(label);
    const c = this.#classes.find((x) => x.name === label)!;
    for (let k = 0; k < this.dim; k++) c.labeledSum[k]! += e[k]!;
    c.labeled++;
    this.#rebuild();
  }

  /** Scores an embedding against every class; `undefined` until {@link ready}. */
  predict(e: Float32Array): Prediction | undefined {
    if (!this.ready) return undefined;
    const sims = this.#protos.map((p) => (p.length ? p.reduce((a, v, k) => a + v * e[k]!, 0) : -Infinity));
    const max = Math.max(...sims);
    const ex = sims.map((s) => (Number.isFinite(s) ? Math.exp((s - max) * TEMPERATURE) : 0));
    const sum = ex.reduce((a, b) => a + b, 0);
    const probs = ex.map((x) => x / sum);
    let best = 0;
    for (let k = 1; k < probs.length; k++) if (probs[k]! > probs[best]!) best = k;
    return { label: this.#classes[best]!.name, confidence: probs[best]!, probs };
  }

  /** Takes one unlabeled embedding from the stream: a confident one becomes a pending pseudo-label; falling confidence signals drift. */
  observe(e: Float32Array): Observation {
    const prediction = this.predict(e);
    if (!prediction) return { prediction, pseudoLabeled: false, drift: false };
    this.#seen++;
    const pseudoLabeled = prediction.confidence >= PSEUDO_THRESHOLD;
    if (pseudoLabeled) this.#pending.push({ cls: this.#classes.findIndex((c) => c.name === prediction.label), e });
    const drift = this.#pageHinkley(1 - prediction.confidence);
    if (drift) {
      // The stream moved away from what the pseudo-labels described: keep the user's labels, drop the rest.
      this.#drifts++;
      this.#pending = [];
      for (const c of this.#classes) {
        c.pseudo = 0;
        c.pseudoMean.fill(0);
      }
      this.#rebuild();
    }
    return { prediction, pseudoLabeled, drift };
  }

  /** Folds pending pseudo-labels into the prototypes; returns how many. */
  adapt(): number {
    const n = this.#pending.length;
    for (const { cls, e } of this.#pending) {
      const c = this.#classes[cls];
      if (!c) continue;
      c.pseudo++;
      this.#pseudoTotal++;
      // Running mean, capped so recent samples keep weight.
      const w = 1 / Math.min(c.pseudo, 50);
      for (let k = 0; k < this.dim; k++) c.pseudoMean[k] = c.pseudoMean[k]! * (1 - w) + e[k]! * w;
    }
    this.#pending = [];
    if (n) this.#rebuild();
    return n;
  }

  /** Plain-JSON state for storage. */
  getState(): LocalLearnerState {
    return { kind: 'edgetune-mobile-local-learner', version: 1, dim: this.dim, classes: structuredClone(this.#classes), seen: this.#seen, pseudoTotal: this.#pseudoTotal, drifts: this.#drifts };
  }

  #pageHinkley(x: number): boolean {
    const ph = this.#ph;
    ph.n++;
    ph.mean += (x - ph.mean) / ph.n;
    ph.cum += x - ph.mean - PH_DELTA;
    ph.min = Math.min(ph.min, ph.cum);
    if (ph.n >= PH_MIN && ph.cum - ph.min > PH_LAMBDA) {
      this.#ph = { n: 0, mean: 0, cum: 0, min: 0 };
      return true;
    }
    return false;
  }

  #rebuild(): void {
    this.#protos = this.#classes.map((c) => {
      if (c.labeled === 0) return [];
      const mean = c.labeledSum.map((v) => v / c.labeled);
      // Pseudo-labels pull the prototype toward the stream, never more than the user's own labels do.
      const a = c.pseudo > 0 ? Math.min(0.5, c.pseudo / (c.pseudo + 4 * c.labeled)) : 0;
      const pm = normalize(c.pseudoMean);
      return normalize(normalize(mean).map((v, k) => v * (1 - a) + pm[k]! * a));
    });
  }
}
