// Semi-supervised re-estimation of the class means of the Gaussian class model: a few EM steps over the recent stream, anchored on the labels.
import { fromMetric, metricCoords, type OpenSetModel } from './openset.js';

/** What {@link reestimateMeans} reads of the resolved `reestimate` options. */
export interface ReestimateSettings {
  /** EM iterations. */
  readonly iterations: number;
  /** Weight of each label in the M-step, in stream frames. */
  readonly labelWeight: number;
  /** Weight of the head's log-probabilities in the E-step (0: the Gaussian posterior alone). */
  readonly headWeight: number;
  /** Hard (argmax) instead of soft assignments. */
  readonly hard: boolean;
}

/**
 * Re-estimates the class means of `m` (fitted on the labels) from unlabeled `frames` by EM with the
 * model's shared covariance held fixed: the E-step assigns each frame to the classes by the Gaussian
 * posterior softmax(−β · d² / 2) at the current means, times the head's probabilities to the power
 * `headWeight`; the M-step sets each mean to the weighted mean of its frames and its labels, each label
 * counting `labelWeight` frames, so a class with few labels moves towards where its stream frames
 * actually lie while the labels keep it from drifting onto a neighbour. Classes without labels keep
 * no mean. Returns the means in the input space (classes × dim), or undefined when nothing can be
 * estimated (fewer than two classes with labels, or no frames).
 *
 * @param m - the label model (means, metric, posterior scale)
 * @param frames - stream inputs in the space of the model's means
 * @param headLogProbs - per frame, the head's log-probabilities (read when `headWeight` > 0)
 * @param s - the settings
 */
export function reestimateMeans(
  m: OpenSetModel,
  frames: readonly Float32Array[],
  headLogProbs: readonly Float64Array[] | undefined,
  s: ReestimateSettings,
): Float32Array | undefined {
  const c = m.classes;
  const d = m.dim;
  let labeledClasses = 0;
  for (let k = 0; k < c; k++) if (m.counts[k]! > 0) labeledClasses++;
  if (labeledClasses < 2 || frames.length === 0) return undefined;
  const anchor = new Float64Array(c * d);
  for (let k = 0; k < c; k++)
    if (m.counts[k]! > 0) anchor.set(metricCoords(m, m.means.subarray(k * d, (k + 1) * d)), k * d);
  const w = frames.map((f) => metricCoords(m, f));
  const mu = Float64Array.from(anchor);
  const half = m.posteriorScale / 2;
  const hw = headLogProbs ? s.headWeight : 0;
  const logr = new Float64Array(c);
  for (let it = 0; it < s.iterations; it++) {
    const sum = new Float64Array(c * d);
    const mass = new Float64Array(c);
    for (let i = 0; i < w.length; i++) {
      const x = w[i]!;
      let mx = Number.NEGATIVE_INFINITY;
      for (let k = 0; k < c; k++) {
        if (m.counts[k] === 0) {
          logr[k] = Number.NEGATIVE_INFINITY;
          continue;
        }
        let t = 0;
        const off = k * d;
        for (let j = 0; j < d; j++) {
          const v = x[j]! - mu[off + j]!;
          t += v * v;
        }
        logr[k] = -half * t + (hw > 0 ? hw * headLogProbs![i]![k]! : 0);
        if (logr[k]! > mx) mx = logr[k]!;
      }
      if (s.hard) {
        let b = 0;
        for (let k = 1; k < c; k++) if (logr[k]! > logr[b]!) b = k;
        mass[b] = mass[b]! + 1;
        for (let j = 0; j < d; j++) sum[b * d + j] = sum[b * d + j]! + x[j]!;
        continue;
      }
      let z = 0;
      for (let k = 0; k < c; k++) z += logr[k] = Number.isFinite(logr[k]!) ? Math.exp(logr[k]! - mx) : 0;
      for (let k = 0; k < c; k++) {
        const r = logr[k]! / z;
        // Responsibilities this small move nothing measurable; skipping them keeps a step O(frames × dim).
        if (r < 1e-4) continue;
        mass[k] = mass[k]! + r;
        const off = k * d;
        for (let j = 0; j < d; j++) sum[off + j] = sum[off + j]! + r * x[j]!;
      }
    }
    for (let k = 0; k < c; k++) {
      if (m.counts[k] === 0) continue;
      const a = s.labelWeight * m.counts[k]!;
      const den = a + mass[k]!;
      const off = k * d;
      for (let j = 0; j < d; j++) mu[off + j] = (a * anchor[off + j]! + sum[off + j]!) / den;
    }
  }
  const out = new Float32Array(c * d);
  for (let k = 0; k < c; k++) if (m.counts[k]! > 0) out.set(fromMetric(m, mu.subarray(k * d, (k + 1) * d)), k * d);
  return out;
}
