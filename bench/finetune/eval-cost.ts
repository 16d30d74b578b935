// Harness cost section: one adapt() after 1000 observed embeddings against encoding 1000 images.
import { performance } from 'node:perf_hooks';
import { Learner } from '../../src/finetune/index.js';
import { enc, splitImages, embedSplit, out, type Baselines } from './harness.js';

/** Runs the section and prints its one line (no target). */
export async function costSection({ states }: Baselines): Promise<void> {
  const imgs = splitImages.stream.subarray(0, 1000 * 784);
  const te = performance.now();
  await enc.embed(imgs);
  const encMs = performance.now() - te;
  const l = Learner.fromState(states.ours!);
  const xs = await embedSplit('stream', 'clean', 0);
  for (const x of xs.slice(0, 1000)) l.observe(x);
  const ta = performance.now();
  const r = await l.adapt();
  const adaptMs = performance.now() - ta;
  out(`## Cost`);
  out();
  out(
    `Encoding 1000 images: ${encMs.toFixed(0)} ms (${enc.id}). One adapt() over the replay after 1000 observed embeddings (${r.labeledUsed} labels + ${r.pseudoUsed} pseudo-labels, ${r.steps} steps): ${adaptMs.toFixed(0)} ms. Ratio adapt/encode = **${(adaptMs / encMs).toFixed(2)}**.`,
  );
}
