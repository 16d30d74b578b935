// Canary inputs and the comparison that catches a backend returning wrong numbers silently.
import type { InputSpec } from './manifest.js';
import type { RawPixels } from './preprocess.js';

/**
 * Deterministic, image-like canary inputs (smooth gradients, blobs and edges at the model's size),
 * so a backend is checked on activations like real ones rather than on noise.
 *
 * @param spec - the model's input spec
 * @param count - how many canaries
 */
export function canaryInputs(spec: InputSpec, count: number): RawPixels[] {
  const { width: W, height: H, channels: C } = spec;
  const out: RawPixels[] = [];
  let seed = 0x9e3779b9;
  const rand = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  for (let n = 0; n < count; n++) {
    const data = new Uint8Array(W * H * C);
    const cx = rand() * W;
    const cy = rand() * H;
    const r = (0.2 + 0.3 * rand()) * Math.min(W, H);
    const gx = rand() * 2 - 1;
    const gy = rand() * 2 - 1;
    const edge = Math.floor(rand() * W);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const blob = Math.hypot(x - cx, y - cy) < r ? 180 : 0;
        const grad = 40 * (gx * (x / W) + gy * (y / H) + 1);
        const stripe = x > edge && (y + n) % 4 < 2 ? 50 : 0;
        for (let c = 0; c < C; c++)
          data[(y * W + x) * C + c] = Math.max(0, Math.min(255, Math.round(blob + grad + stripe + 15 * c)));
      }
    }
    out.push({ data, width: W, height: H, channels: C });
  }
  return out;
}

/** Cosine similarity of two equal-length vectors (1 when both are zero). */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let k = 0; k < a.length; k++) {
    const x = a[k]!;
    const y = b[k]!;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  if (na === 0 && nb === 0) return 1;
  return dot / Math.sqrt(na * nb);
}

/** Per-sample cosine between two `batch × dim` outputs; the minimum is what the self-check judges. */
export function batchCosines(a: Float32Array, b: Float32Array, dim: number): number[] {
  const out: number[] = [];
  for (let k = 0; k * dim < a.length; k++)
    out.push(cosine(a.subarray(k * dim, (k + 1) * dim), b.subarray(k * dim, (k + 1) * dim)));
  return out;
}

/**
 * Fastest of up to `runs` timed batch-1 runs, ms, after one untimed run (kernel or shader
 * compilation), within `budgetMs` (at least one timed run). The minimum, because load on a shared
 * device only ever adds time: it compares two devices more steadily than a median does.
 *
 * @param once - one batch-1 canary run
 * @param runs - most timed runs
 * @param budgetMs - time cap for the timed runs
 */
export async function timeCanary(once: () => Promise<unknown>, runs = 7, budgetMs = 1500): Promise<number> {
  await once();
  let best = Number.POSITIVE_INFINITY;
  let n = 0;
  const t0 = performance.now();
  while (n < runs && (n === 0 || performance.now() - t0 < budgetMs)) {
    const s = performance.now();
    await once();
    best = Math.min(best, performance.now() - s);
    n++;
  }
  return best;
}
