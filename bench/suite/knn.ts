// Suite part: few-shot accuracy and prediction time, edgetune's Learner (defaults, labels only) against @tensorflow-models/knn-classifier (Teachable Machine's k=3 cosine vote) on the same real embeddings.
// Run alone: node --import tsx bench/suite/knn.ts [--reps 3] [--seed 1]
import * as knn from '@tensorflow-models/knn-classifier';
import * as tf from '@tensorflow/tfjs';
import { Learner } from '../../src/finetune/index.js';
import { arg, fmnistEmbeddings, median, report } from './common.js';

const reps = Number(arg('reps', '3'));
const seed0 = Number(arg('seed', '1'));
await tf.setBackend('cpu');
const all = await fmnistEmbeddings();
// Shots come from the first 2000 images, the test set is the last 2000 (disjoint).
const testFrom = 3000;
const nTest = 2000;

function pickShots(shots: number, seed: number): number[] {
  const per = new Map<number, number[]>();
  for (let i = 0; i < testFrom; i++) {
    const c = all.y[i]!;
    if (!per.has(c)) per.set(c, []);
    per.get(c)!.push(i);
  }
  const out: number[] = [];
  for (const idx of per.values()) {
    // Deterministic per-seed pick: a stride walk from a seed-dependent offset.
    for (let k = 0; k < shots; k++) out.push(idx[(seed * 37 + k * 53) % idx.length]!);
  }
  return out;
}

for (const shots of [5, 10]) {
  for (let r = 0; r < reps; r++) {
    const ids = pickShots(shots, seed0 + r);
    const learner = new Learner({ dim: all.dim, seed: seed0 + r });
    for (const i of ids) learner.addLabeled(all.x[i]!, String(all.y[i]));
    await learner.adapt();
    const clf = knn.create();
    for (const i of ids) tf.tidy(() => clf.addExample(tf.tensor1d(all.x[i]!), all.y[i]!));
    let okL = 0;
    let okK = 0;
    const tl: number[] = [];
    const tk: number[] = [];
    for (let i = testFrom; i < testFrom + nTest; i++) {
      const x = all.x[i]!;
      let t0 = performance.now();
      const p = learner.predict(x);
      tl.push(performance.now() - t0);
      if (p.label === String(all.y[i])) okL++;
      t0 = performance.now();
      const t = tf.tensor1d(x);
      const q = await clf.predictClass(t, 3);
      t.dispose();
      tk.push(performance.now() - t0);
      if (Number(q.label) === all.y[i]) okK++;
    }
    const accL = okL / nTest;
    const accK = okK / nTest;
    report({
      row: `fewshot/${shots}/accuracy-points`,
      value: 100 * (accL - accK),
      detail: { learnerAcc: accL, knnAcc: accK, shots, test: nTest },
    });
    report({
      row: `fewshot/${shots}/predict-speed`,
      value: median(tk) / median(tl),
      detail: { learnerUs: 1000 * median(tl), knnUs: 1000 * median(tk) },
    });
    learner.dispose();
    clf.dispose();
  }
}
