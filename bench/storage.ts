// Storage benchmark in headless Chromium (real IndexedDB): save/load of a realistic checkpoint through edgetune storage, plain and AES-GCM, as ratios over a raw idb put/get of the same object.
// Run: node --import tsx bench/storage.ts [--reps 15]
import { hasChromium, launchChromium, pageResult, serve } from '../test/browser/harness.js';

const reps = Number(process.argv[process.argv.indexOf('--reps') + 1]) || 15;

interface Result {
  reps: number;
  bytes: number;
  ms: {
    rawPut: number;
    rawGet: number;
    plainSave: number;
    plainLoad: number;
    encSave: number;
    encLoad: number;
    passphraseOpen600k: number;
  };
}

async function main(): Promise<void> {
  if (!hasChromium) throw new Error('bench/storage.ts needs /usr/bin/chromium');
  const server = await serve();
  const chrome = await launchChromium();
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/storage-bench.ts', { reps: String(reps) }));
    const r = await pageResult<Result>(page, 300_000);
    const { ms } = r;
    const f = (x: number): string => x.toFixed(1).padStart(7);
    const ratio = (x: number, base: number): string => `${(x / base).toFixed(2)}x`.padStart(7);
    process.stdout.write(
      [
        `edgetune storage bench — headless Chromium, real IndexedDB, durability 'strict' everywhere`,
        `checkpoint: 10-class head on 128-d (+bias, class names) + 2,000 replay embeddings of 128-d + labels = ${(r.bytes / 1024).toFixed(0)} KiB of numbers; median of ${r.reps} runs after 3 warm-ups`,
        ``,
        `                          save ms   ratio     load ms   ratio`,
        `raw idb put/get          ${f(ms.rawPut)}   ${ratio(ms.rawPut, ms.rawPut)}   ${f(ms.rawGet)}   ${ratio(ms.rawGet, ms.rawGet)}`,
        `edgetune, plain          ${f(ms.plainSave)}   ${ratio(ms.plainSave, ms.rawPut)}   ${f(ms.plainLoad)}   ${ratio(ms.plainLoad, ms.rawGet)}`,
        `edgetune, AES-GCM        ${f(ms.encSave)}   ${ratio(ms.encSave, ms.rawPut)}   ${f(ms.encLoad)}   ${ratio(ms.encLoad, ms.rawGet)}`,
        ``,
        `one-off: open with a passphrase (PBKDF2-SHA-256, 600,000 iterations): ${ms.passphraseOpen600k.toFixed(0)} ms`,
        ``,
      ].join('\n'),
    );
  } finally {
    await chrome.close();
    await server.close();
  }
}

await main();
