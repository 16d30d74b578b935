// Public entry of edgetune/runtime: open an encoder on the best device and embed images.
export { Encoder, normalizeInPlace } from './encoder.js';
export type {
  DeviceAttempt,
  EmbedOptions,
  EncoderDiagnostics,
  EncoderOptions,
  LoadProgress,
  SelfCheckOptions,
} from './encoder.js';
export { AUTO_ORDER, DEVICES, isDevice, resolveDevices } from './devices.js';
export type { Device, DeviceChoice, DevicePreference, ThreadChoice } from './devices.js';
export { WARMUP_BUDGET_MS } from './warmup.js';
export type { WarmupOption, WarmupReport } from './warmup.js';
export { env } from './env.js';
export type { RuntimeEnv } from './env.js';
export { MODEL_FORMATS, validateManifest } from './manifest.js';
export type { InputLayout, InputSpec, ModelDtype, ModelFormat, ModelManifest, OutputSpec } from './manifest.js';
export { preprocessBatch, preprocessInto, resize } from './preprocess.js';
export { MAX_EMBEDDING_DIM, MAX_INPUT_PIXELS, MAX_MODEL_INPUT_SIDE, MAX_MODEL_INPUT_VALUES } from './inputs.js';
export { resolveModelFile } from './resolve-file.js';
export type { ResolveFile } from './resolve-file.js';
export type { ImageInput, RawPixels } from './preprocess.js';
export { createBackground } from './preprocess.js';
export type { BackgroundOptions, BackgroundReference, Rect } from './region.js';
export type { CropPolicy, OutputPooling } from './manifest.js';
export { MAX_FIXED_BATCH } from './inputs.js';
export { loadModel, verifyModelBytes } from './source.js';
export type {
  DownloadProgress,
  LoadedModel,
  LoadModelOptions,
  LoadWarning,
  ModelCache,
  ModelSource,
  UpdateEvent,
} from './source.js';
export { registerBackend } from './backends/registry.js';
export type { Backend, BackendSession, SessionRequest } from './backends/types.js';
export { onnxBackend } from './backends/onnx.js';
export { inspectTflite, registerTfliteBackend, tfliteBackend, TFLITE_MAX_OP_VERSIONS } from './backends/tflite.js';
export type { TfliteModelInfo, TfliteOperatorInfo, TfliteTensorInfo } from './backends/tflite.js';
export { cosine } from './selfcheck.js';
export { EdgetuneError, ERROR_CODES, isEdgetuneError } from '../core/errors.js';
export type { ErrorCode } from '../core/errors.js';
export type { OperationOptions } from '../core/options.js';
