// Public result and event types of the Learner: predictions, observations, adaptation results, events and stats.
import type { DetectorChange } from './drift.js';

/** One prediction. */
export interface Prediction {
  /** The predicted class name. */
  readonly label: string;
  /** Probability of that class, temperature-calibrated (see `calibration`). */
  readonly confidence: number;
  /** Probability per class, in {@link Learner.classes} order (calibrated). */
  readonly probs: Float32Array;
  /** Normalised entropy of `probs`, in [0, 1]. */
  readonly entropy: number;
  /** True when the input looks like none of the taught classes (`label` is then only the nearest one). */
  readonly unknown: boolean;
  /** The open-set threshold minus the input's score (Mahalanobis distance to the nearest label class mean, before alignment, plus the head's energy; see `openSet`): negative means unknown; larger is more familiar. */
  readonly familiarity: number;
  /** Energy score −logsumexp(logits) of the uncalibrated head (Liu et al. 2020): higher is less familiar. */
  readonly energy: number;
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
  /** `'guard'`: held-back accuracy dropped; `'stream'`: the new model disagreed with the old one or with the label prototypes on the recent stream, or collapsed onto fewer classes; `'non-finite'`: a loss or weight became NaN/Inf. */
  readonly reason: 'guard' | 'stream' | 'non-finite';
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
  /** The class it was pseudo-labelled as (after distribution alignment; may differ from `label`), when accepted. */
  readonly pseudoLabel: string | undefined;
  /** Same as `prediction.unknown`. */
  readonly unknown: boolean;
  /** True when it was a near-duplicate of a recent frame: predicted, but no statistic moved and no pseudo-label was made. */
  readonly duplicate: boolean;
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
  | { readonly phase: 'ready'; readonly rolledBack: boolean };

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
  /** Share of recent stream frames on which the new teacher agrees with the old one (NaN with too few frames). */
  readonly streamAgreement: number;
  /** Share of recent frames on which the teacher agrees with the nearest label prototype, before and after. */
  readonly prototypeAgreementBefore: number;
  readonly prototypeAgreementAfter: number;
  /** Held-back labels that scored this round and then returned to training (`guard.holdout: 'return'`). */
  readonly holdoutReturned: number;
  /** Confidence temperature after the round (1 until fitted). */
  readonly temperature: number;
  readonly rolledBack: boolean;
}

/** Counters and settings an app can show. Every rejection and rollback is counted. */
export interface LearnerStats {
  readonly classes: readonly string[];
  /** Per class: labeled samples kept, pseudo-labels kept, current acceptance threshold. */
  readonly perClass: ReadonlyArray<{
    readonly label: string;
    readonly labeled: number;
    readonly pseudo: number;
    readonly threshold: number;
  }>;
  readonly labeled: number;
  readonly heldBack: number;
  /** Unlabeled samples observed. */
  readonly seen: number;
  readonly accepted: number;
  /** Pseudo-labels refused because their confidence was under the threshold. */
  readonly rejectedLowConfidence: number;
  /** Accepted pseudo-labels the reservoir did not keep (class quota full). */
  readonly rejectedByReservoir: number;
  /** Frames called unknown (never pseudo-labelled). */
  readonly rejectedUnknown: number;
  /** Near-duplicates of recent frames (no statistic moved). */
  readonly rejectedDuplicate: number;
  /** Confident frames on which teacher, student and label prototype disagreed. */
  readonly rejectedDisagreement: number;
  /** Frames refused because their class had its share of pseudo-labels for this round. */
  readonly rejectedCap: number;
  /** Confidence temperature (1 until fitted on held-back labels). */
  readonly temperature: number;
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
