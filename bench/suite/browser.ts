// Suite part: 1 vs 2 onnxruntime-web WASM threads in headless Chromium on a cross-origin-isolated page (the only place browser threads exist), page loads alternating 1, 2, 1, 2.
// Run alone: node --import tsx bench/suite/browser.ts [--loads 2]
import { hasChromium, launchChromium, pageResult, serve } from '../../test/browser/harness.js';
import { arg, report } from './common.js';

interface PageOut {
  isolated: boolean;
  threads: number;
  hardwareConcurrency: number;
  times: Record<string, number[]>;
}

const loads = Number(arg('loads', '2'));
if (!hasChromium) {
  process.stderr.write('browser part skipped: no Chromium at /usr/bin/chromium (set EDGETUNE_CHROMIUM)\n');
  process.exit(0);
}
const server = await serve({ isolated: true });
const chrome = await launchChromium();
try {
  for (let l = 0; l < loads; l++) {
    const res: Record<number, PageOut> = {};
    for (const threads of l % 2 ? [2, 1] : [1, 2]) {
      const page = await chrome.open(server.pageUrl('bench/suite/browser-page.ts', { threads: String(threads) }));
      res[threads] = await pageResult<PageOut>(page, 600_000);
      await page.close();
    }
    const one = res[1]!;
    const two = res[2]!;
    for (const key of Object.keys(one.times)) {
      const a = one.times[key]!;
      const b = two.times[key]!;
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        report({
          row: `threads/chromium/${key}`,
          value: a[i]! / b[i]!,
          detail: {
            oneThreadMs: a[i]!,
            twoThreadMs: b[i]!,
            isolated: String(two.isolated),
            cores: two.hardwareConcurrency,
          },
        });
        report({ row: `chromium-ms/${key}/t1`, value: a[i]!, detail: {} });
      }
    }
  }
} finally {
  await chrome.close();
  await server.close();
}
