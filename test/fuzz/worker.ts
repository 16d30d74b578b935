// Worker-thread side of the fuzz test: runs the cases of one domain and reports each before it runs, so the parent can name a case that hangs.
import { parentPort, workerData } from 'node:worker_threads';
import { Finding, makeCase, type Domain } from './cases.js';

const { domain, seed, start, count, skip, caseTimeoutMs } = workerData as {
  domain: Domain;
  seed: number;
  start: number;
  count: number;
  skip: string[];
  caseTimeoutMs: number;
};
const port = parentPort!;
const skipped = new Set(skip);
let current = { i: -1, desc: '' };

// A rejection nobody handles is a finding of the case that caused it (or of the one running when it surfaced).
process.on('unhandledRejection', (reason) => {
  port.postMessage({
    type: 'finding',
    ...current,
    error: `unhandled rejection: ${reason instanceof Error ? `${reason.name}: ${reason.message}` : String(reason)}`,
  });
});

for (let i = start; i < count; i++) {
  const c = await makeCase(domain, seed, i);
  current = { i, desc: c.desc };
  if (skipped.has(c.desc)) {
    port.postMessage({ type: 'skipped', i, desc: c.desc });
    continue;
  }
  port.postMessage({ type: 'case', i, desc: c.desc });
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    // An async hang (a promise that never settles) is caught here; a synchronous one by the parent's watchdog.
    await Promise.race([
      c.run(),
      new Promise(
        (_, reject) =>
          (timer = setTimeout(() => reject(new Finding(`no answer within ${caseTimeoutMs} ms (hang)`)), caseTimeoutMs)),
      ),
    ]);
  } catch (e) {
    port.postMessage({ type: 'finding', i, desc: c.desc, error: e instanceof Error ? e.message : String(e) });
  } finally {
    clearTimeout(timer);
  }
}
port.postMessage({ type: 'done' });
