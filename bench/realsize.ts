// Real-size figures (a bench, not a test): per reference encoder, open / first embedding / batch 1 and 8 latency / peak RSS on onnxruntime-web WASM (1, 2 threads) vs onnxruntime-node; and the learner's adapt() at 384/768-d.
// Usage: node --import tsx bench/realsize.ts [--reps 5] [--models mobilenetv3-small,vit-ti16,dinov2-s14] [--learner-only]
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { syntheticImages } from '../src/cli/images.js';
import { importModel } from '../src/cli/import.js';
import { openSession } from '../src/cli/ort.js';
import { quantizeModel, readManifestAndModel } from '../src/cli/quantize.js';
import { Learner } from '../src/finetune/index.js';
import { Encoder, env } from '../src/runtime/index.js';
import { forRuntime } from '../src/runtime/pooling.js';
import { preprocessBatch } from '../src/runtime/preprocess.js';
import { referenceDir } from '../test/cli/reference.js';

const { values } = parseArgs({
  options: {
    reps: { type: 'string' },
    models: { type: 'string' },
    child: { type: 'string' },
    runtime: { type: 'string' },
    'learner-only': { type: 'boolean' },
  },
});
const reps = Number(values.reps ?? 5);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Row {
  model: string;
  mb: number;
  runtime: string;
  openMs: number;
  firstMs: number;
  b1Ms: number;
  b8MsPerImage: number;
  rssMb: number;
  /** Preprocessing of one 320×240 frame (JS), included in the WASM (SDK) columns, not in native. */
  preMs: number;
}

/** One configuration in this (child) process, so peak RSS and WASM threads belong to it alone. */
async function child(manifestPath: string, runtime: string): Promise<Row> {
  const { manifest, bytes } = await readManifestAndModel(manifestPath);
  const frames = syntheticImages(8, 320, 240, 3);
  const t0 = performance.now();
  let embed: (n: number) => Promise<unknown>;
  if (runtime === 'native') {
    const rt = forRuntime(manifest);
    const session = await openSession(bytes, 'onnxruntime-node');
    const dims = rt.input.shape.slice(1) as number[];
    // Native runs on preprocessed tensors: the column measures the model; preprocessing has its own column.
    const tensors = [preprocessBatch(frames.slice(0, 1), rt.input), preprocessBatch(frames, rt.input)];
    embed = (n) =>
      session.run({ [rt.input.name]: { data: tensors[n === 1 ? 0 : 1]!, dims: [n, ...dims] } }, [rt.output.name]);
  } else {
    env.numThreads = runtime === 'wasm-2' ? 2 : 1;
    const enc = await Encoder.open({ manifest, bytes }, { device: 'wasm', selfCheck: false });
    embed = (n) => enc.embed(frames.slice(0, n));
  }
  const openMs = performance.now() - t0;
  const t1 = performance.now();
  await embed(1);
  const firstMs = performance.now() - t1;
  const b1: number[] = [];
  const b8: number[] = [];
  for (let r = 0; r < reps; r++) {
    let t = performance.now();
    await embed(1);
    b1.push(performance.now() - t);
    if (r < Math.max(2, Math.ceil(reps / 2))) {
      t = performance.now();
      await embed(8);
      b8.push((performance.now() - t) / 8);
    }
  }
  const pre: number[] = [];
  const rt = forRuntime(manifest);
  for (let r = 0; r < 3; r++) {
    const t = performance.now();
    preprocessBatch(frames.slice(0, 1), rt.input);
    pre.push(performance.now() - t);
  }
  return {
    model: manifest.id,
    mb: +(manifest.bytes / 1e6).toFixed(1),
    runtime,
    openMs,
    firstMs,
    b1Ms: median(b1),
    b8MsPerImage: median(b8),
    rssMb: process.resourceUsage().maxRSS / 1024,
    preMs: median(pre),
  };
}

async function learnerRows(): Promise<string[]> {
  const out: string[] = [];
  for (const dim of [384, 768]) {
    for (const n of [1000, 10000]) {
      const l = new Learner({ dim, classes: ['a', 'b', 'c', 'd', 'e'], seed: 1 });
      const centres = Array.from({ length: 5 }, (_, c) =>
        Float32Array.from({ length: dim }, (_, k) => Math.sin(k * (c + 1))),
      );
      for (let k = 0; k < n; k++) {
        const c = k % 5;
        const e = Float32Array.from(centres[c]!, (v) => v + (Math.random() - 0.5));
        l.addLabeled(e, ['a', 'b', 'c', 'd', 'e'][c]!);
      }
      const heap0 = process.memoryUsage().heapUsed;
      const t = performance.now();
      await l.adapt();
      const ms = performance.now() - t;
      out.push(
        `| ${dim} | ${n} | ${ms.toFixed(0)} | ${l.stats().labeled} (${((l.stats().labeled * dim * 4) / 1e6).toFixed(1)} MB) | ${((process.memoryUsage().heapUsed - heap0) / 1e6).toFixed(0)} |`,
      );
      l.dispose();
    }
  }
  return out;
}

const LEARNER_HEAD =
  'learner adapt() (default head), synthetic 5-class embeddings:\n| dim | embeddings | adapt ms | kept (embedding bytes) | heap Δ MB |\n|---|---|---|---|---|\n';
if (values.child) {
  process.stdout.write(`${JSON.stringify(await child(values.child, values.runtime ?? 'wasm-1'))}\n`);
} else if (values['learner-only']) {
  process.stdout.write(`${LEARNER_HEAD}${(await learnerRows()).join('\n')}\n`);
} else {
  const models = (values.models ?? 'mobilenetv3-small,vit-ti16,dinov2-s14').split(',');
  const src = referenceDir();
  const dir = join(src, '..', 'bench');
  mkdirSync(dir, { recursive: true });
  const flags: Record<string, Parameters<typeof importModel>[1]> = {
    'mobilenetv3-small': { preset: 'imagenet', size: 224, output: 'pooler_output' },
    'vit-ti16': { preset: 'imagenet', output: 'pooler_output' },
    'dinov2-s14': { preset: 'dinov2', output: 'last_hidden_state', pooling: 'cls' },
  };
  const manifests: string[] = [];
  for (const m of models) {
    if (!existsSync(join(dir, `${m}.onnx`))) symlinkSync(join(src, `${m}.onnx`), join(dir, `${m}.onnx`));
    const r = await importModel(join(dir, `${m}.onnx`), { ...flags[m], license: 'Apache-2.0' });
    if (!existsSync(join(dir, `${m}-int8.json`)))
      await quantizeModel(r.manifestPath, { calibrateSample: 8, speedRuns: 0 });
    manifests.push(r.manifestPath, join(dir, `${m}-int8.json`));
  }
  const rows: Row[] = [];
  for (const path of manifests) {
    for (const runtime of ['native', 'wasm-1', 'wasm-2']) {
      const r = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'bench/realsize.ts', '--child', path, '--runtime', runtime, '--reps', String(reps)],
        { encoding: 'utf8', maxBuffer: 1 << 24 },
      );
      const line = r.stdout.trim().split('\n').pop() ?? '';
      try {
        rows.push(JSON.parse(line) as Row);
        process.stderr.write(`${line}\n`);
      } catch {
        process.stderr.write(`${path} ${runtime} failed: ${r.stderr.slice(-400)}\n`);
      }
    }
  }
  const f = (x: number): string => (x >= 100 ? x.toFixed(0) : x.toFixed(1));
  const lines = [
    '| model | MB | runtime | open ms | first embed ms | batch 1 ms | batch 8 ms/img | peak RSS MB | vs native b1 | preprocess ms/frame |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const r of rows) {
    const native = rows.find((x) => x.model === r.model && x.runtime === 'native');
    lines.push(
      `| ${r.model} | ${r.mb} | ${r.runtime} | ${f(r.openMs)} | ${f(r.firstMs)} | ${f(r.b1Ms)} | ${f(r.b8MsPerImage)} | ${f(r.rssMb)} | ${native ? `${(r.b1Ms / native.b1Ms).toFixed(1)}×` : '-'} | ${f(r.preMs)} |`,
    );
  }
  process.stdout.write(`${lines.join('\n')}\n\n${LEARNER_HEAD}${(await learnerRows()).join('\n')}\n`);
}
