// Validation of the learner options: misspelt keys and option groups refused before defaults are filled in, and every resolved value checked (the constructor's and a saved state's).
import { EdgetuneError } from '../core/errors.js';
import { HEAD_KINDS } from './heads.js';
import type { ResolvedLearnerOptions } from './options.js';
import { THRESHOLD_KINDS } from './thresholds.js';

type Resolved = ResolvedLearnerOptions;

/** Known keys of each options object, so a misspelt option is refused instead of silently ignored. */
const KEYS: Record<string, readonly string[]> = {
  '': [
    'dim',
    'classes',
    'head',
    'hidden',
    'mode',
    'seed',
    'optimizer',
    'epochs',
    'firstEpochs',
    'batchSize',
    'threshold',
    'pseudoWeight',
    'emaDecay',
    'distributionAlignment',
    'alignmentDecay',
    'featureAlignment',
    'featureMomentum',
    'featurePrior',
    'anchorShrink',
    'replay',
    'guard',
    'drift',
    'adaptEvery',
    't3aFilter',
    'openSet',
    'calibration',
    'pseudo',
    'reestimate',
    'recentre',
  ],
  optimizer: ['kind', 'lr', 'momentum', 'weightDecay', 'beta1', 'beta2'],
  threshold: ['kind', 'tau', 'floor', 'decay'],
  replay: ['labeledPerClass', 'pseudoCapacity'],
  guard: ['every', 'minPerClass', 'tolerance', 'holdout', 'minAgreement'],
  drift: ['detectors', 'signal', 'pageHinkley', 'adwin', 'embedding', 'maxAge'],
  'drift.pageHinkley': ['minInstances', 'delta', 'threshold', 'alpha', 'mode'],
  'drift.adwin': ['delta', 'clock', 'maxWindow', 'minWindow'],
  'drift.embedding': ['window', 'threshold'],
  openSet: [
    'quantile',
    'margin',
    'covariance',
    'shrinkage',
    'energyWeight',
    'classifierWeight',
    'streamNovelty',
    'neighbours',
    'streamWindow',
  ],
  pseudo: ['agreement', 'minConfidence', 'duplicateCosine', 'recent', 'perClassPerRound'],
  reestimate: ['when', 'maxLabelsPerClass', 'window', 'iterations', 'labelWeight', 'headWeight', 'hard'],
  recentre: ['minUnknown', 'every', 'window', 'iterations', 'labelWeight', 'headWeight', 'minChange'],
};

/** Option groups that `false` turns off. */
const MAY_BE_FALSE: ReadonlySet<string> = new Set(['guard', 'drift', 'openSet', 'recentre']);

/** Raised for a bad option: `INVALID_ARGUMENT` from the constructor, `STATE_INVALID` from `fromState`. */
export type OptionFailure = (path: string, value: unknown, want: string) => never;

/** The constructor's failure: `INVALID_ARGUMENT` naming the option and the value. */
export const invalidOption: OptionFailure = (path, value, want) => {
  throw new EdgetuneError('INVALID_ARGUMENT', `Learner option '${path}' is ${describe(value)}; ${want}.`, {
    details: { option: path, value },
  });
};

function describe(v: unknown): string {
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'number' || typeof v === 'boolean' || v === undefined || v === null) return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return `a ${typeof v}`;
}

/** Whether `v` is a plain object (not null, not an array). */
export const isObj = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Refuses misspelt keys and non-object option groups before defaults are filled in. */
export function checkShape(o: Record<string, unknown>, path: string, fail: OptionFailure): void {
  const known = KEYS[path] ?? [];
  for (const k of Object.keys(o)) {
    const p = path ? `${path}.${k}` : k;
    if (!known.includes(k)) fail(p, o[k], `there is no such option (known here: ${known.join(', ')})`);
    const v = o[k];
    if (v === undefined) continue;
    if (KEYS[p]) {
      if (MAY_BE_FALSE.has(p) && v === false) continue;
      if (p === 'reestimate' && typeof v === 'boolean') continue;
      if (!isObj(v)) fail(p, v, `pass an object${MAY_BE_FALSE.has(p) ? ' or false' : ''}`);
      checkShape(v, p, fail);
    }
  }
}

/** Checks every value of resolved options (the constructor's and a saved state's). */
export function checkResolved(r: Resolved, fail: OptionFailure): void {
  if (!isObj(r)) fail('options', r, 'a learner state carries its resolved options object');
  const num = (
    path: string,
    v: unknown,
    lo: number,
    hi: number,
    opts: { int?: boolean; loOpen?: boolean; hiOpen?: boolean } = {},
  ): void => {
    const ok =
      typeof v === 'number' &&
      Number.isFinite(v) &&
      (opts.loOpen ? v > lo : v >= lo) &&
      (opts.hiOpen ? v < hi : v <= hi) &&
      (!opts.int || Number.isInteger(v));
    if (!ok)
      fail(
        path,
        v,
        `use ${opts.int ? 'an integer' : 'a number'} in ${opts.loOpen ? '(' : '['}${lo}, ${hi}${opts.hiOpen ? ')' : ']'}`,
      );
  };
  const oneOf = (path: string, v: unknown, values: readonly unknown[]): void => {
    if (!values.includes(v)) fail(path, v, `use one of ${values.map((x) => `'${String(x)}'`).join(', ')}`);
  };
  const bool = (path: string, v: unknown): void => {
    if (typeof v !== 'boolean') fail(path, v, 'use true or false');
  };
  const group = (path: string, v: unknown): Record<string, unknown> => {
    if (!isObj(v)) fail(path, v, 'expected an object');
    return v as Record<string, unknown>;
  };
  num('dim', r.dim, 1, 65536, { int: true });
  oneOf('head', r.head, HEAD_KINDS);
  num('hidden', r.hidden, 1, 4096, { int: true });
  oneOf('mode', r.mode, ['self-train', 't3a', 'frozen']);
  num('seed', r.seed, -(2 ** 53), 2 ** 53, { int: true });
  const op = group('optimizer', r.optimizer);
  oneOf('optimizer.kind', op['kind'], ['adam', 'sgd']);
  num('optimizer.lr', op['lr'], 0, Number.MAX_VALUE, { loOpen: true });
  num('optimizer.momentum', op['momentum'], 0, 1, { hiOpen: true });
  num('optimizer.weightDecay', op['weightDecay'], 0, Number.MAX_VALUE);
  num('optimizer.beta1', op['beta1'], 0, 1, { hiOpen: true });
  num('optimizer.beta2', op['beta2'], 0, 1, { hiOpen: true });
  num('epochs', r.epochs, 1, 1e6, { int: true });
  num('firstEpochs', r.firstEpochs, 1, 1e6, { int: true });
  num('batchSize', r.batchSize, 1, 65536, { int: true });
  const th = group('threshold', r.threshold);
  oneOf('threshold.kind', th['kind'], THRESHOLD_KINDS);
  num('threshold.tau', th['tau'], 0, 1, { loOpen: true });
  num('threshold.floor', th['floor'], 0, 1);
  num('threshold.decay', th['decay'], 0, 1, { hiOpen: true });
  num('pseudoWeight', r.pseudoWeight, 0, 1, { hiOpen: true });
  num('emaDecay', r.emaDecay, 0, 1);
  bool('distributionAlignment', r.distributionAlignment);
  num('alignmentDecay', r.alignmentDecay, 0, 1, { hiOpen: true });
  oneOf('featureAlignment', r.featureAlignment, ['none', 'mean', 'meanstd']);
  num('featureMomentum', r.featureMomentum, 0, 1, { loOpen: true });
  num('featurePrior', r.featurePrior, 0, 1e9);
  num('anchorShrink', r.anchorShrink, 0, 1e9);
  num('replay.labeledPerClass', r.labeledPerClass, 1, 1e6, { int: true });
  num('replay.pseudoCapacity', r.pseudoCapacity, 0, 1e7, { int: true });
  const g = group('guard', r.guard);
  bool('guard.enabled', g['enabled']);
  num('guard.every', g['every'], 2, 1e6, { int: true });
  num('guard.minPerClass', g['minPerClass'], 1, 1e6, { int: true });
  num('guard.tolerance', g['tolerance'], 0, 1);
  const d = group('drift', r.drift);
  bool('drift.enabled', d['enabled']);
  if (!Array.isArray(d['detectors']))
    fail('drift.detectors', d['detectors'], "use an array of 'embedding', 'page-hinkley', 'adwin'");
  (d['detectors'] as unknown[]).forEach((v, i) =>
    oneOf(`drift.detectors[${i}]`, v, ['embedding', 'page-hinkley', 'adwin']),
  );
  oneOf('drift.signal', d['signal'], ['confidence', 'entropy']);
  const ph = group('drift.pageHinkley', d['pageHinkley']);
  if (ph['minInstances'] !== undefined)
    num('drift.pageHinkley.minInstances', ph['minInstances'], 1, 1e9, { int: true });
  if (ph['delta'] !== undefined) num('drift.pageHinkley.delta', ph['delta'], 0, 1e9);
  if (ph['threshold'] !== undefined) num('drift.pageHinkley.threshold', ph['threshold'], 0, 1e9, { loOpen: true });
  if (ph['alpha'] !== undefined) num('drift.pageHinkley.alpha', ph['alpha'], 0, 1, { loOpen: true });
  if (ph['mode'] !== undefined) oneOf('drift.pageHinkley.mode', ph['mode'], ['up', 'down', 'both']);
  const ad = group('drift.adwin', d['adwin']);
  if (ad['delta'] !== undefined) num('drift.adwin.delta', ad['delta'], 0, 1, { loOpen: true, hiOpen: true });
  if (ad['clock'] !== undefined) num('drift.adwin.clock', ad['clock'], 1, 1e6, { int: true });
  if (ad['minWindow'] !== undefined) num('drift.adwin.minWindow', ad['minWindow'], 1, 1e4, { int: true });
  // The window is kept value by value and scanned at every check: its bound is the bound on work per observe().
  if (ad['maxWindow'] !== undefined)
    num('drift.adwin.maxWindow', ad['maxWindow'], 2 * ((ad['minWindow'] as number | undefined) ?? 10), 10_000, {
      int: true,
    });
  num('drift.maxAge', d['maxAge'], 0, 1e12, { int: true });
  num('adaptEvery', r.adaptEvery, 1, 1e9, { int: true });
  num('t3aFilter', r.t3aFilter, 1, 10_000, { int: true });
  const em = group('drift.embedding', d['embedding']);
  if (em['window'] !== undefined) num('drift.embedding.window', em['window'], 10, 10_000, { int: true });
  if (em['threshold'] !== undefined) num('drift.embedding.threshold', em['threshold'], 0, 1e9, { loOpen: true });
  oneOf('guard.holdout', g['holdout'], ['return', 'keep']);
  num('guard.minAgreement', g['minAgreement'], 0, 1);
  const os = group('openSet', r.openSet);
  bool('openSet.enabled', os['enabled']);
  num('openSet.quantile', os['quantile'], 0, 0.5);
  num('openSet.margin', os['margin'], -2, 2);
  oneOf('openSet.covariance', os['covariance'], ['full', 'diagonal']);
  num('openSet.shrinkage', os['shrinkage'], 0, 1);
  num('openSet.energyWeight', os['energyWeight'], 0, 10);
  num('openSet.classifierWeight', os['classifierWeight'], 0, 10);
  num('openSet.streamNovelty', os['streamNovelty'], 0, 10);
  num('openSet.neighbours', os['neighbours'], 1, 1000, { int: true });
  num('openSet.streamWindow', os['streamWindow'], 1, 10_000, { int: true });
  bool('calibration', r.calibration);
  const ps = group('pseudo', r.pseudo);
  bool('pseudo.agreement', ps['agreement']);
  num('pseudo.minConfidence', ps['minConfidence'], 0, 1);
  num('pseudo.duplicateCosine', ps['duplicateCosine'], 0, 1, { loOpen: true });
  num('pseudo.recent', ps['recent'], 1, 4096, { int: true });
  num('pseudo.perClassPerRound', ps['perClassPerRound'], 0, 1e9, { int: true });
  const re = group('reestimate', r.reestimate);
  oneOf('reestimate.when', re['when'], ['auto', 'always', 'never']);
  num('reestimate.maxLabelsPerClass', re['maxLabelsPerClass'], 0, 1e6);
  num('reestimate.window', re['window'], 1, 10_000, { int: true });
  num('reestimate.iterations', re['iterations'], 1, 100, { int: true });
  num('reestimate.labelWeight', re['labelWeight'], 0, 1e6);
  num('reestimate.headWeight', re['headWeight'], 0, 10);
  bool('reestimate.hard', re['hard']);
  const rc = group('recentre', r.recentre);
  bool('recentre.enabled', rc['enabled']);
  num('recentre.minUnknown', rc['minUnknown'], 0, 1);
  num('recentre.every', rc['every'], 1, 1e6, { int: true });
  num('recentre.window', rc['window'], 1, 10_000, { int: true });
  num('recentre.iterations', rc['iterations'], 1, 100, { int: true });
  num('recentre.labelWeight', rc['labelWeight'], 0, 1e6);
  num('recentre.headWeight', rc['headWeight'], 0, 10);
  num('recentre.minChange', rc['minChange'], 0, 1);
}
