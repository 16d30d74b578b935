// The API the worker exposes: the same Encoder, addressed by handles, with aborts forwarded by token (an AbortSignal cannot cross postMessage).
import { transfer } from 'comlink';
import { EdgetuneError } from '../core/errors.js';
import { Encoder, type EncoderDiagnostics, type EncoderOptions } from '../runtime/encoder.js';
import { env, type RuntimeEnv } from '../runtime/env.js';
import type { ModelManifest } from '../runtime/manifest.js';
import type { ImageInput } from '../runtime/preprocess.js';
import type { ModelSource } from '../runtime/source.js';

/** Encoder options that can cross to a worker (no functions, no signal, no cache object). */
export type WorkerEncoderOptions = Omit<EncoderOptions, 'signal' | 'onProgress' | 'cache' | 'fetch'>;

/** What the worker tells the page about an opened encoder. */
export interface WorkerEncoderInfo {
  readonly handle: number;
  readonly manifest: ModelManifest;
  readonly diagnostics: EncoderDiagnostics;
}

/** Model sources that can cross to a worker: a URL, or a manifest with bytes. */
export type WorkerModelSource = Exclude<ModelSource, { readonly cache: unknown }>;

/** The object the worker exposes through comlink. */
export class WorkerApi {
  readonly #encoders = new Map<number, Encoder>();
  readonly #aborts = new Map<string, AbortController>();
  #next = 1;

  /** Sets process-wide runtime settings inside the worker (e.g. `wasmPaths`). */
  configure(settings: Partial<RuntimeEnv>): void {
    Object.assign(env, settings);
  }

  /** Aborts the operation started with `token`. */
  abort(token: string): void {
    this.#aborts.get(token)?.abort(new EdgetuneError('ABORTED', 'Aborted by the page.'));
  }

  async #withToken<T>(token: string | undefined, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
    if (token === undefined) return fn(undefined);
    const c = new AbortController();
    this.#aborts.set(token, c);
    try {
      return await fn(c.signal);
    } finally {
      this.#aborts.delete(token);
    }
  }

  /** Opens an encoder in the worker; progress goes to `onProgress` (a comlink proxy) when given. */
  async openEncoder(source: WorkerModelSource, options: WorkerEncoderOptions = {}, token?: string, onProgress?: (p: unknown) => void): Promise<WorkerEncoderInfo> {
    return this.#withToken(token, async (signal) => {
      const enc = await Encoder.open(source, { ...options, ...(signal ? { signal } : {}), ...(onProgress ? { onProgress: (p) => void onProgress(p) } : {}) });
      const handle = this.#next++;
      this.#encoders.set(handle, enc);
      return { handle, manifest: enc.manifest, diagnostics: enc.diagnostics };
    });
  }

  #encoder(handle: number): Encoder {
    const enc = this.#encoders.get(handle);
    if (!enc) throw new EdgetuneError('DISPOSED', `Worker encoder ${handle} is disposed or was never opened.`);
    return enc;
  }

  /** Embeds inputs with an opened encoder; the embeddings' buffers are transferred back, not copied. */
  async embed(handle: number, inputs: ImageInput[], token?: string): Promise<Float32Array[]> {
    return this.#withToken(token, async (signal) => {
      const out = await this.#encoder(handle).embed(inputs, signal ? { signal } : {});
      return transfer(out, out.map((e) => e.buffer as ArrayBuffer));
    });
  }

  /** Disposes an encoder. */
  async disposeEncoder(handle: number): Promise<void> {
    const enc = this.#encoders.get(handle);
    this.#encoders.delete(handle);
    await enc?.dispose();
  }

  /** Disposes everything the worker holds. */
  async disposeAll(): Promise<void> {
    const all = [...this.#encoders.values()];
    this.#encoders.clear();
    await Promise.all(all.map((e) => e.dispose()));
  }
}
