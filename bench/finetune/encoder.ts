// Embeds 28×28 images for the harness: the shipped default ONNX encoder through onnxruntime-web (WASM) when present, else a fixed seeded random-conv map.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/finetune/rng.js';

/** An image encoder: `embed(images)` with images as count×784 bytes. */
export interface ImageEncoder {
  /** Short id for the table and the cache key. */
  readonly id: string;
  /** SHA-256 of the weights (cache key). */
  readonly sha256: string;
  readonly dim: number;
  embed(images: Uint8Array): Promise<Float32Array[]>;
}

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Manifest {
  id: string;
  format: string;
  file: string;
  sha256: string;
  input: { name: string; mean: number[]; std: number[]; range?: [number, number] };
  output: { name: string; dim: number };
}

/** The shipped default encoder (models/index.json → default), or undefined when it is not there yet. */
async function onnxEncoder(): Promise<ImageEncoder | undefined> {
  const index = join(ROOT, 'models', 'index.json');
  if (!existsSync(index)) return undefined;
  const idx = JSON.parse(await readFile(index, 'utf8')) as { default?: string };
  if (!idx.default) return undefined;
  const manPath = join(ROOT, 'models', `${idx.default}.json`);
  if (!existsSync(manPath)) return undefined;
  const man = JSON.parse(await readFile(manPath, 'utf8')) as Manifest;
  if (man.format !== 'onnx') return undefined;
  const bytes = new Uint8Array(await readFile(join(ROOT, 'models', man.file)));
  const ort = await import('onnxruntime-web');
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(bytes);
  const [lo, hi] = man.input.range ?? [0, 1];
  const mean = man.input.mean[0] ?? 0;
  const std = man.input.std[0] ?? 1;
  return {
    id: man.id,
    sha256: man.sha256,
    dim: man.output.dim,
    async embed(images) {
      const count = images.length / 784;
      const out: Float32Array[] = [];
      const B = 256;
      for (let b = 0; b < count; b += B) {
        const n = Math.min(B, count - b);
        const x = new Float32Array(n * 784);
        for (let i = 0; i < n * 784; i++) x[i] = (lo + ((hi - lo) * images[b * 784 + i]!) / 255 - mean) / std;
        const res = await session.run({ [man.input.name]: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
        const y = res[man.output.name]!.data as Float32Array;
        const d = man.output.dim;
        for (let i = 0; i < n; i++) out.push(y.slice(i * d, (i + 1) * d));
      }
      return out;
    },
  };
}

/**
 * A fixed random-feature encoder: 24 seeded zero-mean 5×5 filters, ReLU, 8×8 average pooling →
 * 24×3×3 = 216 values. A stand-in with the same interface until the shipped encoder exists.
 */
function randomConvEncoder(): ImageEncoder {
  const F = 24,
    K = 5,
    P = 8,
    O = 24,
    G = O / P;
  const rng = new Rng(20241);
  const w = new Float32Array(F * K * K);
  const bias = new Float32Array(F);
  for (let f = 0; f < F; f++) {
    let m = 0;
    for (let i = 0; i < K * K; i++) m += w[f * K * K + i] = rng.normal();
    for (let i = 0; i < K * K; i++) w[f * K * K + i] = w[f * K * K + i]! - m / (K * K);
    bias[f] = rng.normal() * 0.5;
  }
  const sha256 = createHash('sha256')
    .update(new Uint8Array(w.buffer))
    .update(new Uint8Array(bias.buffer))
    .digest('hex');
  return {
    id: 'random-conv-216',
    sha256,
    dim: F * G * G,
    async embed(images) {
      const count = images.length / 784;
      const out: Float32Array[] = [];
      const x = new Float32Array(784);
      for (let n = 0; n < count; n++) {
        for (let i = 0; i < 784; i++) x[i] = (images[n * 784 + i]! / 255 - 0.286) / 0.353;
        const e = new Float32Array(F * G * G);
        for (let f = 0; f < F; f++) {
          const wf = f * K * K;
          for (let oy = 0; oy < O; oy++)
            for (let ox = 0; ox < O; ox++) {
              let s = bias[f]!;
              for (let ky = 0; ky < K; ky++) {
                const row = (oy + ky) * 28 + ox;
                const wr = wf + ky * K;
                for (let kx = 0; kx < K; kx++) s += w[wr + kx]! * x[row + kx]!;
              }
              if (s > 0) {
                const idx = f * G * G + Math.floor(oy / P) * G + Math.floor(ox / P);
                e[idx] = e[idx]! + s / (P * P);
              }
            }
        }
        out.push(e);
      }
      return out;
    },
  };
}

/** The harness encoder: ONNX default when shipped, else the random-conv stand-in. */
export async function loadEncoder(): Promise<ImageEncoder> {
  return (await onnxEncoder()) ?? randomConvEncoder();
}

/** Embeds with an on-disk cache keyed by (encoder sha256, key). */
export async function embedCached(enc: ImageEncoder, key: string, images: Uint8Array): Promise<Float32Array[]> {
  const dir = join(ROOT, '.cache', 'finetune');
  const file = join(dir, `${enc.sha256.slice(0, 16)}-${key}.f32`);
  const count = images.length / 784;
  if (existsSync(file)) {
    const buf = await readFile(file);
    const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
    if (all.length === count * enc.dim)
      return Array.from({ length: count }, (_, i) => all.slice(i * enc.dim, (i + 1) * enc.dim));
  }
  const e = await enc.embed(images);
  const all = new Float32Array(count * enc.dim);
  e.forEach((v, i) => all.set(v, i * enc.dim));
  await mkdir(dir, { recursive: true });
  await writeFile(file, new Uint8Array(all.buffer));
  return e;
}
