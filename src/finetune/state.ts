// The Learner's saved state: its versioned shape, the named counters, and the checks fromState runs on it.
import { EdgetuneError } from '../core/errors.js';
import type { AdwinState, EmbeddingDriftState, PageHinkleyState } from './drift.js';
import { NOVELTY_REFERENCE, noveltyCapacity } from './novelty.js';
import type { OptimizerState } from './optim.js';
import type { ResolvedLearnerOptions } from './options.js';
import type { ReplayState } from './replay.js';
import type { SupportsState } from './t3a.js';
import type { ThresholdState } from './thresholds.js';

/** Current version of {@link LearnerState}. */
export const LEARNER_STATE_VERSION = 2;

/**
 * Everything a learner needs to resume exactly: plain numbers, strings and typed arrays, so it
 * survives `structuredClone`, `postMessage` and IndexedDB.
 */
export interface LearnerState {
  readonly format: 'edgetune.learner';
  readonly version: 2;
  readonly options: ResolvedLearnerOptions;
  readonly classes: string[];
  readonly fitted: boolean;
  readonly student: Float32Array;
  readonly teacher: Float32Array;
  readonly optimizer: OptimizerState;
  readonly rng: Uint32Array;
  readonly replay: ReplayState;
  readonly thresholds: ThresholdState;
  readonly meanPrediction: Float64Array;
  /** Feature alignment: labeled sums, stream EMA of x and x², samples since reset. */
  readonly anchorSum: Float64Array;
  readonly anchorSq: Float64Array;
  readonly anchorN: number;
  readonly streamMean: Float64Array;
  readonly streamSq: Float64Array;
  readonly streamN: number;
  readonly pageHinkley: PageHinkleyState;
  readonly adwin: AdwinState;
  readonly supports: SupportsState;
  /** Class means of the labels (the NCM fallback before the head is first fitted). */
  readonly protos: Float32Array;
  readonly counters: LearnerCounters;
  /** Confidence temperature. */
  readonly temperature: number;
  /** Running share of stream frames called unknown. */
  readonly unknownRate: number;
  /** EMA of the predicted class (one-hot) over the stream. */
  readonly predictedFrequency: Float64Array;
  readonly embeddingDrift: EmbeddingDriftState;
  /** The last frames seen (normalised, unaligned), a ring: near-duplicate test and the stream guard. */
  readonly recent: { x: Float32Array; length: number; next: number };
  /** Pseudo-labels accepted per class since the last `adapt()`. */
  readonly roundAccepted: Float64Array;
  /**
   * The frames the class means are re-estimated on (a ring like `recent`) and the re-estimated means
   * (classes × dim, or empty). Absent in states saved before re-estimation existed.
   */
  readonly reestimate?: { x: Float32Array; length: number; next: number; means: Float32Array };
  /**
   * The stream-side novelty's frames and their stream fractions (rings like `recent`). Absent in states
   * saved before it existed.
   */
  readonly novelty?: {
    frames: { x: Float32Array; length: number; next: number };
    fractions: { x: Float32Array; length: number; next: number };
  };
  /**
   * The frames since the last drift the class means are re-centred on when the stream has shifted
   * (recentre.ts; a ring like `recent`), frames since its last run, and its means (classes × dim, or
   * empty). Absent in states saved before re-centring existed.
   */
  readonly recentre?: { x: Float32Array; length: number; next: number; since: number; means: Float32Array };
}

/** The learner's running counters, saved by name (version 1 kept them as indices into a Float64Array). */
export interface LearnerCounters {
  /** Unlabeled samples observed (the stream step). */
  seen: number;
  accepted: number;
  rejectedLowConfidence: number;
  rejectedByReservoir: number;
  pseudoDisagreed: number;
  adaptations: number;
  rollbacks: number;
  rollbacksNonFinite: number;
  drifts: number;
  /** Pseudo-labels accepted since the last `adapt()`. */
  sinceAdapt: number;
  lastGuardAccuracy: number;
  rejectedUnknown: number;
  rejectedDuplicate: number;
  rejectedDisagreement: number;
  rejectedCap: number;
  /** Frames refused by the per-class cap since the last `adapt()`. */
  cappedSinceAdapt: number;
  /** An `adapt()` is due (set by drift or by `adaptEvery` pseudo-labels, cleared by `adapt()`). */
  adaptDue: boolean;
}

/** Counters of a fresh learner. */
export function newCounters(): LearnerCounters {
  return {
    seen: 0,
    accepted: 0,
    rejectedLowConfidence: 0,
    rejectedByReservoir: 0,
    pseudoDisagreed: 0,
    adaptations: 0,
    rollbacks: 0,
    rollbacksNonFinite: 0,
    drifts: 0,
    sinceAdapt: 0,
    lastGuardAccuracy: 0,
    rejectedUnknown: 0,
    rejectedDuplicate: 0,
    rejectedDisagreement: 0,
    rejectedCap: 0,
    cappedSinceAdapt: 0,
    adaptDue: false,
  };
}

// Version 1 kept the counters in a Float64Array in this order.
const V1_COUNTERS = [
  'seen',
  'accepted',
  'rejectedLowConfidence',
  'rejectedByReservoir',
  'pseudoDisagreed',
  'adaptations',
  'rollbacks',
  'rollbacksNonFinite',
  'drifts',
  'sinceAdapt',
  'lastGuardAccuracy',
  'adaptDue',
] as const;
const COUNTERS = [
  ...V1_COUNTERS,
  'rejectedUnknown',
  'rejectedDuplicate',
  'rejectedDisagreement',
  'rejectedCap',
  'cappedSinceAdapt',
] as const;

/**
 * Brings an older state up to {@link LEARNER_STATE_VERSION} (returns newer ones unchanged; the caller validates the result).
 *
 * @param s - a state object of any known version
 */
export function migrateState(s: Record<string, unknown>): Record<string, unknown> {
  return fillNovelty(
    fillRecentreChange(fillRecentre(fillReestimate(fillOpenSet(s['version'] === 1 ? migrateV1(s) : s)))),
  );
}

/** States saved before the stream-side novelty restore with it off, so they continue exactly. */
function fillNovelty(s: Record<string, unknown>): Record<string, unknown> {
  const t = fillFields(s, 'openSet', 'streamNovelty', { streamNovelty: 0, neighbours: 20, streamWindow: 1000 });
  if (t === s) return s;
  // Without the option there were no novelty rings either.
  const { novelty, ...rest } = t;
  void novelty;
  return rest;
}

/** States saved before the class means were re-centred on a shifted stream restore with it off, so they continue exactly. */
const fillRecentre = (s: Record<string, unknown>): Record<string, unknown> =>
  fillGroup(s, 'recentre', {
    enabled: false,
    minUnknown: 0.9,
    every: 100,
    window: 1000,
    iterations: 10,
    labelWeight: 0.02,
    headWeight: 0,
    minChange: 0,
  });

/** States saved before the re-centring's `minChange` keep every re-centring, as they did. */
const fillRecentreChange = (s: Record<string, unknown>): Record<string, unknown> =>
  fillFields(s, 'recentre', 'minChange', { minChange: 0 });

/** States saved before the class means were re-estimated on the stream restore with it off, so they continue exactly. */
const fillReestimate = (s: Record<string, unknown>): Record<string, unknown> =>
  fillGroup(s, 'reestimate', {
    when: 'never',
    maxLabelsPerClass: 50,
    window: 1000,
    iterations: 3,
    labelWeight: 5,
    headWeight: 1,
    hard: false,
  });

/** A version-2 state whose resolved options lack the option group `name` (saved before it existed) gets `group`. */
function fillGroup(s: Record<string, unknown>, name: string, group: Record<string, unknown>): Record<string, unknown> {
  const opts = s['options'];
  if (s['version'] !== 2 || typeof opts !== 'object' || opts === null || name in opts) return s;
  return { ...s, options: { ...opts, [name]: group } };
}

/**
 * A version-2 state whose option group `name` lacks the field `marker` (saved before it existed) gets
 * `fields` added to that group; any other state is returned as it is (the same object).
 */
function fillFields(
  s: Record<string, unknown>,
  name: string,
  marker: string,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  const opts = s['options'];
  if (s['version'] !== 2 || typeof opts !== 'object' || opts === null) return s;
  const g = (opts as Record<string, unknown>)[name];
  if (typeof g !== 'object' || g === null || marker in g) return s;
  return { ...s, options: { ...opts, [name]: { ...g, ...fields } } };
}

/**
 * Version-2 states saved before the open-set model gained a full covariance, the energy term and the
 * class posterior carry none of them: they restore with the model they were saved with (diagonal,
 * distance only, head alone), so they continue exactly.
 */
const fillOpenSet = (s: Record<string, unknown>): Record<string, unknown> =>
  fillFields(s, 'openSet', 'covariance', {
    covariance: 'diagonal',
    shrinkage: 0.2,
    energyWeight: 0,
    classifierWeight: 0,
  });

function migrateV1(s: Record<string, unknown>): Record<string, unknown> {
  const v1 = s['counters'];
  const counters = newCounters();
  if (ArrayBuffer.isView(v1) && (v1 as Float64Array).length === V1_COUNTERS.length) {
    const a = v1 as Float64Array;
    V1_COUNTERS.forEach((name, i) => {
      if (name === 'adaptDue') counters.adaptDue = a[i] === 1;
      else counters[name] = a[i]!;
    });
  } else
    throw new EdgetuneError(
      'STATE_INVALID',
      `Learner state field 'counters' should hold ${V1_COUNTERS.length} values in a version-1 state; the state is damaged.`,
      { details: { field: 'counters' } },
    );
  // Version 1 left the label prototypes short after a class was added to a fitted head; they are only read before the first fit.
  const o = s['options'] as { dim?: unknown } | undefined;
  const c = Array.isArray(s['classes']) ? s['classes'].length : 0;
  const protos = s['protos'];
  const fixed =
    typeof o?.dim === 'number' &&
    protos instanceof Float32Array &&
    protos.length !== c * o.dim &&
    Number.isInteger(c * o.dim)
      ? new Float32Array(c * o.dim)
      : protos;
  const opts = (s['options'] ?? {}) as Record<string, unknown>;
  const guard = (opts['guard'] ?? {}) as Record<string, unknown>;
  const drift = (opts['drift'] ?? {}) as Record<string, unknown>;
  const dim = typeof o?.dim === 'number' && Number.isInteger(o.dim) && o.dim > 0 && o.dim <= 65536 ? o.dim : 0;
  // Version-1 learners predate open-set detection, calibration, pseudo-label checks and the embedding detector: they get them with defaults, the embedding detector starting fresh.
  const options = {
    ...opts,
    guard: { ...guard, holdout: 'keep', minAgreement: guard['enabled'] === false ? 0 : 0.5 },
    drift: { ...drift, embedding: {} },
    openSet: { enabled: true, quantile: 0.05, margin: 0 },
    calibration: true,
    pseudo: { agreement: true, minConfidence: 0, duplicateCosine: 0.995, recent: 128, perClassPerRound: 0 },
  };
  return {
    ...s,
    version: 2,
    options,
    counters,
    protos: fixed,
    temperature: 1,
    unknownRate: 0,
    predictedFrequency: new Float64Array(c).fill(1 / Math.max(c, 1)),
    embeddingDrift: {
      refN: 0,
      refSum: new Float64Array(dim),
      refSq: new Float64Array(dim),
      ring: new Float32Array(100 * dim),
      length: 0,
      next: 0,
      seen: 0,
    },
    recent: { x: new Float32Array(128 * dim), length: 0, next: 0 },
    roundAccepted: new Float64Array(c),
  };
}

/** Refuses a state field by name: `STATE_INVALID` with the field in the message and the details. */
function bad(field: string, what: string): never {
  throw new EdgetuneError(
    'STATE_INVALID',
    `Learner state field '${field}' ${what}; the state is damaged or from another build — restore an earlier checkpoint.`,
    { details: { field } },
  );
}

type TypedCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | Uint8ArrayConstructor;

/** Checks a typed array's kind, length and (for float arrays) that every value is finite. */
function typed(field: string, v: unknown, ctor: TypedCtor, length: number, finite = true): void {
  if (!(v instanceof ctor))
    bad(
      field,
      `should be a ${ctor.name}, got ${v === null ? 'null' : typeof v === 'object' ? ((v as object).constructor?.name ?? 'an object') : typeof v}`,
    );
  if (v.length !== length) bad(field, `should hold ${length} values, got ${v.length}`);
  if (finite) for (let i = 0; i < v.length; i++) if (!Number.isFinite(v[i]!)) bad(field, `holds ${v[i]} at index ${i}`);
}

function count(field: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max)
    bad(field, `should be an integer in [0, ${max}], got ${String(v)}`);
  return v;
}

/** A ring of frames (stream.ts `RecentFrames`): `capacity × dim` values, and while not full, filled from slot 0 up to `next`. */
function ring(field: string, r: Record<string, unknown>, capacity: number, dim: number): void {
  typed(`${field}.x`, r['x'], Float32Array, capacity * dim);
  const length = count(`${field}.length`, r['length'], capacity);
  const next = count(`${field}.next`, r['next'], capacity - 1);
  if (length < capacity && next !== length)
    bad(`${field}.next`, `should be ${length} while the ring is not full, got ${next}`);
}

function finite(field: string, v: unknown, nanOk = false): void {
  if (typeof v !== 'number' || !(Number.isFinite(v) || (nanOk && Number.isNaN(v))))
    bad(field, `should be a finite number, got ${String(v)}`);
}

function obj(field: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(field, 'should be an object');
  return v as Record<string, unknown>;
}

/**
 * Checks every field of a (migrated) state against its own options: kinds, lengths, finiteness,
 * ranges and the bounds that keep every later call's work bounded (ADWIN window, replay, supports).
 *
 * @param s - the state, already migrated to the current version
 * @param paramCount - parameters of the head for `c` classes
 * @param adwinWindow - the ADWIN ring length of these options
 */
export function validateState(
  s: Record<string, unknown>,
  paramCount: (c: number) => number,
  adwinWindow: number,
  embeddingWindow: number,
  maxClasses: number,
): void {
  const o = s['options'] as ResolvedLearnerOptions;
  const dim = o.dim;
  const classes = s['classes'];
  if (!Array.isArray(classes)) bad('classes', 'should be an array of class names');
  if (classes.length > maxClasses)
    bad('classes', `holds ${classes.length} classes, more than the limit of ${maxClasses}`);
  const names = new Set<string>();
  classes.forEach((n, i) => {
    if (typeof n !== 'string' || n.length === 0)
      bad(`classes[${i}]`, `should be a non-empty string, got ${JSON.stringify(n)}`);
    if (names.has(n)) bad(`classes[${i}]`, `repeats the class name '${n}'`);
    names.add(n);
  });
  const c = classes.length;
  if (typeof s['fitted'] !== 'boolean') bad('fitted', 'should be true or false');
  const p = paramCount(c);
  typed('student', s['student'], Float32Array, p);
  typed('teacher', s['teacher'], Float32Array, p);
  const opt = obj('optimizer', s['optimizer']);
  typed('optimizer.m', opt['m'], Float32Array, p);
  typed('optimizer.v', opt['v'], Float32Array, p);
  count('optimizer.t', opt['t'], Number.MAX_SAFE_INTEGER);
  typed('rng', s['rng'], Uint32Array, 4, false);
  const r = obj('replay', s['replay']);
  if (r['dim'] !== dim) bad('replay.dim', `should be ${dim}, got ${String(r['dim'])}`);
  const n = count('replay.count', r['count'], c * o.labeledPerClass + o.pseudoCapacity + c);
  typed('replay.x', r['x'], Float32Array, n * dim);
  typed('replay.hasX2', r['hasX2'], Uint8Array, n, false);
  typed('replay.x2', r['x2'], Float32Array, n * dim);
  typed('replay.cls', r['cls'], Int32Array, n, false);
  typed('replay.flags', r['flags'], Uint8Array, n, false);
  typed('replay.conf', r['conf'], Float32Array, n);
  typed('replay.step', r['step'], Float64Array, n);
  typed('replay.seenLabeled', r['seenLabeled'], Float64Array, c);
  typed('replay.seenPseudo', r['seenPseudo'], Float64Array, c);
  const cls = r['cls'] as Int32Array;
  const flags = r['flags'] as Uint8Array;
  for (let i = 0; i < n; i++) {
    if (cls[i]! < 0 || cls[i]! >= c) bad('replay.cls', `holds class index ${cls[i]} at ${i}, outside [0, ${c})`);
    if (flags[i]! > 3) bad('replay.flags', `holds ${flags[i]} at ${i}`);
  }
  const th = obj('thresholds', s['thresholds']);
  typed('thresholds.sigma', th['sigma'], Float64Array, c);
  typed('thresholds.local', th['local'], Float64Array, c);
  finite('thresholds.unused', th['unused']);
  finite('thresholds.global', th['global']);
  typed('meanPrediction', s['meanPrediction'], Float64Array, c);
  for (const f of ['anchorSum', 'anchorSq', 'streamMean', 'streamSq']) typed(f, s[f], Float64Array, dim);
  count('anchorN', s['anchorN'], Number.MAX_SAFE_INTEGER);
  count('streamN', s['streamN'], Number.MAX_SAFE_INTEGER);
  const ph = obj('pageHinkley', s['pageHinkley']);
  for (const f of ['n', 'mean', 'sumUp', 'minUp', 'sumDown', 'maxDown']) finite(`pageHinkley.${f}`, ph[f]);
  const ad = obj('adwin', s['adwin']);
  typed('adwin.window', ad['window'], Float64Array, adwinWindow);
  count('adwin.length', ad['length'], adwinWindow);
  count('adwin.seen', ad['seen'], Number.MAX_SAFE_INTEGER);
  const sp = obj('supports', s['supports']);
  const ns = count('supports.count', sp['count'], c * o.t3aFilter);
  typed('supports.x', sp['x'], Float32Array, ns * dim);
  typed('supports.cls', sp['cls'], Int32Array, ns, false);
  typed('supports.ent', sp['ent'], Float32Array, ns);
  typed('supports.step', sp['step'], Float64Array, ns);
  const scls = sp['cls'] as Int32Array;
  for (let i = 0; i < ns; i++)
    if (scls[i]! < 0 || scls[i]! >= c) bad('supports.cls', `holds class index ${scls[i]} at ${i}, outside [0, ${c})`);
  typed('protos', s['protos'], Float32Array, c * dim);
  const cnt = obj('counters', s['counters']);
  for (const f of COUNTERS) {
    if (f === 'adaptDue') {
      if (typeof cnt[f] !== 'boolean') bad('counters.adaptDue', 'should be true or false');
    } else if (f === 'lastGuardAccuracy') finite(`counters.${f}`, cnt[f], true);
    else count(`counters.${f}`, cnt[f], Number.MAX_SAFE_INTEGER);
  }
  const t = s['temperature'];
  if (typeof t !== 'number' || !(t > 0) || !Number.isFinite(t))
    bad('temperature', `should be a positive number, got ${String(t)}`);
  const ur = s['unknownRate'];
  if (typeof ur !== 'number' || !(ur >= 0 && ur <= 1))
    bad('unknownRate', `should be a number in [0, 1], got ${String(ur)}`);
  typed('predictedFrequency', s['predictedFrequency'], Float64Array, c);
  const ed = obj('embeddingDrift', s['embeddingDrift']);
  count('embeddingDrift.refN', ed['refN'], embeddingWindow);
  typed('embeddingDrift.refSum', ed['refSum'], Float64Array, dim);
  typed('embeddingDrift.refSq', ed['refSq'], Float64Array, dim);
  typed('embeddingDrift.ring', ed['ring'], Float32Array, embeddingWindow * dim);
  count('embeddingDrift.length', ed['length'], embeddingWindow);
  count('embeddingDrift.next', ed['next'], embeddingWindow - 1);
  count('embeddingDrift.seen', ed['seen'], Number.MAX_SAFE_INTEGER);
  const rc = obj('recent', s['recent']);
  ring('recent', rc, o.pseudo.recent, dim);
  typed('roundAccepted', s['roundAccepted'], Float64Array, c);
  if (s['reestimate'] !== undefined) {
    const re = obj('reestimate', s['reestimate']);
    const cap = o.reestimate.when === 'never' ? 1 : o.reestimate.window;
    ring('reestimate', re, cap, dim);
    const means = re['means'];
    typed(
      'reestimate.means',
      means,
      Float32Array,
      ArrayBuffer.isView(means) && (means as Float32Array).length === 0 ? 0 : c * dim,
    );
  }
  if (s['recentre'] !== undefined) {
    const re = obj('recentre', s['recentre']);
    const cap = o.recentre.enabled ? o.recentre.window : 1;
    ring('recentre', re, cap, dim);
    count('recentre.since', re['since'], o.recentre.every);
    const means = re['means'];
    typed(
      'recentre.means',
      means,
      Float32Array,
      ArrayBuffer.isView(means) && (means as Float32Array).length === 0 ? 0 : c * dim,
    );
  }
  if (s['novelty'] !== undefined) {
    const nv = obj('novelty', s['novelty']);
    ring('novelty.frames', obj('novelty.frames', nv['frames']), noveltyCapacity(o), dim);
    ring('novelty.fractions', obj('novelty.fractions', nv['fractions']), NOVELTY_REFERENCE, 1);
  }
}
