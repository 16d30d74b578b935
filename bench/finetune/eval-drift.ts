import { Learner } from '../../src/finetune/index.js';
import {
  N_STREAM,
  poolIdx,
  embedSplit,
  streamY,
  poolY,
  runStream,
  summary,
  accuracy,
  pct,
  out,
  type Baselines,
} from './harness.js';

/** Runs the section and prints its table; adds its targets to the summary. */
export async function driftSection({ states, cleanStream }: Baselines): Promise<void> {
  out('## 3. Drift: clean → noise(4) → blur(4) → clean, 1000 samples per segment');
  out();
  const seg = N_STREAM;
  const poolNoise = await embedSplit('pool', 'gaussian-noise', 4);
  const poolBlur = await embedSplit('pool', 'blur', 4);
  const poolClean = await embedSplit('pool', 'clean', 0);
  const half = Math.floor(poolIdx.length / 2);
  const driftX = [
    ...cleanStream.slice(0, seg),
    ...poolNoise.slice(0, seg),
    ...poolBlur.slice(half, half + seg),
    ...poolClean.slice(0, seg),
  ];
  const driftY = [
    ...streamY.slice(0, seg),
    ...poolY.slice(0, seg),
    ...poolY.slice(half, half + seg),
    ...poolY.slice(0, seg),
  ];
  const evalClean = { x: poolClean.slice(half), y: poolY.slice(half) };
  out(
    '| method | acc clean₁ | acc noise | acc blur | acc clean₂ | clean eval after clean₁ | clean eval at end | forgetting | drift events (step) | delays noise/blur/clean |',
  );
  out('|---|---|---|---|---|---|---|---|---|---|');
  for (const name of ['source', 'naive', 'ours'] as const) {
    if (!states[name]) continue;
    const l = Learner.fromState({
      ...states[name]!,
      options: { ...states[name]!.options, drift: { ...states.ours!.options.drift } },
    });
    const events: number[] = [];
    l.on((e) => {
      if (e.type === 'drift') events.push(e.step);
    });
    const segOk = [0, 0, 0, 0];
    let afterClean1 = 0;
    for (let i = 0; i < driftX.length; i++) {
      const o = l.observe(driftX[i]!);
      if (o.label === driftY[i]) segOk[Math.floor(i / seg)]!++;
      if (o.adaptDue && name !== 'source') await l.adapt();
      if (i === seg - 1) afterClean1 = accuracy(l, evalClean.x, evalClean.y);
    }
    const end = accuracy(l, evalClean.x, evalClean.y);
    const delays = [1, 2, 3].map((s) => {
      const d = events.find((e) => e >= s * seg && e < (s + 1) * seg);
      return d === undefined ? 'missed' : String(d - s * seg);
    });
    out(
      `| ${name} | ${segOk.map((v) => pct(v / seg)).join(' | ')} | ${pct(afterClean1)} | ${pct(end)} | ${(100 * (afterClean1 - end)).toFixed(1)} | ${events.join(', ') || '—'} | ${delays.join(' / ')} |`,
    );
    if (name === 'ours') {
      summary.push({
        target: 'drift clean → noise caught',
        value: delays[0] === 'missed' ? 'missed' : `after ${delays[0]}`,
        pass: delays[0] !== 'missed',
      });
      summary.push({
        target: 'drift noise → blur caught',
        value: delays[1] === 'missed' ? 'missed' : `after ${delays[1]}`,
        pass: delays[1] !== 'missed',
      });
    }
  }
  {
    // False alarms: a stationary clean stream of 3000 samples (stream + pool, clean), detectors as shipped.
    const l = Learner.fromState(states.ours!);
    let alarms = 0;
    l.on((e) => {
      if (e.type === 'drift') alarms++;
    });
    const xs = [...cleanStream, ...poolClean];
    const ys = [...streamY, ...poolY];
    await runStream(l, xs, ys);
    out();
    out(
      `False alarms on a stationary clean stream of ${xs.length} samples (ours, embedding two-sample test + Page-Hinkley + ADWIN on rising 1 − confidence): **${alarms}**.`,
    );
    summary.push({
      target: 'false drift alarms on a stationary clean stream = 0',
      value: `${alarms} in ${xs.length}`,
      pass: alarms === 0,
    });
  }
  out();
}
