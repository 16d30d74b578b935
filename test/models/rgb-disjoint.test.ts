// The RGB data builder's disjointness check (models/pipeline/rgb_data.py check) passes on disjoint Debian files and catches a shared path, a byte copy and a mirrored re-encode.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';

const ROOT = join(import.meta.dirname, '..', '..');
const PY = '/usr/bin/python3';
const SCRIPT = join(ROOT, 'models', 'pipeline', 'rgb_data.py');
const CLIP = '/usr/share/openclipart/png/animals';
const STAMPS = '/usr/share/tuxpaint/stamps/food/fruit';
const missing = [PY, CLIP, STAMPS, '/usr/lib/python3/dist-packages/PIL'].find((p) => !existsSync(p));
const skip = missing
  ? `${missing} not installed (node scripts/setup.mjs as root installs openclipart-png, tuxpaint-stamps-default, python3-pil)`
  : false;

const dir = mkdtempSync(join(tmpdir(), 'rgb-disjoint-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const pngs = (d: string, n: number): string[] =>
  readdirSync(d)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .slice(0, n)
    .map((f) => join(d, f));

function check(a: string[], b: string[]): { status: number | null; report: { count: number; violations: string[] } } {
  const fa = join(dir, 'a.json');
  const fb = join(dir, 'b.json');
  writeFileSync(fa, JSON.stringify(a));
  writeFileSync(fb, JSON.stringify(b));
  const r = spawnSync(PY, ['-W', 'ignore', SCRIPT, 'check', '--a', fa, '--b', fb], { encoding: 'utf8' });
  const last = r.stdout.trim().split('\n').pop() ?? '';
  assert.ok(last.startsWith('{'), `no JSON report from rgb_data.py check: ${r.stdout} ${r.stderr}`);
  return { status: r.status, report: JSON.parse(last) as { count: number; violations: string[] } };
}

test('openclipart animals vs tuxpaint fruit: disjoint, exit 0', { skip }, () => {
  const r = check(pngs(CLIP, 25), pngs(STAMPS, 10));
  assert.equal(r.status, 0, JSON.stringify(r.report));
  assert.equal(r.report.count, 0);
});

test('a file on both sides, a byte copy and a mirrored re-encode are each reported, exit 1', { skip }, () => {
  const a = pngs(CLIP, 25);
  const b = pngs(STAMPS, 6);
  const copy = join(dir, 'copy-of-a3.png');
  copyFileSync(a[3]!, copy);
  const mirrored = join(dir, 'mirrored-a5.png');
  const py = `from PIL import Image; Image.open(${JSON.stringify(a[5])}).convert('RGBA').transpose(Image.FLIP_LEFT_RIGHT).save(${JSON.stringify(mirrored)})`;
  const w = spawnSync(PY, ['-c', py], { encoding: 'utf8' });
  assert.equal(w.status, 0, w.stderr);
  // The mirrored file has other bytes: only the thumbnail comparison can catch it.
  assert.notDeepEqual(readFileSync(mirrored), readFileSync(a[5]!));
  const r = check(a, [...b, a[0]!, copy, mirrored]);
  assert.equal(r.status, 1);
  const v = r.report.violations;
  assert.ok(
    v.some((s) => s.startsWith('same file') && s.includes(a[0]!)),
    v.join('\n'),
  );
  assert.ok(
    v.some((s) => s.startsWith('same content') && s.includes(copy)),
    v.join('\n'),
  );
  assert.ok(
    v.some((s) => s.startsWith('near duplicate') && s.includes(mirrored) && s.includes(a[5]!)),
    v.join('\n'),
  );
  assert.ok(!v.some((s) => b.some((f) => s.includes(f))), `a tuxpaint fruit was flagged: ${v.join('\n')}`);
});
