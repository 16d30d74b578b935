// `edgetune verify`: checks a manifest and its model (schema, size, SHA-256), runs canaries through the SDK and compares with the native runtime.
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Encoder } from '../runtime/encoder.js';
import { inspectTflite } from '../runtime/backends/tflite.js';
import { validateManifest, type ModelManifest } from '../runtime/manifest.js';
import { forRuntime } from '../runtime/pooling.js';
import { preprocessBatch } from '../runtime/preprocess.js';
import { batchCosines } from '../runtime/selfcheck.js';
import { verifyModelBytes } from '../runtime/source.js';
import { syntheticImages } from './images.js';
import { hasNativeRuntime } from './ort.js';
import { embedAll } from './quantize.js';

/** What {@link verifyManifest} found. */
export interface VerifyReport {
  readonly id: string;
  readonly ok: boolean;
  readonly checks: readonly { readonly check: string; readonly ok: boolean; readonly detail: string }[];
  /** Per-canary cosine between the SDK (onnxruntime-web WASM) and the reference runtime. */
  readonly cosines?: readonly number[];
}

/**
 * Verifies a manifest: schema, byte size and SHA-256, a canary run through `Encoder.open` (WASM),
 * and the embeddings against onnxruntime-node on the same preprocessed input.
 *
 * @param path - manifest file
 * @param threshold - minimum cosine SDK vs reference @defaultValue 0.999
 */
export async function verifyManifest(path: string, threshold = 0.999): Promise<VerifyReport> {
  const checks: { check: string; ok: boolean; detail: string }[] = [];
  let manifest: ModelManifest;
  try {
    manifest = validateManifest(JSON.parse(await readFile(path, 'utf8')));
    checks.push({ check: 'schema', ok: true, detail: manifest.schema });
  } catch (err) {
    checks.push({ check: 'schema', ok: false, detail: err instanceof Error ? err.message : String(err) });
    return { id: '(invalid)', ok: false, checks };
  }
  const bytes = new Uint8Array(await readFile(join(dirname(path), manifest.file)));
  try {
    await verifyModelBytes(manifest, bytes);
    checks.push({
      check: 'size + sha256',
      ok: true,
      detail: `${bytes.byteLength} bytes, ${manifest.sha256.slice(0, 16)}…`,
    });
  } catch (err) {
    checks.push({ check: 'size + sha256', ok: false, detail: err instanceof Error ? err.message : String(err) });
    return { id: manifest.id, ok: false, checks };
  }
  if (manifest.format === 'tflite') {
    const info = inspectTflite(bytes);
    checks.push({
      check: 'tflite structure',
      ok: true,
      detail: `${info.operators.length} operators; canary runs need a browser (TFLite does not run in Node)`,
    });
    return { id: manifest.id, ok: true, checks };
  }
  // Non-square scenes exercise the crop policy the app's camera frames will meet.
  const images = syntheticImages(4, 320, 240, 7);
  let sdk: Float32Array[];
  try {
    await using enc = await Encoder.open({ manifest, bytes }, { device: 'wasm', normalize: false });
    sdk = await enc.embed(images);
    checks.push({ check: 'canary run (Encoder.open, WASM)', ok: true, detail: `${sdk.length} × ${enc.dim}-d, finite` });
  } catch (err) {
    checks.push({
      check: 'canary run (Encoder.open, WASM)',
      ok: false,
      detail: err instanceof Error ? err.message : String(err),
    });
    return { id: manifest.id, ok: false, checks };
  }
  const rt = forRuntime(manifest);
  const tensor = preprocessBatch(images, rt.input);
  // Unoptimised, so an int8 QDQ model's reference is its float semantics on every CPU (see openSession's `exact`).
  const ref = await embedAll(bytes, rt, tensor, images.length, 'onnxruntime-node', true);
  const flat = new Float32Array(sdk.length * manifest.output.dim);
  sdk.forEach((e, k) => flat.set(e, k * manifest.output.dim));
  const cosines = batchCosines(flat, ref.out, manifest.output.dim);
  const min = Math.min(...cosines);
  const native = await hasNativeRuntime();
  checks.push({
    check: `embedding vs ${ref.runtime}`,
    ok: min >= threshold,
    detail: `min cosine ${min.toFixed(6)} (threshold ${threshold})${native ? '' : '; onnxruntime-node is not installed, so the reference is onnxruntime-web itself'}`,
  });
  return { id: manifest.id, ok: checks.every((c) => c.ok), checks, cosines };
}

/** The report as the CLI prints it. */
export function formatVerifyReport(r: VerifyReport): string {
  return [
    `verify ${r.id}: ${r.ok ? 'OK' : 'FAILED'}`,
    ...r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.check}: ${c.detail}`),
  ].join('\n');
}
