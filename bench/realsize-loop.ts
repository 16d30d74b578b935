// The real-size loop of test/browser/realsize-loop.test.ts as a bench, for what is too slow for the test on a software GPU (the fp32 ViTs on SwiftShader: minutes per open; the test runs their int8 there): open with the self-check on, embed two frames, teach and restore a learner; cosines against onnxruntime-node and the times.
// Usage: node --import tsx bench/realsize-loop.ts [--models dinov2-s14] [--device webgpu|wasm]
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { batchCosines } from '../src/runtime/selfcheck.js';
import { hasChromium, launchChromium, pageResult, REPO_ROOT, serve } from '../test/browser/harness.js';
import type { LoopOut } from '../test/browser/pages/realsize-loop.js';
import { nodeEmbeddings, preparedManifests, type REFERENCE_MODELS } from '../test/cli/reference.js';

const { values } = parseArgs({ options: { models: { type: 'string' }, device: { type: 'string' } } });
const models = (values.models ?? 'dinov2-s14').split(',') as (typeof REFERENCE_MODELS)[number][];
const device = values.device ?? 'webgpu';
if (!hasChromium) {
  process.stderr.write('no Chromium at /usr/bin/chromium (set EDGETUNE_CHROMIUM)\n');
  process.exit(1);
}
const min = (xs: number[]): string => Math.min(...xs).toFixed(5);
const server = await serve({ port: 0 });
const chrome = await launchChromium({ webgpu: device === 'webgpu' });
try {
  for (const name of models) {
    const { fp32, int8 } = await preparedManifests(name);
    const ref32 = await nodeEmbeddings(fp32, 2);
    for (const manifest of [fp32, int8]) {
      const url = server.pageUrl('test/browser/pages/realsize-loop.ts', {
        model: `/${relative(REPO_ROOT, manifest)}`,
        n: '2',
        device,
      });
      const out = await pageResult<LoopOut>(await chrome.open(url), 3_600_000);
      const got = Float32Array.from(out.embeddings.flat());
      const dim = out.embeddings[0]!.length;
      const attempt = out.attempts.find((a) => a.device === device);
      const learned =
        JSON.stringify(out.after) === JSON.stringify(out.before) &&
        out.before.every((p, k) => p.label === out.labels[k]);
      process.stdout.write(
        `| ${manifest === int8 ? `${name}-int8` : name} | ${out.device} ${attempt?.status ?? ''} | ${attempt?.cosine?.toFixed(5) ?? '-'} | ${min(batchCosines(got, await nodeEmbeddings(manifest, 2), dim))} | ${min(batchCosines(got, ref32, dim))} | ${(out.openMs / 1e3).toFixed(1)} | ${(out.embedMs / 1e3).toFixed(1)} | ${learned ? 'taught, restored' : 'LEARNER MISMATCH'} |\n`,
      );
    }
  }
} finally {
  await chrome.close();
  await server.close();
}
