// openPersonalizer: the one object most apps need — encoder, learner and profile glued, in this thread or in a Web Worker.
import { EdgetuneError } from '../core/errors.js';
import { openLocalPersonalizer } from './local.js';
import { openRemotePersonalizer } from './remote.js';
import type { Personalizer, PersonalizerOptions } from './types.js';

/**
 * Opens a personalizer: the encoder for `options.model`, a learner on its embeddings, and the profile
 * they persist in. It restores the profile's checkpoint for this exact model (id and SHA-256) or
 * starts empty, caches the model for offline starts, adapts after labels (one adaptation at a time;
 * calls made meanwhile wait or are applied after it), saves after changes and on `pagehide`, and
 * follows checkpoints other tabs save. With `worker`, all of it runs in a Web Worker, same members.
 *
 * @param options - model, profile (`storage`), learner settings, device, worker, signal, onProgress
 * @throws EdgetuneError as `Encoder.open` and `openStorage` (e.g. `MODEL_NOT_FOUND`, `DECRYPT_FAILED`); `WORKER_FAILED`; `ABORTED`
 *
 * @example
 * ```ts
 * await using me = await openPersonalizer({ model: '/models/fmnist-cnn-vicreg-int8.json', storage: 'my-app' });
 * await me.teach(mugImage, 'mug');
 * await me.teach(plantImage, 'plant');
 * const { label, confidence } = await me.predict(cameraFrame);
 * ```
 */
export async function openPersonalizer(options: PersonalizerOptions): Promise<Personalizer> {
  if (typeof options !== 'object' || options === null || options.model === undefined) {
    throw new EdgetuneError(
      'INVALID_ARGUMENT',
      'openPersonalizer() needs { model }: a manifest URL, { manifest, bytes } or { id } of a cached model.',
    );
  }
  const a = options.autosaveMs;
  if (a !== undefined && a !== false && !(Number.isFinite(a) && a >= 0))
    throw new EdgetuneError('INVALID_ARGUMENT', `autosaveMs must be a number >= 0 or false, got ${String(a)}.`);
  const d = options.adaptDelayMs;
  if (d !== undefined && !(Number.isFinite(d) && d >= 0))
    throw new EdgetuneError('INVALID_ARGUMENT', `adaptDelayMs must be a number >= 0, got ${String(d)}.`);
  return options.worker ? openRemotePersonalizer(options) : openLocalPersonalizer(options);
}

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
} from './types.js';
