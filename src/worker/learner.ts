// WorkerLearner: the page-side proxy of a Learner living in the worker; its members are derived from Learner's own types.
import { proxy } from 'comlink';
import { EdgetuneError } from '../core/errors.js';
import type { AdaptProgress, AdaptResult, Learner, LearnerEvent } from '../finetune/learner.js';
import type { LearnerCalls, LearnerResults, LearnerSnapshot, LearnerSyncMethod } from './api.js';
import type { Link } from './link.js';
import type { Mirror } from './protocol.js';

/**
 * A `Learner` living in the worker. Same members as `Learner`, but every call returns a promise;
 * `classes`, `dim` and `ready` stay synchronous (mirrored after each call). Embeddings sent to it
 * are copied (they are small); the page keeps them.
 */
export class WorkerLearner implements Mirror<Learner, LearnerSyncMethod | 'adapt' | 'dispose'> {
  readonly #link: Link;
  readonly #handle: number;
  #snapshot: LearnerSnapshot;
  #disposed = false;
  /** Embedding size. */
  readonly dim: number;

  /** @internal */
  constructor(link: Link, handle: number, dim: number, snapshot: LearnerSnapshot) {
    this.#link = link;
    this.#handle = handle;
    this.dim = dim;
    this.#snapshot = snapshot;
  }

  /** Class labels, in index order (as of the last call). */
  get classes(): readonly string[] {
    return this.#snapshot.classes;
  }

  /** True once every class has a labeled example (as of the last call). */
  get ready(): boolean {
    return this.#snapshot.ready;
  }

  async #call<K extends LearnerSyncMethod>(method: K, ...args: LearnerCalls[K]): Promise<LearnerResults[K]> {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker learner was disposed.');
    const r = await this.#link.call('learnerCall', this.#handle, method, args);
    this.#snapshot = r.snapshot;
    return r.result as LearnerResults[K];
  }

  /** See `Learner.addClass`. */
  addClass(...a: LearnerCalls['addClass']): Promise<void> {
    return this.#call('addClass', ...a);
  }

  /** See `Learner.removeClass`. */
  removeClass(...a: LearnerCalls['removeClass']): Promise<void> {
    return this.#call('removeClass', ...a);
  }

  /** See `Learner.renameClass`. */
  renameClass(...a: LearnerCalls['renameClass']): Promise<void> {
    return this.#call('renameClass', ...a);
  }

  /** See `Learner.addLabeled`. */
  addLabeled(...a: LearnerCalls['addLabeled']): Promise<void> {
    return this.#call('addLabeled', ...a);
  }

  /** See `Learner.predict`. */
  predict(...a: LearnerCalls['predict']): Promise<LearnerResults['predict']> {
    return this.#call('predict', ...a);
  }

  /** See `Learner.observe`. */
  observe(...a: LearnerCalls['observe']): Promise<LearnerResults['observe']> {
    return this.#call('observe', ...a);
  }

  /** See `Learner.adapt`; the signal and progress cross the boundary. */
  async adapt(
    options: { readonly signal?: AbortSignal; readonly onProgress?: (p: AdaptProgress) => void } = {},
  ): Promise<AdaptResult> {
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This worker learner was disposed.');
    const { signal, onProgress } = options;
    const progress = onProgress ? proxy((p: unknown) => onProgress(p as AdaptProgress)) : undefined;
    const r = await this.#link.withToken(signal, (token) =>
      this.#link.call('learnerAdapt', this.#handle, token, progress),
    );
    this.#snapshot = r.snapshot;
    return r.result;
  }

  /** See `Learner.stats`. */
  stats(): Promise<LearnerResults['stats']> {
    return this.#call('stats');
  }

  /** See `Learner.getState`: a plain record for `storage.checkpoints().save()` (its buffers move to the page). */
  getState(): Promise<LearnerResults['getState']> {
    return this.#call('getState');
  }

  /** See `Learner.on`: events arrive on the page; the returned function unsubscribes. */
  on(listener: (e: LearnerEvent) => void): () => void {
    return this.#link.subscribe((l) => this.#link.call('learnerOn', this.#handle, l), listener);
  }

  /** Frees the learner in the worker. Calling it again does nothing. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    if (!this.#link.closed) await this.#link.call('disposeLearner', this.#handle);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
