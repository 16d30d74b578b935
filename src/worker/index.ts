// Public entry of edgetune/worker: encoders, learners and storage off the main thread in a Web Worker through comlink, with the in-thread API's shape.
export { EdgetuneWorker } from './client.js';
export type { StartWorkerOptions, WorkerEncoderSource, WorkerEvents } from './client.js';
export { WorkerEncoder } from './encoder.js';
export type { WorkerEmbedOptions } from './encoder.js';
export { WorkerLearner } from './learner.js';
export { WorkerStorage } from './storage.js';
export type { WorkerCheckpointStore, WorkerSampleStore, WorkerStorageMethod } from './storage.js';
export type { WorkerEncoderInfo, WorkerEncoderOptions, WorkerStorageOptions } from './api.js';
export type { Async, Mirror } from './protocol.js';
export type { BackgroundReference, Rect } from '../runtime/region.js';
export { EdgetuneError, ERROR_CODES, isEdgetuneError } from '../core/errors.js';
export type { ErrorCode } from '../core/errors.js';
export type { OperationOptions } from '../core/options.js';
