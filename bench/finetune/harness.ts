// Shared setup of the fine-tuner harness (bench/finetune/eval.ts): data splits, cached embeddings, the compared variants, stream runs, metrics and the output/summary collectors.
import { performance } from 'node:perf_hooks';
import { Learner, type LearnerOptions, type LearnerState } from '../../src/finetune/index.js';
import { Rng } from '../../src/finetune/rng.js';
import { corrupt, type Corruption } from './corruptions.js';
import { loadDataset } from './data.js';
import { embedCached, loadEncoder } from './encoder.js';

export const DEV = process.argv.includes('--dev');
export const QUICK = DEV || process.argv.includes('--quick');
export const SEED = 7;
export const N_SRC = 2000;
export const N_STREAM = QUICK ? 500 : 1000;
/** TTA severities: on `--dev` the ones the gap target reads (3–5, every family), so dev tunes what test measures. */
export const SEVERITIES = DEV ? [3, 4, 5] : QUICK ? [3, 5] : [1, 2, 3, 4, 5];
export const FEWSHOT_SEV = 3;
export const FEWSHOT_REPEATS = QUICK ? 1 : 2;
export const FINAL_ROUNDS = Number(process.env.FT_FINAL_ROUNDS ?? 2);
export const PARTS = (process.env.FT_PARTS ?? 'tta,few,open,streams,drift,cost').split(',');

export const ds = await loadDataset(DEV);
export const enc = await loadEncoder();
export const perm = new Rng(SEED).shuffle(Array.from({ length: ds.count }, (_, i) => i));
export const srcIdx = perm.slice(0, N_SRC);
export const streamIdx = perm.slice(N_SRC, N_SRC + N_STREAM);
export const poolIdx = perm.slice(3000, 5000);
export const gather = (idx: number[]): Uint8Array => {
  const out = new Uint8Array(idx.length * 784);
  idx.forEach((j, i) => out.set(ds.images.subarray(j * 784, (j + 1) * 784), i * 784));
  return out;
};
export const labelsOf = (idx: number[]): string[] => idx.map((j) => ds.classes[ds.labels[j]!]!);
export type Split = 'src' | 'stream' | 'pool';
export const splitIdx: Record<Split, number[]> = { src: srcIdx, stream: streamIdx, pool: poolIdx };
export const splitImages: Record<Split, Uint8Array> = {
  src: gather(srcIdx),
  stream: gather(streamIdx),
  pool: gather(poolIdx),
};

export async function embedSplit(split: Split, c: Corruption | 'clean', sev: number): Promise<Float32Array[]> {
  const imgs = c === 'clean' ? splitImages[split] : corrupt(splitImages[split], c, sev, SEED);
  return embedCached(
    enc,
    `${DEV ? 'dev-' : ''}${split}${splitIdx[split].length}-s${SEED}-${c}-${c === 'clean' ? 0 : sev}`,
    imgs,
  );
}

export const t0 = performance.now();
export const srcE = await embedSplit('src', 'clean', 0);
export const srcY = labelsOf(srcIdx);
export const streamY = labelsOf(streamIdx);
export const poolY = labelsOf(poolIdx);

/** The configuration we ship as the default ("ours"). */
// FT_OURS (JSON) overrides it for experiments on the --dev split only.
export const OURS: Partial<LearnerOptions> = DEV
  ? (JSON.parse(process.env.FT_OURS ?? '{}') as Partial<LearnerOptions>)
  : {};
// Baselines are the head alone: the Gaussian class posterior (openSet.classifierWeight) is part of ours.
export const HEAD_ONLY = { openSet: { classifierWeight: 0 } } as const;
export const VARIANTS: Record<string, Partial<LearnerOptions>> = {
  source: { mode: 'frozen', featureAlignment: 'none', drift: false, ...HEAD_ONLY },
  ncm: { head: 'ncm', mode: 'frozen', featureAlignment: 'none', drift: false },
  t3a: { mode: 't3a', featureAlignment: 'none', drift: false, ...HEAD_ONLY },
  naive: {
    threshold: { kind: 'fixed', tau: 0.95 },
    guard: false,
    distributionAlignment: false,
    emaDecay: 0,
    featureAlignment: 'none',
    drift: false,
    openSet: false,
    pseudo: { agreement: false, minConfidence: 0, duplicateCosine: 1, perClassPerRound: 1e9 },
  },
  ours: OURS,
};
/** Variants run: every one by default; FT_VARIANTS narrows the comparison columns (source and ours always run). */
export const RUN_VARIANTS = new Set(
  process.env.FT_VARIANTS === undefined
    ? Object.keys(VARIANTS)
    : ['source', 'ours', ...process.env.FT_VARIANTS.split(',').filter((v) => v in VARIANTS)],
);

export async function trained(opts: Partial<LearnerOptions>, xs: Float32Array[], ys: string[]): Promise<Learner> {
  const l = new Learner({ dim: enc.dim, seed: SEED, ...opts });
  xs.forEach((x, i) => l.addLabeled(x, ys[i]!));
  await l.adapt();
  return l;
}

/** Pseudo-labels made on a stream and how many were right. */
export interface PseudoTally {
  seen: number;
  accepted: number;
  correct: number;
}
export const tally = (): PseudoTally => ({ seen: 0, accepted: 0, correct: 0 });
export const precision = (t: PseudoTally): number => (t.accepted ? t.correct / t.accepted : Number.NaN);

/** Predict-then-adapt over a stream; returns online accuracy, final accuracy and the pseudo-label tally. */
export async function runStream(
  l: Learner,
  xs: Float32Array[],
  ys: string[],
  onStep?: (i: number, l: Learner) => void | Promise<void>,
): Promise<{ online: number; final: number; pseudo: PseudoTally }> {
  let ok = 0;
  const pseudo = tally();
  for (let i = 0; i < xs.length; i++) {
    const o = l.observe(xs[i]!);
    if (o.label === ys[i]) ok++;
    pseudo.seen++;
    if (o.accepted) {
      pseudo.accepted++;
      if (o.pseudoLabel === ys[i]) pseudo.correct++;
    }
    if (o.adaptDue) await l.adapt();
    await onStep?.(i, l);
  }
  return { online: ok / xs.length, final: accuracy(l, xs, ys), pseudo };
}

/** Expected calibration error over 15 equal-width confidence bins. */
export function ece(conf: number[], correct: boolean[]): number {
  const B = 15;
  const n = new Float64Array(B),
    c = new Float64Array(B),
    a = new Float64Array(B);
  conf.forEach((p, i) => {
    const b = Math.min(B - 1, Math.floor(p * B));
    n[b] = n[b]! + 1;
    c[b] = c[b]! + p;
    if (correct[i]) a[b] = a[b]! + 1;
  });
  let e = 0;
  for (let b = 0; b < B; b++) if (n[b]) e += (n[b]! / conf.length) * Math.abs(a[b]! / n[b]! - c[b]! / n[b]!);
  return e;
}

/** Every target of the issue with its measured value, for the closing table. */
export const summary: Array<{ target: string; value: string; pass: boolean | undefined }> = [];
export const section: Record<string, number> = {};

/** The few-shot label draw: the first `k` pool items of each class in a shuffle seeded by `seed` (their indices). */
export function drawLabels(size: number, k: number, seed: number): number[] {
  const order = new Rng(seed).shuffle(Array.from({ length: size }, (_, i) => i));
  const taken = new Map<string, number>();
  const li: number[] = [];
  for (const j of order) {
    const y = poolY[j]!;
    if ((taken.get(y) ?? 0) < k) {
      taken.set(y, (taken.get(y) ?? 0) + 1);
      li.push(j);
    }
  }
  return li;
}

/** k-NN (cosine, k = 3) accuracy of `xs` against the labelled `lx`: the few-shot baseline. */
export function knnAccuracy(lx: Float32Array[], ly: string[], xs: Float32Array[], ys: string[], k = 3): number {
  const unit = (v: Float32Array): Float32Array => {
    const n = Math.hypot(...v) || 1;
    return v.map((x) => x / n);
  };
  const L = lx.map(unit);
  let ok = 0;
  xs.forEach((x, i) => {
    const u = unit(x);
    const sims = L.map((l, j) => ({ s: l.reduce((a, v, t) => a + v * u[t]!, 0), y: ly[j]! }));
    sims.sort((a, b) => b.s - a.s);
    const votes = new Map<string, number>();
    for (const { y } of sims.slice(0, k)) votes.set(y, (votes.get(y) ?? 0) + 1);
    // Ties go to the class of the nearest neighbour among the tied ones.
    const best = Math.max(...votes.values());
    const pick = sims.slice(0, k).find((s) => votes.get(s.y) === best)!.y;
    if (pick === ys[i]) ok++;
  });
  return ok / xs.length;
}

export function accuracy(l: Learner, xs: Float32Array[], ys: string[]): number {
  let ok = 0;
  xs.forEach((x, i) => (l.predict(x).label === ys[i] ? ok++ : 0));
  return ok / xs.length;
}

export const mean = (a: number[]): number => a.reduce((x, y) => x + y, 0) / Math.max(a.length, 1);
export const pct = (v: number): string => (100 * v).toFixed(1);
export const lines: string[] = [];
export const out = (s = ''): void => {
  lines.push(s);
  console.log(s);
};

/** The learners every section starts from: each variant trained on the clean source labels, their saved states, and the clean stream. */
export interface Baselines {
  readonly base: Record<string, Learner>;
  readonly states: Record<string, LearnerState>;
  readonly cleanStream: Float32Array[];
}
