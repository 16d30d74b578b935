// The Learner: a head on frozen embeddings that keeps adapting from a few labels and an unlabeled stream, with drift detection, replay and guards.
import { EdgetuneError, throwIfAborted, yieldToEventLoop } from '../core/errors.js';
import { FeatureAligner } from './align.js';
import { Adwin, EmbeddingDrift, PageHinkley, type DetectorChange } from './drift.js';
import type {
  AdaptProgress,
  AdaptResult,
  DriftEvent,
  LearnerEvent,
  LearnerStats,
  Observation,
  Prediction,
} from './events.js';
import { guardScore, guardSet, guardSlack } from './guard.js';
import { headSpec, type HeadSpec } from './heads.js';
import {
  allFinite,
  argmax,
  assertFinite,
  dropAt,
  logSumExp,
  normalizedEntropy,
  softmaxInPlace,
  weightedArgmax,
} from './ops.js';
import { newOptimizerState, type OptimizerState } from './optim.js';
import {
  MAX_CLASSES,
  checkResolved,
  resolveLearnerOptions,
  type LearnerOptions,
  type ResolvedLearnerOptions,
} from './options.js';
import { ReplayBuffer, type ReplayEntry } from './replay.js';
import { Rng } from './rng.js';
import {
  LEARNER_STATE_VERSION,
  migrateState,
  validateState,
  newCounters,
  type LearnerCounters,
  type LearnerState,
} from './state.js';
import {
  calibratedAt,
  fitOpenSet,
  fitTemperature,
  openSetScore,
  temperatureScale,
  type OpenSetModel,
} from './openset.js';
import { RecentFrames, checkStream, streamVerdict, type StreamCheck } from './stream.js';
import { SupportSets, unit } from './t3a.js';
import { classThresholds, newThresholdState, updateThresholds, type ThresholdState } from './thresholds.js';
import { YIELD_MS, trainRound, type TrainItem } from './train.js';

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
  #edrift: EmbeddingDrift;
  #recent: RecentFrames;
  /** Pseudo-labels accepted per class since the last adapt() (the per-round cap). */
  #roundAccepted: Float64Array = new Float64Array(0);
  #temperature = 1;
  /** Running share of stream frames called unknown (EMA over ~50 frames). */
  #unknownRate = 0;
  /** EMA of the predicted class over the stream (one-hot), for the label-shift test of the stream weight. */
  #predFreq: Float64Array = new Float64Array(0);
  /** Label prototypes and open-set thresholds; undefined when the labels changed since they were fitted. */
  #open: OpenSetModel | undefined;
  /** Class means of the labels (the NCM fallback before the head is first fitted). */
  #protos: Float32Array = new Float32Array(0);
  #counters: LearnerCounters = newCounters();
  #rejectedNonFinite = 0;
  #listeners = new Set<(e: LearnerEvent) => void>();
  #disposed = false;
  #busy = false;
  /** Class name → index (so adding or finding a class does not scan the list). */
  #index = new Map<string, number>();
  /** Classes named but not yet given head rows and statistics: grown in one copy by {@link Learner.#sync}. */
  #pending = 0;
  /** Label prototypes must be recomputed before they are next read. */
  #protosDirty = false;
  /** Structural changes asked for while `adapt()` runs, applied in order when it ends. */
  #queue: Array<() => void> = [];
  /** Class names as they will be once the queue is applied (only while `adapt()` runs). */
  #projected: Set<string> | undefined;

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
    this.#edrift = new EmbeddingDrift(o.dim, o.drift.embedding);
    this.#recent = new RecentFrames(o.pseudo.recent, o.dim);
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
    if (this.#disposed)
      throw new EdgetuneError(
        'DISPOSED',
        'This Learner was disposed; create a new one or restore it with Learner.fromState().',
      );
  }

  #checkInput(x: Float32Array, what: string): void {
    this.#alive();
    if (!(x instanceof Float32Array) || x.length !== this.#o.dim) {
      throw new EdgetuneError(
        'INPUT_SHAPE',
        `${what} must be a Float32Array of ${this.#o.dim} values, got ${x instanceof Float32Array ? `${x.length} values` : typeof x}.`,
        {
          details: { expected: this.#o.dim },
        },
      );
    }
    if (!allFinite(x)) {
      this.#rejectedNonFinite++;
      assertFinite(x, what);
    }
  }

  #unknownLabel(label: string): never {
    const known =
      this.#classes.slice(0, 20).join(', ') + (this.#classes.length > 20 ? `, … (${this.#classes.length} in all)` : '');
    throw new EdgetuneError(
      'UNKNOWN_LABEL',
      `Unknown class '${label}'; known classes: ${known || '(none)'}. Add it with addClass() or addLabeled().`,
    );
  }

  #classIndex(label: string): number {
    const i = this.#index.get(label);
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
    return this.#projected ? this.#projected.has(label) : this.#index.has(label);
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
    const total = this.#projected ? this.#projected.size : this.#classes.length;
    if (total >= MAX_CLASSES)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Cannot add class '${label}': a learner takes at most ${MAX_CLASSES} classes; remove some first or use a second learner.`,
        { details: { limit: MAX_CLASSES } },
      );
    if (this.#projected) this.#projected.add(label);
    if (this.#deferred(() => this.addClass(label))) return;
    this.#index.set(label, this.#classes.length);
    this.#classes.push(label);
    this.#replay.addClassLazily();
    this.#supports.lists.push([]);
    this.#pending++;
  }

  /** Grows head, optimiser, thresholds, mean prediction and prototypes for pending classes, and refreshes stale prototypes. */
  #sync(): void {
    const k = this.#pending;
    if (k > 0) {
      const c = this.#classes.length - k;
      this.#student = this.#spec.addClasses(this.#student, c, k);
      this.#teacher = this.#spec.addClasses(this.#teacher, c, k);
      // Moments for a resized parameter vector are meaningless; restart them.
      this.#opt = newOptimizerState(this.#student.length);
      this.#replay.shrinkToQuota(this.#rng);
      const th = this.#th;
      const sigma = new Float64Array(c + k);
      sigma.set(th.sigma);
      const local = new Float64Array(c + k);
      local.set(th.local);
      // As if added one at a time: each new class starts at the uniform share of its own moment.
      for (let i = c; i < c + k; i++) local[i] = 1 / (i + 1);
      this.#th = { sigma, unused: th.unused, global: th.global, local };
      this.#meanPred = new Float64Array(c + k);
      this.#resetMeanPrediction();
      const protos = new Float32Array((c + k) * this.#o.dim);
      protos.set(this.#protos.subarray(0, Math.min(this.#protos.length, c * this.#o.dim)));
      this.#protos = protos;
      const ra = new Float64Array(c + k);
      ra.set(this.#roundAccepted);
      this.#roundAccepted = ra;
      this.#predFreq = new Float64Array(c + k).fill(1 / (c + k));
      this.#open = undefined;
      this.#pending = 0;
    }
    if (this.#protosDirty) {
      this.#protosDirty = false;
      this.#refreshPrototypes();
    }
  }

  /** Removes a class with its labels, pseudo-labels and head row (after the running `adapt()`, if any). */
  removeClass(label: string): void {
    this.#alive();
    if (!this.#projectedHas(label)) this.#unknownLabel(label);
    this.#projected?.delete(label);
    if (this.#deferred(() => this.removeClass(label))) return;
    this.#sync();
    const i = this.#classIndex(label);
    const c = this.#classes.length;
    this.#student = this.#spec.removeClass(this.#student, c, i);
    this.#teacher = this.#spec.removeClass(this.#teacher, c, i);
    this.#opt = newOptimizerState(this.#student.length);
    this.#classes.splice(i, 1);
    this.#index = new Map(this.#classes.map((n, j) => [n, j]));
    this.#protos = Float32Array.from([
      ...this.#protos.subarray(0, i * this.#o.dim),
      ...this.#protos.subarray((i + 1) * this.#o.dim),
    ]);
    this.#replay.removeClass(i);
    const th = this.#th;
    this.#th = { sigma: dropAt(th.sigma, i), unused: th.unused, global: th.global, local: dropAt(th.local, i) };
    this.#meanPred = dropAt(this.#meanPred, i);
    this.#roundAccepted = dropAt(this.#roundAccepted, i);
    this.#predFreq = new Float64Array(c - 1).fill(1 / Math.max(c - 1, 1));
    this.#open = undefined;
    this.#resetMeanPrediction();
    this.#supports.lists.splice(i, 1);
    this.#align.recomputeAnchor(this.#replay.labeled);
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
    this.#classes[i] = to;
    this.#index.delete(from);
    this.#index.set(to, i);
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
    const u = this.#normalize(embedding);
    const g = this.#o.guard;
    const nth = this.#replay.seenLabeled[c]! + 1;
    const holdout = g.enabled && nth >= g.minPerClass && nth % g.every === 0;
    this.#replay.addLabeled(
      { x: u, x2: undefined, cls: c, labeled: true, holdout, conf: 1, step: this.#counters.seen },
      this.#rng,
    );
    this.#align.addAnchor(u);
    this.#open = undefined;
    // Recomputed when next read, not per label: refreshing here made adding n labels O(n²).
    if (this.#o.head === 'ncm' || !this.#fitted) this.#protosDirty = true;
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

  /**
   * Weight of a frame in the stream statistics: 1 on a class-balanced stream, less for a frame of a
   * class the stream has been over-showing (running mean prediction above 1/C), so a camera that
   * keeps looking at one kind of thing does not drag the alignment towards it.
   */
  #streamWeight(u: Float32Array): number {
    const c = this.#classes.length;
    const z = this.#align.align(this.#o, u);
    let w = 1;
    if (this.#o.openSet.enabled) {
      // A few strangers in a familiar stream do not redefine it; a stream where most frames are
      // unfamiliar has shifted as a whole, and then alignment must follow it.
      const unknown = openSetScore(this.#openSet(), z).margin < 0;
      this.#unknownRate = 0.98 * this.#unknownRate + 0.02 * (unknown ? 1 : 0);
      if (unknown && this.#unknownRate < 0.5) return 0;
    }
    if (this.#o.distributionAlignment && c >= 2) {
      // A stream whose predictions crowd onto under half the classes is a label shift (a camera on one
      // thing), not a change of domain: mapping its mean onto the labels' would move it towards classes it does not show.
      const k = argmax(this.#probs(z, this.#teacher, false));
      // Frequencies of the predicted class (hard calls: an underconfident head's mean probabilities look balanced).
      let h = 0;
      let tot = 0;
      for (let j = 0; j < c; j++) {
        this.#predFreq[j] = 0.99 * this.#predFreq[j]! + (j === k ? 0.01 : 0);
        tot += this.#predFreq[j]!;
      }
      for (let j = 0; j < c; j++) {
        const p = this.#predFreq[j]! / tot;
        if (p > 0) h -= p * Math.log(p);
      }
      if (Math.exp(h) < c / 2) {
        // …and what alignment already absorbed of it is let go, towards the labels' own statistics.
        this.#align.relax(0.02);
        return 0;
      }
      w = Math.min(1, 1 / (c * Math.max(this.#meanPred[k]!, 1e-6)));
    }
    return w;
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
    for (let k = 0; k < c; k++)
      if (w[k]! > 0) for (let j = 0; j < d; j++) protos[k * d + j] = protos[k * d + j]! / w[k]!;
    this.#protos = protos;
    if (this.#o.head === 'ncm') {
      this.#student = Float32Array.from(protos);
      this.#teacher = Float32Array.from(protos);
    }
  }

  #probs(z: Float32Array, params: Float32Array, useSupports: boolean, fitted = this.#fitted): Float64Array {
    return softmaxInPlace(this.#logits(z, params, useSupports, fitted));
  }

  #logits(z: Float32Array, params: Float32Array, useSupports: boolean, fitted = this.#fitted): Float64Array {
    const c = this.#classes.length;
    const out = new Float64Array(c);
    if (useSupports) {
      this.#supports.logits(unit(this.#spec.features(params, z)), (k) => this.#row(k, params), out);
    } else if (!fitted && this.#o.head !== 'ncm') {
      headSpec('ncm', this.#o.dim).forward(this.#protos, c, z, out);
    } else {
      this.#spec.forward(params, c, z, out);
    }
    return out;
  }

  /**
   * The teacher still picks `k` once weighted by the stream's own class frequencies (the running mean
   * prediction, as in EM label-shift correction): distribution alignment pushes pseudo-labels towards
   * rare classes, and on a stream that shows one class the rare-class calls are its odd frames.
   */
  #priorAgrees(head: Float64Array, k: number): boolean {
    return weightedArgmax(head, this.#meanPred) === k;
  }

  /**
   * The nearest label mean is class `k` both after alignment and before it: the unaligned check is
   * what stops a stream of one class, which alignment pulls towards the other classes, from
   * pseudo-labelling itself as them.
   */
  #prototypeAgrees(k: number, z: Float32Array, u: Float32Array): boolean {
    const m = this.#openSet();
    return openSetScore(m, z).cls === k && (z === u || openSetScore(m, u).cls === k);
  }

  /** The open-set model of the current labels (refitted after labels change). */
  #openSet(): OpenSetModel {
    if (!this.#open) {
      const os = this.#o.openSet;
      this.#open = fitOpenSet(this.#replay.labeled, this.#o.dim, os.quantile, os.margin);
    }
    return this.#open;
  }

  /** The classifier row of class `k` (the label prototype before the first fit). */
  #row(k: number, params: Float32Array): Float32Array {
    return this.#fitted || this.#o.head === 'ncm'
      ? this.#spec.row(params, this.#classes.length, k)
      : this.#protos.slice(k * this.#o.dim, (k + 1) * this.#o.dim);
  }

  /** Calibrated probability of class `k` under raw probabilities `raw`. */
  #calibrated(raw: Float64Array, k: number): number {
    return calibratedAt(raw, k, this.#o.calibration ? this.#temperature : 1);
  }

  /** A prediction from raw probabilities: calibrated by the temperature, with the open-set verdict on `z`. */
  #toPrediction(raw: Float64Array, z: Float32Array, energy: number): Prediction {
    const p = this.#o.calibration ? temperatureScale(raw, this.#temperature) : raw;
    const b = argmax(p);
    const open = this.#o.openSet.enabled ? openSetScore(this.#openSet(), z).margin : Number.POSITIVE_INFINITY;
    return {
      label: this.#classes[b]!,
      confidence: p[b]!,
      probs: Float32Array.from(p),
      entropy: normalizedEntropy(p),
      unknown: open < 0,
      familiarity: open,
      energy,
    };
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
    this.#sync();
    const z = this.#align.align(this.#o, this.#normalize(embedding));
    const logits = this.#logits(z, this.#teacher, this.#o.mode === 't3a');
    const energy = -logSumExp(logits);
    return this.#toPrediction(softmaxInPlace(logits), z, energy);
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
    this.#sync();
    const o = this.#o;
    const cnt = this.#counters;
    const u = this.#normalize(embedding);
    const duplicate = o.pseudo.duplicateCosine < 1 && this.#recent.isDuplicate(u, o.pseudo.duplicateCosine);
    if (!duplicate) {
      if (o.featureAlignment !== 'none') this.#align.updateStream(o, u, this.#streamWeight(u));
      this.#recent.push(u);
    }
    const z = this.#align.align(o, u);
    const step = cnt.seen;
    cnt.seen = step + 1;
    const headLogits = this.#logits(z, this.#teacher, false);
    let energy = -logSumExp(headLogits);
    const head = softmaxInPlace(headLogits);
    let shown = head;
    if (o.mode === 't3a' && !duplicate) {
      const f = unit(this.#spec.features(this.#teacher, z));
      this.#supports.add(argmax(head), { f, ent: normalizedEntropy(head), step }, o.t3aFilter);
    }
    if (o.mode === 't3a') {
      const l = this.#logits(z, this.#teacher, true);
      energy = -logSumExp(l);
      shown = softmaxInPlace(l);
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
      if (!duplicate) {
        const d = o.alignmentDecay;
        for (let k = 0; k < c; k++) this.#meanPred[k] = d * this.#meanPred[k]! + (1 - d) * head[k]!;
      }
    }
    if (!duplicate) updateThresholds(o.threshold, this.#th, pl);
    const k = argmax(pl);
    const prediction = this.#toPrediction(shown, z, energy);
    let accepted = false;
    if (o.mode === 'self-train') {
      const cap =
        o.pseudo.perClassPerRound > 0
          ? o.pseudo.perClassPerRound
          : Math.max(1, Math.ceil((2 * o.adaptEvery) / this.#classes.length));
      if (duplicate) cnt.rejectedDuplicate += 1;
      else if (prediction.unknown) cnt.rejectedUnknown += 1;
      else if (
        pl[k]! < classThresholds(o.threshold, this.#th)[k]! ||
        this.#calibrated(head, k) < o.pseudo.minConfidence
      )
        cnt.rejectedLowConfidence += 1;
      else if (
        o.pseudo.agreement &&
        (argmax(head) !== k ||
          !this.#priorAgrees(head, k) ||
          argmax(this.#probs(z, this.#student, false)) !== k ||
          !this.#prototypeAgrees(k, z, u))
      )
        cnt.rejectedDisagreement += 1;
      else if (this.#roundAccepted[k]! >= cap) {
        cnt.rejectedCap += 1;
        cnt.cappedSinceAdapt += 1;
      } else {
        const x2 =
          options.augmented === undefined ? undefined : this.#align.align(o, this.#normalize(options.augmented));
        accepted = this.#replay.addPseudo(
          { x: z, x2, cls: k, labeled: false, holdout: false, conf: pl[k]!, step },
          this.#rng,
        );
        if (accepted) {
          cnt.accepted += 1;
          cnt.sinceAdapt += 1;
          this.#roundAccepted[k] = this.#roundAccepted[k]! + 1;
          // A class that filled its share makes the round due, rather than letting other classes' (rarer, likelier wrong) pseudo-labels fill the round.
          if (this.#roundAccepted[k]! >= cap) cnt.adaptDue = true;
        } else cnt.rejectedByReservoir += 1;
      }
    }
    const drift = duplicate ? undefined : this.#detect(shown, u, step);
    if (drift) cnt.adaptDue = true;
    if (o.mode === 'self-train' && cnt.sinceAdapt >= o.adaptEvery) cnt.adaptDue = true;
    return {
      label: prediction.label,
      confidence: prediction.confidence,
      accepted,
      pseudoLabel: accepted ? this.#classes[k] : undefined,
      unknown: prediction.unknown,
      duplicate,
      prediction,
      drift,
      adaptDue: cnt.adaptDue,
    };
  }

  #detect(p: Float64Array, u: Float32Array, step: number): DriftEvent | undefined {
    const d = this.#o.drift;
    if (!d.enabled) return undefined;
    // Uncalibrated, so a new temperature is not a change in the stream.
    const x = d.signal === 'confidence' ? 1 - p[argmax(p)]! : normalizedEntropy(p);
    let change: DetectorChange | undefined;
    if (d.detectors.includes('embedding')) change = this.#edrift.update(u) ?? change;
    if (d.detectors.includes('page-hinkley')) change = this.#ph.update(x) ?? change;
    if (d.detectors.includes('adwin')) {
      const a = this.#adwin.update(x);
      // Only rising uncertainty is drift: the learner growing surer of a stationary stream is not.
      if (a && a.meanAfter > a.meanBefore) change = a;
    }
    if (!change) return undefined;
    this.#ph.reset();
    this.#adwin.reset();
    this.#edrift.reset();
    this.#counters.drifts += 1;
    // Components not confirmed for maxAge steps describe a stream that is gone.
    const before = step - d.maxAge;
    const droppedReplay = this.#replay.dropAged(before);
    const droppedSupports = this.#supports.dropAged(before);
    this.#resetMeanPrediction();
    this.#predFreq.fill(1 / Math.max(this.#classes.length, 1));
    // The stream statistics describe the old stream too: alignment starts again from the labels.
    this.#align.resetStream();
    if (this.#o.head === 'ncm') this.#refreshPrototypes();
    const e: DriftEvent = { type: 'drift', step, change, droppedReplay, droppedSupports };
    this.#emit(e);
    return e;
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
    this.#sync();
    this.#busy = true;
    this.#projected = new Set(this.#classes);
    const { signal, onProgress } = options;
    const o = this.#o;
    const cnt = this.#counters;
    const check = (): void => {
      this.#alive();
      throwIfAborted(signal);
    };
    const rngStart = Uint32Array.from(this.#rng.state);
    const rng = new Rng(rngStart);
    const ncmSnap =
      o.head === 'ncm' ? { student: this.#student, teacher: this.#teacher, protos: this.#protos } : undefined;
    try {
      check();
      const step = cnt.seen;
      const wasFitted = this.#fitted;
      const before = wasFitted ? await this.#guardScore(this.#teacher, wasFitted, check) : Number.NaN;
      const heldBack = this.#replay.labeled.flat().filter((e) => e.holdout);
      const train: TrainItem[] = [];
      const confirmed: ReplayEntry[] = [];
      let disagreed = 0;
      const entries = this.#replay.all();
      let slice = performance.now();
      for (let i = 0; i < entries.length; i++) {
        if ((i & 31) === 0 && performance.now() - slice > YIELD_MS) {
          await yieldToEventLoop();
          check();
          slice = performance.now();
        }
        const e = entries[i]!;
        if (e.holdout) continue;
        if (e.labeled) {
          train.push({ e, w: 1 });
          continue;
        }
        if (o.mode !== 'self-train') continue;
        // A pseudo-label counts only while the current teacher still agrees with it; agreement refreshes its age (on commit).
        if (argmax(this.#probs(e.x, this.#teacher, false)) === e.cls) {
          confirmed.push(e);
          train.push({ e, w: o.pseudoWeight });
        } else disagreed++;
      }
      const labeledUsed = train.filter((t) => t.e.labeled).length;
      onProgress?.({ phase: 'prepare', labeled: labeledUsed, pseudo: train.length - labeledUsed });
      let steps = 0;
      let loss = 0;
      let student = this.#student;
      let teacher = this.#teacher;
      let opt = this.#opt;
      // A softmax head fitted while fewer than two classes have labels learns "always that class"
      // (an empty class's row is driven to -∞) and later rounds' few epochs never undo it: skip the fit.
      const labeledClasses = new Set(train.filter((t) => t.e.labeled).map((t) => t.e.cls)).size;
      if (o.head === 'ncm') {
        this.#refreshPrototypes();
        student = this.#student;
        teacher = this.#teacher;
      } else if (labeledClasses < 2) {
        if (!wasFitted) this.#refreshPrototypes();
      } else {
        const c = this.#classes.length;
        student = wasFitted ? Float32Array.from(this.#student) : this.#spec.init(rng, c);
        teacher = Float32Array.from(this.#teacher);
        opt = wasFitted
          ? { m: Float32Array.from(opt.m), v: Float32Array.from(opt.v), t: opt.t }
          : newOptimizerState(student.length);
        const epochs = wasFitted ? o.epochs : o.firstEpochs;
        const r = await trainRound({
          spec: this.#spec,
          classes: c,
          optimizer: o.optimizer,
          epochs,
          batchSize: o.batchSize,
          emaDecay: wasFitted ? o.emaDecay : undefined,
          student,
          teacher,
          opt,
          rng,
          train,
          check,
          onEpoch: onProgress && ((epoch, n, l) => onProgress({ phase: 'train', epoch, epochs: n, loss: l })),
        });
        steps = r.steps;
        loss = r.loss;
        if (r.nonFinite) return this.#nonFinite(step, before);
        if (!wasFitted) teacher = Float32Array.from(student);
        if (!allFinite(student) || !allFinite(teacher) || !Number.isFinite(loss)) return this.#nonFinite(step, before);
      }
      const fittedAfter = o.head === 'ncm' || labeledClasses < 2 ? this.#fitted : true;
      const after = await this.#guardScore(teacher, fittedAfter, check);
      onProgress?.({ phase: 'guard', before, after });
      const slack = guardSlack(o.guard.tolerance, guardSet(this.#replay).length);
      const labelVeto = o.guard.enabled && wasFitted && Number.isFinite(before) && after < before - slack - 1e-12;
      let stream: StreamCheck | undefined;
      if (o.guard.enabled && wasFitted && this.#recent.length >= 20) {
        const frames = this.#recent.frames().map((f) => this.#align.align(o, f));
        const open = this.#openSet();
        stream = checkStream(
          frames,
          this.#classes.length,
          (z) => this.#logits(z, this.#teacher, false),
          (z) => this.#logits(z, teacher, false, fittedAfter),
          (z) => openSetScore(open, z).cls,
        );
      }
      const streamVeto =
        !labelVeto && stream !== undefined && streamVerdict(stream, o.guard.minAgreement) !== undefined;
      const rolledBack = labelVeto || streamVeto;
      if (rolledBack) {
        if (ncmSnap) this.#restoreNcm(ncmSnap);
        cnt.rollbacks += 1;
        this.#emit({ type: 'rollback', step, reason: labelVeto ? 'guard' : 'stream', before, after });
      } else {
        this.#student = student;
        this.#teacher = teacher;
        this.#opt = opt;
        this.#fitted = fittedAfter;
        // Calls during the round drew from the learner's generator: keep their draws rather than replay them.
        if (this.#rng.state.every((v, i) => v === rngStart[i])) this.#rng.state.set(rng.state);
        for (const e of confirmed) e.step = step;
      }
      // Held-back labels have never been trained on: the honest set to fit the temperature on.
      if (o.calibration && heldBack.length >= 10 && (this.#fitted || o.head === 'ncm')) {
        this.#temperature = fitTemperature(
          heldBack.map((e) => this.#logits(e.x, this.#teacher, false)),
          heldBack.map((e) => e.cls),
        );
      }
      let holdoutReturned = 0;
      if (o.guard.holdout === 'return') {
        for (const e of heldBack) e.holdout = false;
        holdoutReturned = heldBack.length;
        if (heldBack.length && (o.head === 'ncm' || !this.#fitted)) this.#protosDirty = true;
      }
      this.#roundAccepted.fill(0);
      cnt.cappedSinceAdapt = 0;
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
        streamAgreement: stream?.agreement ?? Number.NaN,
        prototypeAgreementBefore: stream?.protoBefore ?? Number.NaN,
        prototypeAgreementAfter: stream?.protoAfter ?? Number.NaN,
        holdoutReturned,
        temperature: this.#temperature,
        rolledBack,
      };
      cnt.pseudoDisagreed += disagreed;
      onProgress?.({ phase: 'ready', rolledBack });
      this.#emit({ type: 'adapted', step, result });
      return result;
    } catch (e) {
      if (ncmSnap) this.#restoreNcm(ncmSnap);
      throw e;
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

  #restoreNcm(s: { student: Float32Array; teacher: Float32Array; protos: Float32Array }): void {
    this.#student = s.student;
    this.#teacher = s.teacher;
    this.#protos = s.protos;
  }

  /** Accuracy of `params` on the guard set: held-back labels, or all labels when none are held back. */
  #guardScore(params: Float32Array, fitted: boolean, check: () => void): Promise<number> {
    return guardScore(guardSet(this.#replay), (x) => this.#probs(x, params, false, fitted), check);
  }

  #nonFinite(step: number, before: number): AdaptResult {
    const cnt = this.#counters;
    cnt.rollbacks += 1;
    cnt.rollbacksNonFinite += 1;
    this.#emit({ type: 'rollback', step, reason: 'non-finite', before, after: Number.NaN });
    return {
      steps: 0,
      loss: Number.NaN,
      labeledUsed: 0,
      pseudoUsed: 0,
      pseudoDisagreed: 0,
      guardBefore: before,
      guardAfter: Number.NaN,
      streamAgreement: Number.NaN,
      prototypeAgreementBefore: Number.NaN,
      prototypeAgreementAfter: Number.NaN,
      holdoutReturned: 0,
      temperature: this.#temperature,
      rolledBack: true,
    };
  }

  /** Counters and per-class figures. */
  stats(): LearnerStats {
    this.#alive();
    this.#sync();
    const cnt = this.#counters;
    const th = classThresholds(this.#o.threshold, this.#th);
    const counts = this.#replay.counts();
    const labeled = this.#replay.labeled.flat();
    return {
      classes: this.classes,
      perClass: this.#classes.map((label, k) => ({
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
      temperature: this.#temperature,
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
    this.#sync();
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
      thresholds: {
        sigma: Float64Array.from(this.#th.sigma),
        unused: this.#th.unused,
        global: this.#th.global,
        local: Float64Array.from(this.#th.local),
      },
      meanPrediction: Float64Array.from(this.#meanPred),
      anchorSum: Float64Array.from(a.anchorSum),
      anchorSq: Float64Array.from(a.anchorSq),
      anchorN: a.anchorN,
      streamMean: Float64Array.from(a.streamMean),
      streamSq: Float64Array.from(a.streamSq),
      streamN: a.streamN,
      pageHinkley: { ...this.#ph.state },
      adwin: {
        window: Float64Array.from(this.#adwin.state.window),
        length: this.#adwin.state.length,
        seen: this.#adwin.state.seen,
      },
      supports: this.#supports.pack(d),
      protos: Float32Array.from(this.#protos),
      counters: { ...this.#counters },
      temperature: this.#temperature,
      unknownRate: this.#unknownRate,
      predictedFrequency: Float64Array.from(this.#predFreq),
      embeddingDrift: {
        ...this.#edrift.state,
        refSum: Float64Array.from(this.#edrift.state.refSum),
        refSq: Float64Array.from(this.#edrift.state.refSq),
        ring: Float32Array.from(this.#edrift.state.ring),
      },
      recent: { x: Float32Array.from(this.#recent.x), length: this.#recent.length, next: this.#recent.next },
      roundAccepted: Float64Array.from(this.#roundAccepted),
    };
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
    this.#th = {
      sigma: Float64Array.from(s.thresholds.sigma),
      unused: s.thresholds.unused,
      global: s.thresholds.global,
      local: Float64Array.from(s.thresholds.local),
    };
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
    this.#index = new Map(this.#classes.map((n, j) => [n, j]));
    this.#temperature = s.temperature;
    this.#unknownRate = s.unknownRate;
    this.#predFreq = Float64Array.from(s.predictedFrequency);
    this.#edrift = new EmbeddingDrift(o.dim, o.drift.embedding, s.embeddingDrift);
    this.#recent = new RecentFrames(o.pseudo.recent, o.dim, s.recent);
    this.#roundAccepted = Float64Array.from(s.roundAccepted);
    this.#open = undefined;
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
