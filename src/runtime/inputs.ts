// Limits and checks on what callers hand the runtime (embed's argument list, raw pixel sizes), so bad input is a typed error and never a multi-GB allocation.
import { EdgetuneError } from '../core/errors.js';

/**
 * Largest raw-pixel or `ImageData` input of `embed()` (`INPUT_SHAPE` past it): preprocessing holds a
 * float copy of the image, so 10000² would cost GBs. Canvas-drawn kinds are drawn small and uncapped.
 */
export const MAX_INPUT_PIXELS = 4096 * 4096;

/** Largest model input a manifest may declare, in values per sample (channels × height × width). */
export const MAX_MODEL_INPUT_VALUES = 2 ** 24;

/** Largest side of a model input a manifest may declare, in pixels. */
export const MAX_MODEL_INPUT_SIDE = 8192;

/** Largest fixed batch (`input.shape[0]`) a manifest may declare: short chunks are padded to it. */
export const MAX_FIXED_BATCH = 1024;

/** Largest embedding size a manifest may declare. */
export const MAX_EMBEDDING_DIM = 65536;

/**
 * Checks `embed()`'s argument: a dense array. A bare image is refused, not guessed at.
 *
 * @param inputs - what the caller passed
 * @throws EdgetuneError `INPUT_TYPE`
 */
export function assertInputList(inputs: unknown): asserts inputs is readonly unknown[] {
  if (!Array.isArray(inputs)) {
    const kind =
      inputs === null
        ? 'null'
        : typeof inputs === 'object'
          ? ((inputs as object).constructor?.name ?? 'object')
          : typeof inputs;
    throw new EdgetuneError(
      'INPUT_TYPE',
      `embed() takes an array of inputs, got a ${kind}; for one image call embed([image]).`,
      { details: { kind } },
    );
  }
  for (let k = 0; k < inputs.length; k++) {
    if (!(k in inputs))
      throw new EdgetuneError(
        'INPUT_TYPE',
        `Input ${k} is missing (a hole in the array of ${inputs.length}); pass a dense array of images.`,
        { details: { index: k } },
      );
  }
}

/** Refuses raw pixel inputs past {@link MAX_INPUT_PIXELS} with `INPUT_SHAPE`. */
export function assertPixelCap(width: number, height: number, index: number): void {
  if (width * height > MAX_INPUT_PIXELS) {
    throw new EdgetuneError(
      'INPUT_SHAPE',
      `Input ${index} is ${width}×${height} = ${width * height} pixels, over the ${MAX_INPUT_PIXELS}-pixel cap for raw pixels and ImageData; downscale it first (e.g. pass an ImageBitmap or canvas, which is drawn at the model's size).`,
      { details: { index, width, height, max: MAX_INPUT_PIXELS } },
    );
  }
}
