// Learner options: the public settings, their resolved form (kept in the saved state), defaults and validation.
import { EdgetuneError } from '../core/errors.js';
import type { AdwinOptions, PageHinkleyOptions } from './drift.js';
import { HEAD_KINDS, type HeadKind } from './heads.js';
import { resolveOptimizer, type OptimizerOptions, type ResolvedOptimizer } from './optim.js';
import { THRESHOLD_KINDS, resolveThresholds, type ResolvedThresholds, type ThresholdOptions } from './thresholds.js';

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

/** Fills every default of {@link LearnerOptions}. */
export function resolveLearnerOptions(o: LearnerOptions): Resolved {
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
