// edgetune/finetune: few-shot heads and a self-training learner on frozen embeddings (pure TypeScript, no runtime or storage imports).
// Only the Learner, its types and the kind tables are public; detectors, replay, optimizer and threshold internals are not.
export { Learner, LEARNER_STATE_VERSION, MAX_CLASSES } from './learner.js';
export type {
  AdaptMode,
  AdaptProgress,
  AdaptResult,
  AdaptedEvent,
  DriftEvent,
  FeatureAlignment,
  LearnerEvent,
  LearnerCounters,
  LearnerOptions,
  LearnerState,
  LearnerStats,
  Observation,
  Prediction,
  ResolvedLearnerOptions,
  RollbackEvent,
} from './learner.js';
export type { AdwinOptions, AdwinState, DetectorChange, PageHinkleyOptions, PageHinkleyState } from './drift.js';
export { HEAD_KINDS } from './heads.js';
export type { HeadKind } from './heads.js';
export type { ReplayState } from './replay.js';
export { THRESHOLD_KINDS } from './thresholds.js';
export type { ResolvedThresholds, ThresholdKind, ThresholdOptions, ThresholdState } from './thresholds.js';
export type { OptimizerOptions, OptimizerState, ResolvedOptimizer } from './optim.js';
export { EdgetuneError, ERROR_CODES, isEdgetuneError } from '../core/errors.js';
export type { ErrorCode } from '../core/errors.js';
export type { OperationOptions } from '../core/options.js';
