// Camera benchmark: few-shot accuracy and unknown-object AUROC of shipped ONNX encoders (onnxruntime-web, WASM) under three framing protocols.
//
//   node --import tsx bench/camera/run.ts [--model NAME=FILE.onnx|NAME=FILE.json ...] [--size 96] [--out bench/camera/results.json]
//     [--no-default] [--no-learner] [--protocols whole,viewfinder,bgref,bgmask] [--reuse EARLIER.json ...]
//
// Without --model it evaluates every models/rgb-*.json manifest, the models/index.json default (the
// Fashion-MNIST encoder: its manifest turns each RGB crop into 28×28 grey) and raw pixels. A bare
// .onnx is taken as an RGB encoder of --size px with the pipeline's mean/std. Build the data first:
// /usr/bin/python3 bench/camera/build.py
// --reuse copies the rows of an encoder from an earlier results file instead of running it again, only when that
// file recorded the same bench frames (sha256), the same encoder id and the same model file (sha256): the bench is
// deterministic, so the rows are the ones this run would compute (e.g. the 224 px MobileNetV2 reference, ~7 min here).
// It works per protocol: bgref/bgmask rows only from a file that framed them through the SDK (`bench.region`).
// bgref and bgmask are the SDK's own background reference (createBackground(empty, { mask }) + preprocessInto with
// { background }), not a bench-side copy: the figures are what an app using the SDK gets.
import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as ort from 'onnxruntime-web';
import type { InputSpec } from '../../src/runtime/manifest.js';
import { preprocessInto } from '../../src/runtime/preprocess.js';
import {
  changedBox,
  iou,
  loadBench,
  PROTOCOLS,
  protocolInput,
  ROOT,
  type CameraBench,
  type Protocol,
  type Shot,
} from './data.js';
import { accuracy, auroc, knn, learner, ncm, unit } from './metrics.js';

const RGB_MEAN = [0.485, 0.456, 0.406];
const RGB_STD = [0.229, 0.224, 0.225];

interface Enc {
  readonly id: string;
  readonly file: string;
  readonly bytes: number;
  /** Embeds through the SDK's own preprocessing, each input with its region options (roi, background reference). */
  embed(x: readonly Shot[]): Promise<Float32Array[]>;
}

interface ManifestLite {
  id: string;
  file: string;
  input: InputSpec;
  output: { name: string; dim: number };
}

async function onnxEncoder(id: string, file: string, spec: InputSpec, outputName: string): Promise<Enc> {
  const bytes = new Uint8Array(await readFile(file));
  const session = await ort.InferenceSession.create(bytes);
  const size = spec.channels * spec.height * spec.width;
  return {
    id,
    file,
    bytes: bytes.length,
    async embed(xs) {
      const out: Float32Array[] = [];
      for (let b = 0; b < xs.length; b += 32) {
        const part = xs.slice(b, b + 32);
        const t = tensor(part, spec);
        const r = await session.run({
          [spec.name]: new ort.Tensor('float32', t, [part.length, spec.channels, spec.height, spec.width]),
        });
        const y = r[outputName]!.data as Float32Array;
        const dim = y.length / part.length;
        for (let i = 0; i < part.length; i++) out.push(unit(y.slice(i * dim, (i + 1) * dim)));
      }
      void size;
      return out;
    },
  };
}

async function fromManifest(path: string): Promise<Enc> {
  const m = JSON.parse(await readFile(path, 'utf8')) as ManifestLite;
  return onnxEncoder(m.id, join(dirname(path), m.file), m.input, m.output.name);
}

function rgbSpec(size: number): InputSpec {
  return {
    name: 'input',
    shape: [null, 3, size, size],
    layout: 'NCHW',
    channels: 3,
    height: size,
    width: size,
    range: [0, 1],
    mean: RGB_MEAN,
    std: RGB_STD,
  };
}

/** The SDK's preprocessing of a batch (as `Encoder.embed` does it), each input with its own region options. */
function tensor(xs: readonly Shot[], spec: InputSpec): Float32Array {
  const size = spec.channels * spec.height * spec.width;
  const out = new Float32Array(xs.length * size);
  xs.forEach((x, k) => preprocessInto(x.px, spec, out, k * size, k, x.region));
  return out;
}

/** Raw pixels: the crop at 16×16 RGB, normalised, minus its own mean (so cosine ignores overall brightness). */
function rawPixels(): Enc {
  const spec: InputSpec = { ...rgbSpec(16), mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
  return {
    id: 'raw-pixels-16px',
    file: '',
    bytes: 0,
    async embed(xs) {
      const t = tensor(xs, spec);
      const d = 3 * 16 * 16;
      return xs.map((_, i) => {
        const v = t.slice(i * d, (i + 1) * d);
        const m = v.reduce((a, b) => a + b, 0) / d;
        return unit(v.map((x) => x - m));
      });
    },
  };
}

function mulberry(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DRAWS = 5;

interface Row {
  encoder: string;
  file: string;
  bytes: number;
  protocol: Protocol;
  ncm: Record<string, number>;
  testA5: number;
  knn5: number;
  auroc5: number;
  learner5?: number;
  learnerStream5?: number;
  learnerAuroc5?: number;
  /** Copied from this earlier results file (same bench, encoder id and model sha256), not recomputed. */
  reusedFrom?: string;
}

/**
 * How bgref/bgmask frame an item: through the SDK's own `createBackground` + `embed({ background })` (the crop, and
 * with `mask: true` the mask). Results files without it cut these two protocols with the bench's earlier copy
 * (4×4 blocks, a square box, grey 128 mask), so their bgref/bgmask rows are not reused.
 */
const REGION = 'sdk-background-v1';
const SDK_FRAMED: readonly Protocol[] = ['bgref', 'bgmask'];

interface Results {
  bench: { sha256: { frames: string }; region?: string };
  encoders: { id: string; sha256?: string }[];
  rows: Row[];
}

const fileSha = async (f: string): Promise<string> =>
  createHash('sha256')
    .update(await readFile(f))
    .digest('hex');

async function evaluate(b: CameraBench, enc: Enc, p: Protocol, withLearner: boolean): Promise<Row> {
  const crops = b.items.map((_, i) => protocolInput(b, i, p));
  const z = await enc.embed(crops);
  const classes = b.objects.filter((o) => o.known).length;
  const idx = (s: string): number[] => b.items.flatMap((it, i) => (it.split === s ? [i] : []));
  const shots = idx('shot');
  const [testA, testB, unk] = [idx('testA'), idx('testB'), idx('unknown')];
  const rng = mulberry(7);
  const res: Record<string, number> = {};
  let testA5 = 0;
  let knn5 = 0;
  let au = 0;
  for (const k of [1, 5, 10]) {
    let accB = 0;
    for (let d = 0; d < DRAWS; d++) {
      // k of each class's 10 shots, a different seeded subset per draw.
      const pick = Array.from({ length: classes }, (_, c) => {
        const own = shots.filter((i) => b.items[i]!.label === c);
        for (let i = own.length - 1; i > 0; i--) {
          const j = Math.floor(rng() * (i + 1));
          [own[i], own[j]] = [own[j]!, own[i]!];
        }
        return own.slice(0, k);
      }).flat();
      const sx = pick.map((i) => z[i]!);
      const sy = pick.map((i) => b.items[i]!.label);
      const r = ncm(
        sx,
        sy,
        classes,
        testB.map((i) => z[i]!),
      );
      accB += accuracy(
        r.pred,
        testB.map((i) => b.items[i]!.label),
      );
      if (k === 5) {
        testA5 += accuracy(
          ncm(
            sx,
            sy,
            classes,
            testA.map((i) => z[i]!),
          ).pred,
          testA.map((i) => b.items[i]!.label),
        );
        knn5 += accuracy(
          knn(
            sx,
            sy,
            classes,
            testB.map((i) => z[i]!),
            3,
          ).pred,
          testB.map((i) => b.items[i]!.label),
        );
        au += auroc(
          r.score,
          ncm(
            sx,
            sy,
            classes,
            unk.map((i) => z[i]!),
          ).score,
        );
      }
    }
    res[`k${k}`] = accB / DRAWS;
  }
  const row: Row = {
    encoder: enc.id,
    file: enc.file,
    bytes: enc.bytes,
    protocol: p,
    ncm: res,
    testA5: testA5 / DRAWS,
    knn5: knn5 / DRAWS,
    auroc5: au / DRAWS,
  };
  if (withLearner) {
    const five = shots.filter((i) => b.items[i]!.rep < 5);
    const lr = await learner(
      five.map((i) => z[i]!),
      five.map((i) => b.items[i]!.label),
      classes,
      testB.map((i) => z[i]!),
      testB.map((i) => b.items[i]!.label),
      unk.map((i) => z[i]!),
    );
    row.learner5 = lr.fewShot;
    row.learnerStream5 = lr.stream;
    row.learnerAuroc5 = lr.auroc;
  }
  return row;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: string): string => {
    const i = args.indexOf(name);
    return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
  };
  const size = Number(opt('--size', '96'));
  const out = opt('--out', join(ROOT, 'bench', 'camera', 'results.json'));
  const withLearner = !args.includes('--no-learner');
  ort.env.wasm.numThreads = 1;
  const b = await loadBench(opt('--data', join(ROOT, 'bench', 'camera', '.cache', 'camera-v1')));
  const encs: Enc[] = [];
  if (!args.includes('--no-default')) {
    for (const f of readdirSync(join(ROOT, 'models'))
      .filter((f) => /^rgb-.*\.json$/.test(f) && !f.includes('calibration'))
      .sort()) {
      const m = JSON.parse(await readFile(join(ROOT, 'models', f), 'utf8')) as { format: string };
      if (m.format === 'onnx') encs.push(await fromManifest(join(ROOT, 'models', f)));
    }
    const index = JSON.parse(await readFile(join(ROOT, 'models', 'index.json'), 'utf8')) as { default: string };
    encs.push(await fromManifest(join(ROOT, 'models', `${index.default}.json`)));
    encs.push(rawPixels());
  }
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '--model') continue;
    const [name, file] = args[i + 1]!.split('=') as [string, string];
    encs.push(
      file.endsWith('.json') ? await fromManifest(file) : await onnxEncoder(name, file, rgbSpec(size), 'embedding'),
    );
    if (file.endsWith('.onnx')) (encs[encs.length - 1] as { id: string }).id = name;
  }
  // How well the background reference isolates the object (IoU of its box with the true object box).
  const ious = b.items.map((it, i) => iou(changedBox(b, i), it.bbox));
  const meanIou = ious.reduce((a, c) => a + c, 0) / ious.length;
  const earlier: { path: string; r: Results }[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--reuse') {
      const path = args[i + 1]!;
      earlier.push({ path, r: JSON.parse(await readFile(path, 'utf8')) as Results });
    }
  }
  const rows: Row[] = [];
  for (const enc of encs) {
    const sha = enc.file ? await fileSha(enc.file) : undefined;
    const protocols = args.includes('--protocols') ? (opt('--protocols', '').split(',') as Protocol[]) : PROTOCOLS;
    for (const p of protocols) {
      // An earlier row is this run's row when the frames, the encoder file and (for bgref/bgmask) the framing match.
      const from = earlier.find(
        ({ r }) =>
          sha !== undefined &&
          r.bench.sha256.frames === b.sha256.frames &&
          (!SDK_FRAMED.includes(p) || r.bench.region === REGION) &&
          r.encoders.some((e) => e.id === enc.id && e.sha256 === sha) &&
          r.rows.some((x) => x.encoder === enc.id && x.protocol === p),
      );
      if (from) {
        const row = from.r.rows.find((x) => x.encoder === enc.id && x.protocol === p)!;
        rows.push({ ...row, file: enc.file, reusedFrom: row.reusedFrom ?? basename(from.path) });
        process.stderr.write(`${enc.id} ${p}: row reused from ${from.path}\n`);
        continue;
      }
      const t0 = performance.now();
      rows.push(await evaluate(b, enc, p, withLearner));
      process.stderr.write(`${enc.id} ${p}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  }
  const pct = (x: number | undefined): string => (x === undefined ? '   -' : (100 * x).toFixed(1).padStart(5));
  const known = b.objects.filter((o) => o.known).length;
  const lines = [
    `Camera bench v1: ${known} objects, ${b.items.filter((i) => i.split === 'testB').length} test frames on unseen backgrounds (set B), ${b.items.filter((i) => i.split === 'unknown').length} unknown-object frames; chance ${(100 / known).toFixed(1)}%. Background-reference box IoU with the object: ${meanIou.toFixed(2)}.`,
    `Accuracy % on set B by nearest class mean (mean of ${DRAWS} shot draws); testA = same backgrounds as the shots; kNN k=3; Learner = src/finetune defaults (+stream = after observing the test stream); AUROC = known vs unknown by max class-mean cosine.`,
    '',
    '| encoder | KiB | protocol | 1-shot | 5-shot | 10-shot | 5-shot testA | kNN 5 | Learner 5 | +stream | AUROC 5 |',
    '|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.encoder} | ${r.bytes ? Math.round(r.bytes / 1024) : '-'} | ${r.protocol} | ${pct(r.ncm.k1)} | ${pct(r.ncm.k5)} | ${pct(r.ncm.k10)} | ${pct(r.testA5)} | ${pct(r.knn5)} | ${pct(r.learner5)} | ${pct(r.learnerStream5)} | ${(r.auroc5).toFixed(3)} |`,
    ),
  ];
  console.log(lines.join('\n'));
  const files = await Promise.all(
    encs
      .filter((e) => e.file)
      .map(async (e) => ({
        id: e.id,
        file: basename(e.file),
        bytes: (await stat(e.file)).size,
        sha256: await fileSha(e.file),
      })),
  );
  // Two-space JSON, as the formatter keeps it.
  await writeFile(
    out,
    `${JSON.stringify(
      {
        bench: {
          version: 1,
          region: REGION,
          sha256: b.sha256,
          items: b.items.length,
          known,
          meanBgrefIou: meanIou,
          disjoint: b.disjoint,
        },
        encoders: files,
        rows,
        table: lines,
      },
      null,
      2,
    )}\n`,
  );
  console.log(`\nwrote ${out}`);
}

await main();
