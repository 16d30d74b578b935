// The Learner: a head on frozen embeddings that keeps adapting from a few labels and an unlabeled stream, with drift detection, replay and guards.
import { EdgetuneError, throwIfAborted } from '../core/errors.js';
import { LearnerCore } from './core.js';
import { Adwin, EmbeddingDrift } from './drift.js';
import type { AdaptProgress, AdaptResult, LearnerEvent, LearnerStats, Observation, Prediction } from './events.js';
import { headSpec } from './heads.js';
import { allFinite, assertFinite, dropAt, softmaxInPlace } from './ops.js';
import { newOptimizerState } from './optim.js';
import { checkResolved } from './option-checks.js';
import { MAX_CLASSES, resolveLearnerOptions, type LearnerOptions, type ResolvedLearnerOptions } from './options.js';
import { observeFrame } from './observe.js';
import { packState, restoreCore } from './pack.js';
import { ReplayBuffer } from './replay.js';
import { adaptRound } from './round.js';
import { LEARNER_STATE_VERSION, migrateState, validateState, type LearnerState } from './state.js';
import { SupportSets } from './t3a.js';
import { classThresholds } from './thresholds.js';

export type { AdaptMode, FeatureAlignment, LearnerOptions, ResolvedLearnerOptions } from './options.js';
export type {
  AdaptProgress,
  AdaptResult,
  AdaptedEvent,
  DriftEvent,
  LearnerEvent,
  LearnerStats,
  Observation,
  Prediction,
  RollbackEvent,
} from './events.js';
export { LEARNER_STATE_VERSION } from './state.js';
export { MAX_CLASSES } from './options.js';
export type { LearnerCounters, LearnerState } from './state.js';

type Resolved = ResolvedLearnerOptions;

/**
 * A small learner on top of a frozen encoder. Labels are app strings; embeddings are `Float32Array`s
 * of `dim` values. Nothing here touches a runtime or storage: save {@link Learner.getState} wherever you like.
 *
 * @example
 * ```ts
 * const learner = new Learner({ dim: 128 });
 * learner.addLabeled(embedding, 'cat');
 * await learner.adapt();
 * const { label, confidence, accepted } = learner.observe(next);
 * ```
 */
export class Learner {
  /** The model state and the computations on it (core.ts). */
  #c: LearnerCore;
  #listeners = new Set<(e: LearnerEvent) => void>();
  #disposed = false;
  #busy = false;
  /** Structural changes asked for while `adapt()` runs, applied in order when it ends. */
  #queue: Array<() => void> = [];
  /** Class names as they will be once the queue is applied (only while `adapt()` runs). */
  #projected: Set<string> | undefined;

  /** @param options - settings; only `dim` is required */
  constructor(options: LearnerOptions) {
    this.#c = new LearnerCore(resolveLearnerOptions(options));
    for (const c of options.classes ?? []) this.addClass(c);
  }

  /** Class names, in the order of `probs`. */
  get classes(): readonly string[] {
    return [...this.#c.classes];
  }

  /** Embedding size. */
  get dim(): number {
    return this.#c.o.dim;
  }

  /** True when `predict` can answer (at least one class has a labeled sample). */
  get ready(): boolean {
    return this.#c.align.anchorN > 0 && this.#c.classes.length > 0;
  }

  /**
   * Subscribes to drift, rollback and adaptation events.
   *
   * @returns a function that unsubscribes
   */
  on(listener: (e: LearnerEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #emit(e: LearnerEvent): void {
    for (const l of this.#listeners) l(e);
  }

  #alive(): void {
    if (this.#disposed)
      throw new EdgetuneError(
        'DISPOSED',
        'This Learner was disposed; create a new one or restore it with Learner.fromState().',
      );
  }

  #checkInput(x: Float32Array, what: string): void {
    this.#alive();
    if (!(x instanceof Float32Array) || x.length !== this.#c.o.dim) {
      throw new EdgetuneError(
        'INPUT_SHAPE',
        `${what} must be a Float32Array of ${this.#c.o.dim} values, got ${x instanceof Float32Array ? `${x.length} values` : typeof x}.`,
        {
          details: { expected: this.#c.o.dim },
        },
      );
    }
    if (!allFinite(x)) {
      this.#c.rejectedNonFinite++;
      assertFinite(x, what);
    }
  }

  #unknownLabel(label: string): never {
    const known =
      this.#c.classes.slice(0, 20).join(', ') +
      (this.#c.classes.length > 20 ? `, … (${this.#c.classes.length} in all)` : '');
    throw new EdgetuneError(
      'UNKNOWN_LABEL',
      `Unknown class '${label}'; known classes: ${known || '(none)'}. Add it with addClass() or addLabeled().`,
    );
  }

  #classIndex(label: string): number {
    const i = this.#c.index.get(label);
    if (i === undefined) this.#unknownLabel(label);
    return i;
  }

  #checkLabel(label: unknown): asserts label is string {
    if (typeof label !== 'string' || label.length === 0)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `A class label must be a non-empty string, got ${JSON.stringify(label)}.`,
      );
  }

  /** While `adapt()` runs, structural changes wait in a queue: the round trains on a fixed set of classes and labels. */
  #deferred(apply: () => void): boolean {
    if (!this.#busy) return false;
    this.#queue.push(apply);
    return true;
  }

  #projectedHas(label: string): boolean {
    return this.#projected ? this.#projected.has(label) : this.#c.index.has(label);
  }

  /**
   * Adds an empty class (no-op when it exists). O(1): head rows and statistics of new classes are
   * grown together in one copy when the learner is next used, so adding many classes is linear.
   * While `adapt()` runs, the class is added when it ends.
   *
   * @throws `INVALID_ARGUMENT` for an empty name or past {@link MAX_CLASSES} classes
   */
  addClass(label: string): void {
    this.#alive();
    this.#checkLabel(label);
    if (this.#projectedHas(label)) return;
    const total = this.#projected ? this.#projected.size : this.#c.classes.length;
    if (total >= MAX_CLASSES)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Cannot add class '${label}': a learner takes at most ${MAX_CLASSES} classes; remove some first or use a second learner.`,
        { details: { limit: MAX_CLASSES } },
      );
    if (this.#projected) this.#projected.add(label);
    if (this.#deferred(() => this.addClass(label))) return;
    this.#c.index.set(label, this.#c.classes.length);
    this.#c.classes.push(label);
    this.#c.replay.addClassLazily();
    this.#c.supports.lists.push([]);
    this.#c.pending++;
  }

  /** Removes a class with its labels, pseudo-labels and head row (after the running `adapt()`, if any). */
  removeClass(label: string): void {
    this.#alive();
    if (!this.#projectedHas(label)) this.#unknownLabel(label);
    this.#projected?.delete(label);
    if (this.#deferred(() => this.removeClass(label))) return;
    this.#c.sync();
    const i = this.#classIndex(label);
    const c = this.#c.classes.length;
    this.#c.student = this.#c.spec.removeClass(this.#c.student, c, i);
    this.#c.teacher = this.#c.spec.removeClass(this.#c.teacher, c, i);
    this.#c.opt = newOptimizerState(this.#c.student.length);
    this.#c.classes.splice(i, 1);
    this.#c.index = new Map(this.#c.classes.map((n, j) => [n, j]));
    this.#c.protos = Float32Array.from([
      ...this.#c.protos.subarray(0, i * this.#c.o.dim),
      ...this.#c.protos.subarray((i + 1) * this.#c.o.dim),
    ]);
    this.#c.replay.removeClass(i);
    const th = this.#c.th;
    this.#c.th = { sigma: dropAt(th.sigma, i), unused: th.unused, global: th.global, local: dropAt(th.local, i) };
    this.#c.meanPred = dropAt(this.#c.meanPred, i);
    this.#c.roundAccepted = dropAt(this.#c.roundAccepted, i);
    this.#c.predFreq = new Float64Array(c - 1).fill(1 / Math.max(c - 1, 1));
    this.#c.open = undefined;
    this.#c.emMeans = new Float32Array(0);
    this.#c.recentring.clear();
    this.#c.resetMeanPrediction();
    this.#c.supports.lists.splice(i, 1);
    this.#c.align.recomputeAnchor(this.#c.replay.labeled);
  }

  /** Renames a class; its samples and weights stay (after the running `adapt()`, if any). */
  renameClass(from: string, to: string): void {
    this.#alive();
    if (!this.#projectedHas(from)) this.#unknownLabel(from);
    this.#checkLabel(to);
    if (from !== to && this.#projectedHas(to))
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Cannot rename '${from}' to '${to}': '${to}' already exists; remove it first.`,
      );
    if (this.#projected) {
      this.#projected.delete(from);
      this.#projected.add(to);
    }
    if (this.#deferred(() => this.renameClass(from, to))) return;
    const i = this.#classIndex(from);
    this.#c.classes[i] = to;
    this.#c.index.delete(from);
    this.#c.index.set(to, i);
  }

  /**
   * Adds one labeled embedding (creating its class when new). Every `guard.every`-th label of a
   * class with enough labels is held back to score adaptations instead of being trained on.
   *
   * @throws `NON_FINITE` (nothing changes) when the embedding holds NaN/Infinity
   */
  addLabeled(embedding: Float32Array, label: string): void {
    this.#checkInput(embedding, 'Labeled embedding');
    this.#checkLabel(label);
    this.addClass(label);
    if (this.#busy) {
      const copy = Float32Array.from(embedding);
      this.#queue.push(() => this.addLabeled(copy, label));
      return;
    }
    const c = this.#classIndex(label);
    const u = this.#c.normalize(embedding);
    const g = this.#c.o.guard;
    const nth = this.#c.replay.seenLabeled[c]! + 1;
    const holdout = g.enabled && nth >= g.minPerClass && nth % g.every === 0;
    this.#c.replay.addLabeled(
      { x: u, x2: undefined, cls: c, labeled: true, holdout, conf: 1, step: this.#c.counters.seen },
      this.#c.rng,
    );
    this.#c.align.addAnchor(u);
    this.#c.open = undefined;
    // Recomputed when next read, not per label: refreshing here made adding n labels O(n²).
    if (this.#c.o.head === 'ncm' || !this.#c.fitted) this.#c.protosDirty = true;
  }

  #ensureReady(): void {
    if (!this.ready)
      throw new EdgetuneError(
        'NOT_READY',
        'The learner has no labeled samples yet; call addLabeled() for at least one class first.',
      );
  }

  /**
   * Predicts the class of one embedding with the teacher head (stream statistics applied, nothing updated).
   *
   * @throws `NOT_READY` before any label, `NON_FINITE` for NaN/Infinity input
   */
  predict(embedding: Float32Array): Prediction {
    this.#checkInput(embedding, 'Embedding');
    this.#ensureReady();
    this.#c.sync();
    const u = this.#c.normalize(embedding);
    const z = this.#c.align.align(this.#c.o, u);
    const t3a = this.#c.o.mode === 't3a';
    const logits = this.#c.logits(z, this.#c.teacher, t3a);
    return this.#c.toPrediction(softmaxInPlace(logits), u, this.#c.energy(z, t3a));
  }

  /**
   * Takes one unlabeled embedding from the stream: updates the stream statistics, predicts, decides
   * whether it becomes a pseudo-label, and feeds the drift detectors. A near-duplicate of a recent
   * frame is only predicted: it moves no statistic and makes no pseudo-label. A pseudo-label needs
   * a known input, confidence over the class threshold, agreement of teacher, student and nearest
   * label prototype, and room in its class's share for this round.
   *
   * @param options.augmented - a second, augmented view of the same input (FixMatch's strong view): the student trains on it against the teacher's label of the plain view
   * @throws `NOT_READY` before any label, `NON_FINITE` (nothing changes) for NaN/Infinity input
   */
  observe(embedding: Float32Array, options: { readonly augmented?: Float32Array } = {}): Observation {
    this.#checkInput(embedding, 'Embedding');
    if (options.augmented !== undefined) this.#checkInput(options.augmented, 'Augmented embedding');
    this.#ensureReady();
    this.#c.sync();
    return observeFrame(this.#c, embedding, options.augmented, (e) => this.#emit(e));
  }

  /**
   * One round of adaptation: relabels replayed pseudo-labels with the teacher, trains the student on
   * labels (weight 1) and agreeing pseudo-labels (weight `pseudoWeight`), moves the EMA teacher, then
   * scores the teacher on held-back labels and rolls the whole round back if it got worse.
   *
   * The round trains copies and swaps them in at the end, so `predict`, `observe` and `getState`
   * during the round see the model from before it (a state saved then restores). `addLabeled`,
   * `addClass`, `removeClass` and `renameClass` called meanwhile are queued and applied, in order,
   * when the round ends.
   *
   * @param options.signal - aborts within about one mini-batch; the learner is left as before the call
   * @param options.onProgress - progress by phase
   * @throws `NOT_READY` before any label, `ABORTED`, `BUSY` when a round is already running
   */
  async adapt(
    options: { readonly signal?: AbortSignal; readonly onProgress?: (p: AdaptProgress) => void } = {},
  ): Promise<AdaptResult> {
    this.#alive();
    this.#ensureReady();
    if (this.#busy)
      throw new EdgetuneError('BUSY', 'adapt() is already running on this learner; await the previous call first.');
    this.#c.sync();
    this.#busy = true;
    this.#projected = new Set(this.#c.classes);
    const { signal, onProgress } = options;
    const check = (): void => {
      this.#alive();
      throwIfAborted(signal);
    };
    try {
      return await adaptRound(this.#c, check, (e) => this.#emit(e), onProgress);
    } finally {
      this.#busy = false;
      this.#projected = undefined;
      const queued = this.#queue;
      this.#queue = [];
      for (const apply of queued) {
        try {
          apply();
        } catch {
          // Each change was validated against the projected classes when it was queued; only dispose() can stop it here.
        }
      }
    }
  }

  /** Counters and per-class figures. */
  stats(): LearnerStats {
    this.#alive();
    this.#c.sync();
    const cnt = this.#c.counters;
    const th = classThresholds(this.#c.o.threshold, this.#c.th);
    const counts = this.#c.replay.counts();
    const labeled = this.#c.replay.labeled.flat();
    return {
      classes: this.classes,
      perClass: this.#c.classes.map((label, k) => ({
        label,
        labeled: counts[k]![0],
        pseudo: counts[k]![1],
        threshold: th[k]!,
      })),
      labeled: labeled.length,
      heldBack: labeled.filter((e) => e.holdout).length,
      seen: cnt.seen,
      accepted: cnt.accepted,
      rejectedLowConfidence: cnt.rejectedLowConfidence,
      rejectedByReservoir: cnt.rejectedByReservoir,
      rejectedUnknown: cnt.rejectedUnknown,
      rejectedDuplicate: cnt.rejectedDuplicate,
      rejectedDisagreement: cnt.rejectedDisagreement,
      rejectedCap: cnt.rejectedCap,
      temperature: this.#c.temperature,
      rejectedNonFinite: this.#c.rejectedNonFinite,
      pseudoDisagreed: cnt.pseudoDisagreed,
      adaptations: cnt.adaptations,
      rollbacks: cnt.rollbacks,
      rollbacksNonFinite: cnt.rollbacksNonFinite,
      drifts: cnt.drifts,
      lastGuardAccuracy: cnt.lastGuardAccuracy,
      fitted: this.#c.fitted,
    };
  }

  /** A plain, versioned, structured-clone-able copy of the whole learner (nothing shared with it). */
  getState(): LearnerState {
    this.#alive();
    this.#c.sync();
    return packState(this.#c);
  }

  /**
   * Restores a learner saved with {@link Learner.getState}; it continues exactly where the saved one was.
   *
   * Every field is checked first (kind, length, finite values, ranges, class names unique, and the
   * bounds that keep later calls' work bounded), so a damaged state is refused by name and never
   * half-restored.
   *
   * @throws `STATE_INVALID` naming the field, when the object is not a valid learner state of a known version
   */
  static fromState(state: LearnerState): Learner {
    const raw = state as unknown as Record<string, unknown> | null;
    if (typeof raw !== 'object' || raw === null || raw['format'] !== 'edgetune.learner') {
      throw new EdgetuneError(
        'STATE_INVALID',
        `Not a learner state (format ${JSON.stringify(raw?.['format'])}); pass an object from Learner.getState().`,
      );
    }
    const s = migrateState(raw) as Partial<LearnerState>;
    if (s.version !== LEARNER_STATE_VERSION) {
      throw new EdgetuneError(
        'STATE_INVALID',
        `Learner state version ${String(s.version)} is not supported (expected ${LEARNER_STATE_VERSION}).`,
        { details: { version: s.version } },
      );
    }
    const o = s.options as Resolved;
    checkResolved(o, (path, value, want) => {
      throw new EdgetuneError(
        'STATE_INVALID',
        `Learner state field 'options.${path}' is ${typeof value === 'string' ? `'${value}'` : String(value)}; ${want}. The state is damaged or from another build.`,
        {
          details: { field: `options.${path}`, value },
        },
      );
    });
    const spec = headSpec(o.head, o.dim, o.hidden);
    validateState(
      s as Record<string, unknown>,
      (c) => spec.size(c),
      new Adwin(o.drift.adwin).options.maxWindow,
      new EmbeddingDrift(1, o.drift.embedding).window,
      MAX_CLASSES,
    );
    const l = new Learner({ dim: o.dim, head: o.head, hidden: o.hidden, seed: o.seed });
    restoreCore(l.#c, s as LearnerState, o);
    return l;
  }

  /** Releases everything; later calls throw `DISPOSED`. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#listeners.clear();
    this.#c.replay = new ReplayBuffer(0, 0);
    this.#c.supports = new SupportSets();
  }

  /** Same as {@link Learner.dispose}, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Same as {@link Learner.dispose}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }
}
