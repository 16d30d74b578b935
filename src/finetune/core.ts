// The learner's model state and the computations every call shares: normalising, alignment weights, prototypes, logits, the open-set model and predictions.
import { FeatureAligner } from './align.js';
import { Adwin, EmbeddingDrift, PageHinkley } from './drift.js';
import type { Prediction } from './events.js';
import { headSpec, type HeadSpec } from './heads.js';
import { argmax, logSumExp, normalizedEntropy, softmaxInPlace, weightedArgmax } from './ops.js';
import { newOptimizerState, type OptimizerState } from './optim.js';
import type { ResolvedLearnerOptions } from './options.js';
import { ReplayBuffer } from './replay.js';
import { Rng } from './rng.js';
import { newCounters, type LearnerCounters } from './state.js';
import {
  addClassPosterior,
  classLogPosterior,
  calibratedAt,
  fitOpenSet,
  openSetScore,
  temperatureScale,
  withPosteriorMeans,
  type OpenSetModel,
} from './openset.js';
import { noveltyCapacity, noveltyOn, StreamNovelty } from './novelty.js';
import { Recentring } from './recentre.js';
import { reestimateMeans } from './reestimate.js';
import { RecentFrames } from './stream.js';
import { SupportSets, unit } from './t3a.js';
import { newThresholdState, type ThresholdState } from './thresholds.js';

type Resolved = ResolvedLearnerOptions;

/**
 * Everything a {@link Learner} knows, as plain fields, with the computations that read it. Internal:
 * the Learner owns one and keeps the public API, argument checks and the adapt() queue; the stream
 * step (observe.ts), the adaptation round (round.ts) and state packing (pack.ts) work on it.
 */
export class LearnerCore {
  o: Resolved;
  spec: HeadSpec;
  classes: string[] = [];
  fitted = false;
  student: Float32Array;
  teacher: Float32Array;
  opt: OptimizerState;
  rng: Rng;
  replay: ReplayBuffer;
  th: ThresholdState;
  meanPred: Float64Array;
  align: FeatureAligner;
  ph: PageHinkley;
  adwin: Adwin;
  supports = new SupportSets();
  edrift: EmbeddingDrift;
  recent: RecentFrames;
  /** Pseudo-labels accepted per class since the last adapt() (the per-round cap). */
  roundAccepted: Float64Array = new Float64Array(0);
  temperature = 1;
  /** Running share of stream frames called unknown (EMA over ~50 frames). */
  unknownRate = 0;
  /** EMA of the predicted class over the stream (one-hot), for the label-shift test of the stream weight. */
  predFreq: Float64Array = new Float64Array(0);
  /** Label prototypes and open-set thresholds; undefined when the labels changed since they were fitted. */
  open: OpenSetModel | undefined;
  /** Class means of the labels (the NCM fallback before the head is first fitted). */
  protos: Float32Array = new Float32Array(0);
  counters: LearnerCounters = newCounters();
  rejectedNonFinite = 0;
  /** Class name → index (so adding or finding a class does not scan the list). */
  index = new Map<string, number>();
  /** Classes named but not yet given head rows and statistics: grown in one copy by {@link LearnerCore.sync}. */
  pending = 0;
  /** Label prototypes must be recomputed before they are next read. */
  protosDirty = false;
  /** The stream frames (normalised, unaligned) the class means are re-estimated on. */
  emFrames: RecentFrames;
  /** Class means of the class posterior re-estimated on the stream (classes × dim); empty: the label means. */
  emMeans: Float32Array = new Float32Array(0);
  /** The stream frames and fractions of the stream-side novelty (`openSet.streamNovelty`). */
  novelty: StreamNovelty;
  /** Class means re-centred on a shifted stream (recentre.ts); read by the class posterior before `emMeans`. */
  recentring: Recentring;

  /** @param o - resolved options */
  constructor(o: Resolved) {
    this.o = o;
    this.spec = headSpec(o.head, o.dim, o.hidden);
    this.rng = new Rng(o.seed);
    this.student = this.spec.init(this.rng, 0);
    this.teacher = Float32Array.from(this.student);
    this.opt = newOptimizerState(this.student.length);
    this.replay = new ReplayBuffer(o.labeledPerClass, o.pseudoCapacity);
    this.th = newThresholdState(0);
    this.meanPred = new Float64Array(0);
    this.align = new FeatureAligner(o.dim);
    this.ph = new PageHinkley(o.drift.pageHinkley);
    this.adwin = new Adwin(o.drift.adwin);
    this.edrift = new EmbeddingDrift(o.dim, o.drift.embedding);
    this.recent = new RecentFrames(o.pseudo.recent, o.dim);
    this.emFrames = new RecentFrames(o.reestimate.when === 'never' ? 1 : o.reestimate.window, o.dim);
    this.novelty = new StreamNovelty(noveltyCapacity(o), o.dim);
    this.recentring = new Recentring(o.recentre.enabled ? o.recentre.window : 1, o.dim);
  }

  /** Grows head, optimiser, thresholds, mean prediction and prototypes for pending classes, and refreshes stale prototypes. */
  sync(): void {
    const k = this.pending;
    if (k > 0) {
      const c = this.classes.length - k;
      this.student = this.spec.addClasses(this.student, c, k);
      this.teacher = this.spec.addClasses(this.teacher, c, k);
      // Moments for a resized parameter vector are meaningless; restart them.
      this.opt = newOptimizerState(this.student.length);
      this.replay.shrinkToQuota(this.rng);
      const th = this.th;
      const sigma = new Float64Array(c + k);
      sigma.set(th.sigma);
      const local = new Float64Array(c + k);
      local.set(th.local);
      // As if added one at a time: each new class starts at the uniform share of its own moment.
      for (let i = c; i < c + k; i++) local[i] = 1 / (i + 1);
      this.th = { sigma, unused: th.unused, global: th.global, local };
      this.meanPred = new Float64Array(c + k);
      this.resetMeanPrediction();
      const protos = new Float32Array((c + k) * this.o.dim);
      protos.set(this.protos.subarray(0, Math.min(this.protos.length, c * this.o.dim)));
      this.protos = protos;
      const ra = new Float64Array(c + k);
      ra.set(this.roundAccepted);
      this.roundAccepted = ra;
      this.predFreq = new Float64Array(c + k).fill(1 / (c + k));
      this.open = undefined;
      this.pending = 0;
    }
    if (this.protosDirty) {
      this.protosDirty = false;
      this.refreshPrototypes();
    }
  }

  /** L2-normalise and scale to √dim so every coordinate is O(1) whatever the encoder's scale. */
  normalize(x: Float32Array): Float32Array {
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
  streamWeight(u: Float32Array): number {
    const c = this.classes.length;
    const z = this.align.align(this.o, u);
    let w = 1;
    if (this.o.openSet.enabled) {
      // A few strangers in a familiar stream do not redefine it; a stream where most frames are
      // unfamiliar has shifted as a whole, and then alignment must follow it.
      const unknown = openSetScore(this.openSet(), u, this.energy(z, false)).margin < 0;
      this.unknownRate = 0.98 * this.unknownRate + 0.02 * (unknown ? 1 : 0);
      if (unknown && this.unknownRate < 0.5) return 0;
      // A stream mostly unfamiliar has shifted as a whole (a corruption, a new camera): every frame counts
      // alike — weighing by a near-chance head's class calls would align on a biased few.
      if (this.unknownRate >= 0.5) return 1;
    }
    if (this.o.distributionAlignment && c >= 2) {
      // A stream whose predictions crowd onto under half the classes is a label shift (a camera on one
      // thing), not a change of domain: mapping its mean onto the labels' would move it towards classes it does not show.
      const k = argmax(this.probs(z, this.teacher, false));
      // Frequencies of the predicted class (hard calls: an underconfident head's mean probabilities look balanced).
      let h = 0;
      let tot = 0;
      for (let j = 0; j < c; j++) {
        this.predFreq[j] = 0.99 * this.predFreq[j]! + (j === k ? 0.01 : 0);
        tot += this.predFreq[j]!;
      }
      for (let j = 0; j < c; j++) {
        const p = this.predFreq[j]! / tot;
        if (p > 0) h -= p * Math.log(p);
      }
      if (Math.exp(h) < c / 2) {
        // …and what alignment already absorbed of it is let go, towards the labels' own statistics.
        this.align.relax(0.02);
        return 0;
      }
      w = Math.min(1, 1 / (c * Math.max(this.meanPred[k]!, 1e-6)));
    }
    return w;
  }

  resetMeanPrediction(): void {
    this.meanPred.fill(1 / Math.max(this.classes.length, 1));
  }

  /** Before the first fit, and always for NCM, prototypes are the class means of the labels. */
  refreshPrototypes(): void {
    const d = this.o.dim;
    const c = this.classes.length;
    const protos = new Float32Array(c * d);
    const w = new Float64Array(c);
    for (const e of this.replay.all()) {
      if (e.holdout) continue;
      const wt = e.labeled ? 1 : this.o.pseudoWeight;
      w[e.cls] = w[e.cls]! + wt;
      for (let j = 0; j < d; j++) protos[e.cls * d + j] = protos[e.cls * d + j]! + wt * e.x[j]!;
    }
    for (let k = 0; k < c; k++)
      if (w[k]! > 0) for (let j = 0; j < d; j++) protos[k * d + j] = protos[k * d + j]! / w[k]!;
    this.protos = protos;
    // The open-set model reads the teacher's energies, which move with the prototypes.
    this.open = undefined;
    if (this.o.head === 'ncm') {
      this.student = Float32Array.from(protos);
      this.teacher = Float32Array.from(protos);
    }
  }

  probs(z: Float32Array, params: Float32Array, useSupports: boolean, fitted = this.fitted): Float64Array {
    return softmaxInPlace(this.logits(z, params, useSupports, fitted));
  }

  /**
   * Logits of a prediction: the head's, and for the linear and adapter heads with `openSet.classifierWeight`
   * > 0 its log-probabilities plus the weighted class posterior of the Gaussian model on the labels.
   */
  logits(z: Float32Array, params: Float32Array, useSupports: boolean, fitted = this.fitted): Float64Array {
    const out = this.headLogits(z, params, useSupports, fitted);
    return useSupports ? out : this.withPosterior(z, out);
  }

  /** `logits` of the head on `z` with the class posterior weighed in (in place), when it applies. */
  withPosterior(z: Float32Array, logits: Float64Array): Float64Array {
    const os = this.o.openSet;
    if (os.enabled && os.classifierWeight > 0 && this.o.head !== 'ncm')
      addClassPosterior(this.openSet(), z, logits, os.classifierWeight);
    return logits;
  }

  /**
   * Probability of class `k` at `z` under the Gaussian class posterior alone (tempered on leave-one-out
   * labels, so honest also with a few labels, where no temperature is fitted yet); 1 when it does not apply.
   */
  posteriorAt(z: Float32Array, k: number): number {
    const os = this.o.openSet;
    if (!os.enabled || os.classifierWeight === 0 || this.o.head === 'ncm') return 1;
    const g = classLogPosterior(this.openSet(), z);
    return g ? Math.exp(g[k]!) : 1;
  }

  /** Energy −logsumexp of the teacher head's logits (without the class posterior). */
  energy(z: Float32Array, useSupports: boolean): number {
    return -logSumExp(this.headLogits(z, this.teacher, useSupports));
  }

  /** The head's own logits (supports for T3A; label prototypes before the first fit). */
  headLogits(z: Float32Array, params: Float32Array, useSupports: boolean, fitted = this.fitted): Float64Array {
    const c = this.classes.length;
    const out = new Float64Array(c);
    if (useSupports) {
      this.supports.logits(unit(this.spec.features(params, z)), (k) => this.row(k, params), out);
    } else if (!fitted && this.o.head !== 'ncm') {
      headSpec('ncm', this.o.dim).forward(this.protos, c, z, out);
    } else {
      this.spec.forward(params, c, z, out);
    }
    return out;
  }

  /**
   * The teacher still picks `k` once weighted by the stream's own class frequencies (the running mean
   * prediction, as in EM label-shift correction): distribution alignment pushes pseudo-labels towards
   * rare classes, and on a stream that shows one class the rare-class calls are its odd frames.
   */
  priorAgrees(head: Float64Array, k: number): boolean {
    return weightedArgmax(head, this.meanPred) === k;
  }

  /**
   * The nearest label mean is class `k` both after alignment and before it: the unaligned check is
   * what stops a stream of one class, which alignment pulls towards the other classes, from
   * pseudo-labelling itself as them.
   */
  prototypeAgrees(k: number, z: Float32Array, u: Float32Array): boolean {
    const m = this.openSet();
    return openSetScore(m, z).cls === k && (z === u || openSetScore(m, u).cls === k);
  }

  /** The open-set model of the current labels and teacher (refitted after either changes). */
  openSet(): OpenSetModel {
    if (!this.open) {
      const os = this.o.openSet;
      // Label energies under the current teacher: refitted when it changes (adapt, NCM refresh).
      const m = fitOpenSet(
        this.replay.labeled,
        this.o.dim,
        os,
        (x) => -logSumExp(this.headLogits(x, this.teacher, false)),
      );
      const means = this.recentring.means.length > 0 ? this.recentring.means : this.emMeans;
      this.open = means.length === m.classes * m.dim && m.classes > 0 ? withPosteriorMeans(m, means) : m;
    }
    return this.open;
  }

  /** Whether the class means are re-estimated on the stream now (`reestimate.when`, and for `'auto'` the labels per class). */
  reestimating(): boolean {
    const r = this.o.reestimate;
    // Only a self-training learner learns from the stream; NCM and a learner without the class posterior have nothing it would move.
    const os = this.o.openSet;
    if (
      r.when === 'never' ||
      this.o.mode !== 'self-train' ||
      this.o.head === 'ncm' ||
      !os.enabled ||
      os.classifierWeight === 0
    )
      return false;
    if (r.when === 'always') return true;
    let n = 0;
    let k = 0;
    for (const l of this.replay.labeled)
      if (l.length > 0) {
        n += l.length;
        k++;
      }
    return k > 0 && n / k <= r.maxLabelsPerClass;
  }

  /**
   * Re-estimates the class posterior's means on the recent stream (reestimate.ts) under the current
   * teacher and alignment, or drops re-estimated means when it does not apply (any more).
   */
  reestimate(): void {
    if (!this.reestimating() || this.emFrames.length === 0) {
      if (this.emMeans.length > 0) {
        this.emMeans = new Float32Array(0);
        this.open = undefined;
      }
      return;
    }
    const r = this.o.reestimate;
    this.emMeans = new Float32Array(0);
    this.open = undefined;
    const labelModel = this.openSet();
    const frames = this.emFrames.frames().map((f) => this.align.align(this.o, f));
    const means = reestimateMeans(labelModel, frames, this.headLogProbs(frames, r.headWeight), r);
    this.open = undefined;
    if (means) this.emMeans = means;
  }

  /**
   * The teacher head's log-probabilities of each aligned frame, for the E-step of a re-estimation of the
   * class means (reestimate.ts); undefined when `weight` is 0, as the E-step then reads the Gaussian posterior alone.
   */
  headLogProbs(frames: readonly Float32Array[], weight: number): Float64Array[] | undefined {
    if (weight <= 0) return undefined;
    return frames.map((z) => {
      const l = this.headLogits(z, this.teacher, false);
      const lz = logSumExp(l);
      for (let k = 0; k < l.length; k++) l[k] = l[k]! - lz;
      return l;
    });
  }

  /** The classifier row of class `k` (the label prototype before the first fit). */
  row(k: number, params: Float32Array): Float32Array {
    return this.fitted || this.o.head === 'ncm'
      ? this.spec.row(params, this.classes.length, k)
      : this.protos.slice(k * this.o.dim, (k + 1) * this.o.dim);
  }

  /** Calibrated probability of class `k` under raw probabilities `raw`. */
  calibrated(raw: Float64Array, k: number): number {
    return calibratedAt(raw, k, this.o.calibration ? this.temperature : 1);
  }

  /** The kNN stream fraction of `u` (normalised, unaligned) for the stream-side novelty; undefined when it is off or not ready. */
  streamFraction(u: Float32Array): number | undefined {
    if (!noveltyOn(this.o)) return undefined;
    return this.novelty.fraction(this.openSet(), this.replay.labeled, u, this.o.openSet.neighbours);
  }

  /**
   * A prediction from raw probabilities: calibrated by the temperature, with the open-set verdict on the
   * unaligned input `u` (its stream fraction, when the stream-side novelty is on, computed once by the caller).
   */
  toPrediction(raw: Float64Array, u: Float32Array, energy: number, fraction = this.streamFraction(u)): Prediction {
    const p = this.o.calibration ? temperatureScale(raw, this.temperature) : raw;
    const b = argmax(p);
    const os = this.o.openSet;
    let open = os.enabled ? openSetScore(this.openSet(), u, energy).margin : Number.POSITIVE_INFINITY;
    // Only ever towards unknown: a frame whose neighbours are labels more than usual is not vouched for by it.
    if (fraction !== undefined) open -= 4 * os.streamNovelty * Math.max(0, fraction - this.novelty.reference());
    return {
      label: this.classes[b]!,
      confidence: p[b]!,
      probs: Float32Array.from(p),
      entropy: normalizedEntropy(p),
      unknown: open < 0,
      familiarity: open,
      energy,
    };
  }
}
