// Peak memory of opening a large model's bytes in Node: read + SHA-256 through WebCrypto (the old path, which copies its input) vs the runtime's loadModel (node:crypto on the bytes in place). Each measurement in its own process, interleaved.
// Usage: node --import tsx bench/realsize-hash.ts [--reps 3] [--model dinov2-s14]
import { spawnSync } from 'node:child_process';
import { existsSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { importModel } from '../src/cli/import.js';
import { sha256Hex } from '../src/core/hash.js';
import { loadModel } from '../src/runtime/source.js';
import { readLocal } from '../src/runtime/source-extra.js';
import { referenceDir } from '../test/cli/reference.js';

const { values } = parseArgs({
  options: { reps: { type: 'string' }, model: { type: 'string' }, child: { type: 'string' }, path: { type: 'string' } },
});

const MODES = ['webcrypto', 'loadModel'] as const;

/** One measurement: peak RSS and the ArrayBuffer total after the bytes are read and hashed. */
async function child(mode: string, manifestPath: string): Promise<void> {
  const before = process.memoryUsage();
  const t0 = performance.now();
  let size: number;
  if (mode === 'webcrypto') {
    const bytes = await readLocal(manifestPath.replace(/\.json$/, '.onnx'), 'model file');
    await sha256Hex(bytes);
    size = bytes.byteLength;
  } else {
    size = (await loadModel(manifestPath)).bytes.byteLength;
  }
  const ms = performance.now() - t0;
  const after = process.memoryUsage();
  process.stdout.write(
    `${JSON.stringify({
      mode,
      mb: size / 1e6,
      ms,
      baseRssMb: before.rss / 1e6,
      peakRssMb: process.resourceUsage().maxRSS / 1e3,
      arrayBuffersMb: after.arrayBuffers / 1e6,
    })}\n`,
  );
}

if (values.child) await child(values.child, values.path!);
else {
  const name = values.model ?? 'dinov2-s14';
  const dir = join(tmpdir(), `edgetune-hash-bench-${name}`);
  const onnx = join(dir, `${name}.onnx`);
  if (!existsSync(onnx)) {
    (await import('node:fs')).mkdirSync(dir, { recursive: true });
    symlinkSync(join(referenceDir(), `${name}.onnx`), onnx);
  }
  const manifest = join(dir, `${name}.json`);
  if (!existsSync(manifest))
    await importModel(onnx, { preset: 'dinov2', output: 'pooler_output', license: 'Apache-2.0' });
  const rows: Record<string, unknown>[] = [];
  for (let r = 0; r < Number(values.reps ?? 3); r++)
    for (const mode of MODES) {
      const p = spawnSync(
        process.execPath,
        ['--import', 'tsx', 'bench/realsize-hash.ts', '--child', mode, '--path', manifest],
        { encoding: 'utf8' },
      );
      if (p.status !== 0) throw new Error(p.stderr);
      rows.push(JSON.parse(p.stdout.trim().split('\n').pop()!) as Record<string, unknown>);
    }
  const f = (x: unknown): string => (x as number).toFixed(0);
  process.stdout.write(
    '| mode | model MB | read+hash ms | RSS before MB | peak RSS MB | ArrayBuffers after MB |\n|---|---|---|---|---|---|\n',
  );
  for (const x of rows)
    process.stdout.write(
      `| ${x['mode']} | ${(x['mb'] as number).toFixed(1)} | ${f(x['ms'])} | ${f(x['baseRssMb'])} | ${f(x['peakRssMb'])} | ${f(x['arrayBuffersMb'])} |\n`,
    );
}
