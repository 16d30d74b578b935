// One stream step of the Learner: stream statistics, prediction, the pseudo-label decision and the drift detectors.
import type { LearnerCore } from './core.js';
import type { DetectorChange } from './drift.js';
import type { DriftEvent, LearnerEvent, Observation } from './events.js';
import { noveltyOn } from './novelty.js';
import { argmax, logSumExp, normalizedEntropy, softmaxInPlace } from './ops.js';
import { recentreFrame } from './recentre.js';
import { classThresholds, updateThresholds } from './thresholds.js';
import { unit } from './t3a.js';

/**
 * Takes one checked, unlabeled embedding (the learner is ready and synced): see {@link Learner.observe}.
 *
 * @param c - the learner's state, updated in place
 * @param embedding - the raw embedding (finite, `dim` values)
 * @param augmented - an optional second view of the same input, checked likewise
 * @param emit - sends a drift event to the learner's listeners
 */
export function observeFrame(
  c: LearnerCore,
  embedding: Float32Array,
  augmented: Float32Array | undefined,
  emit: (e: LearnerEvent) => void,
): Observation {
  const o = c.o;
  const cnt = c.counters;
  const u = c.normalize(embedding);
  const duplicate = o.pseudo.duplicateCosine < 1 && c.recent.isDuplicate(u, o.pseudo.duplicateCosine);
  if (!duplicate) {
    if (o.featureAlignment !== 'none') c.align.updateStream(o, u, c.streamWeight(u));
    c.recent.push(u);
    if (o.reestimate.when !== 'never') c.emFrames.push(u);
    recentreFrame(c, u);
  }
  const z = c.align.align(o, u);
  const step = cnt.seen;
  cnt.seen = step + 1;
  const raw = c.headLogits(z, c.teacher, false);
  let energy = -logSumExp(raw);
  const head = softmaxInPlace(c.withPosterior(z, Float64Array.from(raw)));
  // The drift detectors read the head alone (the class posterior is sure of far-off inputs too).
  let plain = softmaxInPlace(raw);
  let shown = head;
  if (o.mode === 't3a' && !duplicate) {
    const f = unit(c.spec.features(c.teacher, z));
    c.supports.add(argmax(head), { f, ent: normalizedEntropy(head), step }, o.t3aFilter);
  }
  if (o.mode === 't3a') {
    const l = c.logits(z, c.teacher, true);
    energy = -logSumExp(l);
    shown = softmaxInPlace(l);
    plain = shown;
  }
  // Distribution alignment: divide out the running mean prediction so no class can take over the pseudo-labels.
  let pl = head;
  if (o.distributionAlignment) {
    const nc = head.length;
    pl = new Float64Array(nc);
    let s = 0;
    for (let k = 0; k < nc; k++) {
      pl[k] = head[k]! / Math.max(c.meanPred[k]!, 1e-6);
      s += pl[k]!;
    }
    for (let k = 0; k < nc; k++) pl[k] = pl[k]! / s;
    if (!duplicate) {
      const d = o.alignmentDecay;
      for (let k = 0; k < nc; k++) c.meanPred[k] = d * c.meanPred[k]! + (1 - d) * head[k]!;
    }
  }
  if (!duplicate) updateThresholds(o.threshold, c.th, pl);
  const k = argmax(pl);
  // Scored before the frame joins the novelty ring, so it is never its own neighbour.
  const fraction = c.streamFraction(u);
  const prediction = c.toPrediction(shown, u, energy, fraction);
  let accepted = false;
  if (o.mode === 'self-train') {
    const cap =
      o.pseudo.perClassPerRound > 0
        ? o.pseudo.perClassPerRound
        : Math.max(1, Math.ceil((2 * o.adaptEvery) / c.classes.length));
    if (duplicate) cnt.rejectedDuplicate += 1;
    else if (prediction.unknown) cnt.rejectedUnknown += 1;
    else if (
      pl[k]! < classThresholds(o.threshold, c.th)[k]! ||
      c.calibrated(head, k) < o.pseudo.minConfidence ||
      c.posteriorAt(z, k) < o.pseudo.minConfidence
    )
      cnt.rejectedLowConfidence += 1;
    else if (
      o.pseudo.agreement &&
      (argmax(head) !== k ||
        !c.priorAgrees(head, k) ||
        argmax(c.probs(z, c.student, false)) !== k ||
        !c.prototypeAgrees(k, z, u))
    )
      cnt.rejectedDisagreement += 1;
    else if (c.roundAccepted[k]! >= cap) {
      cnt.rejectedCap += 1;
      cnt.cappedSinceAdapt += 1;
    } else {
      const x2 = augmented === undefined ? undefined : c.align.align(o, c.normalize(augmented));
      accepted = c.replay.addPseudo({ x: z, x2, cls: k, labeled: false, holdout: false, conf: pl[k]!, step }, c.rng);
      if (accepted) {
        cnt.accepted += 1;
        cnt.sinceAdapt += 1;
        c.roundAccepted[k] = c.roundAccepted[k]! + 1;
        // A class that filled its share makes the round due, rather than letting other classes' (rarer, likelier wrong) pseudo-labels fill the round.
        if (c.roundAccepted[k]! >= cap) cnt.adaptDue = true;
      } else cnt.rejectedByReservoir += 1;
    }
  }
  if (!duplicate && noveltyOn(o)) c.novelty.push(c.openSet(), u, fraction);
  const drift = duplicate ? undefined : detectDrift(c, plain, u, step, emit);
  if (drift) cnt.adaptDue = true;
  if (o.mode === 'self-train' && cnt.sinceAdapt >= o.adaptEvery) cnt.adaptDue = true;
  return {
    label: prediction.label,
    confidence: prediction.confidence,
    accepted,
    pseudoLabel: accepted ? c.classes[k] : undefined,
    unknown: prediction.unknown,
    duplicate,
    prediction,
    drift,
    adaptDue: cnt.adaptDue,
  };
}

/** Feeds the drift detectors; on a change resets them, drops stale replay and supports, restarts the stream statistics and emits the event. */
function detectDrift(
  c: LearnerCore,
  p: Float64Array,
  u: Float32Array,
  step: number,
  emit: (e: LearnerEvent) => void,
): DriftEvent | undefined {
  const d = c.o.drift;
  if (!d.enabled) return undefined;
  // Uncalibrated, so a new temperature is not a change in the stream.
  const x = d.signal === 'confidence' ? 1 - p[argmax(p)]! : normalizedEntropy(p);
  let change: DetectorChange | undefined;
  if (d.detectors.includes('embedding')) change = c.edrift.update(u) ?? change;
  if (d.detectors.includes('page-hinkley')) change = c.ph.update(x) ?? change;
  if (d.detectors.includes('adwin')) {
    const a = c.adwin.update(x);
    // Only rising uncertainty is drift: the learner growing surer of a stationary stream is not.
    if (a && a.meanAfter > a.meanBefore) change = a;
  }
  if (!change) return undefined;
  c.ph.reset();
  c.adwin.reset();
  c.edrift.reset();
  c.counters.drifts += 1;
  // Components not confirmed for maxAge steps describe a stream that is gone.
  const before = step - d.maxAge;
  const droppedReplay = c.replay.dropAged(before);
  const droppedSupports = c.supports.dropAged(before);
  c.resetMeanPrediction();
  c.predFreq.fill(1 / Math.max(c.classes.length, 1));
  // The stream statistics describe the old stream too: alignment starts again from the labels.
  c.align.resetStream();
  // …and so do the frames the class means were re-estimated on, and those means.
  c.emFrames.clear();
  // …and the frames the stream-side novelty compares with.
  c.novelty.clear();
  // …except the re-centring's, after an alarm on confidence alone in a stream that was already unfamiliar: the
  // embedding test saw no change of input, only the head growing unsure (dev noise 5), and its frames still describe the stream.
  if (change.detector === 'embedding' || c.unknownRate < c.o.recentre.minUnknown) {
    if (c.recentring.means.length > 0) c.open = undefined;
    c.recentring.clear();
  }
  if (c.emMeans.length > 0) {
    c.emMeans = new Float32Array(0);
    c.open = undefined;
  }
  if (c.o.head === 'ncm') c.refreshPrototypes();
  const e: DriftEvent = { type: 'drift', step, change, droppedReplay, droppedSupports };
  emit(e);
  return e;
}
