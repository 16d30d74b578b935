// Evaluation harness of the fine-tuner: test-time adaptation, few-shot vs tuned baselines, open-set, calibration, pseudo-label precision, drift and hostile streams; ends with one table of every target (pass/fail).
// Run: node --import tsx bench/finetune/eval.ts [--quick] [--dev]   (FT_PARTS=tta,few,open,streams,drift,cost picks sections;
// FT_VARIANTS=ncm,t3a,naive picks the comparison columns of sections 1 and 3 — source and ours always run — for a faster tuning loop)
// The setup is in harness.ts, each section in its eval-*.ts file.
import { performance } from 'node:perf_hooks';
import type { Learner } from '../../src/finetune/index.js';
import { costSection } from './eval-cost.js';
import { driftSection } from './eval-drift.js';
import { fewShotSection } from './eval-fewshot.js';
import { hostileSection } from './eval-hostile.js';
import { openSetSection } from './eval-openset.js';
import { ttaSection } from './eval-tta.js';
import {
  DEV,
  N_SRC,
  N_STREAM,
  PARTS,
  QUICK,
  RUN_VARIANTS,
  SEED,
  VARIANTS,
  ds,
  embedSplit,
  enc,
  out,
  section,
  srcE,
  srcY,
  summary,
  t0,
  trained,
  type Baselines,
} from './harness.js';

out(`# edgetune fine-tuner harness`);
out();
out(
  `Encoder \`${enc.id}\` (dim ${enc.dim}, sha256 ${enc.sha256.slice(0, 12)}…), data ${ds.source}; ${N_SRC} clean labeled source images, streams of ${N_STREAM} images, seed ${SEED}${DEV ? ', DEV split (training images)' : QUICK ? ', QUICK subset' : ''}.`,
);
out();

const base: Record<string, Learner> = {};
for (const [name, o] of Object.entries(VARIANTS)) if (RUN_VARIANTS.has(name)) base[name] = await trained(o, srcE, srcY);
const ctx: Baselines = {
  base,
  states: Object.fromEntries(Object.entries(base).map(([k, l]) => [k, l.getState()])),
  cleanStream: await embedSplit('stream', 'clean', 0),
};
if (PARTS.includes('tta')) await ttaSection(ctx);
if (PARTS.includes('few')) await fewShotSection();
if (PARTS.includes('open')) await openSetSection(ctx);
if (PARTS.includes('streams')) await hostileSection(ctx);
if (PARTS.includes('drift')) await driftSection(ctx);
if (PARTS.includes('cost')) await costSection(ctx);
out();
out(
  `## Targets (${DEV ? 'DEV split: Fashion-MNIST training images' : 'TEST split: the shipped test sample'}${QUICK && !DEV ? ', quick subset' : ''}; encoder ${enc.id})`,
);
out();
out('| target | measured | pass |');
out('|---|---|---|');
for (const r of summary) out(`| ${r.target} | ${r.value} | ${r.pass === undefined ? '—' : r.pass ? 'PASS' : 'FAIL'} |`);
out();
out(
  `Harness time ${((performance.now() - t0) / 1000).toFixed(0)} s (${Object.entries(section)
    .map(([k, v]) => `${k} ${(v / 1000).toFixed(0)} s`)
    .join(', ')}; 2 shared cores, loaded).`,
);
