// Builds the reference encoders once (Debian PyTorch, seeded) into a gitignored cache and links them into a scratch folder per test run.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodePng, syntheticImages } from '../../src/cli/images.js';
import { importModel, type ImportOptions } from '../../src/cli/import.js';
import { embedAll, quantizeModel } from '../../src/cli/quantize.js';
import { normalizeInPlace, validateManifest } from '../../src/runtime/index.js';
import { forRuntime } from '../../src/runtime/pooling.js';
import { preprocessBatch } from '../../src/runtime/preprocess.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const script = join(root, 'models', 'reference', 'build.py');

/** The reference models, smallest first. */
export const REFERENCE_MODELS = ['mobilenetv3-small', 'vit-ti16', 'dinov2-s14'] as const;

/** Why the reference models cannot be built here, or `undefined` when they can. */
export function referenceUnavailable(): string | undefined {
  const r = spawnSync('/usr/bin/python3', ['-c', 'import torch, torchvision, onnx'], { encoding: 'utf8' });
  return r.status === 0
    ? undefined
    : `Debian PyTorch is missing (apt-get install python3-torch python3-torchvision python3-onnx): ${r.stderr.trim().split('\n').pop() ?? ''}`;
}

/** Folder with every reference model, built when the script changed (seconds). */
export function referenceDir(): string {
  const hash = createHash('sha256').update(readFileSync(script)).digest('hex').slice(0, 12);
  const dir = join(root, '.cache', 'reference', hash);
  if (!REFERENCE_MODELS.every((m) => existsSync(join(dir, `${m}.onnx`)))) {
    mkdirSync(dir, { recursive: true });
    const r = spawnSync('/usr/bin/python3', [script, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build.py failed: ${r.stderr}`);
  }
  return dir;
}

/** Debian packages whose photos calibrate the reference models (real RGB images, never Fashion-MNIST). */
const PHOTO_DIR = '/usr/share/backgrounds';

/** Why the calibration photos are missing, or `undefined` when they are installed. */
export function photosUnavailable(): string | undefined {
  return existsSync(PHOTO_DIR)
    ? undefined
    : `no photos in ${PHOTO_DIR} (apt-get install lomiri-wallpapers ukui-wallpapers)`;
}

/**
 * Real photos from the installed wallpaper packages, scaled (PIL) to a short side of 256 px — the
 * size `--preset imagenet` centre-crops to exactly 224 — once, into the gitignored cache.
 */
export function photosDir(): string {
  const dir = join(root, '.cache', 'reference', 'photos-256');
  if (!existsSync(join(dir, 'done'))) {
    mkdirSync(dir, { recursive: true });
    const py = `
import glob, os, sys
from PIL import Image
fs = sorted(f for f in glob.glob('${PHOTO_DIR}/*.jpg') + glob.glob('${PHOTO_DIR}/*.png') if not os.path.islink(f))
for k, f in enumerate(fs):
    im = Image.open(f).convert('RGB'); w, h = im.size; s = 256 / min(w, h)
    im.resize((max(256, round(w * s)), max(256, round(h * s))), Image.BILINEAR).save(os.path.join(sys.argv[1], '%02d.png' % k))
open(os.path.join(sys.argv[1], 'done'), 'w').write(str(len(fs)))
`;
    const r = spawnSync('/usr/bin/python3', ['-c', py, dir], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`photo set failed: ${r.stderr}`);
  }
  return dir;
}

/** A scratch folder with the models linked in (the CLI writes manifests beside them) and a folder of PNG calibration images. */
export function scratch(models: readonly string[]): { dir: string; images: string; photos: string } {
  const src = referenceDir();
  const dir = mkdtempSync(join(tmpdir(), 'edgetune-cli-'));
  for (const m of models) symlinkSync(join(src, `${m}.onnx`), join(dir, `${m}.onnx`));
  const images = join(dir, 'calibration');
  mkdirSync(images);
  syntheticImages(6, 300, 200, 11).forEach((img, k) => writeFileSync(join(images, `scene-${k}.png`), encodePng(img)));
  return { dir, images, photos: photosDir() };
}

/** The CLI flags each reference model is imported with (as in test/cli/cli.test.ts). */
export const IMPORT_OPTIONS: Record<(typeof REFERENCE_MODELS)[number], ImportOptions> = {
  'mobilenetv3-small': {
    preset: 'imagenet',
    size: 224,
    output: 'last_hidden_state',
    pooling: 'mean',
    license: 'BSD-3-Clause',
  },
  'vit-ti16': { preset: 'imagenet', output: 'pooler_output', license: 'Apache-2.0' },
  'dinov2-s14': { preset: 'dinov2', output: 'last_hidden_state', pooling: 'cls', license: 'Apache-2.0' },
};

/**
 * Imports a reference model and quantizes it with the CLI's code (calibrated on the wallpaper photos: 16, the ViT-S 8),
 * once per build.py version, into `<referenceDir>/<folder>/`; the manifests are served from there.
 *
 * @returns the fp32 and int8 manifest paths
 */
export async function preparedManifests(
  name: (typeof REFERENCE_MODELS)[number],
  folder = 'browser-bench',
): Promise<{ fp32: string; int8: string }> {
  const dir = join(referenceDir(), folder);
  mkdirSync(dir, { recursive: true });
  const onnx = join(dir, `${name}.onnx`);
  if (!existsSync(onnx)) symlinkSync(join(referenceDir(), `${name}.onnx`), onnx);
  const fp32 = join(dir, `${name}.json`);
  const int8 = join(dir, `${name}-int8.json`);
  if (!existsSync(fp32)) await importModel(onnx, IMPORT_OPTIONS[name]);
  if (!existsSync(int8))
    await quantizeModel(fp32, { calibrate: photosDir(), limit: name === 'dinov2-s14' ? 8 : 16, speedRuns: 0 });
  return { fp32, int8 };
}

/**
 * onnxruntime-node's embeddings of `manifestPath`'s model for the browser pages' frames (`n` seeded 320×240 scenes),
 * L2-normalised like `Encoder.embed`'s: the reference the Chromium tests compare with. Graph optimisations are off
 * (`exact`), so an int8 model is run with QDQ float semantics whatever the CPU: onnxruntime-node's fused int8 kernels
 * saturate on CPUs without VNNI and would disagree with WebGPU by more than the model's own quantization error.
 */
export async function nodeEmbeddings(manifestPath: string, n: number): Promise<Float32Array> {
  const manifest = forRuntime(validateManifest(JSON.parse(readFileSync(manifestPath, 'utf8'))));
  const frames = syntheticImages(n, 320, 240, 5);
  const { out } = await embedAll(
    readFileSync(join(manifestPath, '..', manifest.file)),
    manifest,
    preprocessBatch(frames, manifest.input),
    n,
    'onnxruntime-node',
    true,
  );
  for (let k = 0; k < n; k++) normalizeInPlace(out.subarray(k * manifest.output.dim, (k + 1) * manifest.output.dim));
  return out;
}
