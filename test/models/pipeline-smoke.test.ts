// End-to-end smoke test of models/pipeline: a few training steps on a few hundred images -> ONNX export -> int8 QDQ -> onnxruntime-web -> compare.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-web';
import { cosine } from '../../src/runtime/selfcheck.js';
import { loadFmnistSample } from '../../scripts/lib/fmnist.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';

const ROOT = join(import.meta.dirname, '..', '..');
const PIPE = join(ROOT, 'models', 'pipeline');
const PY = '/usr/bin/python3';

function python(args: string[]): string {
  const r = spawnSync(PY, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, `${PY} ${args.join(' ')} failed (exit ${r.status}):\n${r.stderr.slice(-2000)}`);
  return r.stdout;
}

function torchMissing(): string | undefined {
  if (!existsSync(PY)) return `${PY} not found`;
  const r = spawnSync(PY, ['-c', 'import torch, onnx, numpy'], { encoding: 'utf8' });
  if (r.status !== 0)
    return `${PY} lacks torch/onnx (apt-get install python3-torch python3-onnx): ${r.stderr.trim().split('\n').pop()}`;
  if (!existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz'))
    return 'dataset-fashion-mnist not installed';
  return undefined;
}

test('pipeline smoke: train 4 steps -> export -> quantize -> onnxruntime-web agrees with PyTorch', async (t) => {
  const missing = torchMissing();
  if (missing) {
    t.skip(`pipeline smoke skipped: ${missing}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'edgetune-pipe-'));
  try {
    const out = python([
      join(PIPE, 'train.py'),
      '--method',
      'simclr',
      '--steps',
      '4',
      '--limit',
      '256',
      '--batch',
      '64',
      '--threads',
      '1',
      '--runs-dir',
      dir,
      '--run',
      'smoke',
    ]);
    assert.match(out, /"steps": 4/);
    const ckpt = join(dir, 'smoke', 'encoder.pt');
    const fp32 = join(dir, 'fp32.onnx');
    const int8 = join(dir, 'int8.onnx');
    const ref = join(dir, 'ref.json');
    const ex = JSON.parse(
      python([join(PIPE, 'export.py'), ckpt, '--out', fp32, '--reference', ref, '--reference-count', '16']).trim(),
    ) as { ops: string[]; fold_cosine: number };
    assert.ok(!ex.ops.includes('BatchNormalization'), `BN not folded: ${ex.ops.join(',')}`);
    const q = JSON.parse(
      python([join(PIPE, 'quantize.py'), fp32, '--out', int8, '--calib', '128', '--check', '64'])
        .trim()
        .split('\n')
        .pop()!,
    ) as {
      bytes: { fp32: number; int8: number };
    };
    assert.ok(q.bytes.fp32 / q.bytes.int8 > 3, `int8 only ${(q.bytes.fp32 / q.bytes.int8).toFixed(2)}x smaller`);
    const calib = JSON.parse(await readFile(join(dir, 'int8.calibration.json'), 'utf8')) as {
      tensors: Record<string, [number, number]>;
    };
    assert.ok(Object.keys(calib.tensors).includes('input'), 'calibration JSON has no range for the input');

    const sample = await loadFmnistSample();
    const n = 16;
    const x = new Float32Array(n * 784);
    for (let i = 0; i < x.length; i++) x[i] = (sample.images[i]! / 255 - 0.286) / 0.353;
    const run = async (file: string): Promise<Float32Array> => {
      const s = await ort.InferenceSession.create(await readFile(file), { executionProviders: ['wasm'] });
      const o = await s.run({ input: new ort.Tensor('float32', x, [n, 1, 28, 28]) });
      await s.release();
      return o['embedding']!.data as Float32Array;
    };
    const [a, b] = [await run(fp32), await run(int8)];
    const torchZ = (JSON.parse(await readFile(ref, 'utf8')) as { embeddings: number[][] }).embeddings;
    const dim = torchZ[0]!.length;
    assert.equal(a.length, n * dim);
    let worstTorch = 1;
    let meanQ = 0;
    for (let i = 0; i < n; i++) {
      const fa = a.subarray(i * dim, (i + 1) * dim);
      worstTorch = Math.min(worstTorch, cosine(fa, torchZ[i]!));
      meanQ += cosine(fa, b.subarray(i * dim, (i + 1) * dim)) / n;
    }
    assert.ok(worstTorch >= 0.9999, `PyTorch vs ONNX fp32 worst cosine ${worstTorch}`);
    assert.ok(meanQ >= 0.99, `fp32 vs int8 mean cosine ${meanQ}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('pipeline quantize.py refuses a model that is not one of our encoders (no Fashion-MNIST or RGB-pool calibration for it)', async (t) => {
  const missing = torchMissing();
  if (missing) {
    t.skip(`pipeline smoke skipped: ${missing}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'edgetune-pipe-'));
  try {
    const quantize = (file: string) =>
      spawnSync(PY, [join(PIPE, 'quantize.py'), file, '--out', join(dir, 'out.onnx'), '--calib', '8', '--check', '8'], {
        cwd: ROOT,
        encoding: 'utf8',
      });
    // A hub-style export: pixel_values -> last_hidden_state (renamed with python3-onnx from our own test CNN).
    const ours = join(dir, 'rgb32.onnx');
    await writeFile(ours, tinyCnn({ channels: 3, size: 32, dim: 16 }));
    const hub = join(dir, 'hub.onnx');
    python([
      '-c',
      `import onnx, sys
m = onnx.load(sys.argv[1]); g = m.graph
ren = {'input': 'pixel_values', 'embedding': 'last_hidden_state'}
for n in g.node:
    n.input[:] = [ren.get(x, x) for x in n.input]; n.output[:] = [ren.get(x, x) for x in n.output]
g.input[0].name = 'pixel_values'; g.output[0].name = 'last_hidden_state'
onnx.save(m, sys.argv[2])`,
      ours,
      hub,
    ]);
    let r = quantize(hub);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /not one of our encoders: its tensors are 'pixel_values' -> 'last_hidden_state'/);
    assert.match(r.stderr, /edgetune quantize MANIFEST --calibrate DIR/);
    // Our names but a gray 32x32 input: not Fashion-MNIST's shape.
    const gray = join(dir, 'gray32.onnx');
    await writeFile(gray, tinyCnn({ channels: 1, size: 32, dim: 16 }));
    r = quantize(gray);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /its input is 1x32x32 \(CxHxW\), neither 1x28x28/);
    assert.ok(!existsSync(join(dir, 'out.onnx')), 'nothing written');
    // Our own exports still pass the guard: the smoke test above quantizes one.
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
