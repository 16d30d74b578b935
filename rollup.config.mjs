// Builds dist/: one ESM file per public entry (+ .d.ts). The runtimes' WASM is not copied: apps self-host it from the installed packages (scripts/copy-assets.mjs).
import { existsSync, rmSync } from 'node:fs';
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
// A fresh dist/ each build, so files of an earlier build (old chunks, the WASM earlier builds copied) are never packed.
rmSync('dist', { recursive: true, force: true });

// Runtimes stay external: the app's bundler (or an import map) resolves them; we never inline ORT.
const external = (id) => /^(onnxruntime-web|@tensorflow\/|comlink|idb)(\/|$)/.test(id);

/** The classic bootstrap is a plain script with no exports; an empty module declaration lets TypeScript resolve it. */
function classicWorkerTypes() {
  return {
    name: 'classic-worker-types',
    generateBundle() {
      if (!input['worker-classic']) return;
      const source =
        "// The classic-worker bootstrap is a script with no exports: start it with new Worker(url, { type: 'classic' }).\nexport {};\n";
      this.emitFile({ type: 'asset', fileName: 'worker-classic.d.ts', source });
    },
  };
}

export default [
  {
    input,
    external,
    output: {
      dir: 'dist',
      format: 'es',
      entryFileNames: '[name].js',
      chunkFileNames: '[name]-[hash].js',
      sourcemap: true,
    },
    plugins: [
      typescript({
        tsconfig: 'tsconfig.build.json',
        declaration: false,
        sourceMap: true,
        outDir: 'dist',
        noEmitOnError: true,
      }),
    ],
  },
  {
    // The classic bootstrap exports nothing: its declaration is an empty module written by classicWorkerTypes.
    input: Object.fromEntries(Object.entries(input).filter(([name]) => name !== 'worker-classic')),
    external,
    output: { dir: 'dist', format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: 'types/[name].d.ts' },
    plugins: [dts({ tsconfig: 'tsconfig.build.json' }), classicWorkerTypes()],
  },
];
