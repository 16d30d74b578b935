// Public entry of edgetune/runtime: open an encoder on the best device and embed images.
export { Encoder, normalizeInPlace } from './encoder.js';
export type { DeviceAttempt, EmbedOptions, EncoderDiagnostics, EncoderOptions, LoadProgress, SelfCheckOptions } from './encoder.js';
export { AUTO_ORDER, DEVICES, isDevice, resolveDevices } from './devices.js';
export type { Device, DevicePreference } from './devices.js';
export { env } from './env.js';
export type { RuntimeEnv } from './env.js';
export { MODEL_FORMATS, validateManifest } from './manifest.js';
export type { InputLayout, InputSpec, ModelDtype, ModelFormat, ModelManifest, OutputSpec } from './manifest.js';
export { preprocessBatch, preprocessInto, resize } from './preprocess.js';
export type { ImageInput, RawPixels } from './preprocess.js';
export { loadModel, verifyModelBytes } from './source.js';
export type { DownloadProgress, LoadedModel, LoadModelOptions, ModelCache, ModelSource } from './source.js';
export { registerBackend } from './backends/registry.js';
export type { Backend, BackendSession, SessionRequest } from './backends/types.js';
export { onnxBackend } from './backends/onnx.js';
export { cosine } from './selfcheck.js';
export { EdgetuneError, ERROR_CODES, isEdgetuneError } from '../core/errors.js';
export type { ErrorCode } from '../core/errors.js';
