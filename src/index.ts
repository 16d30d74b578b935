// edgetune: the personalizer — one object that opens an encoder, teaches it this user's classes and keeps what it learns, in this thread or a Web Worker. The parts live at `edgetune/runtime`, `/finetune`, `/storage` and `/worker`.
export { openPersonalizer } from './personalizer/index.js';
export type {
  BackgroundInfo,
  ForgetProfileOptions,
  FrameOptions,
  Personalizer,
  PersonalizerEvents,
  PersonalizerModel,
  PersonalizerObservation,
  PersonalizerOptions,
  PersonalizerPrediction,
  PersonalizerProgress,
  PersonalizerStats,
  PersonalizerStorage,
  TeachInput,
  TeachResult,
} from './personalizer/index.js';
export { env } from './runtime/env.js';
export type { RuntimeEnv } from './runtime/env.js';
export type { DevicePreference, Device } from './runtime/devices.js';
export type { ImageInput, RawPixels } from './runtime/preprocess.js';
export type { BackgroundOptions, Rect } from './runtime/region.js';
export type { LearnerOptions } from './finetune/learner.js';
export type { EncryptionOptions, ImportOptions, StorageOptions } from './storage/types.js';
export { EdgetuneWorker } from './worker/client.js';
export type { StartWorkerOptions } from './worker/client.js';
export { EdgetuneError, ERROR_CODES, isEdgetuneError } from './core/errors.js';
export type { ErrorCode } from './core/errors.js';
export type { OperationOptions } from './core/options.js';
