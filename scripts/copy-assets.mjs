#!/usr/bin/env node
// `edgetune-copy-assets DIR`: copies the runtimes' WASM files from the app's installed packages into DIR, so the app self-hosts them (edgetune's package carries none).
import { copyFileSync, existsSync, mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ONNX Runtime files per set: `wasm` is what the plain WASM build loads; `all` adds the WebGPU (asyncify) and WebNN (JSEP) builds' files. */
const ORT_FILES = {
  wasm: ['ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'],
  all: [
    'ort-wasm-simd-threaded.mjs',
    'ort-wasm-simd-threaded.wasm',
    'ort-wasm-simd-threaded.asyncify.mjs',
    'ort-wasm-simd-threaded.asyncify.wasm',
    'ort-wasm-simd-threaded.jsep.mjs',
    'ort-wasm-simd-threaded.jsep.wasm',
  ],
};

const USAGE = `usage: edgetune-copy-assets DIR [--ort=wasm|all|none] [--tflite] [--from=PROJECT_DIR]

Copies onnxruntime-web's WASM files to DIR/ort/ and, with --tflite, @tensorflow/tfjs-tflite's to DIR/tflite/,
from the packages installed in PROJECT_DIR (default: the current directory). Then, in the app:
  env.wasmPaths = '<URL of DIR>/ort/';          // from 'edgetune/runtime'
  env.tfliteWasmPath = '<URL of DIR>/tflite/';  // only with --tflite
--ort=wasm (default) copies the WASM build's two files; --ort=all also the WebGPU and WebNN builds' files.`;

/**
 * Copies the runtime WASM files into `dir`.
 * @param {string} dir Destination folder (created when missing); files go to `dir/ort/` and `dir/tflite/`.
 * @param {{ ort?: 'wasm' | 'all' | 'none', tflite?: boolean, from?: string }} [options] Which files, and the project whose node_modules holds the packages (default: the current directory).
 * @returns {{ file: string, bytes: number }[]} The copied files, relative to `dir`, with their sizes.
 */
export function copyAssets(dir, options = {}) {
  const { ort = 'wasm', tflite = false, from = process.cwd() } = options;
  if (ort !== 'none' && !(ort in ORT_FILES)) throw new Error(`--ort=${ort} is not one of wasm, all, none`);
  const require = createRequire(join(resolve(from), 'package.json'));
  const copied = [];
  const copy = (src, rel) => {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    copyFileSync(src, join(dir, rel));
    copied.push({ file: rel, bytes: statSync(src).size });
  };
  if (ort !== 'none') {
    // The package exports each wasm/mjs file by name, so this resolves wherever npm put it (hoisted or nested).
    for (const name of ORT_FILES[ort]) copy(resolvePackageFile(require, 'onnxruntime-web', name), `ort/${name}`);
  }
  if (tflite) {
    const wasmDir = join(dirname(resolvePackageFile(require, '@tensorflow/tfjs-tflite', 'package.json')), 'wasm');
    // Every variant (plain, SIMD, threaded, their pthread worker scripts): tfjs-tflite picks one at run time.
    for (const name of readdirSync(wasmDir).filter((n) => n.startsWith('tflite_web_api_cc'))) {
      copy(join(wasmDir, name), `tflite/${name}`);
    }
  }
  return copied;
}

function resolvePackageFile(require, pkg, file) {
  try {
    return require.resolve(`${pkg}/${file}`);
  } catch (err) {
    throw new Error(
      `${pkg} is not installed where edgetune-copy-assets looked (${err.message.split('\n')[0]}). Install it in your app (npm install ${pkg}) or pass --from=<your project folder>.`,
    );
  }
}

function main(argv) {
  const positional = argv.filter((a) => !a.startsWith('--'));
  const flags = new Map(
    argv
      .filter((a) => a.startsWith('--'))
      .map((a) => [a.replace(/=.*/, ''), a.includes('=') ? a.slice(a.indexOf('=') + 1) : 'true']),
  );
  const known = new Set(['--ort', '--tflite', '--from', '--help']);
  const unknown = [...flags.keys()].filter((f) => !known.has(f));
  if (flags.has('--help') || positional.length !== 1 || unknown.length) {
    if (unknown.length) process.stderr.write(`unknown option ${unknown.join(', ')}\n`);
    process.stderr.write(`${USAGE}\n`);
    return flags.has('--help') ? 0 : 2;
  }
  const dir = resolve(positional[0]);
  const ort = flags.get('--ort') ?? 'wasm';
  const options = { ort, tflite: flags.has('--tflite') };
  if (flags.has('--from')) options.from = flags.get('--from');
  try {
    const files = copyAssets(dir, options);
    const mb = files.reduce((s, f) => s + f.bytes, 0) / 1e6;
    process.stdout.write(`edgetune-copy-assets: ${files.length} files (${mb.toFixed(1)} MB) into ${dir}\n`);
    for (const f of files) process.stdout.write(`  ${f.file}  ${(f.bytes / 1e6).toFixed(2)} MB\n`);
    return 0;
  } catch (err) {
    process.stderr.write(`edgetune-copy-assets: ${err.message}\n`);
    return 1;
  }
}

// Run as a command (also through npm's bin symlink), not when imported by a build script.
if (
  process.argv[1] &&
  existsSync(process.argv[1]) &&
  realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
) {
  process.exitCode = main(process.argv.slice(2));
}
export { ORT_FILES };
