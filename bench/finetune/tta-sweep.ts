// Dev tuning loop for test-time adaptation: ours under several option sets (FT_LIST, a JSON array) on the harness's TTA streams, with gap recovery, worst shift and pseudo-label precision per set.
// Run: FT_LIST='[{}, {"openSet":{"shrinkage":0.5}}]' node --import tsx bench/finetune/tta-sweep.ts --dev   (the same learners, streams and oracle as eval.ts section 1)
import type { LearnerOptions } from '../../src/finetune/index.js';
import { Learner } from '../../src/finetune/index.js';
import { CORRUPTIONS } from './corruptions.js';
import {
  HEAD_ONLY,
  SEVERITIES,
  VARIANTS,
  accuracy,
  embedSplit,
  poolY,
  runStream,
  srcE,
  srcY,
  streamY,
  trained,
} from './harness.js';

const list = JSON.parse(process.env.FT_LIST ?? '[{}]') as Partial<LearnerOptions>[];
// FT_FAMILIES (a comma list) and FT_SEV (e.g. 5) narrow the shifts; default: every family at severities 3–5, as the harness's gap.
const families = process.env.FT_FAMILIES
  ? CORRUPTIONS.filter((c) => process.env.FT_FAMILIES!.split(',').includes(c))
  : CORRUPTIONS;
const severities = process.env.FT_SEV ? process.env.FT_SEV.split(',').map(Number) : SEVERITIES.filter((s) => s >= 3);
const shifts = families.flatMap((c) => severities.map((sev) => ({ c, sev })));
// Source and oracle do not depend on the option sets: once per stream.
const source = Learner.fromState((await trained(VARIANTS.source!, srcE, srcY)).getState());
const ref: Array<{ source: number; oracle: number }> = [];
for (const { c, sev } of shifts) {
  const xs = await embedSplit('stream', c, sev);
  const oracle = await trained(
    { guard: false, featureAlignment: 'none', mode: 'frozen', drift: false, ...HEAD_ONLY },
    await embedSplit('pool', c, sev),
    poolY,
  );
  ref.push({ source: accuracy(source, xs, streamY), oracle: accuracy(oracle, xs, streamY) });
}
for (const opts of list) {
  const state = (await trained(opts, srcE, srcY)).getState();
  let gap = 0;
  let rec = 0;
  let worst = Number.POSITIVE_INFINITY;
  let accepted = 0;
  let correct = 0;
  let seen = 0;
  const rows: string[] = [];
  for (const [i, { c, sev }] of shifts.entries()) {
    const l = Learner.fromState(state);
    const r = await runStream(l, await embedSplit('stream', c, sev), streamY);
    const { source: s, oracle: o } = ref[i]!;
    gap += o - s;
    rec += r.final - s;
    worst = Math.min(worst, Math.min(r.final, r.online) - s);
    accepted += r.pseudo.accepted;
    correct += r.pseudo.correct;
    seen += r.pseudo.seen;
    const st = l.stats();
    rows.push(
      `| ${c} ${sev} | ${(100 * s).toFixed(1)} | ${(100 * r.online).toFixed(1)} / ${(100 * r.final).toFixed(1)} | ${(100 * o).toFixed(1)} | ${st.drifts} | ${r.pseudo.accepted} |`,
    );
  }
  console.log(
    `\n${JSON.stringify(opts)}: gap recovery **${((100 * rec) / gap).toFixed(1)}%** (${((100 * rec) / shifts.length).toFixed(2)} of ${((100 * gap) / shifts.length).toFixed(2)} pts), worst ${(100 * worst).toFixed(1)}, PL precision ${((100 * correct) / accepted).toFixed(1)}% at ${((100 * accepted) / seen).toFixed(1)}%\n`,
  );
  console.log('| shift | source | ours online / final | oracle | drifts | pseudo-labels |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);
}
