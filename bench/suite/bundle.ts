// Suite part: min+gzip size of each edgetune entry (esbuild, runtimes external, no WASM) beside @huggingface/transformers' web build (onnxruntime-web external there too).
// Run alone: node --import tsx bench/suite/bundle.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { ROOT, report } from './common.js';

const external = ['onnxruntime-web', 'onnxruntime-web/*', '@tensorflow/*', 'onnxruntime-node'];
async function size(entry: string): Promise<number> {
  const r = await build({
    entryPoints: [join(ROOT, entry)],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    external,
    logLevel: 'silent',
  });
  return gzipSync(r.outputFiles[0]!.contents, { level: 9 }).byteLength;
}
const tjsDir = join(ROOT, 'node_modules', '@huggingface', 'transformers');
const tjsVersion = (JSON.parse(readFileSync(join(tjsDir, 'package.json'), 'utf8')) as { version: string }).version;
const tjs = gzipSync(readFileSync(join(tjsDir, 'dist', 'transformers.web.min.js')), { level: 9 }).byteLength;
for (const [name, entry] of [
  ['finetune', 'src/finetune/index.ts'],
  ['runtime', 'src/runtime/index.ts'],
  ['storage', 'src/storage/index.ts'],
  ['whole loop (index)', 'src/index.ts'],
] as const) {
  const b = await size(entry);
  report({
    row: `bundle/${name}`,
    value: tjs / b,
    detail: { edgetuneBytes: b, transformersBytes: tjs, transformersVersion: tjsVersion },
  });
}
