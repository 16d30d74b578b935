// `npm run bench`: every peer comparison side by side. Each part runs in its own process (Node parts in Node, the thread comparison in headless Chromium), parts interleaved over rounds; prints one markdown table of ratios (median, min–max) and writes bench/results/latest.json.
// Run: npm run bench [-- --rounds 2] [--only ort,warmup,preprocess,train,knn,browser,bundle]
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { ROOT, arg, median, type Sample } from './suite/common.js';

const rounds = Number(arg('rounds', '2'));
const only = new Set(arg('only', 'ort,warmup,preprocess,train,knn,browser,bundle').split(','));

interface Collected extends Sample {
  readonly round: number;
}
const samples: Collected[] = [];

function runPart(script: string, args: string[], round: number): Promise<void> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'suite', script), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buf = '';
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('BENCH ')) samples.push({ ...(JSON.parse(line.slice(6)) as Sample), round });
      }
    });
    let err = '';
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('exit', (code) => {
      process.stderr.write(
        `  ${script} ${args.join(' ')}: ${code === 0 ? 'ok' : `exit ${code}`} in ${((performance.now() - t0) / 1000).toFixed(0)} s\n`,
      );
      if (code === 0) res();
      else rej(new Error(`${script} failed (${code}): ${err.slice(-2000)}`));
    });
  });
}

const started = new Date();
const load0 = loadavg()[0]!;
for (let r = 0; r < rounds; r++) {
  const parts: Array<[string, string[]]> = [];
  if (only.has('ort'))
    parts.push(['ort.ts', ['--threads', '1', '--rounds', '2']], ['ort.ts', ['--threads', '2', '--rounds', '2']]);
  if (only.has('warmup')) parts.push(['warmup.ts', ['--warmup', '1']], ['warmup.ts', ['--warmup', 'auto']]);
  if (only.has('preprocess')) parts.push(['preprocess.ts', ['--reps', '30']]);
  if (only.has('train')) parts.push(['train.ts', ['--reps', '1']]);
  if (only.has('knn')) parts.push(['knn.ts', ['--reps', '1', '--seed', String(r + 1)]]);
  if (only.has('browser')) parts.push(['browser.ts', ['--loads', '1']]);
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
  // Rotate the part order each round so no part always runs first (or last) on the shared machine.
  for (let i = 0; i < parts.length; i++) {
    const [s, a] = parts[(i + r) % parts.length]!;
    await runPart(s, a, r);
  }
}
if (only.has('bundle')) await runPart('bundle.ts', [], 0);

const by = new Map<string, Collected[]>();
for (const s of samples) by.set(s.row, [...(by.get(s.row) ?? []), s]);
const vals = (row: string): number[] => (by.get(row) ?? []).map((s) => s.value);

/** Node thread ratio: same round, same model/batch, 1-thread time over 2-thread time. */
for (const q of ['int8', 'fp32']) {
  for (const b of [1, 32]) {
    const one = by.get(`web-ms/${q}/b${b}/t1`) ?? [];
    const two = by.get(`web-ms/${q}/b${b}/t2`) ?? [];
    for (let i = 0; i < Math.min(one.length, two.length); i++) {
      const s: Collected = {
        row: `threads/node/${q}/b${b}`,
        value: one[i]!.value / two[i]!.value,
        round: one[i]!.round,
      };
      samples.push(s);
      by.set(s.row, [...(by.get(s.row) ?? []), s]);
    }
  }
}

/** Warm-up: same round, one fresh process each; first 10 batch-1 embeds after open with 1 warm-up run over with 'auto'. */
for (let r = 0; r < rounds; r++) {
  const one = (by.get('warmup/1') ?? []).find((s) => s.round === r);
  const auto = (by.get('warmup/auto') ?? []).find((s) => s.round === r);
  if (!one || !auto) continue;
  const add = (row: string, value: number): void => {
    const s: Collected = { row, value, round: r };
    samples.push(s);
    by.set(row, [...(by.get(row) ?? []), s]);
  };
  add('warmup/first-embeds-speedup', one.value / auto.value);
  add('warmup/open-cost-ms', Number(auto.detail?.['openMs']) - Number(one.detail?.['openMs']));
}

interface RowDef {
  readonly key: string;
  readonly what: string;
  readonly goal: string;
  /** True when the median meets the goal (or, for plain figures, when edgetune is ahead). */
  readonly ok?: (m: number) => boolean;
  readonly unit?: string;
}
const rows: RowDef[] = [
  {
    key: 'encoder-vs-raw/int8/b1/t1',
    what: 'Encoder.embed (incl. preprocessing) / raw ORT-web run, int8 batch 1',
    goal: '≤ 1.05',
    ok: (m) => m <= 1.05,
  },
  {
    key: 'encoder-vs-raw/int8/b32/t1',
    what: 'Encoder.embed / raw ORT-web run, int8 batch 32',
    goal: '≤ 1.05',
    ok: (m) => m <= 1.05,
  },
  {
    key: 'encoder-vs-raw/fp32/b32/t1',
    what: 'Encoder.embed / raw ORT-web run, fp32 batch 32',
    goal: '≤ 1.05',
    ok: (m) => m <= 1.05,
  },
  {
    key: 'wasm-vs-native/int8/b1/t1',
    what: 'ORT-web WASM / onnxruntime-node native, int8 batch 1 (1 thread each)',
    goal: '≤ 4',
    ok: (m) => m <= 4,
  },
  {
    key: 'wasm-vs-native/int8/b32/t1',
    what: 'ORT-web WASM / onnxruntime-node native, int8 batch 32',
    goal: '≤ 4',
    ok: (m) => m <= 4,
  },
  { key: 'wasm-vs-native/fp32/b1/t1', what: 'ORT-web WASM / onnxruntime-node native, fp32 batch 1', goal: 'context' },
  { key: 'wasm-vs-native/fp32/b32/t1', what: 'ORT-web WASM / onnxruntime-node native, fp32 batch 32', goal: 'context' },
  {
    key: 'int8-vs-fp32/web/b1/t1',
    what: 'int8 speed-up over fp32, ORT-web WASM batch 1',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'int8-vs-fp32/web/b32/t1',
    what: 'int8 speed-up over fp32, ORT-web WASM batch 32',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  { key: 'int8-vs-fp32/native/b32/t1', what: 'int8 speed-up over fp32, onnxruntime-node batch 32', goal: 'context' },
  {
    key: 'tierup/int8/b1/t1',
    what: 'tier-up: first 10 calls of a fresh WASM session / steady state, int8 batch 1',
    goal: 'context (discarded in every other row)',
  },
  {
    key: 'warmup/first-embeds-speedup',
    what: "first 10 embeds after open: warmup 1 run / 'auto' (median call time)",
    goal: '> 1',
    ok: (m) => m > 1,
  },
  { key: 'warmup/open-cost-ms', what: "extra open time of warmup 'auto' over 1 run (ms)", goal: 'cost', unit: ' ms' },
  {
    key: 'preprocess/640x480-224',
    what: 'preprocess 640×480 RGBA → 224² RGB: plain reference path / one-pass path (same run, interleaved)',
    goal: '> 1, a few ms',
    ok: (m) => m > 1,
  },
  {
    key: 'preprocess/640x480-96',
    what: 'preprocess 640×480 RGBA → 96² RGB: plain reference path / one-pass path',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'threads/node/int8/b32',
    what: '2-thread speed-up, ORT-web in Node, int8 batch 32',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'threads/node/fp32/b32',
    what: '2-thread speed-up, ORT-web in Node, fp32 batch 32',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'threads/chromium/int8/b32',
    what: '2-thread speed-up, Chromium (cross-origin isolated), int8 batch 32',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'threads/chromium/fp32/b32',
    what: '2-thread speed-up, Chromium (cross-origin isolated), fp32 batch 32',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'train/linear/tfjs-cpu',
    what: 'training speed-up, linear head vs tfjs layers (CPU backend)',
    goal: '≥ 10',
    ok: (m) => m >= 10,
  },
  {
    key: 'train/linear/tfjs-wasm',
    what: 'training speed-up, linear head vs tfjs layers (WASM backend)',
    goal: '≥ 2',
    ok: (m) => m >= 2,
  },
  {
    key: 'train/adapter/tfjs-cpu',
    what: 'training speed-up, residual adapter vs tfjs layers (CPU backend)',
    goal: '≥ 10',
    ok: (m) => m >= 10,
  },
  {
    key: 'train/adapter/tfjs-wasm',
    what: 'training speed-up, residual adapter vs tfjs layers (WASM backend)',
    goal: '≥ 2',
    ok: (m) => m >= 2,
  },
  {
    key: 'train/linear/tfjs-cpu/cpu',
    what: 'same, linear vs tfjs CPU backend, by process CPU time',
    goal: '≥ 10',
    ok: (m) => m >= 10,
  },
  {
    key: 'train/linear/tfjs-wasm/cpu',
    what: 'same, linear vs tfjs WASM backend, by process CPU time',
    goal: '≥ 2',
    ok: (m) => m >= 2,
  },
  {
    key: 'train/adapter/tfjs-cpu/cpu',
    what: 'same, adapter vs tfjs CPU backend, by process CPU time',
    goal: '≥ 10',
    ok: (m) => m >= 10,
  },
  {
    key: 'train/adapter/tfjs-wasm/cpu',
    what: 'same, adapter vs tfjs WASM backend, by process CPU time',
    goal: '≥ 2',
    ok: (m) => m >= 2,
  },
  {
    key: 'fewshot/5/accuracy-points',
    what: 'Learner − knn-classifier accuracy, 5 shots/class (points)',
    goal: '> 0',
    ok: (m) => m > 0,
    unit: 'pt',
  },
  {
    key: 'fewshot/10/accuracy-points',
    what: 'Learner − knn-classifier accuracy, 10 shots/class (points)',
    goal: '> 0',
    ok: (m) => m > 0,
    unit: 'pt',
  },
  {
    key: 'fewshot/5/predict-speed',
    what: 'prediction speed-up over knn-classifier, 5 shots',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'fewshot/10/predict-speed',
    what: 'prediction speed-up over knn-classifier, 10 shots',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'bundle/finetune',
    what: 'transformers.js web build / edgetune finetune (min+gzip)',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'bundle/runtime',
    what: 'transformers.js web build / edgetune runtime (min+gzip)',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'bundle/storage',
    what: 'transformers.js web build / edgetune storage (min+gzip)',
    goal: '> 1',
    ok: (m) => m > 1,
  },
  {
    key: 'bundle/whole loop (index)',
    what: 'transformers.js web build / edgetune whole loop (min+gzip)',
    goal: '> 1',
    ok: (m) => m > 1,
  },
];

const fmt = (v: number, unit = '×'): string =>
  unit === 'pt'
    ? `${v >= 0 ? '+' : ''}${v.toFixed(1)}`
    : unit === ' ms'
      ? `${v.toFixed(0)} ms`
      : `${v.toFixed(2)}${unit}`;
const lines: string[] = [];
lines.push(`| comparison | median | min–max | n | goal | met |`);
lines.push('|---|---:|---:|---:|---|:-:|');
for (const r of rows) {
  const v = vals(r.key);
  if (v.length === 0) continue;
  const m = median(v);
  const met = r.ok ? (r.ok(m) ? 'yes' : '**no**') : '';
  lines.push(
    `| ${r.what} | ${fmt(m, r.unit)} | ${fmt(Math.min(...v), r.unit)}–${fmt(Math.max(...v), r.unit)} | ${v.length} | ${r.goal} | ${met} |`,
  );
}
// Absolute figures behind the ratios, for the model-card and README notes.
const abs = (row: string, field: string): string => {
  const d = (by.get(row) ?? []).map((s) => Number(s.detail?.[field])).filter(Number.isFinite);
  return d.length ? median(d).toFixed(2) : 'n/a';
};
const table = lines.join('\n');
const context = [
  `Date ${started.toISOString()}; Node ${process.version}; ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${load0.toFixed(1)} at start, ${loadavg()[0]!.toFixed(1)} at end; ${rounds} rounds.`,
  `Model: shipped default encoder fmnist-cnn-vicreg-int8 (272,037 B) and its fp32 twin (1,031,761 B); 28×28×1 input, 256-d embedding.`,
  `Steady-state ms (median): ORT-web int8 b1 ${abs('wasm-vs-native/int8/b1/t1', 'webMs')}, b32 ${abs('wasm-vs-native/int8/b32/t1', 'webMs')}; fp32 b1 ${abs('wasm-vs-native/fp32/b1/t1', 'webMs')}, b32 ${abs('wasm-vs-native/fp32/b32/t1', 'webMs')}; native int8 b32 ${abs('wasm-vs-native/int8/b32/t1', 'nativeMs')}; tier-up: first call ${abs('tierup/int8/b1/t1', 'firstCallMs')} ms, ${abs('tierup/int8/b1/t1', 'callsUntilWithin1_5x')} calls until within 1.5× of steady.`,
  `Training (2000 real embeddings, 10 epochs, batch 32, Adam lr 0.01): edgetune linear ${abs('train/linear/tfjs-cpu', 'edgetuneMs')} ms (accuracy ${abs('train/linear/tfjs-cpu', 'edgetuneAcc')} vs tfjs ${abs('train/linear/tfjs-cpu', 'peerAcc')} cpu / ${abs('train/linear/tfjs-wasm', 'peerAcc')} wasm), adapter ${abs('train/adapter/tfjs-cpu', 'edgetuneMs')} ms (accuracy ${abs('train/adapter/tfjs-cpu', 'edgetuneAcc')} vs ${abs('train/adapter/tfjs-cpu', 'peerAcc')} / ${abs('train/adapter/tfjs-wasm', 'peerAcc')}).`,
  `Warm-up 'auto': ${abs('warmup/auto', 'warmupRuns')} runs, ${abs('warmup/auto', 'warmupMs')} ms; first-10 embed median ${abs('warmup/auto', 'first10MedianMs')} ms vs ${abs('warmup/1', 'first10MedianMs')} ms with 1 run.`,
  `Preprocess 640×480 RGBA, ms per frame (one-pass / reference): 224² ${abs('preprocess/640x480-224', 'fastMs')} / ${abs('preprocess/640x480-224', 'referenceMs')}, 96² ${abs('preprocess/640x480-96', 'fastMs')} / ${abs('preprocess/640x480-96', 'referenceMs')}.`,
  `Few-shot accuracy learner / knn: 5-shot ${abs('fewshot/5/accuracy-points', 'learnerAcc')} / ${abs('fewshot/5/accuracy-points', 'knnAcc')}, 10-shot ${abs('fewshot/10/accuracy-points', 'learnerAcc')} / ${abs('fewshot/10/accuracy-points', 'knnAcc')}; predict µs ${abs('fewshot/10/predict-speed', 'learnerUs')} vs ${abs('fewshot/10/predict-speed', 'knnUs')}. Bundle bytes (min+gzip): ${['finetune', 'runtime', 'storage', 'whole loop (index)'].map((b) => `${b} ${abs(`bundle/${b}`, 'edgetuneBytes')}`).join(', ')}; transformers.js ${abs('bundle/finetune', 'transformersBytes')}.`,
].join('\n');
console.log(`${table}\n\n${context}`);
const dir = join(ROOT, 'bench', 'results');
mkdirSync(dir, { recursive: true });
writeFileSync(
  join(dir, 'latest.json'),
  JSON.stringify(
    {
      started: started.toISOString(),
      node: process.version,
      cores: cpus().length,
      load: [load0, loadavg()[0]],
      rounds,
      table,
      samples,
    },
    null,
    1,
  ),
);
console.log(`\nwrote bench/results/latest.json (${samples.length} samples)`);
