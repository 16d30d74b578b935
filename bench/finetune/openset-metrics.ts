// Shared by the fine-tuner harness (eval.ts) and the open-set score comparison (openset-scores.ts):
// the AUROC of a score, and which classes a draw holds out as never taught.
import { Rng } from '../../src/finetune/rng.js';

/** Area under the ROC curve of `score` separating positives (higher score = positive); ties count half. */
export function auroc(score: number[], positive: boolean[]): number {
  const idx = score.map((_, i) => i).sort((a, b) => score[a]! - score[b]!);
  let sumPos = 0;
  let nPos = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j + 1 < idx.length && score[idx[j + 1]!] === score[idx[i]!]) j++;
    for (let t = i; t <= j; t++)
      if (positive[idx[t]!]) {
        sumPos += (i + j) / 2 + 1;
        nPos++;
      }
    i = j + 1;
  }
  const nNeg = idx.length - nPos;
  return nPos && nNeg ? (sumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg) : Number.NaN;
}

/** The 3 of the 10 classes that draw `draw` holds out as never taught (seeded, the same in every script). */
export function heldOutClasses(classes: readonly string[], seed: number, draw: number): string[] {
  return new Rng(seed + 100 + draw)
    .shuffle(Array.from({ length: 10 }, (_, k) => k))
    .slice(0, 3)
    .map((k) => classes[k]!);
}
