// Node tests of the TFLite path: the converter's flatbuffer parses (identifier, op codes and versions, NHWC I/O) with two independent readers, damaged files are MODEL_CORRUPT, and Node refuses TFLite with BACKEND_UNAVAILABLE.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as flatbuffers from 'flatbuffers';
import {
  Encoder,
  inspectTflite,
  isEdgetuneError,
  registerTfliteBackend,
  tfliteBackend,
  TFLITE_MAX_OP_VERSIONS,
  validateManifest,
  type ModelManifest,
} from '../../src/runtime/index.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const PY = '/usr/bin/python3';
const CONVERT = join(ROOT, 'models/pipeline/tflite/convert.py');
const CALIB = '/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz';

const pyOk =
  existsSync(PY) && spawnSync(PY, ['-c', 'import onnx, flatbuffers, numpy'], { encoding: 'utf8' }).status === 0;
const skip = !pyOk && 'needs /usr/bin/python3 with python3-onnx, python3-flatbuffers, numpy (npm test installs them)';

function convert(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PY, [CONVERT, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Operator codes read with the `flatbuffers` package directly (schema slots: Model.operator_codes = 1; OperatorCode 0 = legacy code, 2 = version, 3 = code). */
function opcodesByFlatbuffers(bytes: Uint8Array): string[] {
  const bb = new flatbuffers.ByteBuffer(bytes);
  assert.ok(bb.__has_identifier('TFL3'));
  const model = bb.readInt32(bb.position()) + bb.position();
  const field = (table: number, slot: number): number => bb.__offset(table, 4 + 2 * slot);
  const codesAt = field(model, 1);
  assert.ok(codesAt > 0, 'Model.operator_codes missing');
  const out: string[] = [];
  for (let k = 0; k < bb.__vector_len(model + codesAt); k++) {
    const oc = bb.__indirect(bb.__vector(model + codesAt) + 4 * k);
    const legacy = field(oc, 0) ? bb.readInt8(oc + field(oc, 0)) : 0;
    const code = field(oc, 3) ? bb.readInt32(oc + field(oc, 3)) : 0;
    const version = field(oc, 2) ? bb.readInt32(oc + field(oc, 2)) : 1;
    assert.equal(legacy, code, 'legacy and extended builtin codes agree');
    out.push(`${code}/v${version}`);
  }
  return out;
}

/** Per tensor of subgraph 0: number of quantization scales and quantized_dimension, read with the `flatbuffers` package (Model.subgraphs 2; SubGraph.tensors 0; Tensor.quantization 4; QuantizationParameters scale 2, quantized_dimension 6). */
function quantizationByFlatbuffers(bytes: Uint8Array): { scales: number; axis: number }[] {
  const bb = new flatbuffers.ByteBuffer(bytes);
  const field = (table: number, slot: number): number => bb.__offset(table, 4 + 2 * slot);
  const model = bb.readInt32(bb.position()) + bb.position();
  const sg = bb.__indirect(bb.__vector(model + field(model, 2)));
  const tensors = sg + field(sg, 0);
  return Array.from({ length: bb.__vector_len(tensors) }, (_, k) => {
    const t = bb.__indirect(bb.__vector(tensors) + 4 * k);
    if (!field(t, 4)) return { scales: 0, axis: 0 };
    const q = bb.__indirect(t + field(t, 4));
    return {
      scales: field(q, 2) ? bb.__vector_len(q + field(q, 2)) : 0,
      axis: field(q, 6) ? bb.readInt32(q + field(q, 6)) : 0,
    };
  });
}

describe('TFLite converter output and the tflite backend in Node', { skip }, () => {
  let dir = '';
  let onnxPath = '';
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'edgetune-tflite-'));
    onnxPath = join(dir, 'tiny.onnx');
    // The hand-built test CNN at 28×28: Conv pad 1, Conv stride 2 pad 1 on an even size (explicit PAD), GAP, Flatten, Gemm.
    writeFileSync(onnxPath, tinyCnn({ channels: 1, size: 28, dim: 16 }));
    const r = convert([onnxPath, '--out', join(dir, 'tiny-fp32.tflite')]);
    assert.equal(r.status, 0, r.stderr);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('fp32: TFL3 flatbuffer with the intended ops, NHWC float32 input, and a valid NHWC manifest', () => {
    const out = join(dir, 'tiny-fp32.tflite');
    const r = convert([onnxPath, '--out', out]);
    assert.equal(r.status, 0, r.stderr);
    const bytes = new Uint8Array(readFileSync(out));
    assert.equal(String.fromCharCode(...bytes.subarray(4, 8)), 'TFL3');
    const info = inspectTflite(bytes);
    assert.equal(info.schemaVersion, 3);
    assert.deepEqual(
      info.operatorCodes.map((c) => `${c.op}/v${c.version}`),
      ['CONV_2D/v1', 'PAD/v1', 'MEAN/v1', 'FULLY_CONNECTED/v1'],
    );
    assert.deepEqual(opcodesByFlatbuffers(bytes), ['3/v1', '34/v1', '40/v1', '9/v1']);
    assert.deepEqual(
      info.operators.map((o) => o.op),
      ['CONV_2D', 'PAD', 'CONV_2D', 'MEAN', 'FULLY_CONNECTED'],
    );
    assert.deepEqual(
      info.inputs.map((t) => [t.name, t.type, t.shape.join('x')]),
      [['input', 'float32', '1x28x28x1']],
    );
    assert.deepEqual(
      info.outputs.map((t) => [t.name, t.type, t.shape.join('x')]),
      [['embedding', 'float32', '1x16']],
    );
    const manifest = validateManifest(JSON.parse(readFileSync(join(dir, 'tiny-fp32.json'), 'utf8')));
    assert.equal(manifest.format, 'tflite');
    assert.equal(manifest.input.layout, 'NHWC');
    assert.deepEqual(manifest.input.shape, [null, 28, 28, 1]);
    assert.equal(manifest.bytes, bytes.byteLength);
  });

  test('int8: QUANTIZE first, DEQUANTIZE last, int8 per-channel conv/FC weights, int32 bias, versions tfjs-tflite accepts', {
    skip: !existsSync(CALIB) && 'no Fashion-MNIST images for calibration (Debian dataset-fashion-mnist)',
  }, () => {
    const out = join(dir, 'tiny-int8.tflite');
    const r = convert([onnxPath, '--out', out, '--int8', '--calib-images', CALIB, '--calib-count', '64']);
    assert.equal(r.status, 0, r.stderr);
    const bytes = new Uint8Array(readFileSync(out));
    const info = inspectTflite(bytes);
    assert.deepEqual(
      info.operatorCodes.map((c) => `${c.op}/v${c.version}`),
      ['QUANTIZE/v1', 'CONV_2D/v3', 'PAD/v2', 'MEAN/v2', 'FULLY_CONNECTED/v4', 'DEQUANTIZE/v2'],
    );
    assert.deepEqual(opcodesByFlatbuffers(bytes), ['114/v1', '3/v3', '34/v2', '40/v2', '9/v4', '6/v2']);
    assert.equal(info.operators[0]!.op, 'QUANTIZE');
    assert.equal(info.operators.at(-1)!.op, 'DEQUANTIZE');
    assert.equal(info.inputs[0]!.type, 'float32');
    assert.equal(info.outputs[0]!.type, 'float32');
    const quant = quantizationByFlatbuffers(bytes);
    for (const op of info.operators.filter((o) => o.op === 'CONV_2D' || o.op === 'FULLY_CONNECTED')) {
      const [x, w, b] = op.inputs.map((i) => info.tensors[i]!);
      assert.equal(x!.type, 'int8');
      assert.equal(w!.type, 'int8');
      assert.deepEqual(
        quant[op.inputs[1]!],
        { scales: w!.shape[0], axis: 0 },
        `${w!.name}: one scale per output channel`,
      );
      assert.equal(b!.type, 'int32');
      assert.equal(quant[op.inputs[2]!]!.scales, w!.shape[0]);
      assert.equal(quant[op.outputs[0]!]!.scales, 1, 'activations are per-tensor');
    }
    // Weights take one byte per value instead of four.
    const weightBytes = (i: typeof info): number =>
      i.operators
        .filter((o) => o.op === 'CONV_2D' || o.op === 'FULLY_CONNECTED')
        .reduce((s, o) => s + i.tensors[o.inputs[1]!]!.constantBytes, 0);
    const fp32 = inspectTflite(new Uint8Array(readFileSync(join(dir, 'tiny-fp32.tflite'))));
    assert.equal(weightBytes(info) * 4, weightBytes(fp32));
    const m = JSON.parse(readFileSync(join(dir, 'tiny-int8.json'), 'utf8')) as ModelManifest;
    assert.equal(m.dtype, 'int8');
  });

  test('int8 from a ranges JSON (as the ONNX quantizer writes) equals int8 calibrated here', {
    skip: !existsSync(CALIB) && 'no Fashion-MNIST images for calibration',
  }, () => {
    const a = join(dir, 'cal-a.tflite');
    const b = join(dir, 'cal-b.tflite');
    const ranges = join(dir, 'ranges.json');
    assert.equal(
      convert([onnxPath, '--out', a, '--int8', '--calib-images', CALIB, '--calib-count', '32', '--save-ranges', ranges])
        .status,
      0,
    );
    assert.equal(convert([onnxPath, '--out', b, '--int8', '--ranges', ranges]).status, 0);
    assert.deepEqual(readFileSync(b), readFileSync(a));
    // A missing tensor range is a clear error, not a silent default.
    const partial = JSON.parse(readFileSync(ranges, 'utf8')) as { tensors: Record<string, unknown> };
    delete partial.tensors['r1'];
    writeFileSync(ranges, JSON.stringify(partial));
    const r = convert([onnxPath, '--out', b, '--int8', '--ranges', ranges]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /no calibration range for tensor 'r1'/);
  });

  test('a model that is not 1×28×28 needs --manifest: no Fashion-MNIST mean/std or MIT licence is assumed for it', () => {
    const rgb = join(dir, 'rgb32.onnx');
    writeFileSync(rgb, tinyCnn({ channels: 3, size: 32, dim: 16 }));
    const out = join(dir, 'rgb32.tflite');
    const bare = convert([rgb, '--out', out]);
    assert.equal(bare.status, 2, bare.stderr);
    assert.match(bare.stderr, /input 'input' is 3x32x32 \(CxHxW\), not the 1x28x28 Fashion-MNIST shape/);
    assert.match(bare.stderr, /--manifest SRC\.json/);
    assert.ok(!existsSync(out), 'nothing is written when refused');
    assert.ok(!existsSync(join(dir, 'rgb32.json')), 'no manifest is written when refused');
    if (existsSync(CALIB)) {
      const calib = convert([rgb, '--out', out, '--no-manifest', '--int8', '--calib-images', CALIB]);
      assert.equal(calib.status, 2, 'calibration would normalise with Fashion-MNIST mean/std');
      assert.match(calib.stderr, /calibration from --calib-images would use Fashion-MNIST mean\/std/);
    }
    // A source manifest without a licence is refused too: the licence is the model's, never ours by default.
    const src = {
      input: { name: 'input', range: [0, 1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
      output: { name: 'embedding' },
    };
    const noLicence = join(dir, 'rgb32-nolicence.json');
    writeFileSync(noLicence, JSON.stringify(src));
    const r1 = convert([rgb, '--out', out, '--manifest', noLicence]);
    assert.equal(r1.status, 2);
    assert.match(r1.stderr, /has no license/);
    const withLicence = join(dir, 'rgb32-src.json');
    writeFileSync(withLicence, JSON.stringify({ ...src, license: 'Apache-2.0' }));
    const r2 = convert([rgb, '--out', out, '--manifest', withLicence, '--manifest-out', join(dir, 'rgb32.json')]);
    assert.equal(r2.status, 0, r2.stderr);
    const m = validateManifest(JSON.parse(readFileSync(join(dir, 'rgb32.json'), 'utf8')));
    assert.equal(m.license, 'Apache-2.0');
    assert.deepEqual(m.input.mean, [0.485, 0.456, 0.406]);
    assert.deepEqual(m.input.std, [0.229, 0.224, 0.225]);
    assert.deepEqual(m.input.shape, [null, 32, 32, 3]);
    // Our own 1×28×28 shape keeps the Fashion-MNIST defaults when no manifest is given.
    const own = validateManifest(JSON.parse(readFileSync(join(dir, 'tiny-fp32.json'), 'utf8')));
    assert.equal(own.license, 'MIT');
    assert.deepEqual(own.input.mean, [0.286]);
  });

  test('damaged files are MODEL_CORRUPT, naming what is wrong', () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'tiny-fp32.tflite')));
    const cases: [string, Uint8Array, RegExp][] = [];
    const badRoot = bytes.slice();
    new DataView(badRoot.buffer).setUint32(0, bytes.byteLength + 8, true);
    cases.push(['root offset past the end', badRoot, /root table/]);
    cases.push(['truncated', bytes.slice(0, bytes.byteLength >> 1), /outside the \d+-byte file/]);
    const noIdent = bytes.slice();
    noIdent.set([0x4f, 0x4e, 0x4e, 0x58], 4);
    cases.push(['wrong identifier', noIdent, /identifier/]);
    cases.push(['empty', new Uint8Array(4), /only 4 bytes/]);
    for (const [name, b, why] of cases) {
      assert.throws(
        () => inspectTflite(b),
        (e: unknown) => isEdgetuneError(e, 'MODEL_CORRUPT') && why.test(e.message),
        name,
      );
    }
  });

  test('a weight buffer whose size disagrees with its tensor shape is MODEL_CORRUPT', () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'tiny-fp32.tflite')));
    const info = inspectTflite(bytes);
    const w = info.tensors.find((t) => t.constantBytes > 64)!;
    // Find the tensor's shape vector [o, h, w, i] in the file and grow its first dimension.
    const dv = new DataView(bytes.buffer);
    let patched = false;
    for (let p = 0; p + 20 <= bytes.length && !patched; p += 4) {
      if (dv.getUint32(p, true) === w.shape.length && w.shape.every((d, k) => dv.getInt32(p + 4 + 4 * k, true) === d)) {
        dv.setInt32(p + 4, w.shape[0]! + 1, true);
        patched = true;
      }
    }
    assert.ok(patched, 'shape vector found');
    assert.throws(
      () => inspectTflite(bytes),
      (e: unknown) => isEdgetuneError(e, 'MODEL_CORRUPT') && /buffer holds/.test(e.message),
    );
  });

  test('an op version above what tfjs-tflite accepts is UNSUPPORTED_OP before any runtime loads', async () => {
    const out = join(dir, 'tiny-conv7.tflite');
    const r = convert([onnxPath, '--out', out, '--op-version', 'CONV_2D=7']);
    assert.equal(r.status, 0, r.stderr);
    const bytes = new Uint8Array(readFileSync(out));
    const manifest = validateManifest(JSON.parse(readFileSync(join(dir, 'tiny-conv7.json'), 'utf8')));
    await assert.rejects(
      tfliteBackend.createSession({ bytes, manifest, device: 'wasm', signal: undefined }),
      (e: unknown) =>
        isEdgetuneError(e, 'UNSUPPORTED_OP') &&
        /CONV_2D version 7/.test(e.message) &&
        /up to version 6/.test(e.message),
    );
  });

  test('a manifest whose layout disagrees with the model input is MANIFEST_INVALID', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'tiny-fp32.tflite')));
    const m = JSON.parse(readFileSync(join(dir, 'tiny-fp32.json'), 'utf8')) as ModelManifest;
    const manifest = validateManifest({ ...m, input: { ...m.input, layout: 'NCHW', shape: [null, 1, 28, 28] } });
    await assert.rejects(
      tfliteBackend.createSession({ bytes, manifest, device: 'wasm', signal: undefined }),
      (e: unknown) => isEdgetuneError(e, 'MANIFEST_INVALID') && /input shape \[1, 28, 28, 1\]/.test(e.message),
    );
  });

  test('in Node: unregistered → BACKEND_UNAVAILABLE naming registerTfliteBackend; registered → BACKEND_UNAVAILABLE explaining tfjs-tflite is browser-only', async () => {
    const bytes = new Uint8Array(readFileSync(join(dir, 'tiny-fp32.tflite')));
    const manifest = JSON.parse(readFileSync(join(dir, 'tiny-fp32.json'), 'utf8')) as unknown;
    await assert.rejects(
      Encoder.open({ manifest, bytes }),
      (e: unknown) => isEdgetuneError(e, 'BACKEND_UNAVAILABLE') && /registerTfliteBackend\(\)/.test(e.message),
    );
    const off = registerTfliteBackend();
    assert.equal(registerTfliteBackend(), off, 'registering twice is a no-op');
    try {
      assert.match((await tfliteBackend.probe('wasm'))!, /only in a browser.*not in Node\.js/);
      assert.match((await tfliteBackend.probe('webgpu'))!, /wasm only/);
      await assert.rejects(Encoder.open({ manifest, bytes }, { device: 'auto' }), (e: unknown) => {
        if (!isEdgetuneError(e, 'BACKEND_UNAVAILABLE')) return false;
        const attempts = e.details?.['attempts'] as { device: string; status: string; reason?: string }[];
        const wasm = attempts.find((a) => a.device === 'wasm')!;
        return wasm.status === 'unavailable' && /not in Node\.js/.test(wasm.reason!) && /ONNX/.test(wasm.reason!);
      });
    } finally {
      off();
    }
  });
});

test('shipped TFLite models parse, use only accepted op versions, and were converted from the ONNX now shipped', async (t) => {
  const models = join(ROOT, 'models');
  const manifests = existsSync(models)
    ? readdirSync(models).filter((f) => f.endsWith('.json') && f !== 'index.json' && !f.endsWith('.calibration.json'))
    : [];
  let checked = 0;
  for (const f of manifests) {
    const raw = JSON.parse(readFileSync(join(models, f), 'utf8')) as ModelManifest & {
      source?: { file: string; sha256: string };
    };
    if (raw.format !== 'tflite') continue;
    const m = validateManifest(raw);
    const info = inspectTflite(new Uint8Array(readFileSync(join(models, m.file))));
    for (const c of info.operatorCodes) {
      const max = TFLITE_MAX_OP_VERSIONS[c.op];
      assert.ok(max === undefined || c.version <= max, `${m.file}: ${c.op} v${c.version}`);
    }
    assert.equal(m.input.layout, 'NHWC');
    assert.deepEqual(info.inputs[0]!.shape, [1, m.input.height, m.input.width, m.input.channels]);
    if (raw.source) {
      const src = join(models, raw.source.file);
      assert.ok(
        existsSync(src),
        `${f}: source ${raw.source.file} is no longer shipped; rerun models/pipeline/tflite/ship.py`,
      );
      const { createHash } = await import('node:crypto');
      assert.equal(
        createHash('sha256').update(readFileSync(src)).digest('hex'),
        raw.source.sha256,
        `${f} is stale: ${raw.source.file} changed since the conversion; rerun /usr/bin/python3 models/pipeline/tflite/ship.py`,
      );
    }
    checked++;
  }
  if (!checked) t.skip('no TFLite model shipped in models/');
});
