// `edgetune quantize`: calibrates activation ranges on images, writes the static int8 QDQ model and its manifest, and reports what it cost.
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { validateManifest, type ModelManifest } from '../runtime/manifest.js';
import { fixedBatch, forRuntime, poolOutput } from '../runtime/pooling.js';
import { preprocessBatch, type RawPixels } from '../runtime/preprocess.js';
import { batchCosines } from '../runtime/selfcheck.js';
import { decodeImage, listImages, syntheticImages } from './images.js';
import { quantizationOf } from './import.js';
import { readOnnx } from './onnx-proto.js';
import { openSession, type CliRuntime } from './ort.js';
import { addBatch, emptyStats, RANGE_METHODS, rangesOf, type ActivationStats, type RangeMethod } from './calibrate.js';
import { applyQdq, calibrationModel, planQdq, QUANTIZED_OPS, type QdqPlan, type Range } from './qdq.js';
import type { OnnxModel, OnnxNode } from './onnx-proto.js';

/** Options of {@link quantizeModel}. */
export interface QuantizeOptions {
  /** Folder of PNG/JPEG calibration images. */
  readonly calibrate?: string | undefined;
  /** Number of synthetic calibration scenes when no folder is given. */
  readonly calibrateSample?: number | undefined;
  /** At most this many images from the folder. @defaultValue 32 */
  readonly limit?: number | undefined;
  /** Timed WASM runs per model for the speed line (0 skips it). @defaultValue 5 */
  readonly speedRuns?: number | undefined;
  /** Minimum int8-vs-fp32 cosine; below it, layers with outlier-dominated activations are left in float until it is met. @defaultValue 0.99 */
  readonly target?: number | undefined;
}

/** What {@link quantizeModel} measured. */
export interface QuantizeReport {
  readonly model: string;
  readonly output: string;
  readonly manifest: string;
  readonly calibrationImages: number;
  readonly calibrationSource: string;
  readonly runtime: CliRuntime;
  readonly cosine: { readonly min: number; readonly mean: number };
  readonly bytes: { readonly fp32: number; readonly int8: number };
  readonly wasmMs?: { readonly fp32: number; readonly int8: number; readonly runs: number };
  readonly quantizedNodes: Readonly<Record<string, number>>;
  readonly floatOps: Readonly<Record<string, number>>;
  /** Quantizable nodes left in float to meet the cosine target (the most damaging first, see `sensitivity`). */
  readonly keptFloat: readonly string[];
  /** How activation ranges were chosen (`minmax` or a percentile such as `p99.9`). */
  readonly rangeMethod: RangeMethod;
  /** The min cosine each range method gave before any node was kept in float. */
  readonly rangeMethodsTried: readonly { readonly method: RangeMethod; readonly min: number }[];
  /** The fp32 model's own min cosine when every calibration image gets ±1 grey level of seeded noise. */
  readonly fp32NoiseCosine: number;
  /** Per-layer error, measured when the target is missed: each node quantized alone, mean cosine to fp32, worst first. */
  readonly sensitivity: readonly { readonly node: string; readonly cosine: number }[];
  readonly notes: readonly string[];
}

/** Reads a manifest file and the model beside it. */
export async function readManifestAndModel(
  path: string,
): Promise<{ manifest: ModelManifest; bytes: Uint8Array; dir: string }> {
  const manifest = validateManifest(JSON.parse(await readFile(path, 'utf8')));
  const dir = dirname(path);
  const bytes = new Uint8Array(await readFile(join(dir, manifest.file)));
  return { manifest, bytes, dir };
}

/** The calibration images the options name (a folder, or seeded synthetic scenes). */
export async function calibrationImages(o: QuantizeOptions): Promise<{ images: RawPixels[]; source: string }> {
  if (o.calibrate) {
    const files = await listImages(o.calibrate, o.limit ?? 32);
    return { images: await Promise.all(files.map(decodeImage)), source: `${files.length} images from ${o.calibrate}` };
  }
  const n = o.calibrateSample ?? 0;
  if (!(n > 0))
    throw new Error(
      'Pass --calibrate DIR (photos like the app will see) or --calibrate-sample N (synthetic scenes; less faithful ranges).',
    );
  return { images: syntheticImages(n), source: `${n} synthetic scenes (--calibrate-sample)` };
}

function count(xs: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

/**
 * Runs preprocessed images through a model in batches and returns the pooled embeddings; `exact` runs the graph
 * unoptimised (see {@link openSession}), the CPU-independent reference for int8 QDQ models.
 */
export async function embedAll(
  bytes: Uint8Array,
  manifest: ModelManifest,
  tensor: Float32Array,
  n: number,
  prefer: CliRuntime = 'onnxruntime-node',
  exact = false,
): Promise<{ out: Float32Array; runtime: CliRuntime }> {
  const session = await openSession(bytes, prefer, 1, exact);
  const per = tensor.length / n;
  const step = fixedBatch(manifest) ?? 8;
  const dims = manifest.input.shape.slice(1) as number[];
  const out = new Float32Array(n * manifest.output.dim);
  try {
    for (let s = 0; s < n; s += step) {
      const b = Math.min(step, n - s);
      const res = await session.run(
        { [manifest.input.name]: { data: tensor.slice(s * per, (s + b) * per), dims: [b, ...dims] } },
        [manifest.output.name],
      );
      out.set(poolOutput(res[manifest.output.name]!.data, b, manifest.output), s * manifest.output.dim);
    }
  } finally {
    await session.release();
  }
  return { out, runtime: session.runtime };
}

/** Median WASM latency (1 thread, batch 1) of each model, runs interleaved so drift and V8 tier-up hit all alike. */
export async function wasmMedians(
  models: readonly Uint8Array[],
  manifest: ModelManifest,
  sample: Float32Array,
  runs: number,
): Promise<number[]> {
  const sessions = [];
  for (const m of models) sessions.push(await openSession(m, 'onnxruntime-web', 1));
  const feeds = { [manifest.input.name]: { data: sample, dims: [1, ...(manifest.input.shape.slice(1) as number[])] } };
  const median = (xs: number[]): number => xs.sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  try {
    for (const s of sessions) await s.run(feeds);
    const times: number[][] = sessions.map(() => []);
    for (let k = 0; k < runs; k++) {
      for (const [j, s] of sessions.entries()) {
        const t0 = performance.now();
        await s.run(feeds);
        times[j]!.push(performance.now() - t0);
      }
    }
    return times.map(median);
  } finally {
    for (const s of sessions) await s.release();
  }
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The image with ±1 grey level of seeded noise on every RGB value (alpha untouched). */
function dither(img: RawPixels, k: number): RawPixels {
  let x = ((k + 1) * 2654435761) >>> 0 || 1;
  const data = Uint8Array.from(img.data, (v, i) => {
    if (img.channels === 4 && i % 4 === 3) return Number(v);
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return Math.max(0, Math.min(255, Number(v) + (((x >>> 0) % 3) - 1)));
  });
  return { ...img, data };
}

/** Runs the calibration model over the images and gathers each planned activation's statistics. */
async function calibrate(
  model: OnnxModel,
  plan: QdqPlan,
  manifest: ModelManifest,
  tensor: Float32Array,
  n: number,
): Promise<Map<string, ActivationStats>> {
  const per = tensor.length / n;
  const calib = await openSession(calibrationModel(model, plan));
  const stats = new Map<string, ActivationStats>(plan.activations.map((a) => [a, emptyStats()]));
  const step = fixedBatch(manifest) ?? 4;
  const dims = manifest.input.shape.slice(1) as number[];
  try {
    for (let s = 0; s < n; s += step) {
      const b = Math.min(step, n - s);
      const data = tensor.slice(s * per, (s + b) * per);
      const res = await calib.run(
        { [manifest.input.name]: { data, dims: [b, ...dims] } },
        plan.activations.filter((a) => calib.outputNames.includes(a)),
      );
      let t = 0;
      for (const [name, v] of Object.entries(res)) addBatch(stats.get(name)!, v.data, s * 1009 + ++t);
      // Graph inputs are not outputs: their range comes from the tensor itself.
      for (const i of model.inputs) {
        const st = stats.get(i.name);
        if (st) addBatch(st, data, s * 1009);
      }
    }
  } finally {
    await calib.release();
  }
  return stats;
}

/**
 * Quantizes the model a manifest describes to static int8 QDQ and writes `ID-int8.onnx` and
 * `ID-int8.json` beside it.
 *
 * @param manifestPath - the fp32 model's manifest
 * @param options - calibration source and report settings
 */
export async function quantizeModel(manifestPath: string, options: QuantizeOptions): Promise<QuantizeReport> {
  const { manifest: m0, bytes, dir } = await readManifestAndModel(manifestPath);
  if (m0.format !== 'onnx') throw new Error(`Model ${m0.id} is ${m0.format}; quantize takes an fp32 ONNX model.`);
  const model = readOnnx(bytes);
  const q = quantizationOf(model.nodes.map((n) => n.op));
  if (q.quantization === 'dynamic-u8') {
    throw new Error(
      `Model ${m0.id} is already dynamically quantized (DynamicQuantizeLinear/MatMulInteger): it runs as it is, but each embedding depends on the other images in its batch (its manifest does not say so: re-import it with edgetune import, then edgetune quantize reports by how much). For batch-independent int8, run quantize on the fp32 export of the same model.`,
    );
  }
  if (q.quantization !== 'none')
    throw new Error(`Model ${m0.id} is already quantized (${q.quantization}); quantize the fp32 export instead.`);
  const manifest = forRuntime(m0);
  const { images, source } = await calibrationImages(options);
  const tensor = preprocessBatch(images, manifest.input);
  const n = images.length;
  const per = tensor.length / n;
  // A NaN in one image's tensor would poison every range and cosine: name the image instead.
  const bad = tensor.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0)
    throw new Error(
      `Calibration image ${Math.floor(bad / per) + 1} of ${n} (${images[Math.floor(bad / per)]!.width}×${images[Math.floor(bad / per)]!.height}) preprocesses to non-finite values; leave it out of ${options.calibrate ?? 'the calibration set'}.`,
    );
  const plan = planQdq(model);
  if (plan.nodes.size === 0)
    throw new Error(`Model ${m0.id} has no Conv, MatMul or Gemm with constant weights; nothing to quantize.`);
  const stats = await calibrate(model, plan, manifest, tensor, n);
  const fp = await embedAll(bytes, manifest, tensor, n);
  const target = options.target ?? 0.99;
  const score = async (
    p: QdqPlan,
    ranges: ReadonlyMap<string, Range>,
  ): Promise<{ int8: Uint8Array; cos: number[] }> => {
    const int8 = applyQdq(model, p, ranges);
    // Scored as the QDQ graph says (float between the Q/DQ pairs), not through the native integer kernels, whose
    // saturation on CPUs without VNNI would make the result depend on the machine that quantizes.
    const q = await embedAll(int8, manifest, tensor, n, 'onnxruntime-node', true);
    return { int8, cos: batchCosines(q.out, fp.out, manifest.output.dim) };
  };
  // The fp32 model's own sensitivity: the same images with ±1 grey level of seeded noise. A model
  // whose embedding moves by more than that under invisible noise cannot be expected to survive
  // the rounding of every activation to 256 levels.
  const noisy = preprocessBatch(images.map(dither), manifest.input);
  const stabilityCos = batchCosines((await embedAll(bytes, manifest, noisy, n)).out, fp.out, manifest.output.dim);
  // 1. Activation ranges: exact min/max first (it keeps the outliers attention needs), then
  //    percentile clipping (a finer step for the bulk of heavy-tailed CNN activations).
  let best: { method: RangeMethod; ranges: Map<string, Range>; int8: Uint8Array; cos: number[] } | undefined;
  const tried: { method: RangeMethod; min: number }[] = [];
  for (const method of RANGE_METHODS) {
    const ranges = rangesOf(stats, method);
    const r = await score(plan, ranges);
    tried.push({ method, min: Math.min(...r.cos) });
    if (!best || mean(r.cos) > mean(best.cos)) best = { method, ranges, ...r };
    if (Math.min(...r.cos) >= target) {
      best = { method, ranges, ...r };
      break;
    }
  }
  let { int8, cos } = best!;
  const ranges = best!.ranges;
  // 2. Per-layer error: each quantizable node quantized alone (everything else float), its cosine
  //    to fp32. Measured only when the target is missed; the worst nodes are then left in float,
  //    doubling how many, until the target is met or half of them are float.
  let exclude = new Set<OnnxNode>();
  let current = plan;
  let sensitivity: { node: string; cosine: number }[] = [];
  if (Math.min(...cos) < target) {
    const all = [...plan.nodes];
    const ranked: { node: OnnxNode; c: number }[] = [];
    for (const node of all) {
      const alone = planQdq(model, new Set(all.filter((x) => x !== node)));
      ranked.push({ node, c: mean((await score(alone, ranges)).cos) });
    }
    ranked.sort((a, b) => a.c - b.c);
    sensitivity = ranked.map((r) => ({ node: `${r.node.op} ${r.node.name}`, cosine: +r.c.toFixed(6) }));
    for (let k = 1; k <= ranked.length / 2; k *= 2) {
      const ex = new Set(ranked.slice(0, k).map((r) => r.node));
      const p = planQdq(model, ex);
      const r = await score(p, ranges);
      if (mean(r.cos) > mean(cos) || Math.min(...r.cos) >= target) {
        ({ int8, cos } = r);
        exclude = ex;
        current = p;
      }
      if (Math.min(...r.cos) >= target) break;
    }
  }
  const outFile = `${m0.id}-int8.onnx`;
  await writeFile(join(dir, outFile), int8);
  const cosine = { min: Math.min(...cos), mean: cos.reduce((a, b) => a + b, 0) / cos.length };
  const runs = options.speedRuns ?? 5;
  let wasmMs: QuantizeReport['wasmMs'];
  if (runs > 0) {
    const sample = tensor.slice(0, per);
    const [a, b] = await wasmMedians([bytes, int8], manifest, sample, runs);
    wasmMs = { fp32: a!, int8: b!, runs };
  }
  const quantizedNodes = count([...current.nodes].map((x) => x.op));
  const floatOps = count(model.nodes.filter((x) => !current.nodes.has(x)).map((x) => x.op));
  const keptFloat = [...exclude].map((x) => `${x.op} ${x.name}`);
  const notes: string[] = [];
  const fp32NoiseCosine = Math.min(...stabilityCos);
  if (best!.method !== 'minmax')
    notes.push(
      `activation ranges clipped at the ${best!.method.slice(1)}th percentile (min/max ranges gave min cosine ${tried[0]!.min.toFixed(4)})`,
    );
  if (keptFloat.length > 0)
    notes.push(
      `${keptFloat.length} of ${plan.nodes.size} quantizable nodes kept in float, those whose quantization alone costs the most (per-layer error: see sensitivity)`,
    );
  if (cosine.min < target) {
    notes.push(
      `TARGET NOT MET: the lowest cosine ${cosine.min.toFixed(4)} is below ${target} even with ${keptFloat.length} node(s) in float: calibrate on more representative images, or ship fp32`,
    );
    // A model whose fp32 embedding moves under invisible input noise amplifies every rounding step.
    if (fp32NoiseCosine < 0.999)
      notes.push(
        `the fp32 model itself is unstable: ±1 grey level of input noise moves its embedding to cosine ${fp32NoiseCosine.toFixed(4)}, so rounding every activation to 256 levels cannot stay near fp32 (random-weight BatchNorm networks behave so; trained ones rarely do)`,
      );
  }
  if (!options.calibrate)
    notes.push('calibrated on synthetic scenes: ranges of real photos may differ; prefer --calibrate DIR');
  notes.push(
    'static QDQ: one fixed scale per activation, so an embedding does not depend on the rest of its batch (dynamic quantization would)',
  );

  const id = `${m0.id}-int8`;
  const int8Manifest = validateManifest({
    ...m0,
    id,
    file: outFile,
    bytes: int8.byteLength,
    sha256: createHash('sha256').update(int8).digest('hex'),
    dtype: 'int8',
    quantization: 'qdq-static-per-channel',
    metrics: {
      ...(m0.metrics ?? {}),
      cosineVsFp32Min: +cosine.min.toFixed(6),
      cosineVsFp32Mean: +cosine.mean.toFixed(6),
      calibrationImages: n,
    },
  });
  const manifestOut = join(dir, `${id}.json`);
  await writeFile(manifestOut, `${JSON.stringify(int8Manifest, null, 2)}\n`);
  const report: QuantizeReport = {
    model: m0.id,
    output: join(dir, outFile),
    manifest: manifestOut,
    calibrationImages: n,
    calibrationSource: source,
    runtime: fp.runtime,
    cosine,
    bytes: { fp32: bytes.byteLength, int8: int8.byteLength },
    ...(wasmMs ? { wasmMs } : {}),
    quantizedNodes,
    floatOps,
    keptFloat,
    rangeMethod: best!.method,
    rangeMethodsTried: tried,
    fp32NoiseCosine,
    sensitivity,
    notes,
  };
  await writeFile(join(dir, `${id}.report.json`), `${JSON.stringify(report, null, 2)}\n`);
  return report;
}

/** The report as the CLI prints it. */
export function formatQuantizeReport(r: QuantizeReport): string {
  const mb = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;
  const ops = (o: Readonly<Record<string, number>>): string =>
    Object.entries(o)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k}×${v}`)
      .join(' ') || '(none)';
  return [
    `quantize ${r.model} → ${r.output}`,
    `  calibration: ${r.calibrationSource} (run on ${r.runtime})`,
    `  cosine int8 vs fp32 over the calibration images: min ${r.cosine.min.toFixed(5)}, mean ${r.cosine.mean.toFixed(5)}`,
    `  size: fp32 ${mb(r.bytes.fp32)} → int8 ${mb(r.bytes.int8)} (${(r.bytes.int8 / r.bytes.fp32).toFixed(2)}×)`,
    r.wasmMs
      ? `  onnxruntime-web WASM, 1 thread, batch 1 (median of ${r.wasmMs.runs} interleaved runs after 1 warm-up; early-process figures, V8 tier-up makes both pessimistic): fp32 ${r.wasmMs.fp32.toFixed(1)} ms, int8 ${r.wasmMs.int8.toFixed(1)} ms (${(r.wasmMs.fp32 / r.wasmMs.int8).toFixed(2)}× faster)`
      : '  speed: skipped (--speed-runs 0)',
    `  quantized (${QUANTIZED_OPS.join('/')}): ${ops(r.quantizedNodes)}`,
    `  ops left in float: ${ops(r.floatOps)}`,
    `  fp32 stability: min cosine ${r.fp32NoiseCosine.toFixed(5)} under ±1 grey level of input noise`,
    `  activation ranges: ${r.rangeMethod} (tried ${r.rangeMethodsTried.map((t) => `${t.method} ${t.min.toFixed(4)}`).join(', ')})`,
    ...(r.sensitivity.length
      ? [
          `  per-layer error (node quantized alone, mean cosine), worst 5: ${r.sensitivity
            .slice(0, 5)
            .map((x) => `${x.node} ${x.cosine.toFixed(4)}`)
            .join(', ')}`,
        ]
      : []),
    ...(r.keptFloat.length ? [`  kept in float for accuracy: ${r.keptFloat.join(', ')}`] : []),
    ...r.notes.map((x) => `  note: ${x}`),
    `  manifest: ${r.manifest}`,
  ].join('\n');
}
