// The Learner's state packing: a plain, versioned copy of a LearnerCore (getState) and its exact restoration (fromState).
import type { LearnerCore } from './core.js';
import { FeatureAligner } from './align.js';
import { Adwin, EmbeddingDrift, PageHinkley } from './drift.js';
import { headSpec } from './heads.js';
import type { ResolvedLearnerOptions } from './options.js';
import { noveltyCapacity, StreamNovelty } from './novelty.js';
import { Recentring } from './recentre.js';
import { ReplayBuffer } from './replay.js';
import { Rng } from './rng.js';
import { LEARNER_STATE_VERSION, type LearnerState } from './state.js';
import { RecentFrames } from './stream.js';
import { SupportSets } from './t3a.js';

/** A structured-clone-able copy of everything in `c` (nothing shared with it); `c` must be synced. */
export function packState(c: LearnerCore): LearnerState {
  const d = c.o.dim;
  const a = c.align;
  return {
    format: 'edgetune.learner',
    version: LEARNER_STATE_VERSION,
    options: structuredClone(c.o),
    classes: [...c.classes],
    fitted: c.fitted,
    student: Float32Array.from(c.student),
    teacher: Float32Array.from(c.teacher),
    optimizer: { m: Float32Array.from(c.opt.m), v: Float32Array.from(c.opt.v), t: c.opt.t },
    rng: Uint32Array.from(c.rng.state),
    replay: c.replay.pack(d),
    thresholds: {
      sigma: Float64Array.from(c.th.sigma),
      unused: c.th.unused,
      global: c.th.global,
      local: Float64Array.from(c.th.local),
    },
    meanPrediction: Float64Array.from(c.meanPred),
    anchorSum: Float64Array.from(a.anchorSum),
    anchorSq: Float64Array.from(a.anchorSq),
    anchorN: a.anchorN,
    streamMean: Float64Array.from(a.streamMean),
    streamSq: Float64Array.from(a.streamSq),
    streamN: a.streamN,
    pageHinkley: { ...c.ph.state },
    adwin: {
      window: Float64Array.from(c.adwin.state.window),
      length: c.adwin.state.length,
      seen: c.adwin.state.seen,
    },
    supports: c.supports.pack(d),
    protos: Float32Array.from(c.protos),
    counters: { ...c.counters },
    temperature: c.temperature,
    unknownRate: c.unknownRate,
    predictedFrequency: Float64Array.from(c.predFreq),
    embeddingDrift: {
      ...c.edrift.state,
      refSum: Float64Array.from(c.edrift.state.refSum),
      refSq: Float64Array.from(c.edrift.state.refSq),
      ring: Float32Array.from(c.edrift.state.ring),
    },
    recent: { x: Float32Array.from(c.recent.x), length: c.recent.length, next: c.recent.next },
    roundAccepted: Float64Array.from(c.roundAccepted),
    reestimate: {
      x: Float32Array.from(c.emFrames.x),
      length: c.emFrames.length,
      next: c.emFrames.next,
      means: Float32Array.from(c.emMeans),
    },
    novelty: {
      frames: {
        x: Float32Array.from(c.novelty.frames.x),
        length: c.novelty.frames.length,
        next: c.novelty.frames.next,
      },
      fractions: {
        x: Float32Array.from(c.novelty.fractions.x),
        length: c.novelty.fractions.length,
        next: c.novelty.fractions.next,
      },
    },
    recentre: {
      x: Float32Array.from(c.recentring.frames.x),
      length: c.recentring.frames.length,
      next: c.recentring.frames.next,
      since: c.recentring.since,
      means: Float32Array.from(c.recentring.means),
    },
  };
}

/**
 * Overwrites `c` with a validated state (see `validateState`): the learner then continues bit-for-bit
 * where the saved one was.
 */
export function restoreCore(c: LearnerCore, s: LearnerState, o: ResolvedLearnerOptions): void {
  c.o = structuredClone(o);
  c.spec = headSpec(o.head, o.dim, o.hidden);
  c.classes = [...s.classes];
  c.fitted = s.fitted;
  c.student = Float32Array.from(s.student);
  c.teacher = Float32Array.from(s.teacher);
  c.opt = { m: Float32Array.from(s.optimizer.m), v: Float32Array.from(s.optimizer.v), t: s.optimizer.t };
  c.rng = new Rng(s.rng);
  c.replay = ReplayBuffer.unpack(s.replay, o.labeledPerClass, o.pseudoCapacity);
  c.th = {
    sigma: Float64Array.from(s.thresholds.sigma),
    unused: s.thresholds.unused,
    global: s.thresholds.global,
    local: Float64Array.from(s.thresholds.local),
  };
  c.meanPred = Float64Array.from(s.meanPrediction);
  const a = new FeatureAligner(o.dim);
  a.anchorSum = Float64Array.from(s.anchorSum);
  a.anchorSq = Float64Array.from(s.anchorSq);
  a.anchorN = s.anchorN;
  a.streamMean = Float64Array.from(s.streamMean);
  a.streamSq = Float64Array.from(s.streamSq);
  a.streamN = s.streamN;
  c.align = a;
  c.ph = new PageHinkley(o.drift.pageHinkley, s.pageHinkley);
  c.adwin = new Adwin(o.drift.adwin, s.adwin);
  c.supports = SupportSets.unpack(s.supports, c.classes.length, o.dim);
  c.protos = Float32Array.from(s.protos);
  c.counters = { ...s.counters };
  c.index = new Map(c.classes.map((n, j) => [n, j]));
  c.temperature = s.temperature;
  c.unknownRate = s.unknownRate;
  c.predFreq = Float64Array.from(s.predictedFrequency);
  c.edrift = new EmbeddingDrift(o.dim, o.drift.embedding, s.embeddingDrift);
  c.recent = new RecentFrames(o.pseudo.recent, o.dim, s.recent);
  c.roundAccepted = Float64Array.from(s.roundAccepted);
  const em = s.reestimate;
  c.emFrames = new RecentFrames(o.reestimate.when === 'never' ? 1 : o.reestimate.window, o.dim, em);
  c.emMeans = em ? Float32Array.from(em.means) : new Float32Array(0);
  c.novelty = new StreamNovelty(noveltyCapacity(o), o.dim, s.novelty);
  const rs = s.recentre;
  c.recentring = new Recentring(o.recentre.enabled ? o.recentre.window : 1, o.dim, rs);
  if (rs) {
    c.recentring.since = rs.since;
    c.recentring.means = Float32Array.from(rs.means);
  }
  c.open = undefined;
}
