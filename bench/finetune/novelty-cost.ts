// Cost of the stream-side novelty (openSet.streamNovelty): predict() and observe() per call with the term on vs off, same labels and
// stream, after a full window. Prints the ratio against the term-off learner run in the same process. No model: random embeddings.
// Run: node --import tsx bench/finetune/novelty-cost.ts [labelsPerClass=50]
import { performance } from 'node:perf_hooks';
import { Learner, type LearnerOptions } from '../../src/finetune/index.js';
import { Rng } from '../../src/finetune/rng.js';

const PER_CLASS = Number(process.argv[2] ?? 50);
const CLASSES = 10;
const WINDOW = 1000;
const CALLS = 300;

function world(dim: number): () => { x: Float32Array; c: number } {
  const rng = new Rng(7);
  const means = Array.from({ length: CLASSES }, () => Float32Array.from({ length: dim }, () => rng.normal()));
  return () => {
    const c = Math.floor(rng.next() * CLASSES);
    return { x: Float32Array.from(means[c]!, (m) => m + 1.5 * rng.normal()), c };
  };
}

async function learner(
  dim: number,
  openSet: NonNullable<LearnerOptions['openSet']>,
): Promise<{ l: Learner; probe: Float32Array[] }> {
  const draw = world(dim);
  const l = new Learner({ dim, classes: Array.from({ length: CLASSES }, (_, i) => `c${i}`), openSet, drift: false });
  for (let i = 0; i < PER_CLASS * CLASSES; i++) {
    const { x } = draw();
    l.addLabeled(x, `c${i % CLASSES}`);
  }
  await l.adapt();
  // Fill the window; no adapt(), so both learners keep the same head.
  for (let i = 0; i < WINDOW + 100; i++) l.observe(draw().x);
  return { l, probe: Array.from({ length: CALLS }, () => draw().x) };
}

const perCall = (f: () => void): number => {
  const t = performance.now();
  f();
  return (performance.now() - t) / CALLS;
};

for (const dim of [256, 384]) {
  const on = await learner(dim, {});
  const off = await learner(dim, { streamNovelty: 0 });
  // Warm both paths once, then take the median of 3 timings of each.
  const time = (x: { l: Learner; probe: Float32Array[] }, what: 'predict' | 'observe'): number => {
    const run = (): number =>
      perCall(() => {
        for (const p of x.probe) what === 'predict' ? x.l.predict(p) : x.l.observe(p);
      });
    run();
    return [run(), run(), run()].sort((a, b) => a - b)[1]!;
  };
  for (const what of ['predict', 'observe'] as const) {
    const a = time(off, what);
    const b = time(on, what);
    console.log(
      `dim ${dim}, ${PER_CLASS * CLASSES} labels, window ${WINDOW}: ${what}() ${a.toFixed(3)} ms off, ${b.toFixed(3)} ms on; ratio ${(b / a).toFixed(2)}`,
    );
  }
  const bytes = (s: ReturnType<Learner['getState']>): number => (s.novelty ? s.novelty.frames.x.byteLength : 0);
  console.log(`dim ${dim}: saved state novelty ring ${(bytes(on.l.getState()) / 1024).toFixed(0)} KiB`);
}
