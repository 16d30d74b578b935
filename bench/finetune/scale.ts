// Scaling of the learner's bookkeeping: adding classes and labels should be linear (time for 2n ≈ 2 × time for n). Prints ratios.
// Run: node --import tsx bench/finetune/scale.ts [classes=10000] [labels=2000]
import { performance } from 'node:perf_hooks';
import { Learner } from '../../src/finetune/index.js';
import { Rng } from '../../src/finetune/rng.js';

const C = Number(process.argv[2] ?? 10000);
const N = Number(process.argv[3] ?? 2000);
const DIM = 256;

function addClasses(n: number): number {
  const t = performance.now();
  const l = new Learner({ dim: DIM });
  for (let i = 0; i < n; i++) l.addClass(`k${i}`);
  l.addLabeled(new Float32Array(DIM).fill(1), 'k0');
  l.predict(new Float32Array(DIM).fill(1));
  return performance.now() - t;
}

function addLabels(n: number): number {
  const rng = new Rng(1);
  const xs = Array.from({ length: n }, () => Float32Array.from({ length: DIM }, () => rng.normal()));
  const t = performance.now();
  const l = new Learner({ dim: DIM, classes: Array.from({ length: 10 }, (_, i) => `c${i}`) });
  xs.forEach((x, i) => l.addLabeled(x, `c${i % 10}`));
  l.predict(xs[0]!);
  return performance.now() - t;
}

const med = (f: () => number): number => {
  const r = [f(), f(), f()].sort((a, b) => a - b);
  return r[1]!;
};
const a1 = med(() => addClasses(C / 2));
const a2 = med(() => addClasses(C));
const l1 = med(() => addLabels(N / 2));
const l2 = med(() => addLabels(N));
console.log(
  `addClass ×${C / 2}: ${a1.toFixed(0)} ms; ×${C}: ${a2.toFixed(0)} ms; ratio ${(a2 / a1).toFixed(2)} (linear ≈ 2, quadratic ≈ 4)`,
);
console.log(
  `addLabeled ×${N / 2}: ${l1.toFixed(0)} ms; ×${N}: ${l2.toFixed(0)} ms; ratio ${(l2 / l1).toFixed(2)}; ${((1000 * l2) / N).toFixed(1)} µs per label (dim ${DIM}, then one predict)`,
);
