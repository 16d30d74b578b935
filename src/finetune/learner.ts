// The Learner: a head on frozen embeddings that keeps adapting from a few labels and an unlabeled stream, with drift detection, replay and guards.
import { EdgetuneError } from '../core/errors.js';
import { FeatureAligner } from './align.js';
import { Adwin, PageHinkley, type DetectorChange } from './drift.js';
import type { AdaptProgress, AdaptResult, DriftEvent, LearnerEvent, LearnerStats, Observation, Prediction } from './events.js';
import { guardScore, guardSet, guardSlack } from './guard.js';
import { headSpec, type HeadSpec } from './heads.js';
import { allFinite, argmax, assertFinite, normalizedEntropy, softmaxInPlace } from './ops.js';
import { newOptimizerState, type OptimizerState } from './optim.js';
import { resolveLearnerOptions, type LearnerOptions, type ResolvedLearnerOptions } from './options.js';
import { ReplayBuffer, type ReplayEntry } from './replay.js';
import { Rng } from './rng.js';
import { LEARNER_STATE_VERSION, migrateState, newCounters, type LearnerCounters, type LearnerState } from './state.js';
import { SupportSets, unit } from './t3a.js';
import { classThresholds, newThresholdState, updateThresholds, type ThresholdState } from './thresholds.js';
import { trainRound, type TrainItem } from './train.js';

export type { AdaptMode, FeatureAlignment, LearnerOptions, ResolvedLearnerOptions } from './options.js';
export type { AdaptProgress, AdaptResult, AdaptedEvent, DriftEvent, LearnerEvent, LearnerStats, Observation, Prediction, RollbackEvent } from './events.js';
export { LEARNER_STATE_VERSION } from './state.js';
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
  #o: Resolved;
  #spec: HeadSpec;
  #classes: string[] = [];
  #fitted = false;
  #student: Float32Array;
  #teacher: Float32Array;
  #opt: OptimizerState;
  #rng: Rng;
  #replay: ReplayBuffer;
  #th: ThresholdState;
  #meanPred: Float64Array;
  #align: FeatureAligner;
  #ph: PageHinkley;
  #adwin: Adwin;
  #supports = new SupportSets();
  /** Class means of the labels (the NCM fallback before the head is first fitted). */
  #protos: Float32Array = new Float32Array(0);
  #counters: LearnerCounters = newCounters();
  #rejectedNonFinite = 0;
  #listeners = new Set<(e: LearnerEvent) => void>();
  #disposed = false;
  #busy = false;

  /** @param options - settings; only `dim` is required */
  constructor(options: LearnerOptions) {
    this.#o = resolveLearnerOptions(options);
    const o = this.#o;
    this.#spec = headSpec(o.head, o.dim, o.hidden);
    this.#rng = new Rng(o.seed);
    this.#student = this.#spec.init(this.#rng, 0);
    this.#teacher = Float32Array.from(this.#student);
    this.#opt = newOptimizerState(this.#student.length);
    this.#replay = new ReplayBuffer(o.labeledPerClass, o.pseudoCapacity);
    this.#th = newThresholdState(0);
    this.#meanPred = new Float64Array(0);
    this.#align = new FeatureAligner(o.dim);
    this.#ph = new PageHinkley(o.drift.pageHinkley);
    this.#adwin = new Adwin(o.drift.adwin);
    for (const c of options.classes ?? []) this.addClass(c);
  }

  /** Class names, in the order of `probs`. */
  get classes(): readonly string[] {
    return [...this.#classes];
  }

  /** Embedding size. */
  get dim(): number {
    return this.#o.dim;
  }

  /** True when `predict` can answer (at least one class has a labeled sample). */
  get ready(): boolean {
    return this.#align.anchorN > 0 && this.#classes.length > 0;
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
    if (this.#disposed) throw new EdgetuneError('DISPOSED', 'This Learner was disposed; create a new one or restore it with Learner.fromState().');
  }

  #checkInput(x: Float32Array, what: string): void {
    this.#alive();
    if (!(x instanceof Float32Array) || x.length !== this.#o.dim) {
      throw new EdgetuneError('INPUT_SHAPE', `${what} must be a Float32Array of ${this.#o.dim} values, got ${x instanceof Float32Array ? `${x.length} values` : typeof x}.`, {
        details: { expected: this.#o.dim },
      });
    }
    if (!allFinite(x)) {
      this.#rejectedNonFinite++;
      assertFinite(x, what);
    }
  }

  #classIndex(label: string): number {
    const i = this.#classes.indexOf(label);
    if (i < 0) throw new EdgetuneError('UNKNOWN_LABEL', `Unknown class '${label}'; known classes: ${this.#classes.join(', ') || '(none)'}. Add it with addClass() or addLabeled().`);
    return i;
  }

  /** Adds an empty class (no-op when it exists). */
  addClass(label: string): void {
    this.#alive();
    if (typeof label !== 'string' || label.length === 0) throw new EdgetuneError('INVALID_ARGUMENT', `A class label must be a non-empty string, got ${JSON.stringify(label)}.`);
    if (this.#classes.includes(label)) return;
    const c = this.#classes.length;
    this.#student = this.#spec.addClass(this.#student, c);
    this.#teacher = this.#spec.addClass(this.#teacher, c);
    // Moments for a resized parameter vector are meaningless; restart them.
    this.#opt = newOptimizerState(this.#student.length);
    this.#classes.push(label);
    this.#replay.addClass(this.#rng);
    this.#th = growThresholds(this.#th, c + 1);
    this.#meanPred = Float64Array.from([...this.#meanPred, 1 / (c + 1)]);
    this.#resetMeanPrediction();
    this.#supports.lists.push([]);
  }

  /** Removes a class with its labels, pseudo-labels and head row. */
  removeClass(label: string): void {
    this.#alive();
    const i = this.#classIndex(label);
    const c = this.#classes.length;
    this.#student = this.#spec.removeClass(this.#student, c, i);
    this.#teacher = this.#spec.removeClass(this.#teacher, c, i);
    this.#opt = newOptimizerState(this.#student.length);
    this.#classes.splice(i, 1);
    this.#replay.removeClass(i);
    const th = this.#th;
    this.#th = { sigma: dropAt(th.sigma, i), unused: th.unused, global: th.global, local: dropAt(th.local, i) };
    this.#meanPred = dropAt(this.#meanPred, i);
    this.#resetMeanPrediction();
    this.#supports.lists.splice(i, 1);
    this.#align.recomputeAnchor(this.#replay.labeled);
  }

  /** Renames a class; its samples and weights stay. */
  renameClass(from: string, to: string): void {
    this.#alive();
    const i = this.#classIndex(from);
    if (typeof to !== 'string' || to.length === 0) throw new EdgetuneError('INVALID_ARGUMENT', `A class label must be a non-empty string, got ${JSON.stringify(to)}.`);
    if (from !== to && this.#classes.includes(to)) throw new EdgetuneError('INVALID_ARGUMENT', `Cannot rename '${from}' to '${to}': '${to}' already exists; remove it first.`);
    this.#classes[i] = to;
  }

  /**
   * Adds one labeled embedding (creating its class when new). Every `guard.every`-th label of a
   * class with enough labels is held back to score adaptations instead of being trained on.
   *
   * @throws `NON_FINITE` (nothing changes) when the embedding holds NaN/Infinity
   */
  addLabeled(embedding: Float32Array, label: string): void {
    this.#checkInput(embedding, 'Labeled embedding');
    if (typeof label !== 'string' || label.length === 0) throw new EdgetuneError('INVALID_ARGUMENT', `A class label must be a non-empty string, got ${JSON.stringify(label)}.`);
    this.addClass(label);
    const c = this.#classes.indexOf(label);
    const u = this.#normalize(embedding);
    const g = this.#o.guard;
    const nth = this.#replay.seenLabeled[c]! + 1;
    const holdout = g.enabled && nth >= g.minPerClass && nth % g.every === 0;
    this.#replay.addLabeled({ x: u, x2: undefined, cls: c, labeled: true, holdout, conf: 1, step: this.#counters.seen }, this.#rng);
    this.#align.addAnchor(u);
    if (this.#o.head === 'ncm' || !this.#fitted) this.#refreshPrototypes();
  }

  /** L2-normalise and scale to √dim so every coordinate is O(1) whatever the encoder's scale. */
  #normalize(x: Float32Array): Float32Array {
    let s = 0;
    for (let j = 0; j < x.length; j++) s += x[j]! * x[j]!;
    const k = s > 0 ? Math.sqrt(x.length / s) : 0;
    const u = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) u[j] = x[j]! * k;
    return u;
  }

  #resetMeanPrediction(): void {
    this.#meanPred.fill(1 / Math.max(this.#classes.length, 1));
  }

  /** Before the first fit, and always for NCM, prototypes are the class means of the labels. */
  #refreshPrototypes(): void {
    const d = this.#o.dim;
    const c = this.#classes.length;
    const protos = new Float32Array(c * d);
    const w = new Float64Array(c);
    for (const e of this.#replay.all()) {
      if (e.holdout) continue;
      const wt = e.labeled ? 1 : this.#o.pseudoWeight;
      w[e.cls] = w[e.cls]! + wt;
      for (let j = 0; j < d; j++) protos[e.cls * d + j] = protos[e.cls * d + j]! + wt * e.x[j]!;
    }
    for (let k = 0; k < c; k++) if (w[k]! > 0) for (let j = 0; j < d; j++) protos[k * d + j] = protos[k * d + j]! / w[k]!;
    this.#protos = protos;
    if (this.#o.head === 'ncm') {
      this.#student = Float32Array.from(protos);
      this.#teacher = Float32Array.from(protos);
    }
  }

  #probs(z: Float32Array, params: Float32Array, useSupports: boolean): Float64Array {
    const c = this.#classes.length;
    const out = new Float64Array(c);
    if (useSupports) {
      this.#supports.logits(unit(this.#spec.features(params, z)), (k) => this.#row(k, params), out);
    } else if (!this.#fitted && this.#o.head !== 'ncm') {
      headSpec('ncm', this.#o.dim).forward(this.#protos, c, z, out);
    } else {
      this.#spec.forward(params, c, z, out);
    }
    return softmaxInPlace(out);
  }

  /** The classifier row of class `k` (the label prototype before the first fit). */
  #row(k: number, params: Float32Array): Float32Array {
    return this.#fitted || this.#o.head === 'ncm' ? this.#spec.row(params, this.#classes.length, k) : this.#protos.slice(k * this.#o.dim, (k + 1) * this.#o.dim);
  }

  #toPrediction(p: Float64Array): Prediction {
    const b = argmax(p);
    return { label: this.#classes[b]!, confidence: p[b]!, probs: Float32Array.from(p), entropy: normalizedEntropy(p) };
  }

  #ensureReady(): void {
    if (!this.ready) throw new EdgetuneError('NOT_READY', 'The learner has no labeled samples yet; call addLabeled() for at least one class first.');
  }

  /**
   * Predicts the class of one embedding with the teacher head (stream statistics applied, nothing updated).
   *
   * @throws `NOT_READY` before any label, `NON_FINITE` for NaN/Infinity input
   */
  predict(embedding: Float32Array): Prediction {
    this.#checkInput(embedding, 'Embedding');
    this.#ensureReady();
    const z = this.#align.align(this.#o, this.#normalize(embedding));
    return this.#toPrediction(this.#probs(z, this.#teacher, this.#o.mode === 't3a'));
  }

  /**
   * Takes one unlabeled embedding from the stream: updates the stream statistics, predicts, decides
   * whether it becomes a pseudo-label, and feeds the drift detectors.
   *
   * @param options.augmented - a second, augmented view of the same input (FixMatch's strong view): the student trains on it against the teacher's label of the plain view
   * @throws `NOT_READY` before any label, `NON_FINITE` (nothing changes) for NaN/Infinity input
   */
  observe(embedding: Float32Array, options: { readonly augmented?: Float32Array } = {}): Observation {
    this.#checkInput(embedding, 'Embedding');
    if (options.augmented !== undefined) this.#checkInput(options.augmented, 'Augmented embedding');
    this.#ensureReady();
    const o = this.#o;
    const cnt = this.#counters;
    const u = this.#normalize(embedding);
    if (o.featureAlignment !== 'none') this.#align.updateStream(o, u);
    const z = this.#align.align(o, u);
    const step = cnt.seen;
    cnt.seen = step + 1;
    const head = this.#probs(z, this.#teacher, false);
    let shown = head;
    if (o.mode === 't3a') {
      const f = unit(this.#spec.features(this.#teacher, z));
      this.#supports.add(argmax(head), { f, ent: normalizedEntropy(head), step }, o.t3aFilter);
      shown = this.#probs(z, this.#teacher, true);
    }
    // Distribution alignment: divide out the running mean prediction so no class can take over the pseudo-labels.
    let pl = head;
    if (o.distributionAlignment) {
      const c = head.length;
      pl = new Float64Array(c);
      let s = 0;
      for (let k = 0; k < c; k++) {
        pl[k] = head[k]! / Math.max(this.#meanPred[k]!, 1e-6);
        s += pl[k]!;
      }
      for (let k = 0; k < c; k++) pl[k] = pl[k]! / s;
      const d = o.alignmentDecay;
      for (let k = 0; k < c; k++) this.#meanPred[k] = d * this.#meanPred[k]! + (1 - d) * head[k]!;
    }
    updateThresholds(o.threshold, this.#th, pl);
    const k = argmax(pl);
    const tau = classThresholds(o.threshold, this.#th)[k]!;
    let accepted = false;
    if (o.mode === 'self-train') {
      if (pl[k]! >= tau) {
        const x2 = options.augmented === undefined ? undefined : this.#align.align(o, this.#normalize(options.augmented));
        accepted = this.#replay.addPseudo({ x: z, x2, cls: k, labeled: false, holdout: false, conf: pl[k]!, step }, this.#rng);
        if (accepted) {
          cnt.accepted += 1;
          cnt.sinceAdapt += 1;
        } else cnt.rejectedByReservoir += 1;
      } else cnt.rejectedLowConfidence += 1;
    }
    const prediction = this.#toPrediction(shown);
    const drift = this.#detect(prediction, step);
    if (drift) cnt.adaptDue = true;
    if (o.mode === 'self-train' && cnt.sinceAdapt >= o.adaptEvery) cnt.adaptDue = true;
    return { label: prediction.label, confidence: prediction.confidence, accepted, prediction, drift, adaptDue: cnt.adaptDue };
  }

  #detect(p: Prediction, step: number): DriftEvent | undefined {
    const d = this.#o.drift;
    if (!d.enabled) return undefined;
    const x = d.signal === 'confidence' ? 1 - p.confidence : p.entropy;
    let change: DetectorChange | undefined;
    if (d.detectors.includes('page-hinkley')) change = this.#ph.update(x) ?? change;
    if (d.detectors.includes('adwin')) change = this.#adwin.update(x) ?? change;
    if (!change) return undefined;
    this.#ph.reset();
    this.#adwin.reset();
    this.#counters.drifts += 1;
    // Components not confirmed for maxAge steps describe a stream that is gone.
    const before = step - d.maxAge;
    const droppedReplay = this.#replay.dropAged(before);
    const droppedSupports = this.#supports.dropAged(before);
    this.#resetMeanPrediction();
    if (this.#o.head === 'ncm') this.#refreshPrototypes();
    const e: DriftEvent = { type: 'drift', step, change, droppedReplay, droppedSupports };
    this.#emit(e);
    return e;
  }

  /** Accuracy of `params` on the guard set: held-back labels, or all labels when none are held back. */
  #guardScore(params: Float32Array): number {
    return guardScore(guardSet(this.#replay), (x) => this.#probs(x, params, false));
  }

  /**
   * One round of adaptation: relabels replayed pseudo-labels with the teacher, trains the student on
   * labels (weight 1) and agreeing pseudo-labels (weight `pseudoWeight`), moves the EMA teacher, then
   * scores the teacher on held-back labels and rolls the whole round back if it got worse.
   *
   * @param options.signal - aborts between mini-batches; the learner is left as before the call
   * @param options.onProgress - progress by phase
   * @throws `NOT_READY` before any label, `ABORTED`
   */
  async adapt(options: { readonly signal?: AbortSignal; readonly onProgress?: (p: AdaptProgress) => void } = {}): Promise<AdaptResult> {
    this.#alive();
    this.#ensureReady();
    if (this.#busy) throw new EdgetuneError('INVALID_ARGUMENT', 'adapt() is already running on this learner; await the previous call first.');
    this.#busy = true;
    const { signal, onProgress } = options;
    const o = this.#o;
    const cnt = this.#counters;
    const snap = {
      student: Float32Array.from(this.#student),
      teacher: Float32Array.from(this.#teacher),
      opt: { m: Float32Array.from(this.#opt.m), v: Float32Array.from(this.#opt.v), t: this.#opt.t },
      fitted: this.#fitted,
      protos: Float32Array.from(this.#protos),
      rng: Uint32Array.from(this.#rng.state),
      steps: this.#replay.all().map((e) => e.step),
    };
    const restore = (): void => {
      this.#student = snap.student;
      this.#teacher = snap.teacher;
      this.#opt = snap.opt;
      this.#fitted = snap.fitted;
      this.#protos = snap.protos;
      this.#rng.state.set(snap.rng);
      this.#replay.all().forEach((e, i) => (e.step = snap.steps[i]!));
    };
    try {
      const step = cnt.seen;
      const wasFitted = this.#fitted;
      const before = wasFitted ? this.#guardScore(this.#teacher) : Number.NaN;
      const train: TrainItem[] = [];
      let disagreed = 0;
      for (const e of this.#replay.all()) {
        if (e.holdout) continue;
        if (e.labeled) {
          train.push({ e, w: 1 });
          continue;
        }
        if (o.mode !== 'self-train') continue;
        // A pseudo-label counts only while the current teacher still agrees with it; agreement refreshes its age.
        if (argmax(this.#probs(e.x, this.#teacher, false)) === e.cls) {
          e.step = step;
          train.push({ e, w: o.pseudoWeight });
        } else disagreed++;
      }
      const labeledUsed = train.filter((t) => t.e.labeled).length;
      onProgress?.({ phase: 'prepare', labeled: labeledUsed, pseudo: train.length - labeledUsed });
      let steps = 0;
      let loss = 0;
      if (o.head === 'ncm') {
        this.#refreshPrototypes();
      } else {
        if (!wasFitted) {
          this.#student = this.#spec.init(this.#rng, this.#classes.length);
          this.#opt = newOptimizerState(this.#student.length);
        }
        const epochs = wasFitted ? o.epochs : o.firstEpochs;
        let r;
        try {
          r = await trainRound({
            spec: this.#spec,
            classes: this.#classes.length,
            optimizer: o.optimizer,
            epochs,
            batchSize: o.batchSize,
            emaDecay: wasFitted ? o.emaDecay : undefined,
            student: this.#student,
            teacher: this.#teacher,
            opt: this.#opt,
            rng: this.#rng,
            train,
            signal,
            onEpoch: onProgress && ((epoch, n, l) => onProgress({ phase: 'train', epoch, epochs: n, loss: l })),
          });
        } catch (e) {
          restore();
          throw e;
        }
        steps = r.steps;
        loss = r.loss;
        if (r.nonFinite) return this.#nonFinite(restore, step, before);
        if (!wasFitted) this.#teacher = Float32Array.from(this.#student);
        if (!allFinite(this.#student) || !allFinite(this.#teacher) || !Number.isFinite(loss)) return this.#nonFinite(restore, step, before);
        this.#fitted = true;
      }
      const after = this.#guardScore(this.#teacher);
      onProgress?.({ phase: 'guard', before, after });
      let rolledBack = false;
      const slack = guardSlack(o.guard.tolerance, guardSet(this.#replay).length);
      if (o.guard.enabled && wasFitted && Number.isFinite(before) && after < before - slack - 1e-12) {
        restore();
        rolledBack = true;
        cnt.rollbacks += 1;
        this.#emit({ type: 'rollback', step, reason: 'guard', before, after });
      }
      cnt.adaptations += 1;
      cnt.sinceAdapt = 0;
      cnt.adaptDue = false;
      cnt.lastGuardAccuracy = rolledBack ? before : after;
      const result: AdaptResult = {
        steps,
        loss,
        labeledUsed,
        pseudoUsed: train.length - labeledUsed,
        pseudoDisagreed: disagreed,
        guardBefore: before,
        guardAfter: after,
        rolledBack,
      };
      cnt.pseudoDisagreed += disagreed;
      onProgress?.({ phase: 'done', rolledBack });
      this.#emit({ type: 'adapted', step, result });
      return result;
    } finally {
      this.#busy = false;
    }
  }

  #nonFinite(restore: () => void, step: number, before: number): AdaptResult {
    restore();
    const cnt = this.#counters;
    cnt.rollbacks += 1;
    cnt.rollbacksNonFinite += 1;
    this.#emit({ type: 'rollback', step, reason: 'non-finite', before, after: Number.NaN });
    return { steps: 0, loss: Number.NaN, labeledUsed: 0, pseudoUsed: 0, pseudoDisagreed: 0, guardBefore: before, guardAfter: Number.NaN, rolledBack: true };
  }

  /** Counters and per-class figures. */
  stats(): LearnerStats {
    const cnt = this.#counters;
    const th = classThresholds(this.#o.threshold, this.#th);
    const counts = this.#replay.counts();
    const labeled = this.#replay.labeled.flat();
    return {
      classes: this.classes,
      perClass: this.#classes.map((label, k) => ({ label, labeled: counts[k]![0], pseudo: counts[k]![1], threshold: th[k]! })),
      labeled: labeled.length,
      heldBack: labeled.filter((e) => e.holdout).length,
      seen: cnt.seen,
      accepted: cnt.accepted,
      rejectedLowConfidence: cnt.rejectedLowConfidence,
      rejectedByReservoir: cnt.rejectedByReservoir,
      rejectedNonFinite: this.#rejectedNonFinite,
      pseudoDisagreed: cnt.pseudoDisagreed,
      adaptations: cnt.adaptations,
      rollbacks: cnt.rollbacks,
      rollbacksNonFinite: cnt.rollbacksNonFinite,
      drifts: cnt.drifts,
      lastGuardAccuracy: cnt.lastGuardAccuracy,
      fitted: this.#fitted,
    };
  }

  /** A plain, versioned, structured-clone-able copy of the whole learner (nothing shared with it). */
  getState(): LearnerState {
    this.#alive();
    const d = this.#o.dim;
    const a = this.#align;
    return {
      format: 'edgetune.learner',
      version: LEARNER_STATE_VERSION,
      options: structuredClone(this.#o),
      classes: [...this.#classes],
      fitted: this.#fitted,
      student: Float32Array.from(this.#student),
      teacher: Float32Array.from(this.#teacher),
      optimizer: { m: Float32Array.from(this.#opt.m), v: Float32Array.from(this.#opt.v), t: this.#opt.t },
      rng: Uint32Array.from(this.#rng.state),
      replay: this.#replay.pack(d),
      thresholds: { sigma: Float64Array.from(this.#th.sigma), unused: this.#th.unused, global: this.#th.global, local: Float64Array.from(this.#th.local) },
      meanPrediction: Float64Array.from(this.#meanPred),
      anchorSum: Float64Array.from(a.anchorSum),
      anchorSq: Float64Array.from(a.anchorSq),
      anchorN: a.anchorN,
      streamMean: Float64Array.from(a.streamMean),
      streamSq: Float64Array.from(a.streamSq),
      streamN: a.streamN,
      pageHinkley: { ...this.#ph.state },
      adwin: { window: Float64Array.from(this.#adwin.state.window), length: this.#adwin.state.length, seen: this.#adwin.state.seen },
      supports: this.#supports.pack(d),
      protos: Float32Array.from(this.#protos),
      counters: { ...this.#counters },
    };
  }

  /**
   * Restores a learner saved with {@link Learner.getState}; it continues exactly where the saved one was.
   *
   * @throws `STATE_INVALID` when the object is not a learner state of a known version
   */
  static fromState(state: LearnerState): Learner {
    const raw = state as unknown as Record<string, unknown> | null;
    if (typeof raw !== 'object' || raw === null || raw['format'] !== 'edgetune.learner') {
      throw new EdgetuneError('STATE_INVALID', `Not a learner state (format ${JSON.stringify(raw?.['format'])}); pass an object from Learner.getState().`);
    }
    const s = migrateState(raw) as Partial<LearnerState>;
    if (s.version !== LEARNER_STATE_VERSION) {
      throw new EdgetuneError('STATE_INVALID', `Learner state version ${String(s.version)} is not supported (expected ${LEARNER_STATE_VERSION}).`, { details: { version: s.version } });
    }
    const o = s.options!;
    const spec = headSpec(o.head, o.dim, o.hidden);
    const c = s.classes?.length ?? -1;
    const expected = spec.size(c);
    const arrays: Array<[string, unknown, number]> = [
      ['student', s.student, expected],
      ['teacher', s.teacher, expected],
      ['anchorSum', s.anchorSum, o.dim],
      ['streamMean', s.streamMean, o.dim],
      ['meanPrediction', s.meanPrediction, c],
    ];
    for (const [name, v, n] of arrays) {
      if (!ArrayBuffer.isView(v) || (v as Float32Array).length !== n) {
        throw new EdgetuneError('STATE_INVALID', `Learner state field '${name}' should hold ${n} values; the state is damaged or from another build.`, { details: { field: name } });
      }
      if (!allFinite(v as Float32Array)) throw new EdgetuneError('STATE_INVALID', `Learner state field '${name}' holds NaN/Infinity; the state is damaged.`, { details: { field: name } });
    }
    const l = new Learner({ dim: o.dim, head: o.head, hidden: o.hidden, seed: o.seed });
    l.#restore(s as LearnerState, o);
    return l;
  }

  #restore(s: LearnerState, o: Resolved): void {
    this.#o = structuredClone(o);
    this.#spec = headSpec(o.head, o.dim, o.hidden);
    this.#classes = [...s.classes];
    this.#fitted = s.fitted;
    this.#student = Float32Array.from(s.student);
    this.#teacher = Float32Array.from(s.teacher);
    this.#opt = { m: Float32Array.from(s.optimizer.m), v: Float32Array.from(s.optimizer.v), t: s.optimizer.t };
    this.#rng = new Rng(s.rng);
    this.#replay = ReplayBuffer.unpack(s.replay, o.labeledPerClass, o.pseudoCapacity);
    this.#th = { sigma: Float64Array.from(s.thresholds.sigma), unused: s.thresholds.unused, global: s.thresholds.global, local: Float64Array.from(s.thresholds.local) };
    this.#meanPred = Float64Array.from(s.meanPrediction);
    const a = new FeatureAligner(o.dim);
    a.anchorSum = Float64Array.from(s.anchorSum);
    a.anchorSq = Float64Array.from(s.anchorSq);
    a.anchorN = s.anchorN;
    a.streamMean = Float64Array.from(s.streamMean);
    a.streamSq = Float64Array.from(s.streamSq);
    a.streamN = s.streamN;
    this.#align = a;
    this.#ph = new PageHinkley(o.drift.pageHinkley, s.pageHinkley);
    this.#adwin = new Adwin(o.drift.adwin, s.adwin);
    this.#supports = SupportSets.unpack(s.supports, this.#classes.length, o.dim);
    this.#protos = Float32Array.from(s.protos);
    this.#counters = { ...s.counters };
  }

  /** Releases everything; later calls throw `DISPOSED`. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#listeners.clear();
    this.#replay = new ReplayBuffer(0, 0);
    this.#supports = new SupportSets();
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

function dropAt(a: Float64Array, i: number): Float64Array {
  const q = new Float64Array(a.length - 1);
  q.set(a.subarray(0, i), 0);
  q.set(a.subarray(i + 1), i);
  return q;
}

function growThresholds(t: ThresholdState, c: number): ThresholdState {
  const sigma = new Float64Array(c);
  sigma.set(t.sigma);
  const local = new Float64Array(c).fill(1 / c);
  local.set(t.local);
  return { sigma, unused: t.unused, global: t.global, local };
}
