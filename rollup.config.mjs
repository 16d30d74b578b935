// Builds dist/: one ESM file per public entry (+ .d.ts), and copies the ONNX Runtime WASM files next to them (self-hosted, never a CDN).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

const candidates = {
  index: 'src/index.ts',
  runtime: 'src/runtime/index.ts',
  finetune: 'src/finetune/index.ts',
  storage: 'src/storage/index.ts',
  worker: 'src/worker/index.ts',
  'worker-script': 'src/worker/worker-script.ts',
  'worker-classic': 'src/worker/worker-classic.ts',
};
const input = Object.fromEntries(Object.entries(candidates).filter(([, file]) => existsSync(file)));

// Runtimes stay external: the app's bundler (or an import map) resolves them; we never inline ORT.
const external = (id) => /^(onnxruntime-web|@tensorflow\/|comlink|idb)(\/|$)/.test(id);

/** Copies the wasm files each onnxruntime-web build loads into dist/ort/. */
function copyRuntimeFiles() {
  return {
    name: 'copy-runtime-files',
    writeBundle() {
      const ortDir = 'node_modules/onnxruntime-web/dist';
      mkdirSync('dist/ort', { recursive: true });
      for (const flavour of ['', '.jsep', '.asyncify']) {
        for (const ext of ['.mjs', '.wasm']) {
          const name = `ort-wasm-simd-threaded${flavour}${ext}`;
          copyFileSync(`${ortDir}/${name}`, `dist/ort/${name}`);
        }
      }
      const tfliteDir = 'node_modules/@tensorflow/tfjs-tflite/wasm';
      if (existsSync(tfliteDir)) {
        mkdirSync('dist/tflite', { recursive: true });
        for (const v of ['', '_simd', '_threaded', '_simd_threaded']) {
          for (const ext of ['.js', '.wasm']) {
            const name = `tflite_web_api_cc${v}${ext}`;
            if (existsSync(`${tfliteDir}/${name}`)) copyFileSync(`${tfliteDir}/${name}`, `dist/tflite/${name}`);
          }
        }
      }
    },
  };
}

export default [
  {
    input,
    external,
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].js', chunkFileNames: '[name]-[hash].js', sourcemap: true },
    plugins: [typescript({ tsconfig: 'tsconfig.build.json', declaration: false, sourceMap: true, outDir: 'dist', noEmitOnError: true }), copyRuntimeFiles()],
  },
  {
    // The classic bootstrap exports nothing: no declarations.
    input: Object.fromEntries(Object.entries(input).filter(([name]) => name !== 'worker-classic')),
    external,
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: '[name]-[hash].d.ts' },
    plugins: [dts({ tsconfig: 'tsconfig.build.json' })],
  },
];
