// Adapts a model's raw output to one embedding per input: output pooling (cls/mean), fixed batch sizes and dynamic spatial input sizes.
import { EdgetuneError } from '../core/errors.js';
import type { BackendSession } from './backends/types.js';
import type { ModelManifest, OutputSpec } from './manifest.js';

/**
 * The manifest as backends see it: `null` spatial dimensions replaced by the size the encoder
 * feeds (`height` × `width`), so every backend gets a concrete input shape.
 *
 * @param manifest - a validated manifest
 */
export function forRuntime(manifest: ModelManifest): ModelManifest {
  const { shape, layout, height, width } = manifest.input;
  if (shape.slice(1).every((d) => d !== null)) return manifest;
  const concrete = shape.map((d, k) =>
    k === 0 || d !== null ? d : layout === 'NCHW' ? (k === 2 ? height : width) : k === 1 ? height : width,
  );
  return { ...manifest, input: { ...manifest.input, shape: concrete } };
}

/** The fixed batch size of a model (`input.shape[0]`), or `undefined` when it takes any batch. */
export function fixedBatch(manifest: ModelManifest): number | undefined {
  const b = manifest.input.shape[0];
  return typeof b === 'number' ? b : undefined;
}

/**
 * Reduces a raw output (`batch × perSample` floats) to `batch × dim` per the manifest's pooling.
 *
 * @param raw - the output tensor's data
 * @param batch - samples in it
 * @param output - the manifest's output spec
 */
export function poolOutput(raw: Float32Array, batch: number, output: OutputSpec): Float32Array {
  const pooling = output.pooling ?? 'none';
  if (pooling === 'none') return raw;
  const D = output.dim;
  const per = raw.length / batch;
  if (!Number.isInteger(per) || per % D !== 0) {
    throw new EdgetuneError(
      'MANIFEST_INVALID',
      `Output ${output.name} has ${per} values per input, which is not a whole number of ${D}-d vectors; fix output.dim or output.shape.`,
      { details: { field: 'output.dim' } },
    );
  }
  const n = per / D;
  const out = new Float32Array(batch * D);
  const tokens = (output.shape?.length ?? 3) === 3;
  for (let b = 0; b < batch; b++) {
    const src = raw.subarray(b * per, (b + 1) * per);
    const dst = out.subarray(b * D, (b + 1) * D);
    if (pooling === 'cls') dst.set(src.subarray(0, D));
    else if (tokens) {
      // [T, D]: average over tokens.
      for (let t = 0; t < n; t++) for (let d = 0; d < D; d++) dst[d]! += src[t * D + d]!;
      for (let d = 0; d < D; d++) dst[d] = dst[d]! / n;
    } else {
      // [C, H, W]: average each channel over its positions.
      for (let d = 0; d < D; d++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += src[d * n + k]!;
        dst[d] = s / n;
      }
    }
  }
  return out;
}

/**
 * Wraps a backend session so it takes any batch and returns pooled embeddings: a fixed-batch
 * export (e.g. batch 1) runs in chunks of its batch, short chunks padded and the padding dropped.
 *
 * @param session - the backend's session
 * @param manifest - the runtime manifest ({@link forRuntime})
 */
export function adaptSession(session: BackendSession, manifest: ModelManifest): BackendSession {
  const fixed = fixedBatch(manifest);
  const pooling = manifest.output.pooling ?? 'none';
  if (fixed === undefined && pooling === 'none') return session;
  const size = manifest.input.shape.slice(1).reduce<number>((a, d) => a * (d ?? 1), 1);
  return {
    async run(input, batch) {
      if (fixed === undefined || batch === fixed)
        return poolOutput(await session.run(input, batch), batch, manifest.output);
      const parts: Float32Array[] = [];
      for (let start = 0; start < batch; start += fixed) {
        const n = Math.min(fixed, batch - start);
        let chunk = input.subarray(start * size, (start + n) * size);
        if (n < fixed) {
          const padded = new Float32Array(fixed * size);
          padded.set(chunk);
          chunk = padded;
        }
        const out = poolOutput(await session.run(chunk, fixed), fixed, manifest.output);
        parts.push(out.subarray(0, (out.length / fixed) * n));
      }
      const total = parts.reduce((a, p) => a + p.length, 0);
      const out = new Float32Array(total);
      let o = 0;
      for (const p of parts) {
        out.set(p, o);
        o += p.length;
      }
      return out;
    },
    dispose: () => session.dispose(),
  };
}
