// Real-size figures in headless Chromium (a bench, not a test): per reference encoder, fp32 and int8, on WASM with 1 and 2 threads (cross-origin isolated page), WebGPU (SwiftShader here) and in a module Worker (WASM, 2 threads): open, first embedding, batch 1 and batch 8 latency, peak RSS of all Chromium processes.
// Usage: node --import tsx bench/realsize-browser.ts [--reps 3] [--models mobilenetv3-small,vit-ti16,dinov2-s14] [--configs wasm-1,wasm-2,webgpu,worker-2]
import { readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { parseArgs } from 'node:util';
import { hasChromium, launchChromium, pageResult, REPO_ROOT, serve } from '../test/browser/harness.js';
import { preparedManifests, type REFERENCE_MODELS } from '../test/cli/reference.js';

const { values } = parseArgs({
  options: { reps: { type: 'string' }, models: { type: 'string' }, configs: { type: 'string' } },
});
const reps = values.reps ?? '3';
const models = (values.models ?? 'mobilenetv3-small,vit-ti16,dinov2-s14').split(',');
const configs = (values.configs ?? 'wasm-1,wasm-2,webgpu,worker-2').split(',');

interface PageOut {
  isolated: boolean;
  device: string;
  attempts: { device: string; status: string; reason?: string }[];
  openMs: number;
  firstMs: number;
  b1Ms: number;
  b8MsPerImage: number;
  jsHeapMb?: number;
}

/** Sum of VmRSS over the processes of one process group (Chromium is started detached: its own group). */
function groupRssMb(pgid: number): number {
  let kb = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[2]) !== pgid) continue;
      const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      kb += m ? Number(m[1]) : 0;
    } catch {
      // the process exited meanwhile
    }
  }
  return kb / 1e3;
}

/** The fp32 and int8 manifests of a reference model (imported and quantized once, test/cli/reference.ts). */
async function prepare(name: string): Promise<string[]> {
  const { fp32, int8 } = await preparedManifests(name as (typeof REFERENCE_MODELS)[number]);
  return [fp32, int8];
}

if (!hasChromium) {
  process.stderr.write('no Chromium at /usr/bin/chromium (set EDGETUNE_CHROMIUM)\n');
  process.exit(1);
}
const server = await serve({ isolated: true, port: 0 });
const rows: string[] = [];
try {
  for (const name of models) {
    for (const manifest of await prepare(name)) {
      const m = JSON.parse(readFileSync(manifest, 'utf8')) as { id: string; bytes: number };
      for (const config of configs) {
        const [kind, n] = config.split('-');
        const query = {
          model: `/${relative(REPO_ROOT, manifest)}`,
          device: kind === 'webgpu' ? 'webgpu' : 'wasm',
          threads: kind === 'webgpu' ? '1' : (n ?? '1'),
          worker: kind === 'worker' ? '1' : '0',
          reps,
        };
        const chrome = await launchChromium({ webgpu: kind === 'webgpu' });
        const base = groupRssMb(chrome.pid);
        let peak = base;
        const timer = setInterval(() => (peak = Math.max(peak, groupRssMb(chrome.pid))), 250);
        try {
          const page = await chrome.open(server.pageUrl('bench/realsize-browser-page.ts', query));
          const r = await pageResult<PageOut>(page, 1_200_000);
          const gpu = r.attempts.find((a) => a.device === 'webgpu');
          const ran =
            kind === 'webgpu' && r.device !== 'webgpu' ? `(fell back: ${gpu?.status} ${gpu?.reason ?? ''})` : '';
          const row = `| ${m.id} | ${(m.bytes / 1e6).toFixed(1)} | ${config}${r.isolated ? '' : ' (not isolated)'} ${ran} | ${r.openMs.toFixed(0)} | ${r.firstMs.toFixed(0)} | ${r.b1Ms.toFixed(1)} | ${r.b8MsPerImage.toFixed(1)} | ${peak.toFixed(0)} (+${(peak - base).toFixed(0)}) |`;
          rows.push(row);
          process.stdout.write(`${row}\n`);
        } catch (err) {
          rows.push(
            `| ${m.id} | ${(m.bytes / 1e6).toFixed(1)} | ${config} | failed: ${String(err).slice(0, 120)} | | | | |`,
          );
          process.stdout.write(`${rows.at(-1)}\n`);
        } finally {
          clearInterval(timer);
          await chrome.close();
        }
      }
    }
  }
} finally {
  await server.close();
}
process.stdout.write(
  `\n| model | MB | runtime | open ms | first embed ms | batch 1 ms | batch 8 ms/img | peak Chromium RSS MB (over idle) |\n|---|---|---|---|---|---|---|---|\n${rows.join('\n')}\n`,
);
