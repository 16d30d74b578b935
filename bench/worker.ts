// Worker benchmark in headless Chromium: main-thread stalls of the whole loop in a Worker vs in-thread, embed round trip per call
// (worker vs in-thread, same ONNX/WASM encoder), and steady TFLite vs ONNX latency for the same encoder (batch 1, WASM). Prints ratios.
// Run: npm run bench:worker  (or: node --import tsx bench/worker.ts [--reps 3] [--calls 200])
import { hasChromium, launchChromium, pageResult, serve } from '../test/browser/harness.js';
import type { LoopRun, ResponsiveResult } from '../test/browser/pages/responsive.js';

const arg = (name: string, dflt: number): number => Number(process.argv[process.argv.indexOf(`--${name}`) + 1]) || dflt;
const reps = arg('reps', 3);
const calls = arg('calls', 200);

if (!hasChromium) {
  console.error('needs /usr/bin/chromium (npm test installs it)');
  process.exit(1);
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const server = await serve();
const chrome = await launchChromium();
try {
  const runs: LoopRun[] = [];
  const benches: Record<string, number>[] = [];
  for (let r = 0; r < reps; r++) {
    // Alternate the order so neither mode always runs on a cold page.
    const modes = r % 2 === 0 ? 'thread,worker' : 'worker,thread';
    const page = await chrome.open(
      server.pageUrl('test/browser/pages/responsive.ts', { n: '256', modes, bench: '1', calls: String(calls) }),
    );
    const out = await pageResult<ResponsiveResult>(page, 600_000);
    await page.close();
    runs.push(...out.runs);
    if (out.bench) benches.push(out.bench);
  }
  const by = (mode: string, key: keyof LoopRun): number =>
    median(runs.filter((x) => x.mode === mode).map((x) => x[key] as number));
  console.log(
    `Chromium ${chrome.browser.version()}, ${reps} page loads, medians; default encoder, ONNX/WASM unless noted`,
  );
  console.log(
    '\nWhole loop (open encoder, embed 256, 50 labels, observe 206, adapt) with a requestAnimationFrame loop running:',
  );
  console.log('| where | longest frame gap ms | long tasks | longest long task ms | wall ms |');
  console.log('|---|---|---|---|---|');
  for (const m of ['thread', 'worker'])
    console.log(
      `| ${m} | ${by(m, 'maxFrameGapMs').toFixed(0)} | ${by(m, 'longTasks')} | ${by(m, 'maxLongTaskMs').toFixed(0)} | ${by(m, 'totalMs').toFixed(0)} |`,
    );
  console.log(
    `longest stall, in-thread / worker: ${(by('thread', 'maxFrameGapMs') / by('worker', 'maxFrameGapMs')).toFixed(1)}x`,
  );
  const b = (k: string): number => median(benches.map((x) => x[k]!));
  console.log(`\nPer embed call, 1 image, ${calls} calls after 10 warm-up:`);
  console.log('| format | in-thread ms | worker ms | worker overhead ms | worker / in-thread |');
  console.log('|---|---|---|---|---|');
  for (const f of ['onnx', 'tflite']) {
    const th = b(`${f}ThreadMs`);
    const wk = b(`${f}WorkerMs`);
    console.log(`| ${f} | ${th.toFixed(3)} | ${wk.toFixed(3)} | ${(wk - th).toFixed(3)} | ${(wk / th).toFixed(2)} |`);
  }
  console.log(
    `TFLite / ONNX steady latency, in-thread: ${(b('tfliteThreadMs') / b('onnxThreadMs')).toFixed(2)}x; in the worker: ${(b('tfliteWorkerMs') / b('onnxWorkerMs')).toFixed(2)}x`,
  );
} finally {
  await chrome.close();
  await server.close();
}
