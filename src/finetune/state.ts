// The Learner's saved state: its versioned shape, the named counters, and the checks fromState runs on it.
import { EdgetuneError } from '../core/errors.js';
import type { AdwinState, PageHinkleyState } from './drift.js';
import type { OptimizerState } from './optim.js';
import type { ResolvedLearnerOptions } from './options.js';
import type { ReplayState } from './replay.js';
import type { SupportsState } from './t3a.js';
import type { ThresholdState } from './thresholds.js';

/** Current version of {@link LearnerState}. */
export const LEARNER_STATE_VERSION = 2;

/**
 * Everything a learner needs to resume exactly: plain numbers, strings and typed arrays, so it
 * survives `structuredClone`, `postMessage` and IndexedDB.
 */
export interface LearnerState {
  readonly format: 'edgetune.learner';
  readonly version: 2;
  readonly options: ResolvedLearnerOptions;
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
  readonly supports: SupportsState;
  /** Class means of the labels (the NCM fallback before the head is first fitted). */
  readonly protos: Float32Array;
  readonly counters: LearnerCounters;
}

/** The learner's running counters, saved by name (version 1 kept them as indices into a Float64Array). */
export interface LearnerCounters {
  /** Unlabeled samples observed (the stream step). */
  seen: number;
  accepted: number;
  rejectedLowConfidence: number;
  rejectedByReservoir: number;
  pseudoDisagreed: number;
  adaptations: number;
  rollbacks: number;
  rollbacksNonFinite: number;
  drifts: number;
  /** Pseudo-labels accepted since the last `adapt()`. */
  sinceAdapt: number;
  lastGuardAccuracy: number;
  /** An `adapt()` is due (set by drift or by `adaptEvery` pseudo-labels, cleared by `adapt()`). */
  adaptDue: boolean;
}

/** Counters of a fresh learner. */
export function newCounters(): LearnerCounters {
  return {
    seen: 0,
    accepted: 0,
    rejectedLowConfidence: 0,
    rejectedByReservoir: 0,
    pseudoDisagreed: 0,
    adaptations: 0,
    rollbacks: 0,
    rollbacksNonFinite: 0,
    drifts: 0,
    sinceAdapt: 0,
    lastGuardAccuracy: 0,
    adaptDue: false,
  };
}

// Version 1 kept the counters in a Float64Array in this order.
const V1_COUNTERS = ['seen', 'accepted', 'rejectedLowConfidence', 'rejectedByReservoir', 'pseudoDisagreed', 'adaptations', 'rollbacks', 'rollbacksNonFinite', 'drifts', 'sinceAdapt', 'lastGuardAccuracy', 'adaptDue'] as const;

/**
 * Brings an older state up to {@link LEARNER_STATE_VERSION} (returns newer ones unchanged; the caller validates the result).
 *
 * @param s - a state object of any known version
 */
export function migrateState(s: Record<string, unknown>): Record<string, unknown> {
  if (s['version'] !== 1) return s;
  const v1 = s['counters'];
  const counters = newCounters();
  if (ArrayBuffer.isView(v1) && (v1 as Float64Array).length === V1_COUNTERS.length) {
    const a = v1 as Float64Array;
    V1_COUNTERS.forEach((name, i) => {
      if (name === 'adaptDue') counters.adaptDue = a[i] === 1;
      else counters[name] = a[i]!;
    });
  } else throw new EdgetuneError('STATE_INVALID', `Learner state field 'counters' should hold ${V1_COUNTERS.length} values in a version-1 state; the state is damaged.`, { details: { field: 'counters' } });
  return { ...s, version: 2, counters };
}
