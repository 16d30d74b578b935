// edgetune/finetune: few-shot heads and a self-training learner on frozen embeddings (pure TypeScript, no runtime or storage imports).
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
export { PageHinkley, Adwin } from './drift.js';
export type { AdwinOptions, AdwinState, DetectorChange, PageHinkleyOptions, PageHinkleyState } from './drift.js';
export { HEAD_KINDS, headSpec } from './heads.js';
export type { HeadKind, HeadSpec } from './heads.js';
export { ReplayBuffer } from './replay.js';
export type { ReplayEntry, ReplayState } from './replay.js';
export { THRESHOLD_KINDS, classThresholds, newThresholdState, resolveThresholds, updateThresholds } from './thresholds.js';
export type { ResolvedThresholds, ThresholdKind, ThresholdOptions, ThresholdState } from './thresholds.js';
export { newOptimizerState, optimizerStep, resolveOptimizer } from './optim.js';
export type { OptimizerOptions, OptimizerState, ResolvedOptimizer } from './optim.js';
export { Rng } from './rng.js';
