// Per-node profile of the shipped int8 encoder: onnxruntime-web WASM (in Node, its profiler prints to stdout) against onnxruntime-node native, one thread each, same fused graph; then whole-model variants (graph optimisation level, session options, first conv in fp32) timed interleaved.
// Run: node --import tsx bench/profile-ops.ts [--model fmnist-cnn-vicreg-int8] [--batch 32] [--runs 30]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MODELS, arg, median } from './suite/common.js';

const model = arg('model', 'fmnist-cnn-vicreg-int8');
const batch = Number(arg('batch', '32'));
const runs = Number(arg('runs', '30'));
const child = arg('child', '');
const file = join(MODELS, `${model}.onnx`);

interface NodeEvent {
  readonly cat: string;
  readonly name: string;
  readonly dur: number;
  readonly args: { readonly op_name?: string; readonly node_index?: string };
}

/** Median µs per node over the profiled runs, keyed by node name (kernel_time events only). */
function perNode(events: readonly NodeEvent[]): Map<string, { op: string; us: number }> {
  const by = new Map<string, { op: string; t: number[] }>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const k = e.name.replace(/_kernel_time$/, '');
    const v = by.get(k) ?? { op: e.args.op_name ?? '?', t: [] };
    v.t.push(e.dur);
    by.set(k, v);
  }
  return new Map([...by].map(([k, v]) => [k, { op: v.op, us: median(v.t) }]));
}

async function profileChild(kind: 'web' | 'native'): Promise<void> {
  const bytes = new Uint8Array(readFileSync(file));
  const shape = [
    batch,
    ...(JSON.parse(readFileSync(join(MODELS, `${model}.json`), 'utf8')).input.shape.slice(1) as number[]),
  ];
  const size = shape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: size }, (_, k) => Math.sin(k) * 0.5);
  if (kind === 'web') {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.numThreads = 1;
    const feeds = { input: new ort.Tensor('float32', x, shape) };
    // Past the WebAssembly tier-up first, in a session without profiling (compiled code is shared).
    const warm = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
    });
    for (let i = 0; i < 150; i++) await warm.run(feeds);
    await warm.release();
    const s = await ort.InferenceSession.create(bytes, {
      executionProviders: ['wasm'],
      graphOptimizationLevel: 'all',
      enableProfiling: true,
    });
    for (let i = 0; i < runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
  } else {
    const ort = await import('onnxruntime-node');
    const dir = process.argv[process.argv.indexOf('--dir') + 1]!;
    const feeds = { input: new ort.Tensor('float32', x, shape) };
    const s = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      enableProfiling: true,
      profileFilePrefix: join(dir, 'native'),
    });
    for (let i = 0; i < runs; i++) await s.run(feeds);
    s.endProfiling();
    await s.release();
  }
}

if (child) {
  await profileChild(child as 'web' | 'native');
  process.exit(0);
}

const self = process.argv[1]!;
const run = (kind: string, extra: string[] = []): string => {
  const r = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      self,
      '--child',
      kind,
      '--model',
      model,
      '--batch',
      String(batch),
      '--runs',
      String(runs),
      ...extra,
    ],
    {
      encoding: 'utf8',
      maxBuffer: 1 << 28,
    },
  );
  if (r.status !== 0) throw new Error(`${kind} profile failed: ${r.stderr}`);
  return r.stdout;
};
const dir = mkdtempSync(join(tmpdir(), 'edgetune-prof-'));
try {
  const webOut = run('web');
  const webEvents = webOut
    .split('\n')
    .map((l) => l.trim().replace(/,$/, ''))
    .filter((l) => l.startsWith('{"cat"'))
    .map((l) => JSON.parse(l) as NodeEvent);
  run('native', ['--dir', dir]);
  const nf = readdirSync(dir).find((f) => f.startsWith('native'))!;
  const nativeEvents = JSON.parse(readFileSync(join(dir, nf), 'utf8')) as NodeEvent[];
  // The first native run includes one-time work: drop each node's first event on both sides (median is robust anyway).
  const web = perNode(webEvents);
  const native = perNode(nativeEvents);
  let wSum = 0;
  let nSum = 0;
  const lines = ['| node | op | WASM µs | native µs | ratio | share of WASM time |', '|---|---|---:|---:|---:|---:|'];
  for (const v of web.values()) wSum += v.us;
  for (const v of native.values()) nSum += v.us;
  for (const [k, w] of web) {
    const n = native.get(k);
    lines.push(
      `| ${k} | ${w.op} | ${w.us.toFixed(0)} | ${n ? n.us.toFixed(0) : '—'} | ${n ? (w.us / Math.max(1, n.us)).toFixed(1) : '—'}× | ${((100 * w.us) / wSum).toFixed(0)}% |`,
    );
  }
  lines.push(
    `| **sum of kernels** | | **${wSum.toFixed(0)}** | **${nSum.toFixed(0)}** | **${(wSum / nSum).toFixed(1)}×** | |`,
  );
  console.log(`${model}, batch ${batch}, 1 thread each, median of ${runs} profiled runs (WASM past tier-up)\n`);
  console.log(lines.join('\n'));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
