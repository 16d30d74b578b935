// Public entry of edgetune/storage: durable on-device state (models, versioned checkpoints, samples, metadata) in IndexedDB.
export { openStorage } from './storage.js';
export { SCHEMA_VERSION } from './schema.js';
export { PROFILE_FORMAT_VERSION } from './profile.js';
export { DEFAULT_PBKDF2_ITERATIONS, MAX_PBKDF2_ITERATIONS, MIN_PBKDF2_ITERATIONS } from './crypto.js';
export type {
  Checkpoint,
  CheckpointInfo,
  CheckpointStore,
  EdgetuneStorage,
  EncryptionOptions,
  ExportOptions,
  ForgetOptions,
  ImportOptions,
  LockManagerLike,
  MetaStore,
  ModelInfo,
  OperationOptions,
  SampleStore,
  SaveOptions,
  SaveResult,
  StorageEstimateResult,
  StorageEvents,
  StorageManagerLike,
  StorageOptions,
  StorageProgress,
  StoredManifest,
  StoredModel,
  StoredSample,
} from './types.js';
export { EdgetuneError, ERROR_CODES, isEdgetuneError } from '../core/errors.js';
export type { ErrorCode } from '../core/errors.js';
