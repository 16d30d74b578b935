// Activation statistics for static quantization: exact min/max plus a seeded sample of every tensor, so ranges can be clipped at a percentile.
import type { Range } from './qdq.js';

/** Values kept per tensor and calibration batch for the percentile estimate. */
const SAMPLE_PER_BATCH = 8192;

/** Running statistics of one activation tensor over the calibration batches. */
export interface ActivationStats {
  min: number;
  max: number;
  sumAbs: number;
  count: number;
  /** A seeded random sample of the values (at most {@link SAMPLE_PER_BATCH} per batch). */
  readonly sample: number[];
}

/** Empty statistics. */
export function emptyStats(): ActivationStats {
  return { min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY, sumAbs: 0, count: 0, sample: [] };
}

/**
 * Adds one batch of a tensor's values to its statistics.
 *
 * @param s - statistics to update
 * @param data - the tensor's values for this batch
 * @param seed - varies the sampled positions between tensors and batches (deterministic)
 */
export function addBatch(s: ActivationStats, data: ArrayLike<number>, seed: number): void {
  let sum = 0;
  for (let k = 0; k < data.length; k++) {
    const v = data[k]!;
    if (v < s.min) s.min = v;
    if (v > s.max) s.max = v;
    sum += Math.abs(v);
  }
  s.sumAbs += sum;
  s.count += data.length;
  if (data.length <= SAMPLE_PER_BATCH) {
    for (let k = 0; k < data.length; k++) s.sample.push(data[k]!);
    return;
  }
  // xorshift32 positions: a stride would alias with the channel layout.
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let k = 0; k < SAMPLE_PER_BATCH; k++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    s.sample.push(data[(x >>> 0) % data.length]!);
  }
}

/** How an activation's quantization range is chosen from its statistics. */
export type RangeMethod = 'minmax' | `p${number}`;

/**
 * The quantization range of a tensor: its exact min/max, or both ends clipped at a percentile of
 * the sample (`p99.9` keeps 99.9 % of the values inside the range on each side). Clipping trades
 * saturating a few outliers for a finer uint8 step on everything else.
 *
 * @param s - calibration statistics
 * @param method - `minmax` or `pNN.NN`
 */
export function rangeOf(s: ActivationStats, method: RangeMethod): Range {
  const base: Range = { min: s.min, max: s.max, sumAbs: s.sumAbs, count: s.count };
  if (method === 'minmax' || s.sample.length < 100) return base;
  const p = Number(method.slice(1)) / 100;
  const sorted = Float64Array.from(s.sample).sort();
  const lo = sorted[Math.floor((1 - p) * (sorted.length - 1))]!;
  const hi = sorted[Math.ceil(p * (sorted.length - 1))]!;
  // Never clip inside zero (uint8 ranges always cover it) and never widen past the exact extremes.
  return { ...base, min: Math.max(s.min, Math.min(0, lo)), max: Math.min(s.max, Math.max(0, hi)) };
}

/** Ranges of every tensor with one method. */
export function rangesOf(stats: ReadonlyMap<string, ActivationStats>, method: RangeMethod): Map<string, Range> {
  return new Map([...stats].map(([k, s]) => [k, rangeOf(s, method)]));
}

/** Range methods tried in order when min/max misses the cosine target. */
export const RANGE_METHODS: readonly RangeMethod[] = Object.freeze(['minmax', 'p99.99', 'p99.95', 'p99.9']);
