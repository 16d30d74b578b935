// One adaptation round of the Learner: the training set from replay, a round of training on copies, the label and stream guards, then commit or roll back.
import { yieldToEventLoop } from '../core/errors.js';
import type { LearnerCore } from './core.js';
import type { AdaptProgress, AdaptResult, LearnerEvent } from './events.js';
import { guardScore, guardSet, guardSlack } from './guard.js';
import { allFinite, argmax } from './ops.js';
import { newOptimizerState } from './optim.js';
import { fitTemperature, openSetScore } from './openset.js';
import type { ReplayEntry } from './replay.js';
import { Rng } from './rng.js';
import { checkStream, streamVerdict, type StreamCheck } from './stream.js';
import { YIELD_MS, trainRound, type TrainItem } from './train.js';

/**
 * Runs one round of {@link Learner.adapt} on a ready, synced learner. The caller marks the learner
 * busy, queues structural changes meanwhile and applies them after; this trains copies and swaps them
 * in only when the guards pass, so a throw (abort, dispose) leaves `c` as before.
 *
 * @param c - the learner's state
 * @param check - throws when the learner was disposed or the round aborted
 * @param emit - sends rollback and adapted events to the listeners
 * @param onProgress - progress by phase
 */
export async function adaptRound(
  c: LearnerCore,
  check: () => void,
  emit: (e: LearnerEvent) => void,
  onProgress: ((p: AdaptProgress) => void) | undefined,
): Promise<AdaptResult> {
  const o = c.o;
  const cnt = c.counters;
  const rngStart = Uint32Array.from(c.rng.state);
  const rng = new Rng(rngStart);
  const ncmSnap = o.head === 'ncm' ? { student: c.student, teacher: c.teacher, protos: c.protos } : undefined;
  try {
    check();
    const step = cnt.seen;
    const wasFitted = c.fitted;
    const before = wasFitted ? await roundGuardScore(c, c.teacher, wasFitted, check) : Number.NaN;
    const heldBack = c.replay.labeled.flat().filter((e) => e.holdout);
    const train: TrainItem[] = [];
    const confirmed: ReplayEntry[] = [];
    let disagreed = 0;
    const entries = c.replay.all();
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
      if (argmax(c.probs(e.x, c.teacher, false)) === e.cls) {
        confirmed.push(e);
        train.push({ e, w: o.pseudoWeight });
      } else disagreed++;
    }
    const labeledUsed = train.filter((t) => t.e.labeled).length;
    onProgress?.({ phase: 'prepare', labeled: labeledUsed, pseudo: train.length - labeledUsed });
    let steps = 0;
    let loss = 0;
    let student = c.student;
    let teacher = c.teacher;
    let opt = c.opt;
    // A softmax head fitted while fewer than two classes have labels learns "always that class"
    // (an empty class's row is driven to -∞) and later rounds' few epochs never undo it: skip the fit.
    const labeledClasses = new Set(train.filter((t) => t.e.labeled).map((t) => t.e.cls)).size;
    if (o.head === 'ncm') {
      c.refreshPrototypes();
      student = c.student;
      teacher = c.teacher;
    } else if (labeledClasses < 2) {
      if (!wasFitted) c.refreshPrototypes();
    } else {
      const nc = c.classes.length;
      student = wasFitted ? Float32Array.from(c.student) : c.spec.init(rng, nc);
      teacher = Float32Array.from(c.teacher);
      opt = wasFitted
        ? { m: Float32Array.from(opt.m), v: Float32Array.from(opt.v), t: opt.t }
        : newOptimizerState(student.length);
      const epochs = wasFitted ? o.epochs : o.firstEpochs;
      const r = await trainRound({
        spec: c.spec,
        classes: nc,
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
      if (r.nonFinite) return nonFiniteRound(c, step, before, emit);
      if (!wasFitted) teacher = Float32Array.from(student);
      if (!allFinite(student) || !allFinite(teacher) || !Number.isFinite(loss))
        return nonFiniteRound(c, step, before, emit);
    }
    const fittedAfter = o.head === 'ncm' || labeledClasses < 2 ? c.fitted : true;
    const after = await roundGuardScore(c, teacher, fittedAfter, check);
    onProgress?.({ phase: 'guard', before, after });
    const slack = guardSlack(o.guard.tolerance, guardSet(c.replay).length);
    const labelVeto = o.guard.enabled && wasFitted && Number.isFinite(before) && after < before - slack - 1e-12;
    let stream: StreamCheck | undefined;
    if (o.guard.enabled && wasFitted && c.recent.length >= 20) {
      const frames = c.recent.frames().map((f) => c.align.align(o, f));
      const open = c.openSet();
      stream = checkStream(
        frames,
        c.classes.length,
        (z) => c.logits(z, c.teacher, false),
        (z) => c.logits(z, teacher, false, fittedAfter),
        (z) => openSetScore(open, z).cls,
      );
    }
    const streamVeto = !labelVeto && stream !== undefined && streamVerdict(stream, o.guard.minAgreement) !== undefined;
    const rolledBack = labelVeto || streamVeto;
    if (rolledBack) {
      if (ncmSnap) restoreNcm(c, ncmSnap);
      cnt.rollbacks += 1;
      emit({ type: 'rollback', step, reason: labelVeto ? 'guard' : 'stream', before, after });
    } else {
      c.student = student;
      c.teacher = teacher;
      c.opt = opt;
      c.fitted = fittedAfter;
      // The open-set model reads the teacher's energies of the labels.
      c.open = undefined;
      // Calls during the round drew from the learner's generator: keep their draws rather than replay them.
      if (c.rng.state.every((v, i) => v === rngStart[i])) c.rng.state.set(rng.state);
      for (const e of confirmed) e.step = step;
    }
    // The class means follow the stream under the model the round ends with (before the temperature is fitted on it).
    c.reestimate();
    // Held-back labels have never been trained on: the honest set to fit the temperature on.
    if (o.calibration && heldBack.length >= 10 && (c.fitted || o.head === 'ncm')) {
      c.temperature = fitTemperature(
        heldBack.map((e) => c.logits(e.x, c.teacher, false)),
        heldBack.map((e) => e.cls),
      );
    }
    let holdoutReturned = 0;
    if (o.guard.holdout === 'return') {
      for (const e of heldBack) e.holdout = false;
      holdoutReturned = heldBack.length;
      if (heldBack.length && (o.head === 'ncm' || !c.fitted)) c.protosDirty = true;
    }
    c.roundAccepted.fill(0);
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
      temperature: c.temperature,
      rolledBack,
    };
    cnt.pseudoDisagreed += disagreed;
    onProgress?.({ phase: 'ready', rolledBack });
    emit({ type: 'adapted', step, result });
    return result;
  } catch (e) {
    if (ncmSnap) restoreNcm(c, ncmSnap);
    throw e;
  }
}

function restoreNcm(c: LearnerCore, s: { student: Float32Array; teacher: Float32Array; protos: Float32Array }): void {
  c.student = s.student;
  c.teacher = s.teacher;
  c.protos = s.protos;
  c.open = undefined;
}

/** Accuracy of `params` on the guard set: held-back labels, or all labels when none are held back. */
function roundGuardScore(c: LearnerCore, params: Float32Array, fitted: boolean, check: () => void): Promise<number> {
  return guardScore(guardSet(c.replay), (x) => c.probs(x, params, false, fitted), check);
}

function nonFiniteRound(c: LearnerCore, step: number, before: number, emit: (e: LearnerEvent) => void): AdaptResult {
  const cnt = c.counters;
  cnt.rollbacks += 1;
  cnt.rollbacksNonFinite += 1;
  emit({ type: 'rollback', step, reason: 'non-finite', before, after: Number.NaN });
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
    temperature: c.temperature,
    rolledBack: true,
  };
}
