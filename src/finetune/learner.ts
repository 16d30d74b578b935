// The Learner: a head on frozen embeddings that keeps adapting from a few labels and an unlabeled stream, with drift detection, replay and guards.
import { EdgetuneError, throwIfAborted, yieldToEventLoop } from '../core/errors.js';
import { Adwin, PageHinkley, type AdwinOptions, type AdwinState, type DetectorChange, type PageHinkleyOptions, type PageHinkleyState } from './drift.js';
import { HEAD_KINDS, COSINE_SCALE, headSpec, type HeadKind, type HeadSpec } from './heads.js';
import { allFinite, argmax, assertFinite, normalizedEntropy, softmaxInPlace } from './ops.js';
import { newOptimizerState, optimizerStep, resolveOptimizer, type OptimizerOptions, type OptimizerState, type ResolvedOptimizer } from './optim.js';
import { ReplayBuffer, type ReplayEntry, type ReplayState } from './replay.js';
import { Rng } from './rng.js';
import {
  THRESHOLD_KINDS,
  classThresholds,
  newThresholdState,
  resolveThresholds,
  updateThresholds,
  type ResolvedThresholds,
  type ThresholdOptions,
  type ThresholdState,
} from './thresholds.js';

/** How `observe()` uses the stream: train on pseudo-labels, adjust prototypes without training (T3A), or only watch. */
export type AdaptMode = 'self-train' | 't3a' | 'frozen';

/** How stream embeddings are mapped onto the labeled data's statistics before the head sees them. */
export type FeatureAlignment = 'none' | 'mean' | 'meanstd';

/** Learner settings; every field has a default. */
export interface LearnerOptions {
  /** Embedding size. */
  readonly dim: number;
  /** Classes known from the start, in order. @defaultValue [] */
  readonly classes?: readonly string[];
  /** Head to train. @defaultValue `'linear'` */
  readonly head?: HeadKind;
  /** Adapter bottleneck width (adapter head only). @defaultValue 32 */
  readonly hidden?: number;
  /** What `observe()` does with the stream. @defaultValue `'self-train'` */
  readonly mode?: AdaptMode;
  /** Seed of every random choice (init, shuffles, reservoirs). @defaultValue 1 */
  readonly seed?: number;
  /** Optimiser. @defaultValue Adam, lr 0.01, weight decay 1e-4 */
  readonly optimizer?: OptimizerOptions;
  /** Passes over the training set per `adapt()`. @defaultValue 4 */
  readonly epochs?: number;
  /** Passes for the first fit of an untrained head. @defaultValue 30 */
  readonly firstEpochs?: number;
  /** Mini-batch size. @defaultValue 32 */
  readonly batchSize?: number;
  /** Pseudo-label acceptance thresholds. @defaultValue FreeMatch, τ 0.95, floor 0.5 */
  readonly threshold?: ThresholdOptions;
  /** Loss weight of a pseudo-labeled sample relative to a labeled one (kept below 1). @defaultValue 0.5 */
  readonly pseudoWeight?: number;
  /** EMA decay of the teacher per optimiser step; 0 makes the teacher the student. @defaultValue 0.99 */
  readonly emaDecay?: number;
  /** Distribution alignment of pseudo-label probabilities towards a uniform class prior (ReMixMatch). @defaultValue true */
  readonly distributionAlignment?: boolean;
  /** EMA decay of the running mean prediction used by distribution alignment. @defaultValue 0.99 */
  readonly alignmentDecay?: number;
  /** Map stream embeddings onto the labeled embeddings' mean (and spread). @defaultValue `'meanstd'` */
  readonly featureAlignment?: FeatureAlignment;
  /** Shortest memory of the running stream statistics, as an EMA rate. @defaultValue 0.005 */
  readonly featureMomentum?: number;
  /** Weight, in samples, of the labeled statistics before the stream has been seen. @defaultValue 20 */
  readonly featurePrior?: number;
  /**
   * Weight, in samples, of the stream statistics in the alignment target: with few labels their
   * statistics are noisy, so the target leans on the stream and alignment fades out. @defaultValue 200
   */
  readonly anchorShrink?: number;
  /** Replay bounds. @defaultValue 500 labeled per class, 2000 pseudo-labels in all */
  readonly replay?: { readonly labeledPerClass?: number; readonly pseudoCapacity?: number };
  /**
   * Rollback guard: a share of labeled samples is held back and scores every adaptation; a step whose
   * accuracy on them drops by more than `tolerance` is undone. `false` disables the guard.
   * @defaultValue `{ every: 5, minPerClass: 10, tolerance: 0.01 }` (every 5th label of a class with ≥ 10 labels; with fewer, all labels train and the guard scores on them)
   */
  readonly guard?: false | { readonly every?: number; readonly minPerClass?: number; readonly tolerance?: number };
  /** Drift detection on the label-free uncertainty stream. `false` disables it. */
  readonly drift?:
    | false
    | {
        /** Which detectors run. @defaultValue ['page-hinkley', 'adwin'] */
        readonly detectors?: ReadonlyArray<'page-hinkley' | 'adwin'>;
        /** Signal fed to the detectors: 1 − confidence or normalised entropy. @defaultValue `'confidence'` */
        readonly signal?: 'confidence' | 'entropy';
        readonly pageHinkley?: PageHinkleyOptions;
        readonly adwin?: AdwinOptions;
        /** Pseudo-labels and T3A supports not confirmed for this many steps are dropped on drift. @defaultValue 1000 */
        readonly maxAge?: number;
      };
  /** `observe()` reports `adaptDue` after this many accepted pseudo-labels. @defaultValue 100 */
  readonly adaptEvery?: number;
  /** T3A: supports kept per class (lowest entropy first). @defaultValue 50 */
  readonly t3aFilter?: number;
}

/** {@link LearnerOptions} with every default filled in (kept in the saved state). */
export interface ResolvedLearnerOptions {
  dim: number;
  head: HeadKind;
  hidden: number;
  mode: AdaptMode;
  seed: number;
  optimizer: ResolvedOptimizer;
  epochs: number;
  firstEpochs: number;
  batchSize: number;
  threshold: ResolvedThresholds;
  pseudoWeight: number;
  emaDecay: number;
  distributionAlignment: boolean;
  alignmentDecay: number;
  featureAlignment: FeatureAlignment;
  featureMomentum: number;
  featurePrior: number;
  anchorShrink: number;
  labeledPerClass: number;
  pseudoCapacity: number;
  guard: { enabled: boolean; every: number; minPerClass: number; tolerance: number };
  drift: {
    enabled: boolean;
    detectors: Array<'page-hinkley' | 'adwin'>;
    signal: 'confidence' | 'entropy';
    pageHinkley: PageHinkleyOptions;
    adwin: AdwinOptions;
    maxAge: number;
  };
  adaptEvery: number;
  t3aFilter: number;
}

type Resolved = ResolvedLearnerOptions;

/** One prediction. */
export interface Prediction {
  /** The predicted class name. */
  readonly label: string;
  /** Probability of that class. */
  readonly confidence: number;
  /** Probability per class, in {@link Learner.classes} order. */
  readonly probs: Float32Array;
  /** Normalised entropy of `probs`, in [0, 1]. */
  readonly entropy: number;
}

/** A drift event with the detector's statistics and what was refreshed. */
export interface DriftEvent {
  readonly type: 'drift';
  /** Stream step (observations so far) when it fired. */
  readonly step: number;
  readonly change: DetectorChange;
  /** Pseudo-labels dropped from replay because they had not been confirmed for `maxAge` steps. */
  readonly droppedReplay: number;
  /** T3A supports dropped for the same reason. */
  readonly droppedSupports: number;
}

/** An undone adaptation. */
export interface RollbackEvent {
  readonly type: 'rollback';
  readonly step: number;
  /** `'guard'`: held-back accuracy dropped; `'non-finite'`: a loss or weight became NaN/Inf. */
  readonly reason: 'guard' | 'non-finite';
  readonly before: number;
  readonly after: number;
}

/** A completed adaptation. */
export interface AdaptedEvent {
  readonly type: 'adapted';
  readonly step: number;
  readonly result: AdaptResult;
}

/** Events a learner emits. */
export type LearnerEvent = DriftEvent | RollbackEvent | AdaptedEvent;

/** What `observe()` did with one unlabeled embedding. */
export interface Observation {
  /** Predicted class. */
  readonly label: string;
  /** Its probability. */
  readonly confidence: number;
  /** True when the sample became a pseudo-label in replay. */
  readonly accepted: boolean;
  /** Full prediction. */
  readonly prediction: Prediction;
  /** The drift detected at this sample, if any. */
  readonly drift: DriftEvent | undefined;
  /** True when enough new pseudo-labels (or a drift) make an `adapt()` worthwhile. */
  readonly adaptDue: boolean;
}

/** Progress of {@link Learner.adapt}, told apart by `phase`. */
export type AdaptProgress =
  | { readonly phase: 'prepare'; readonly labeled: number; readonly pseudo: number }
  | { readonly phase: 'train'; readonly epoch: number; readonly epochs: number; readonly loss: number }
  | { readonly phase: 'guard'; readonly before: number; readonly after: number }
  | { readonly phase: 'done'; readonly rolledBack: boolean };

/** Outcome of one `adapt()`. */
export interface AdaptResult {
  /** Optimiser steps taken (0 for the NCM head and T3A mode). */
  readonly steps: number;
  /** Mean weighted loss of the last epoch. */
  readonly loss: number;
  readonly labeledUsed: number;
  readonly pseudoUsed: number;
  /** Pseudo-labels the teacher no longer agreed with, left out of this round. */
  readonly pseudoDisagreed: number;
  /** Guard score before and after (accuracy on held-back labels; NaN when there is no guard set). */
  readonly guardBefore: number;
  readonly guardAfter: number;
  readonly rolledBack: boolean;
}

/** Counters and settings an app can show. Every rejection and rollback is counted. */
export interface LearnerStats {
  readonly classes: readonly string[];
  /** Per class: labeled samples kept, pseudo-labels kept, current acceptance threshold. */
  readonly perClass: ReadonlyArray<{ readonly label: string; readonly labeled: number; readonly pseudo: number; readonly threshold: number }>;
  readonly labeled: number;
  readonly heldBack: number;
  /** Unlabeled samples observed. */
  readonly seen: number;
  readonly accepted: number;
  /** Pseudo-labels refused because their confidence was under the threshold. */
  readonly rejectedLowConfidence: number;
  /** Accepted pseudo-labels the reservoir did not keep (class quota full). */
  readonly rejectedByReservoir: number;
  /** Inputs refused with `NON_FINITE` (counted, not part of the saved state). */
  readonly rejectedNonFinite: number;
  readonly pseudoDisagreed: number;
  readonly adaptations: number;
  readonly rollbacks: number;
  readonly rollbacksNonFinite: number;
  readonly drifts: number;
  readonly lastGuardAccuracy: number;
  readonly fitted: boolean;
}

/** Current version of {@link LearnerState}. */
export const LEARNER_STATE_VERSION = 1;

/**
 * Everything a learner needs to resume exactly: plain numbers, strings and typed arrays, so it
 * survives `structuredClone`, `postMessage` and IndexedDB.
 */
export interface LearnerState {
  readonly format: 'edgetune.learner';
  readonly version: 1;
  readonly options: Resolved;
  readonly classes: string[];
  readonly fitted: boolean;
  readonly student: Float32Array;
  readonly teacher: Float32Array;
  readonly optimizer: OptimizerState;
  readonly rng: Uint32Array;
  readonly replay: ReplayState;
  readonly thresholds: ThresholdState;
  readonly meanPrediction: Float64Array;
  /** Feature alignment: labeled sums, stream EMA of x and x², samples since reset. */
  readonly anchorSum: Float64Array;
  readonly anchorSq: Float64Array;
  readonly anchorN: number;
  readonly streamMean: Float64Array;
  readonly streamSq: Float64Array;
  readonly streamN: number;
  readonly pageHinkley: PageHinkleyState;
  readonly adwin: AdwinState;
  readonly supports: { x: Float32Array; cls: Int32Array; ent: Float32Array; step: Float64Array; count: number };
  /** Class means of the labels (the NCM fallback before the head is first fitted). */
  readonly protos: Float32Array;
  readonly counters: Float64Array;
}

// Index of each counter in LearnerState.counters.
const C_SEEN = 0, C_ACCEPTED = 1, C_LOWCONF = 2, C_RESERVOIR = 3, C_DISAGREED = 4, C_ADAPT = 5, C_ROLLBACK = 6, C_ROLLNF = 7, C_DRIFT = 8, C_SINCE = 9, C_GUARD = 10, C_DUE = 11;
const N_COUNTERS = 12;

interface Support {
  f: Float32Array;
  ent: number;
  step: number;
}

function resolve(o: LearnerOptions): Resolved {
  if (!Number.isInteger(o.dim) || o.dim <= 0) {
    throw new EdgetuneError('INVALID_ARGUMENT', `Learner dim must be a positive integer, got ${o.dim}; pass the encoder's output size.`);
  }
  const head = o.head ?? 'linear';
  if (!HEAD_KINDS.includes(head)) {
    throw new EdgetuneError('INVALID_ARGUMENT', `Unknown head '${String(head)}'; use one of ${HEAD_KINDS.join(', ')}.`);
  }
  const th = resolveThresholds(o.threshold);
  if (!THRESHOLD_KINDS.includes(th.kind)) {
    throw new EdgetuneError('INVALID_ARGUMENT', `Unknown threshold kind '${String(th.kind)}'; use one of ${THRESHOLD_KINDS.join(', ')}.`);
  }
  const pw = o.pseudoWeight ?? 0.5;
  if (!(pw >= 0 && pw < 1)) {
    throw new EdgetuneError('INVALID_ARGUMENT', `pseudoWeight must be in [0, 1) so labels weigh more than pseudo-labels, got ${pw}.`);
  }
  const g = o.guard;
  const d = o.drift;
  return {
    dim: o.dim,
    head,
    hidden: o.hidden ?? 32,
    mode: o.mode ?? 'self-train',
    seed: o.seed ?? 1,
    optimizer: resolveOptimizer(o.optimizer),
    epochs: o.epochs ?? 4,
    firstEpochs: o.firstEpochs ?? 30,
    batchSize: o.batchSize ?? 32,
    threshold: th,
    pseudoWeight: pw,
    emaDecay: o.emaDecay ?? 0.99,
    distributionAlignment: o.distributionAlignment ?? true,
    alignmentDecay: o.alignmentDecay ?? 0.99,
    featureAlignment: o.featureAlignment ?? 'meanstd',
    featureMomentum: o.featureMomentum ?? 0.005,
    featurePrior: o.featurePrior ?? 20,
    anchorShrink: o.anchorShrink ?? 200,
    labeledPerClass: o.replay?.labeledPerClass ?? 500,
    pseudoCapacity: o.replay?.pseudoCapacity ?? 2000,
    guard:
      g === false
        ? { enabled: false, every: 5, minPerClass: 5, tolerance: 0.01 }
        : { enabled: true, every: g?.every ?? 5, minPerClass: g?.minPerClass ?? 10, tolerance: g?.tolerance ?? 0.01 },
    drift:
      d === false
        ? { enabled: false, detectors: [], signal: 'confidence', pageHinkley: {}, adwin: {}, maxAge: 1000 }
        : {
            enabled: true,
            detectors: [...(d?.detectors ?? ['page-hinkley', 'adwin'])],
            signal: d?.signal ?? 'confidence',
            pageHinkley: { ...d?.pageHinkley },
            adwin: { ...d?.adwin },
            maxAge: d?.maxAge ?? 1000,
          },
    adaptEvery: o.adaptEvery ?? 100,
    t3aFilter: o.t3aFilter ?? 50,
  };
}

/**
 * A small learner on top of a frozen encoder. Labels are app strings; embeddings are `Float32Array`s
 * of `dim` values. Nothing here touches a runtime or storage: save {@link Learner.getState} wherever you like.
 *
 * @example
 * ```ts
 * const learner = new Learner({ dim: 128 });
 * learner.addLabeled(embedding, 'cat');
 * await learner.adapt();
 * const { label, confidence, accepted } = learner.observe(next);
 * ```
 */
export class Learner {
  #o: Resolved;
  #spec: HeadSpec;
  #classes: string[] = [];
  #fitted = false;
  #student: Float32Array;
  #teacher: Float32Array;
  #opt: OptimizerState;
  #rng: Rng;
  #replay: ReplayBuffer;
  #th: ThresholdState;
  #meanPred: Float64Array;
  #anchorSum: Float64Array;
  #anchorSq: Float64Array;
  #anchorN = 0;
  #streamMean: Float64Array;
  #streamSq: Float64Array;
  #streamN = 0;
  #ph: PageHinkley;
  #adwin: Adwin;
  #supports: Support[][] = [];
  #counters = new Float64Array(N_COUNTERS);
  #rejectedNonFinite = 0;
  #listeners = new Set<(e: LearnerEvent) => void>();
  #disposed = false;
  #busy = false;

  /** @param options - settings; only `dim` is required */
  constructor(options: LearnerOptions) {
    this.#o = resolve(options);
    const o = this.#o;
    this.#spec = headSpec(o.head, o.dim, o.hidden);
    this.#rng = new Rng(o.seed);
    this.#student = this.#spec.init(this.#rng, 0);
    this.#teacher = Float32Array.from(this.#student);
    this.#opt = newOptimizerState(this.#student.length);
    this.#replay = new ReplayBuffer(o.labeledPerClass, o.pseudoCapacity);
    this.#th = newThresholdState(0);
    this.#meanPred = new Float64Array(0);
    this.#anchorSum = new Float64Array(o.dim);
    this.#anchorSq = new Float64Array(o.dim);
    this.#streamMean = new Float64Array(o.dim);
    this.#streamSq = new Float64Array(o.dim);
    this.#ph = new PageHinkley(o.drift.pageHinkley);
    this.#adwin = new Adwin(o.drift.adwin);
    for (const c of options.classes ?? []) this.addClass(c);
  }

  /** Class names, in the order of `probs`. */
  get classes(): readonly string[] {
    return [...this.#classes];
  }

  /** Embedding size. */
  get dim(): number {
    return this.#o.dim;
  }

  /** True when `predict` can answer (at least one class has a labeled sample). */
  get ready(): boolean {
    return this.#anchorN > 0 && this.#classes.length > 0;
  }

  /**
   * Subscribes to drift, rollback and adaptation events.
   *
   * @returns a function that unsubscribes
   */
  on(listener: (e: LearnerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(e: LearnerEvent): void {
    for (const l of this.#listeners) l(e);
  }

  #alive(): void {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This Learner was disposed; create a new one or restore it with Learner.fromState().');
  }

  #checkInput(x: Float32Array, what: string): void {
    this.#alive();
    if (!(x instanceof Float32Array) || x.length !== this.#o.dim) {
      throw new EdgetuneError('INPUT_SHAPE', `${what} must be a Float32Array of ${this.#o.dim} values, got ${x instanceof Float32Array ? `${x.length} values` : typeof x}.`, {
        details: { expected: this.#o.dim },
      });
    }
    if (!allFinite(x)) {
      this.#rejectedNonFinite++;
      assertFinite(x, what);
    }
  }

  #classIndex(label: string): number {
    const i = this.#classes.indexOf(label);
    if (i < 0) throw new EdgetuneError('UNKNOWN_LABEL', `Unknown class '${label}'; known classes: ${this.#classes.join(', ') || '(none)'}. Add it with addClass() or addLabeled().`);
    return i;
  }

  /** Adds an empty class (no-op when it exists). */
  addClass(label: string): void {
    this.#alive();
    if (typeof label !== 'string' || label.length === 0) throw new EdgetuneError('INVALID_ARGUMENT', `A class label must be a non-empty string, got ${JSON.stringify(label)}.`);
    if (this.#classes.includes(label)) return;
    const c = this.#classes.length;
    this.#student = this.#spec.addClass(this.#student, c);
    this.#teacher = this.#spec.addClass(this.#teacher, c);
    // Moments for a resized parameter vector are meaningless; restart them.
    this.#opt = newOptimizerState(this.#student.length);
    this.#classes.push(label);
    this.#replay.addClass(this.#rng);
    this.#th = growThresholds(this.#th, c + 1);
    this.#meanPred = Float64Array.from([...this.#meanPred, 1 / (c + 1)]);
    this.#resetMeanPrediction();
    this.#supports.push([]);
  }

  /** Removes a class with its labels, pseudo-labels and head row. */
  removeClass(label: string): void {
    this.#alive();
    const i = this.#classIndex(label);
    const c = this.#classes.length;
    this.#student = this.#spec.removeClass(this.#student, c, i);
    this.#teacher = this.#spec.removeClass(this.#teacher, c, i);
    this.#opt = newOptimizerState(this.#student.length);
    this.#classes.splice(i, 1);
    this.#replay.removeClass(i);
    const th = this.#th;
    this.#th = { sigma: dropAt(th.sigma, i), unused: th.unused, global: th.global, local: dropAt(th.local, i) };
    this.#meanPred = dropAt(this.#meanPred, i);
    this.#resetMeanPrediction();
    this.#supports.splice(i, 1);
    this.#recomputeAnchor();
  }

  /** Renames a class; its samples and weights stay. */
  renameClass(from: string, to: string): void {
    this.#alive();
    const i = this.#classIndex(from);
    if (typeof to !== 'string' || to.length === 0) throw new EdgetuneError('INVALID_ARGUMENT', `A class label must be a non-empty string, got ${JSON.stringify(to)}.`);
    if (from !== to && this.#classes.includes(to)) throw new EdgetuneError('INVALID_ARGUMENT', `Cannot rename '${from}' to '${to}': '${to}' already exists; remove it first.`);
    this.#classes[i] = to;
  }

  /**
   * Adds one labeled embedding (creating its class when new). Every `guard.every`-th label of a
   * class with enough labels is held back to score adaptations instead of being trained on.
   *
   * @throws `NON_FINITE` (nothing changes) when the embedding holds NaN/Infinity
   */
  addLabeled(embedding: Float32Array, label: string): void {
    this.#checkInput(embedding, 'Labeled embedding');
    if (typeof label !== 'string' || label.length === 0) throw new EdgetuneError('INVALID_ARGUMENT', `A class label must be a non-empty string, got ${JSON.stringify(label)}.`);
    this.addClass(label);
    const c = this.#classes.indexOf(label);
    const u = this.#normalize(embedding);
    const g = this.#o.guard;
    const nth = this.#replay.seenLabeled[c]! + 1;
    const holdout = g.enabled && nth >= g.minPerClass && nth % g.every === 0;
    this.#replay.addLabeled({ x: u, x2: undefined, cls: c, labeled: true, holdout, conf: 1, step: this.#counters[C_SEEN]! }, this.#rng);
    for (let j = 0; j < u.length; j++) {
      this.#anchorSum[j] = this.#anchorSum[j]! + u[j]!;
      this.#anchorSq[j] = this.#anchorSq[j]! + u[j]! * u[j]!;
    }
    this.#anchorN++;
    if (this.#o.head === 'ncm' || !this.#fitted) this.#refreshPrototypes();
  }

  /** L2-normalise and scale to √dim so every coordinate is O(1) whatever the encoder's scale. */
  #normalize(x: Float32Array): Float32Array {
    let s = 0;
    for (let j = 0; j < x.length; j++) s += x[j]! * x[j]!;
    const k = s > 0 ? Math.sqrt(x.length / s) : 0;
    const u = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) u[j] = x[j]! * k;
    return u;
  }

  #recomputeAnchor(): void {
    this.#anchorSum.fill(0);
    this.#anchorSq.fill(0);
    this.#anchorN = 0;
    for (const list of this.#replay.labeled) {
      for (const e of list) {
        for (let j = 0; j < e.x.length; j++) {
          this.#anchorSum[j] = this.#anchorSum[j]! + e.x[j]!;
          this.#anchorSq[j] = this.#anchorSq[j]! + e.x[j]! * e.x[j]!;
        }
        this.#anchorN++;
      }
    }
  }

  /** Maps a normalised stream embedding onto the labeled statistics. */
  #align(u: Float32Array): Float32Array {
    const o = this.#o;
    if (o.featureAlignment === 'none' || this.#anchorN === 0) return u;
    const n = this.#anchorN;
    const a = n / (n + o.anchorShrink);
    const z = new Float32Array(u.length);
    for (let j = 0; j < u.length; j++) {
      const ms = this.#streamMean[j]!;
      const ma = a * (this.#anchorSum[j]! / n) + (1 - a) * ms;
      let r = 1;
      if (o.featureAlignment === 'meanstd') {
        const va = Math.max(a * (this.#anchorSq[j]! / n) + (1 - a) * this.#streamSq[j]! - ma * ma, 1e-6);
        const vs = Math.max(this.#streamSq[j]! - ms * ms, 1e-6);
        // Clamped so one noisy coordinate cannot be blown up.
        r = Math.min(3, Math.max(1 / 3, Math.sqrt(va / vs)));
      }
      z[j] = (u[j]! - ms) * r + ma;
    }
    return z;
  }

  #resetStream(): void {
    const n = Math.max(this.#anchorN, 1);
    for (let j = 0; j < this.#o.dim; j++) {
      this.#streamMean[j] = this.#anchorSum[j]! / n;
      this.#streamSq[j] = this.#anchorSq[j]! / n;
    }
    this.#streamN = 0;
  }

  #updateStream(u: Float32Array): void {
    if (this.#streamN === 0) this.#resetStream();
    const o = this.#o;
    // Running mean at first (with the labeled statistics as a prior of featurePrior samples), then an EMA.
    const m = Math.max(1 / (this.#streamN + 1 + o.featurePrior), o.featureMomentum);
    for (let j = 0; j < u.length; j++) {
      this.#streamMean[j] = this.#streamMean[j]! + m * (u[j]! - this.#streamMean[j]!);
      this.#streamSq[j] = this.#streamSq[j]! + m * (u[j]! * u[j]! - this.#streamSq[j]!);
    }
    this.#streamN++;
  }

  #resetMeanPrediction(): void {
    this.#meanPred.fill(1 / Math.max(this.#classes.length, 1));
  }

  /** Before the first fit, and always for NCM, prototypes are the class means of the labels. */
  #refreshPrototypes(): void {
    const d = this.#o.dim;
    const c = this.#classes.length;
    const protos = new Float32Array(c * d);
    const w = new Float64Array(c);
    for (const e of this.#replay.all()) {
      if (e.holdout) continue;
      const wt = e.labeled ? 1 : this.#o.pseudoWeight;
      w[e.cls] = w[e.cls]! + wt;
      for (let j = 0; j < d; j++) protos[e.cls * d + j] = protos[e.cls * d + j]! + wt * e.x[j]!;
    }
    for (let k = 0; k < c; k++) if (w[k]! > 0) for (let j = 0; j < d; j++) protos[k * d + j] = protos[k * d + j]! / w[k]!;
    this.#protos = protos;
    if (this.#o.head === 'ncm') {
      this.#student = Float32Array.from(protos);
      this.#teacher = Float32Array.from(protos);
    }
  }

  #protos: Float32Array = new Float32Array(0);

  #probs(z: Float32Array, params: Float32Array, useSupports: boolean): Float64Array {
    const c = this.#classes.length;
    const out = new Float64Array(c);
    if (useSupports) {
      const f = unit(this.#spec.features(params, z));
      for (let k = 0; k < c; k++) {
        const cen = this.#centroid(k, params);
        let s = 0;
        for (let j = 0; j < f.length; j++) s += f[j]! * cen[j]!;
        out[k] = COSINE_SCALE * s;
      }
    } else if (!this.#fitted && this.#o.head !== 'ncm') {
      headSpec('ncm', this.#o.dim).forward(this.#protos, c, z, out);
    } else {
      this.#spec.forward(params, c, z, out);
    }
    return softmaxInPlace(out);
  }

  /** Normalised mean of the class row and its supports (T3A). */
  #centroid(k: number, params: Float32Array): Float32Array {
    const rowSrc = this.#fitted || this.#o.head === 'ncm' ? this.#spec.row(params, this.#classes.length, k) : this.#protos.slice(k * this.#o.dim, (k + 1) * this.#o.dim);
    const s = Float64Array.from(unit(rowSrc));
    for (const sp of this.#supports[k] ?? []) for (let j = 0; j < s.length; j++) s[j] = s[j]! + sp.f[j]!;
    return unit(s);
  }

  #toPrediction(p: Float64Array): Prediction {
    const b = argmax(p);
    return { label: this.#classes[b]!, confidence: p[b]!, probs: Float32Array.from(p), entropy: normalizedEntropy(p) };
  }

  #ensureReady(): void {
    if (!this.ready) throw new EdgetuneError('NOT_READY', 'The learner has no labeled samples yet; call addLabeled() for at least one class first.');
  }

  /**
   * Predicts the class of one embedding with the teacher head (stream statistics applied, nothing updated).
   *
   * @throws `NOT_READY` before any label, `NON_FINITE` for NaN/Infinity input
   */
  predict(embedding: Float32Array): Prediction {
    this.#checkInput(embedding, 'Embedding');
    this.#ensureReady();
    const z = this.#align(this.#normalize(embedding));
    return this.#toPrediction(this.#probs(z, this.#teacher, this.#o.mode === 't3a'));
  }

  /**
   * Takes one unlabeled embedding from the stream: updates the stream statistics, predicts, decides
   * whether it becomes a pseudo-label, and feeds the drift detectors.
   *
   * @param options.augmented - a second, augmented view of the same input (FixMatch's strong view): the student trains on it against the teacher's label of the plain view
   * @throws `NOT_READY` before any label, `NON_FINITE` (nothing changes) for NaN/Infinity input
   */
  observe(embedding: Float32Array, options: { readonly augmented?: Float32Array } = {}): Observation {
    this.#checkInput(embedding, 'Embedding');
    if (options.augmented !== undefined) this.#checkInput(options.augmented, 'Augmented embedding');
    this.#ensureReady();
    const o = this.#o;
    const cnt = this.#counters;
    const u = this.#normalize(embedding);
    if (o.featureAlignment !== 'none') this.#updateStream(u);
    const z = this.#align(u);
    const step = cnt[C_SEEN]!;
    cnt[C_SEEN] = step + 1;
    const head = this.#probs(z, this.#teacher, false);
    let shown = head;
    if (o.mode === 't3a') {
      const f = unit(this.#spec.features(this.#teacher, z));
      const k = argmax(head);
      const list = this.#supports[k]!;
      list.push({ f, ent: normalizedEntropy(head), step });
      list.sort((a, b) => a.ent - b.ent || a.step - b.step);
      if (list.length > o.t3aFilter) list.length = o.t3aFilter;
      shown = this.#probs(z, this.#teacher, true);
    }
    // Distribution alignment: divide out the running mean prediction so no class can take over the pseudo-labels.
    let pl = head;
    if (o.distributionAlignment) {
      const c = head.length;
      pl = new Float64Array(c);
      let s = 0;
      for (let k = 0; k < c; k++) {
        pl[k] = head[k]! / Math.max(this.#meanPred[k]!, 1e-6);
        s += pl[k]!;
      }
      for (let k = 0; k < c; k++) pl[k] = pl[k]! / s;
      const d = o.alignmentDecay;
      for (let k = 0; k < c; k++) this.#meanPred[k] = d * this.#meanPred[k]! + (1 - d) * head[k]!;
    }
    updateThresholds(o.threshold, this.#th, pl);
    const k = argmax(pl);
    const tau = classThresholds(o.threshold, this.#th)[k]!;
    let accepted = false;
    if (o.mode === 'self-train') {
      if (pl[k]! >= tau) {
        const x2 = options.augmented === undefined ? undefined : this.#align(this.#normalize(options.augmented));
        accepted = this.#replay.addPseudo({ x: z, x2, cls: k, labeled: false, holdout: false, conf: pl[k]!, step }, this.#rng);
        if (accepted) {
          cnt[C_ACCEPTED] = cnt[C_ACCEPTED]! + 1;
          cnt[C_SINCE] = cnt[C_SINCE]! + 1;
        } else cnt[C_RESERVOIR] = cnt[C_RESERVOIR]! + 1;
      } else cnt[C_LOWCONF] = cnt[C_LOWCONF]! + 1;
    }
    const prediction = this.#toPrediction(shown);
    const drift = this.#detect(prediction, step);
    if (drift) cnt[C_DUE] = 1;
    if (o.mode === 'self-train' && cnt[C_SINCE]! >= o.adaptEvery) cnt[C_DUE] = 1;
    return { label: prediction.label, confidence: prediction.confidence, accepted, prediction, drift, adaptDue: cnt[C_DUE] === 1 };
  }

  #detect(p: Prediction, step: number): DriftEvent | undefined {
    const d = this.#o.drift;
    if (!d.enabled) return undefined;
    const x = d.signal === 'confidence' ? 1 - p.confidence : p.entropy;
    let change: DetectorChange | undefined;
    if (d.detectors.includes('page-hinkley')) change = this.#ph.update(x) ?? change;
    if (d.detectors.includes('adwin')) change = this.#adwin.update(x) ?? change;
    if (!change) return undefined;
    this.#ph.reset();
    this.#adwin.reset();
    this.#counters[C_DRIFT] = this.#counters[C_DRIFT]! + 1;
    // Components not confirmed for maxAge steps describe a stream that is gone.
    const before = step - d.maxAge;
    const droppedReplay = this.#replay.dropAged(before);
    let droppedSupports = 0;
    for (let k = 0; k < this.#supports.length; k++) {
      const kept = this.#supports[k]!.filter((s) => s.step >= before);
      droppedSupports += this.#supports[k]!.length - kept.length;
      this.#supports[k] = kept;
    }
    this.#resetMeanPrediction();
    if (this.#o.head === 'ncm') this.#refreshPrototypes();
    const e: DriftEvent = { type: 'drift', step, change, droppedReplay, droppedSupports };
    this.#emit(e);
    return e;
  }

  #guardSet(): ReplayEntry[] {
    const labeled = this.#replay.labeled.flat();
    const set = labeled.filter((e) => e.holdout);
    return set.length ? set : labeled;
  }

  /** Accuracy of `params` on the guard set: held-back labels, or all labels when none are held back. */
  #guardScore(params: Float32Array): number {
    const set = this.#guardSet();
    if (set.length === 0) return Number.NaN;
    let ok = 0;
    for (const e of set) if (argmax(this.#probs(e.x, params, false)) === e.cls) ok++;
    return ok / set.length;
  }

  /**
   * One round of adaptation: relabels replayed pseudo-labels with the teacher, trains the student on
   * labels (weight 1) and agreeing pseudo-labels (weight `pseudoWeight`), moves the EMA teacher, then
   * scores the teacher on held-back labels and rolls the whole round back if it got worse.
   *
   * @param options.signal - aborts between mini-batches; the learner is left as before the call
   * @param options.onProgress - progress by phase
   * @throws `NOT_READY` before any label, `ABORTED`
   */
  async adapt(options: { readonly signal?: AbortSignal; readonly onProgress?: (p: AdaptProgress) => void } = {}): Promise<AdaptResult> {
    this.#alive();
    this.#ensureReady();
    if (this.#busy) throw new EdgetuneError('INVALID_ARGUMENT', 'adapt() is already running on this learner; await the previous call first.');
    this.#busy = true;
    const { signal, onProgress } = options;
    const o = this.#o;
    const cnt = this.#counters;
    const snap = {
      student: Float32Array.from(this.#student),
      teacher: Float32Array.from(this.#teacher),
      opt: { m: Float32Array.from(this.#opt.m), v: Float32Array.from(this.#opt.v), t: this.#opt.t },
      fitted: this.#fitted,
      protos: Float32Array.from(this.#protos),
      rng: Uint32Array.from(this.#rng.state),
      steps: this.#replay.all().map((e) => e.step),
    };
    const restore = (): void => {
      this.#student = snap.student;
      this.#teacher = snap.teacher;
      this.#opt = snap.opt;
      this.#fitted = snap.fitted;
      this.#protos = snap.protos;
      this.#rng.state.set(snap.rng);
      this.#replay.all().forEach((e, i) => (e.step = snap.steps[i]!));
    };
    try {
      const step = cnt[C_SEEN]!;
      const wasFitted = this.#fitted;
      const before = wasFitted ? this.#guardScore(this.#teacher) : Number.NaN;
      const train: Array<{ e: ReplayEntry; w: number }> = [];
      let disagreed = 0;
      for (const e of this.#replay.all()) {
        if (e.holdout) continue;
        if (e.labeled) {
          train.push({ e, w: 1 });
          continue;
        }
        if (o.mode !== 'self-train') continue;
        // A pseudo-label counts only while the current teacher still agrees with it; agreement refreshes its age.
        if (argmax(this.#probs(e.x, this.#teacher, false)) === e.cls) {
          e.step = step;
          train.push({ e, w: o.pseudoWeight });
        } else disagreed++;
      }
      const labeledUsed = train.filter((t) => t.e.labeled).length;
      onProgress?.({ phase: 'prepare', labeled: labeledUsed, pseudo: train.length - labeledUsed });
      let steps = 0;
      let loss = 0;
      if (o.head === 'ncm') {
        this.#refreshPrototypes();
      } else {
        if (!wasFitted) {
          this.#student = this.#spec.init(this.#rng, this.#classes.length);
          this.#opt = newOptimizerState(this.#student.length);
        }
        const epochs = wasFitted ? o.epochs : o.firstEpochs;
        const c = this.#classes.length;
        const grad = new Float64Array(this.#student.length);
        const logits = new Float64Array(c);
        const mask = this.#spec.decayMask(c);
        const order = Array.from(train.keys());
        for (let ep = 0; ep < epochs; ep++) {
          this.#rng.shuffle(order);
          let sum = 0;
          let wsum = 0;
          for (let b = 0; b < order.length; b += o.batchSize) {
            if (signal?.aborted) {
              restore();
              throwIfAborted(signal);
            }
            grad.fill(0);
            let bw = 0;
            for (let i = b; i < Math.min(b + o.batchSize, order.length); i++) {
              const t = train[order[i]!]!;
              const x = t.e.x2 ?? t.e.x;
              this.#spec.forward(this.#student, c, x, logits);
              softmaxInPlace(logits);
              sum -= t.w * Math.log(Math.max(logits[t.e.cls]!, 1e-12));
              wsum += t.w;
              bw += t.w;
              for (let k = 0; k < c; k++) logits[k] = t.w * (logits[k]! - (k === t.e.cls ? 1 : 0));
              this.#spec.backward(this.#student, c, x, logits, grad);
            }
            if (bw === 0) continue;
            for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! / bw;
            if (!allFinite(grad)) return this.#nonFinite(restore, step, before);
            optimizerStep(o.optimizer, this.#opt, this.#student, grad, mask);
            steps++;
            if (wasFitted) {
              const d = o.emaDecay;
              for (let i = 0; i < this.#teacher.length; i++) this.#teacher[i] = d * this.#teacher[i]! + (1 - d) * this.#student[i]!;
            }
          }
          loss = wsum > 0 ? sum / wsum : 0;
          onProgress?.({ phase: 'train', epoch: ep + 1, epochs, loss });
          await yieldToEventLoop();
        }
        if (!wasFitted) this.#teacher = Float32Array.from(this.#student);
        if (!allFinite(this.#student) || !allFinite(this.#teacher) || !Number.isFinite(loss)) return this.#nonFinite(restore, step, before);
        this.#fitted = true;
      }
      const after = this.#guardScore(this.#teacher);
      onProgress?.({ phase: 'guard', before, after });
      let rolledBack = false;
      // One sample's worth of slack on small guard sets, so a single borderline label cannot veto every round.
      const slack = Math.max(o.guard.tolerance, 1 / Math.max(this.#guardSet().length, 1));
      if (o.guard.enabled && wasFitted && Number.isFinite(before) && after < before - slack - 1e-12) {
        restore();
        rolledBack = true;
        cnt[C_ROLLBACK] = cnt[C_ROLLBACK]! + 1;
        this.#emit({ type: 'rollback', step, reason: 'guard', before, after });
      }
      cnt[C_ADAPT] = cnt[C_ADAPT]! + 1;
      cnt[C_SINCE] = 0;
      cnt[C_DUE] = 0;
      cnt[C_GUARD] = rolledBack ? before : after;
      const result: AdaptResult = {
        steps,
        loss,
        labeledUsed,
        pseudoUsed: train.length - labeledUsed,
        pseudoDisagreed: disagreed,
        guardBefore: before,
        guardAfter: after,
        rolledBack,
      };
      cnt[C_DISAGREED] = cnt[C_DISAGREED]! + disagreed;
      onProgress?.({ phase: 'done', rolledBack });
      this.#emit({ type: 'adapted', step, result });
      return result;
    } finally {
      this.#busy = false;
    }
  }

  #nonFinite(restore: () => void, step: number, before: number): AdaptResult {
    restore();
    const cnt = this.#counters;
    cnt[C_ROLLBACK] = cnt[C_ROLLBACK]! + 1;
    cnt[C_ROLLNF] = cnt[C_ROLLNF]! + 1;
    this.#emit({ type: 'rollback', step, reason: 'non-finite', before, after: Number.NaN });
    return { steps: 0, loss: Number.NaN, labeledUsed: 0, pseudoUsed: 0, pseudoDisagreed: 0, guardBefore: before, guardAfter: Number.NaN, rolledBack: true };
  }

  /** Counters and per-class figures. */
  stats(): LearnerStats {
    const cnt = this.#counters;
    const th = classThresholds(this.#o.threshold, this.#th);
    const counts = this.#replay.counts();
    const labeled = this.#replay.labeled.flat();
    return {
      classes: this.classes,
      perClass: this.#classes.map((label, k) => ({ label, labeled: counts[k]![0], pseudo: counts[k]![1], threshold: th[k]! })),
      labeled: labeled.length,
      heldBack: labeled.filter((e) => e.holdout).length,
      seen: cnt[C_SEEN]!,
      accepted: cnt[C_ACCEPTED]!,
      rejectedLowConfidence: cnt[C_LOWCONF]!,
      rejectedByReservoir: cnt[C_RESERVOIR]!,
      rejectedNonFinite: this.#rejectedNonFinite,
      pseudoDisagreed: cnt[C_DISAGREED]!,
      adaptations: cnt[C_ADAPT]!,
      rollbacks: cnt[C_ROLLBACK]!,
      rollbacksNonFinite: cnt[C_ROLLNF]!,
      drifts: cnt[C_DRIFT]!,
      lastGuardAccuracy: cnt[C_GUARD]!,
      fitted: this.#fitted,
    };
  }

  /** A plain, versioned, structured-clone-able copy of the whole learner (nothing shared with it). */
  getState(): LearnerState {
    this.#alive();
    const d = this.#o.dim;
    const sups = this.#supports.flatMap((l, k) => l.map((s) => ({ s, k })));
    const supports = {
      x: new Float32Array(sups.length * d),
      cls: new Int32Array(sups.length),
      ent: new Float32Array(sups.length),
      step: new Float64Array(sups.length),
      count: sups.length,
    };
    sups.forEach(({ s, k }, i) => {
      supports.x.set(s.f, i * d);
      supports.cls[i] = k;
      supports.ent[i] = s.ent;
      supports.step[i] = s.step;
    });
    return {
      format: 'edgetune.learner',
      version: LEARNER_STATE_VERSION,
      options: structuredClone(this.#o),
      classes: [...this.#classes],
      fitted: this.#fitted,
      student: Float32Array.from(this.#student),
      teacher: Float32Array.from(this.#teacher),
      optimizer: { m: Float32Array.from(this.#opt.m), v: Float32Array.from(this.#opt.v), t: this.#opt.t },
      rng: Uint32Array.from(this.#rng.state),
      replay: this.#replay.pack(d),
      thresholds: { sigma: Float64Array.from(this.#th.sigma), unused: this.#th.unused, global: this.#th.global, local: Float64Array.from(this.#th.local) },
      meanPrediction: Float64Array.from(this.#meanPred),
      anchorSum: Float64Array.from(this.#anchorSum),
      anchorSq: Float64Array.from(this.#anchorSq),
      anchorN: this.#anchorN,
      streamMean: Float64Array.from(this.#streamMean),
      streamSq: Float64Array.from(this.#streamSq),
      streamN: this.#streamN,
      pageHinkley: { ...this.#ph.state },
      adwin: { window: Float64Array.from(this.#adwin.state.window), length: this.#adwin.state.length, seen: this.#adwin.state.seen },
      supports,
      protos: Float32Array.from(this.#protos),
      counters: Float64Array.from(this.#counters),
    };
  }

  /**
   * Restores a learner saved with {@link Learner.getState}; it continues exactly where the saved one was.
   *
   * @throws `STATE_INVALID` when the object is not a learner state of a known version
   */
  static fromState(state: LearnerState): Learner {
    const s = state as Partial<LearnerState>;
    if (typeof s !== 'object' || s === null || s.format !== 'edgetune.learner') {
      throw new EdgetuneError('STATE_INVALID', `Not a learner state (format ${JSON.stringify((s as { format?: unknown } | null)?.format)}); pass an object from Learner.getState().`);
    }
    if (s.version !== LEARNER_STATE_VERSION) {
      throw new EdgetuneError('STATE_INVALID', `Learner state version ${String(s.version)} is not supported (expected ${LEARNER_STATE_VERSION}).`, { details: { version: s.version } });
    }
    const o = s.options!;
    const spec = headSpec(o.head, o.dim, o.hidden);
    const c = s.classes?.length ?? -1;
    const expected = spec.size(c);
    const arrays: Array<[string, unknown, number]> = [
      ['student', s.student, expected],
      ['teacher', s.teacher, expected],
      ['anchorSum', s.anchorSum, o.dim],
      ['streamMean', s.streamMean, o.dim],
      ['meanPrediction', s.meanPrediction, c],
    ];
    for (const [name, v, n] of arrays) {
      if (!ArrayBuffer.isView(v) || (v as Float32Array).length !== n) {
        throw new EdgetuneError('STATE_INVALID', `Learner state field '${name}' should hold ${n} values; the state is damaged or from another build.`, { details: { field: name } });
      }
      if (!allFinite(v as Float32Array)) throw new EdgetuneError('STATE_INVALID', `Learner state field '${name}' holds NaN/Infinity; the state is damaged.`, { details: { field: name } });
    }
    const l = new Learner({ dim: o.dim, head: o.head, hidden: o.hidden, seed: o.seed });
    l.#restore(state, o);
    return l;
  }

  #restore(s: LearnerState, o: Resolved): void {
    this.#o = structuredClone(o);
    this.#spec = headSpec(o.head, o.dim, o.hidden);
    this.#classes = [...s.classes];
    this.#fitted = s.fitted;
    this.#student = Float32Array.from(s.student);
    this.#teacher = Float32Array.from(s.teacher);
    this.#opt = { m: Float32Array.from(s.optimizer.m), v: Float32Array.from(s.optimizer.v), t: s.optimizer.t };
    this.#rng = new Rng(s.rng);
    this.#replay = ReplayBuffer.unpack(s.replay, o.labeledPerClass, o.pseudoCapacity);
    this.#th = { sigma: Float64Array.from(s.thresholds.sigma), unused: s.thresholds.unused, global: s.thresholds.global, local: Float64Array.from(s.thresholds.local) };
    this.#meanPred = Float64Array.from(s.meanPrediction);
    this.#anchorSum = Float64Array.from(s.anchorSum);
    this.#anchorSq = Float64Array.from(s.anchorSq);
    this.#anchorN = s.anchorN;
    this.#streamMean = Float64Array.from(s.streamMean);
    this.#streamSq = Float64Array.from(s.streamSq);
    this.#streamN = s.streamN;
    this.#ph = new PageHinkley(o.drift.pageHinkley, s.pageHinkley);
    this.#adwin = new Adwin(o.drift.adwin, s.adwin);
    this.#supports = this.#classes.map(() => []);
    for (let i = 0; i < s.supports.count; i++) {
      this.#supports[s.supports.cls[i]!]!.push({ f: s.supports.x.slice(i * o.dim, (i + 1) * o.dim), ent: s.supports.ent[i]!, step: s.supports.step[i]! });
    }
    this.#protos = Float32Array.from(s.protos);
    this.#counters = Float64Array.from(s.counters);
  }

  /** Releases everything; later calls throw `DISPOSED`. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#listeners.clear();
    this.#replay = new ReplayBuffer(0, 0);
    this.#supports = [];
  }

  /** Same as {@link Learner.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Same as {@link Learner.dispose}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}

function unit(v: ArrayLike<number>): Float32Array {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j]! * v[j]!;
  const k = s > 0 ? 1 / Math.sqrt(s) : 0;
  const u = new Float32Array(v.length);
  for (let j = 0; j < v.length; j++) u[j] = v[j]! * k;
  return u;
}

function dropAt(a: Float64Array, i: number): Float64Array {
  const q = new Float64Array(a.length - 1);
  q.set(a.subarray(0, i), 0);
  q.set(a.subarray(i + 1), i);
  return q;
}

function growThresholds(t: ThresholdState, c: number): ThresholdState {
  const sigma = new Float64Array(c);
  sigma.set(t.sigma);
  const local = new Float64Array(c).fill(1 / c);
  local.set(t.local);
  return { sigma, unused: t.unused, global: t.global, local };
}
