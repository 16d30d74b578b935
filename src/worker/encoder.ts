// WorkerEncoder: the page-side proxy of an encoder living in the worker; inputs move across, detached ones are refused with a typed error.
import { transfer } from 'comlink';
import { EdgetuneError } from '../core/errors.js';
import type { Encoder, EncoderDiagnostics } from '../runtime/encoder.js';
import type { ModelManifest } from '../runtime/manifest.js';
import type { ImageInput } from '../runtime/preprocess.js';
import type { BackgroundReference, Rect } from '../runtime/region.js';
import type { Link } from './link.js';
import { wholeBuffer, type Mirror } from './protocol.js';

/** Options of {@link WorkerEncoder.embed}. */
export interface WorkerEmbedOptions {
  readonly signal?: AbortSignal;
  /**
   * Move the inputs' pixel buffers and `ImageBitmap`s to the worker instead of copying them; the
   * page's copies become unusable (detached, zero length).
   * @defaultValue true
   */
  readonly transfer?: boolean;
  /** Region of interest in the inputs' own pixels (as `Encoder.embed`). */
  readonly roi?: Rect;
  /**
   * Empty-scene reference made with `createBackground` on the page (as `Encoder.embed`); it is a plain
   * object and is copied to the worker with each call.
   */
  readonly background?: BackgroundReference;
}

function isDetached(b: ArrayBufferLike): boolean {
  const d = (b as { detached?: boolean }).detached;
  return d === true;
}

/**
 * Refuses inputs whose pixels are already gone (a buffer transferred earlier, a closed bitmap) with
 * `INPUT_TYPE` before anything is posted, and lists what can move rather than be copied.
 */
export function transferables(inputs: readonly ImageInput[], move: boolean): Transferable[] {
  if (!Array.isArray(inputs))
    throw new EdgetuneError(
      'INPUT_TYPE',
      `embed() takes an array of inputs, got ${Object.prototype.toString.call(inputs)}; wrap a single input as [input].`,
    );
  const out: Transferable[] = [];
  inputs.forEach((x, i) => {
    if (typeof ImageBitmap === 'function' && x instanceof ImageBitmap) {
      if (x.width === 0 || x.height === 0)
        throw new EdgetuneError(
          'INPUT_TYPE',
          `Input ${i} is an ImageBitmap of ${x.width}×${x.height}: it was closed or already transferred to a worker. Create a new bitmap for each call.`,
          { details: { index: i } },
        );
      if (move) out.push(x);
    } else if (typeof x === 'object' && x !== null && 'data' in x && ArrayBuffer.isView(x.data)) {
      const expected = (x.width ?? 0) * (x.height ?? 0);
      if (isDetached(x.data.buffer) || (x.data.byteLength === 0 && expected > 0)) {
        throw new EdgetuneError(
          'INPUT_TYPE',
          `Input ${i} has a detached pixel buffer (0 bytes for ${x.width}×${x.height}): it was already transferred to a worker. Pass a fresh copy, or embed with { transfer: false } to keep the page's copy.`,
          { details: { index: i } },
        );
      }
      const b = move ? wholeBuffer(x.data) : undefined;
      if (b && !out.includes(b)) out.push(b);
    }
  });
  return out;
}

/** An encoder living in the worker: `embed` and `dispose` as on `Encoder`, asynchronous across the boundary. */
export class WorkerEncoder implements Mirror<Encoder, 'dispose'> {
  readonly #link: Link;
  /** @internal */
  readonly handle: number;
  #disposed = false;
  /** The model's manifest. */
  readonly manifest: ModelManifest;
  /** Where the model runs and why. */
  readonly diagnostics: EncoderDiagnostics;

  /** @internal */
  constructor(link: Link, handle: number, manifest: ModelManifest, diagnostics: EncoderDiagnostics) {
    this.#link = link;
    this.handle = handle;
    this.manifest = manifest;
    this.diagnostics = diagnostics;
  }

  /** The device that runs the model (as {@link Encoder.device}). */
  get device(): EncoderDiagnostics['device'] {
    return this.diagnostics.device;
  }

  /** @deprecated Use {@link WorkerEncoder.device} (as `Encoder.backend`, kept for 0.1 apps). */
  get backend(): EncoderDiagnostics['device'] {
    return this.diagnostics.device;
  }

  /** Embedding size. */
  get dim(): number {
    return this.manifest.output.dim;
  }

  /**
   * Embeds inputs in the worker; the embeddings come back as moved buffers. By default the inputs'
   * pixel buffers and `ImageBitmap`s move to the worker too (see {@link WorkerEmbedOptions.transfer}).
   *
   * @throws EdgetuneError as `Encoder.embed`, with codes intact across the boundary; `INPUT_TYPE` for a detached input; `WORKER_LOST`
   */
  async embed(inputs: readonly ImageInput[], options: WorkerEmbedOptions = {}): Promise<Float32Array[]> {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker encoder was disposed.');
    const moved = transferables(inputs, options.transfer !== false);
    const { roi, background } = options;
    const region = roi || background ? { ...(roi ? { roi } : {}), ...(background ? { background } : {}) } : undefined;
    return this.#link.withToken(options.signal, (token) =>
      this.#link.call('embed', this.handle, transfer([...inputs], moved), token, region),
    );
  }

  /** Frees the encoder in the worker. Calling it again does nothing. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.#link.closed) await this.#link.call('disposeEncoder', this.handle);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
