// Shared pieces of the `npm run bench` suite: the embedded Fashion-MNIST sample (cached), seeded synthetic embeddings, stats and the JSON line protocol parts report on.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import { loadFmnistSample } from '../../scripts/lib/fmnist.js';
import { Rng } from '../../src/finetune/rng.js';

export const ROOT = join(import.meta.dirname, '..', '..');
export const MODELS = join(ROOT, 'models');

/** A labelled set of embeddings, row-major. */
export interface EmbeddingSet {
  readonly x: Float32Array[];
  readonly y: Uint8Array;
  readonly dim: number;
  readonly classes: number;
}

/** The shipped default encoder's manifest file name and its fp32 twin. */
export function defaultModels(): { int8: string; fp32: string } {
  const index = JSON.parse(readFileSync(join(MODELS, 'index.json'), 'utf8')) as { default: string };
  return { int8: `${index.default}.json`, fp32: `${index.default.replace(/-int8$/, '-fp32')}.json` };
}

/** Normalised NCHW input of the first `n` sample images (the manifest's mean/std). */
export async function sampleInput(n: number): Promise<{ x: Float32Array; labels: Uint8Array }> {
  const s = await loadFmnistSample();
  const x = new Float32Array(n * 784);
  for (let i = 0; i < x.length; i++) x[i] = (s.images[i]! / 255 - 0.286) / 0.353;
  return { x, labels: s.labels.slice(0, n) };
}

/**
 * The 5000 sample images embedded by the default int8 encoder (onnxruntime-node, L2-normalised),
 * cached under .cache/ so every part of the suite trains and predicts on the same real embeddings.
 */
export async function fmnistEmbeddings(): Promise<EmbeddingSet> {
  const dir = join(ROOT, '.cache');
  const file = join(dir, 'bench-fmnist-embeddings.bin');
  const n = 5000;
  const dim = 256;
  let flat: Float32Array;
  const s = await loadFmnistSample();
  if (existsSync(file)) flat = new Float32Array(readFileSync(file).buffer.slice(0));
  else {
    const { x } = await sampleInput(n);
    const m = JSON.parse(readFileSync(join(MODELS, defaultModels().int8), 'utf8')) as { file: string };
    const session = await ortNode.InferenceSession.create(join(MODELS, m.file));
    flat = new Float32Array(n * dim);
    for (let b = 0; b < n; b += 250) {
      const out = await session.run({
        input: new ortNode.Tensor('float32', x.subarray(b * 784, (b + 250) * 784), [250, 1, 28, 28]),
      });
      flat.set(out[session.outputNames[0]!]!.data as Float32Array, b * dim);
    }
    await session.release();
    for (let i = 0; i < n; i++) {
      const v = flat.subarray(i * dim, (i + 1) * dim);
      let q = 0;
      for (const e of v) q += e * e;
      const inv = 1 / Math.sqrt(q || 1);
      for (let j = 0; j < dim; j++) v[j] = v[j]! * inv;
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, new Uint8Array(flat.buffer));
  }
  const x: Float32Array[] = [];
  for (let i = 0; i < n; i++) x.push(flat.subarray(i * dim, (i + 1) * dim));
  return { x, y: s.labels.slice(0, n), dim, classes: 10 };
}

/** Seeded Gaussian class clusters (unit-normalised), for sizes the sample does not have. */
export function syntheticEmbeddings(n: number, dim: number, classes: number, seed = 7): EmbeddingSet {
  const rng = new Rng(seed);
  const centres: Float32Array[] = [];
  for (let k = 0; k < classes; k++) centres.push(Float32Array.from({ length: dim }, () => rng.normal()));
  const x: Float32Array[] = [];
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = i % classes;
    y[i] = k;
    const v = new Float32Array(dim);
    let q = 0;
    for (let j = 0; j < dim; j++) {
      v[j] = centres[k]![j]! + 2.5 * rng.normal();
      q += v[j]! * v[j]!;
    }
    const inv = 1 / Math.sqrt(q);
    for (let j = 0; j < dim; j++) v[j] = v[j]! * inv;
    x.push(v);
  }
  return { x, y, dim, classes };
}

/** Median of `v` (NaN when empty). */
export function median(v: readonly number[]): number {
  if (v.length === 0) return Number.NaN;
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Median time in ms of `reps` calls of `fn`. */
export async function timeMedian(fn: () => unknown, reps: number): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/** One measured comparison: `value` is the ratio (or figure) from one repeat. */
export interface Sample {
  /** Row key, e.g. `'train/linear/tfjs-cpu'`. */
  readonly row: string;
  readonly value: number;
  /** Absolute figures behind the ratio, for the JSON. */
  readonly detail?: Record<string, number | string>;
}

/** Parts print each sample as one `BENCH {json}` line on stdout; the runner collects them. */
export function report(s: Sample): void {
  process.stdout.write(`BENCH ${JSON.stringify(s)}\n`);
}

/** `--name value` from argv, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
