// Limits and checks on what callers hand the runtime (embed's argument list, raw pixel sizes), so bad input is a typed error and never a multi-GB allocation.
import { EdgetuneError } from '../core/errors.js';

/**
 * Largest raw input (`{ data, width, height, channels }` or `ImageData`) `embed()` accepts, in pixels:
 * 4096 × 4096. Preprocessing holds a float copy of the whole image (up to 16 bytes a pixel), so a
 * 10000 × 10000 frame would cost ~1.6 GB and block the thread for seconds. Past it: `INPUT_SHAPE`.
 * Images, bitmaps, videos and canvases have no such cap: they are drawn at most 4× the model size.
 */
export const MAX_INPUT_PIXELS = 4096 * 4096;

/**
 * Largest model input a manifest may declare, in values per sample (channels × height × width):
 * 2^24 (e.g. 3 × 2364 × 2364), 64 MB of float32 per sample.
 */
export const MAX_MODEL_INPUT_VALUES = 2 ** 24;

/** Largest side of a model input a manifest may declare, in pixels. */
export const MAX_MODEL_INPUT_SIDE = 8192;

/** Largest embedding size a manifest may declare. */
export const MAX_EMBEDDING_DIM = 65536;

/**
 * Checks the argument of `embed()`: an array with no holes. A single image without brackets is
 * refused, not guessed at: `embed(img)` always meant a list, and the result is one embedding per element.
 *
 * @param inputs - what the caller passed
 * @throws EdgetuneError `INPUT_TYPE`
 */
export function assertInputList(inputs: unknown): asserts inputs is readonly unknown[] {
  if (!Array.isArray(inputs)) {
    const kind = inputs === null ? 'null' : typeof inputs === 'object' ? ((inputs as object).constructor?.name ?? 'object') : typeof inputs;
    throw new EdgetuneError('INPUT_TYPE', `embed() takes an array of inputs, got a ${kind}; for one image call embed([image]).`, { details: { kind } });
  }
  for (let k = 0; k < inputs.length; k++) {
    if (!(k in inputs)) throw new EdgetuneError('INPUT_TYPE', `Input ${k} is missing (a hole in the array of ${inputs.length}); pass a dense array of images.`, { details: { index: k } });
  }
}

/**
 * Refuses raw pixel inputs past {@link MAX_INPUT_PIXELS}.
 *
 * @param width - declared width
 * @param height - declared height
 * @param index - the input's position, for the message
 * @throws EdgetuneError `INPUT_SHAPE`
 */
export function assertPixelCap(width: number, height: number, index: number): void {
  if (width * height > MAX_INPUT_PIXELS) {
    throw new EdgetuneError('INPUT_SHAPE', `Input ${index} is ${width}×${height} = ${width * height} pixels, over the ${MAX_INPUT_PIXELS}-pixel cap for raw pixels and ImageData; downscale it first (e.g. pass an ImageBitmap or canvas, which is drawn at the model's size).`, { details: { index, width, height, max: MAX_INPUT_PIXELS } });
  }
}
