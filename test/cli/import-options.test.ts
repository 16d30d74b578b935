// `edgetune import --id` and `--crop`: the manifest records them, the SDK honours the crop policy, and bad values are refused clearly.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { syntheticImages } from '../../src/cli/images.js';
import { main } from '../../src/cli/main.js';
import { Encoder, validateManifest } from '../../src/runtime/index.js';
import { batchCosines } from '../../src/runtime/selfcheck.js';
import { referenceUnavailable, scratch } from './reference.js';

const skip = referenceUnavailable();

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(args, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err };
}

test('import --id names the manifest and --crop is recorded and honoured; a bad --crop or --id is refused', {
  skip,
  timeout: 300_000,
}, async () => {
  const { dir } = scratch(['vit-ti16']);
  const model = join(dir, 'vit-ti16.onnx');
  const base = ['--preset', 'imagenet', '--output', 'pooler_output', '--license', 'Apache-2.0'];
  const read = (id: string) => validateManifest(JSON.parse(readFileSync(join(dir, `${id}.json`), 'utf8')));

  let r = await cli('import', model, ...base);
  assert.equal(r.code, 0, r.err);
  const dflt = read('vit-ti16');
  assert.equal(dflt.id, 'vit-ti16', 'the id defaults to the file name');
  assert.equal(dflt.input.crop, 'center');
  assert.equal(dflt.input.cropFraction, 0.875, 'the imagenet preset: resize 256, centre-crop 224');

  for (const crop of ['pad', 'stretch', 'center'] as const) {
    const id = `cam-${crop}`;
    r = await cli('import', model, ...base, '--id', id, '--crop', crop);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`→ .*${id}\\.json`));
    assert.match(r.out, new RegExp(`crop ${crop}`));
    const m = read(id);
    assert.equal(m.id, id);
    assert.equal(m.input.crop, crop);
    // Only a centre crop keeps the preset's crop fraction; pad and stretch use the whole frame.
    assert.equal(m.input.cropFraction, crop === 'center' ? 0.875 : undefined);
  }

  // The recorded policy is what the SDK applies to a non-square frame.
  const frame = syntheticImages(1, 320, 240, 9);
  const embed = async (id: string): Promise<Float32Array> => {
    await using enc = await Encoder.open(join(dir, `${id}.json`), { device: 'wasm' });
    return (await enc.embed(frame))[0]!;
  };
  const [pad, stretch, center] = [await embed('cam-pad'), await embed('cam-stretch'), await embed('cam-center')];
  for (const [a, b, what] of [
    [pad, center, 'pad vs center'],
    [stretch, center, 'stretch vs center'],
    [pad, stretch, 'pad vs stretch'],
  ] as const) {
    const c = batchCosines(a, b, a.length)[0]!;
    assert.ok(c < 0.9999, `${what}: the crop policies gave the same embedding (cosine ${c})`);
  }

  r = await cli('import', model, ...base, '--id', 'cam-zoom', '--crop', 'zoom');
  assert.equal(r.code, 2);
  assert.match(r.err, /--crop must be one of center, stretch, pad \(got "zoom"\)/);
  assert.ok(!existsSync(join(dir, 'cam-zoom.json')), 'nothing written for a refused --crop');

  r = await cli('import', model, ...base, '--id', 'Front Camera');
  assert.equal(r.code, 1);
  assert.match(r.err, /refused: --id "Front Camera" is not a valid model id: use lower-case letters, digits/);
  assert.ok(!existsSync(join(dir, 'Front Camera.json')));
});
