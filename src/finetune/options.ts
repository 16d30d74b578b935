// Learner options: the public settings, their resolved form (kept in the saved state) and their defaults; option-checks.ts validates them.
import type { AdwinOptions, EmbeddingDriftOptions, PageHinkleyOptions } from './drift.js';
import type { HeadKind } from './heads.js';
import { checkResolved, checkShape, invalidOption, isObj } from './option-checks.js';
import { resolveOptimizer, type OptimizerOptions, type ResolvedOptimizer } from './optim.js';
import { resolveThresholds, type ResolvedThresholds, type ThresholdOptions } from './thresholds.js';

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
   * Rollback guard. Every `every`-th label of a class with at least `minPerClass` labels is held back
   * from the next `adapt()`, scores it (and fits the confidence temperature), and then — with
   * `holdout: 'return'` — joins training from the round after; `'keep'` holds it back for good.
   * A round is undone when accuracy on the guard set (held-back labels, or all labels when none are
   * held back) drops by more than `tolerance`, or when, on the recent stream, the new model agrees
   * with the old one on fewer than `minAgreement` of the frames, agrees with the label prototypes on
   * 0.1 fewer of them, or its predictions collapse onto half as many classes. `false` disables it.
   * @defaultValue `{ every: 5, minPerClass: 10, tolerance: 0.01, holdout: 'return', minAgreement: 0.5 }`
   */
  readonly guard?:
    | false
    | {
        readonly every?: number;
        readonly minPerClass?: number;
        readonly tolerance?: number;
        readonly holdout?: 'return' | 'keep';
        readonly minAgreement?: number;
      };
  /** Drift detection on the embeddings and on the label-free uncertainty stream. `false` disables it. */
  readonly drift?:
    | false
    | {
        /**
         * Which detectors run: `'embedding'` (two-sample test of the recent embeddings against a reference),
         * `'page-hinkley'` and `'adwin'` (on uncertainty; only a rise counts). @defaultValue ['embedding', 'page-hinkley', 'adwin']
         */
        readonly detectors?: ReadonlyArray<'embedding' | 'page-hinkley' | 'adwin'>;
        /** Signal fed to the detectors: 1 − confidence or normalised entropy. @defaultValue `'confidence'` */
        readonly signal?: 'confidence' | 'entropy';
        readonly pageHinkley?: PageHinkleyOptions;
        readonly adwin?: AdwinOptions;
        readonly embedding?: EmbeddingDriftOptions;
        /** Pseudo-labels and T3A supports not confirmed for this many steps are dropped on drift. @defaultValue 1000 */
        readonly maxAge?: number;
      };
  /** `observe()` reports `adaptDue` after this many accepted pseudo-labels. @defaultValue 100 */
  readonly adaptEvery?: number;
  /** T3A: supports kept per class (lowest entropy first). @defaultValue 50 */
  readonly t3aFilter?: number;
  /**
   * Open-set detection and the Gaussian class model on the labels (openset.ts): an input whose score —
   * Mahalanobis distance to the nearest label class mean (shared covariance: `'full'`, shrunk by `shrinkage`,
   * or `'diagonal'`), standardised and plus `energyWeight` × the head's standardised energy — is past that
   * class's `1 − quantile` point of leave-one-out label scores (plus `margin`) is `unknown` and never
   * pseudo-labelled. The distance is taken on the input before feature alignment. `classifierWeight` weighs
   * the same Gaussians' class posterior (linear discriminant analysis), on the aligned input, into every
   * prediction of the linear and adapter heads (0: the head alone). `streamNovelty` adds, × 4, the stream-side
   * novelty to the score: of the input's `neighbours` nearest labels and last `streamWindow` stream frames (in the
   * same metric), the share that are stream frames, minus its median over the last 200 frames — a class never
   * taught gathers stream frames and no labels (0: off). `false` turns all of it off.
   * @defaultValue `{ quantile: 0.05, margin: 0, covariance: 'full', shrinkage: 0.2, energyWeight: 1, classifierWeight: 1, streamNovelty: 1, neighbours: 20, streamWindow: 1000 }`
   */
  readonly openSet?:
    | false
    | {
        readonly quantile?: number;
        readonly margin?: number;
        readonly covariance?: 'full' | 'diagonal';
        readonly shrinkage?: number;
        readonly energyWeight?: number;
        readonly classifierWeight?: number;
        readonly streamNovelty?: number;
        readonly neighbours?: number;
        readonly streamWindow?: number;
      };
  /** Temperature-scale reported confidences, fitted on held-back labels. @defaultValue true */
  readonly calibration?: boolean;
  /**
   * Pseudo-label acceptance beyond the threshold: teacher, student and nearest label prototype must
   * agree (`agreement`); the teacher's calibrated confidence, before distribution alignment and
   * class-adaptive thresholds, must reach `minConfidence` (those thresholds drop for a class the
   * stream rarely shows, which let a one-class stream label its odd frames as other classes); a frame whose cosine to one of the last `recent` frames exceeds
   * `duplicateCosine` is a near-duplicate (it neither becomes a pseudo-label nor moves any stream
   * statistic); at most `perClassPerRound` pseudo-labels per class between two `adapt()`s (0: twice a
   * class's share of `adaptEvery`). @defaultValue `{ agreement: true, minConfidence: 0.9, duplicateCosine: 0.995, recent: 128, perClassPerRound: 0 }`
   */
  readonly pseudo?: {
    readonly agreement?: boolean;
    readonly minConfidence?: number;
    readonly duplicateCosine?: number;
    readonly recent?: number;
    readonly perClassPerRound?: number;
  };
  /**
   * Re-centring of the class posterior's means on a stream that has shifted as a whole (recentre.ts): while
   * most of the stream is `unknown` (the running unknown rate is at least `minUnknown`: a corruption, a new
   * camera — not a familiar stream, where the label means are already right), every `every` frames
   * (near-duplicates not counted) `iterations` EM steps over the last `window` frames since the last change
   * move the means the class posterior reads to where the stream's classes lie, each label counting
   * `labelWeight` frames and each frame's class responsibilities the posterior times the head's
   * probabilities to the power `headWeight`. Label-free (no pseudo-label needed), for every learner with the
   * class posterior; on a familiar stream it does nothing and drops its means. The unknown score keeps the
   * label means. An embedding drift clears the frames and the means; an alarm on rising uncertainty alone
   * in a stream that was already unfamiliar does not (the inputs did not change). The moved means are kept
   * only when they change the class posterior's call on at least `minChange` of those frames: a stream
   * whose classes still sit where the labels put them keeps the label means (0: always kept). `false`
   * turns it off. States saved before it existed restore with it off; states saved before `minChange`
   * restore with 0.
   * @defaultValue `{ minUnknown: 0.9, every: 100, window: 1000, iterations: 10, labelWeight: 0.02, headWeight: 0, minChange: 0.5 }`
   */
  readonly recentre?:
    | false
    | {
        readonly minUnknown?: number;
        readonly every?: number;
        readonly window?: number;
        readonly iterations?: number;
        readonly labelWeight?: number;
        readonly headWeight?: number;
        readonly minChange?: number;
      };
  /**
   * Semi-supervised re-estimation of the class means of the Gaussian class posterior (reestimate.ts):
   * at the end of every `adapt()`, `iterations` EM steps over the last `window` stream frames (not the
   * near-duplicates), each frame assigned to the classes by the current model (the posterior at the
   * current means times the head's probabilities to the power `headWeight`; `hard`: to its best class
   * only), each label counting `labelWeight` frames, so a few labels' means move to where their classes
   * lie in the stream. The unknown score keeps the label means. Off unless asked for: it raised the
   * harness's few-shot average but lowered a single contrast-4 stream with 5 labels per class (the
   * README's main job: 68.3% → 66.8% on, 68.3% → 69.4% off; docs/finetune.md follow-up 4). Giving the
   * object turns it on with `when: 'auto'`, which runs it only while the learner has at most
   * `maxLabelsPerClass` labels per class on average (with many labels their means are already good; run on
   * every learner it gained nothing in the harness's test-time adaptation and lowered its worst shift);
   * `'always'`/`'never'` (or `true`/`false`) force it. Drift clears the frames and the re-estimated means.
   * @defaultValue off (`when: 'never'`); an object without `when` means `when: 'auto'`; the other fields
   * `{ maxLabelsPerClass: 50, window: 1000, iterations: 3, labelWeight: 5, headWeight: 1, hard: false }`
   */
  readonly reestimate?:
    | boolean
    | {
        readonly when?: 'auto' | 'always' | 'never';
        readonly maxLabelsPerClass?: number;
        readonly window?: number;
        readonly iterations?: number;
        readonly labelWeight?: number;
        readonly headWeight?: number;
        readonly hard?: boolean;
      };
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
  guard: {
    enabled: boolean;
    every: number;
    minPerClass: number;
    tolerance: number;
    holdout: 'return' | 'keep';
    minAgreement: number;
  };
  drift: {
    enabled: boolean;
    detectors: Array<'embedding' | 'page-hinkley' | 'adwin'>;
    signal: 'confidence' | 'entropy';
    pageHinkley: PageHinkleyOptions;
    adwin: AdwinOptions;
    embedding: EmbeddingDriftOptions;
    maxAge: number;
  };
  adaptEvery: number;
  t3aFilter: number;
  openSet: {
    enabled: boolean;
    quantile: number;
    margin: number;
    covariance: 'full' | 'diagonal';
    shrinkage: number;
    energyWeight: number;
    classifierWeight: number;
    streamNovelty: number;
    neighbours: number;
    streamWindow: number;
  };
  calibration: boolean;
  pseudo: {
    agreement: boolean;
    minConfidence: number;
    duplicateCosine: number;
    recent: number;
    perClassPerRound: number;
  };
  recentre: {
    enabled: boolean;
    minUnknown: number;
    every: number;
    window: number;
    iterations: number;
    labelWeight: number;
    headWeight: number;
    minChange: number;
  };
  reestimate: {
    when: 'auto' | 'always' | 'never';
    maxLabelsPerClass: number;
    window: number;
    iterations: number;
    labelWeight: number;
    headWeight: number;
    hard: boolean;
  };
}

type Resolved = ResolvedLearnerOptions;

/** Most classes one learner takes: the head, replay and statistics grow linearly with it, and a training step costs O(classes × dim). */
export const MAX_CLASSES = 10_000;

/**
 * Fills every default of {@link LearnerOptions} and checks every value.
 *
 * @throws `INVALID_ARGUMENT` naming the option, its value and what it takes
 */
export function resolveLearnerOptions(o: LearnerOptions): Resolved {
  if (!isObj(o)) invalidOption('options', o, 'pass an object such as { dim: 128 }');
  checkShape(o as unknown as Record<string, unknown>, '', invalidOption);
  if (o.classes !== undefined) {
    if (!Array.isArray(o.classes)) invalidOption('classes', o.classes, 'pass an array of class names');
    if (o.classes.length > MAX_CLASSES)
      invalidOption('classes', o.classes, `a learner takes at most ${MAX_CLASSES} classes`);
  }
  if (o.drift && o.drift.detectors !== undefined && !Array.isArray(o.drift.detectors))
    invalidOption('drift.detectors', o.drift.detectors, "use an array of 'embedding', 'page-hinkley', 'adwin'");
  const r = fill(o);
  checkResolved(r, invalidOption);
  return r;
}

function fill(o: LearnerOptions): Resolved {
  const th = resolveThresholds(o.threshold);
  const g = o.guard;
  const d = o.drift;
  return {
    dim: o.dim,
    head: o.head ?? 'linear',
    hidden: o.hidden ?? 32,
    mode: o.mode ?? 'self-train',
    seed: o.seed ?? 1,
    optimizer: resolveOptimizer(o.optimizer),
    epochs: o.epochs ?? 4,
    firstEpochs: o.firstEpochs ?? 30,
    batchSize: o.batchSize ?? 32,
    threshold: th,
    pseudoWeight: o.pseudoWeight ?? 0.5,
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
        ? { enabled: false, every: 5, minPerClass: 5, tolerance: 0.01, holdout: 'return', minAgreement: 0 }
        : {
            enabled: true,
            every: g?.every ?? 5,
            minPerClass: g?.minPerClass ?? 10,
            tolerance: g?.tolerance ?? 0.01,
            holdout: g?.holdout ?? 'return',
            minAgreement: g?.minAgreement ?? 0.5,
          },
    drift:
      d === false
        ? {
            enabled: false,
            detectors: [],
            signal: 'confidence',
            pageHinkley: {},
            adwin: {},
            embedding: {},
            maxAge: 1000,
          }
        : {
            enabled: true,
            detectors: [...(d?.detectors ?? ['embedding', 'page-hinkley', 'adwin'])],
            signal: d?.signal ?? 'confidence',
            pageHinkley: { ...d?.pageHinkley },
            adwin: { ...d?.adwin },
            embedding: { ...d?.embedding },
            maxAge: d?.maxAge ?? 1000,
          },
    adaptEvery: o.adaptEvery ?? 100,
    t3aFilter: o.t3aFilter ?? 50,
    openSet: {
      enabled: o.openSet !== false,
      quantile: (o.openSet || undefined)?.quantile ?? 0.05,
      margin: (o.openSet || undefined)?.margin ?? 0,
      covariance: (o.openSet || undefined)?.covariance ?? 'full',
      shrinkage: (o.openSet || undefined)?.shrinkage ?? 0.2,
      energyWeight: (o.openSet || undefined)?.energyWeight ?? 1,
      classifierWeight: (o.openSet || undefined)?.classifierWeight ?? 1,
      streamNovelty: (o.openSet || undefined)?.streamNovelty ?? 1,
      neighbours: (o.openSet || undefined)?.neighbours ?? 20,
      streamWindow: (o.openSet || undefined)?.streamWindow ?? 1000,
    },
    calibration: o.calibration ?? true,
    pseudo: {
      agreement: o.pseudo?.agreement ?? true,
      minConfidence: o.pseudo?.minConfidence ?? 0.9,
      duplicateCosine: o.pseudo?.duplicateCosine ?? 0.995,
      recent: o.pseudo?.recent ?? 128,
      perClassPerRound: o.pseudo?.perClassPerRound ?? 0,
    },
    reestimate: resolveReestimate(o.reestimate),
    recentre: resolveRecentre(o.recentre),
  };
}

function resolveReestimate(r: LearnerOptions['reestimate']): Resolved['reestimate'] {
  const g = typeof r === 'object' ? r : {};
  return {
    // Off unless asked for (it lowered the README's contrast-4 stream, docs/finetune.md follow-up 4);
    // giving the group opts in, so `{ labelWeight: 2 }` alone is not silently ignored.
    when: typeof r === 'boolean' ? (r ? 'always' : 'never') : r === undefined ? 'never' : (g.when ?? 'auto'),
    maxLabelsPerClass: g.maxLabelsPerClass ?? 50,
    window: g.window ?? 1000,
    iterations: g.iterations ?? 3,
    labelWeight: g.labelWeight ?? 5,
    headWeight: g.headWeight ?? 1,
    hard: g.hard ?? false,
  };
}

function resolveRecentre(r: LearnerOptions['recentre']): Resolved['recentre'] {
  const g = r || {};
  return {
    enabled: r !== false,
    minUnknown: g.minUnknown ?? 0.9,
    every: g.every ?? 100,
    window: g.window ?? 1000,
    iterations: g.iterations ?? 10,
    labelWeight: g.labelWeight ?? 0.02,
    headWeight: g.headWeight ?? 0,
    minChange: g.minChange ?? 0.5,
  };
}
