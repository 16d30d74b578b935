// Which part of a frame the personalizer embeds: the per-call region of interest and the empty-scene background reference it holds.
import { EdgetuneError } from '../core/errors.js';
import type { EmbedOptions } from '../runtime/encoder.js';
import type { BackgroundReference } from '../runtime/region.js';
import type { BackgroundInfo, FrameOptions, TeachInput } from './types.js';

/** The embed options of one call: `roi` as given, the held background unless the call opts out. */
export function regionOptions(
  input: TeachInput,
  options: FrameOptions | undefined,
  background: BackgroundReference | undefined,
): Pick<EmbedOptions, 'roi' | 'background'> {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new EdgetuneError('INVALID_ARGUMENT', `Frame options must be an object, got ${String(options)}.`);
  const { roi, background: use } = options ?? {};
  if (use !== undefined && typeof use !== 'boolean')
    throw new EdgetuneError('INVALID_ARGUMENT', `options.background must be a boolean, got ${String(use)}.`);
  if (input instanceof Float32Array) {
    if (roi !== undefined)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        'A region of interest applies to an image, not to an embedding; drop roi or pass the image.',
        { details: { option: 'roi' } },
      );
    return {};
  }
  return {
    ...(roi !== undefined ? { roi } : {}),
    ...(background && use !== false ? { background } : {}),
  };
}

/** The figures of a reference the app may see (not its thumbnail). */
export function backgroundInfo(b: BackgroundReference | undefined): BackgroundInfo | undefined {
  return b && { width: b.width, height: b.height, threshold: b.threshold, margin: b.margin, mask: b.mask };
}
