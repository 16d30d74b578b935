// Bundles the Node-only `edgetune` CLI to dist/cli.js (runtimes and image decoders stay external npm dependencies).
import { build } from 'esbuild';

await build({
  entryPoints: ['src/cli/bin.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['onnxruntime-node', 'onnxruntime-web', 'pngjs', 'jpeg-js', '@tensorflow/*'],
  logLevel: 'warning',
});
