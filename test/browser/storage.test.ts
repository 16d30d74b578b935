// Real-browser storage tests in headless Chromium: behaviour cases, crash trials (SIGKILL mid-save), quota, two tabs at once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasChromium, launchChromium, pageResult, serve } from './harness.js';

const skip = !hasChromium && 'no /usr/bin/chromium';
/** Crash trials; each is one launch, a random wait into the save loop, and a SIGKILL. */
const TRIALS = Number(process.env['EDGETUNE_CRASH_TRIALS'] ?? '16');

test('storage in Chromium: every behaviour case passes on real IndexedDB, Web Locks and BroadcastChannel', {
  skip,
  timeout: 120_000,
}, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/storage-behaviour.ts'));
    const r = await pageResult<{
      results: { name: string; ok: boolean; error?: string }[];
      locks: boolean;
      secure: boolean;
    }>(page, 110_000);
    assert.equal(r.locks, true, 'navigator.locks present (so the Web Locks path is the one tested)');
    const failed = r.results.filter((x) => !x.ok);
    assert.deepEqual(failed, [], failed.map((f) => `${f.name}: ${f.error}`).join('\n'));
    assert.ok(r.results.length >= 19, `ran ${r.results.length} cases`);
  } finally {
    await chrome.close();
    await server.close();
  }
});

test(`storage in Chromium: ${TRIALS} crash trials — SIGKILL during saves, reopen same profile and origin, last committed checkpoint is current and loads`, {
  skip,
  timeout: 180_000,
}, async () => {
  const server = await serve(); // one server for all launches: same port, same origin, same IndexedDB
  const profile = mkdtempSync(join(tmpdir(), 'edgetune-crash-'));
  let lastCommitted = 0;
  let lastStarted = 0;
  const log: string[] = [];
  // How each kill landed: during a save that then did not commit, during a save that committed before its report got out, or between saves.
  const outcomes = { inFlightRolledBack: 0, committedUnreported: 0, betweenSaves: 0 };
  let totalCommitted = 0;
  try {
    for (let trial = 0; trial <= TRIALS; trial++) {
      const verifyOnly = trial === TRIALS;
      const chrome = await launchChromium({ userDataDir: profile });
      let page: Awaited<ReturnType<typeof chrome.context.newPage>> | undefined;
      try {
        page = await chrome.context.newPage();
        await page.exposeFunction('edgetuneStarted', (v: number) => {
          lastStarted = v;
        });
        await page.exposeFunction('edgetuneCommitted', (v: number) => {
          lastCommitted = v;
          totalCommitted++;
        });
        page.on('pageerror', (e) => log.push(`pageerror ${e.message}`));
        await page.goto(
          server.pageUrl('test/browser/pages/storage-crash.ts', {
            mode: verifyOnly ? 'verify' : 'run',
            enc: process.env['EDGETUNE_CRASH_ENC'] ?? '1',
            rows: process.env['EDGETUNE_CRASH_ROWS'] ?? '2000',
          }),
        );
        await page.waitForFunction(() => '__state' in window || '__error' in window, undefined, { timeout: 30_000 });
        const st = await page.evaluate(
          () =>
            (
              window as unknown as {
                __state?: {
                  current: number;
                  listed: number[];
                  records: number;
                  problems: string[];
                  currentOk: boolean;
                };
                __error?: string;
              }
            ).__state ?? (window as unknown as { __error?: string }).__error,
        );
        assert.equal(typeof st, 'object', `trial ${trial}: page failed: ${String(st)}`);
        const s = st as { current: number; listed: number[]; records: number; problems: string[]; currentOk: boolean };
        log.push(
          `trial ${trial}: committed≥${lastCommitted} started≤${lastStarted} → current ${s.current}, kept [${s.listed.join(',')}], ${s.records} records`,
        );
        // Nothing committed is lost; nothing never started appears.
        assert.ok(
          s.current >= lastCommitted,
          `trial ${trial}: current v${s.current} is older than committed v${lastCommitted}\n${log.join('\n')}`,
        );
        assert.ok(
          s.current <= lastStarted,
          `trial ${trial}: current v${s.current} was never started (last started v${lastStarted})`,
        );
        assert.deepEqual(s.problems, [], `trial ${trial}: damaged kept versions`);
        assert.equal(s.currentOk, true, `trial ${trial}: current checkpoint content`);
        // A save either committed whole or left nothing: records on disk are exactly the kept list.
        assert.equal(s.records, s.listed.length, `trial ${trial}: orphan or missing records`);
        if (s.current > 0) {
          assert.equal(s.listed[s.listed.length - 1], s.current, `trial ${trial}: newest kept version is current`);
          assert.ok(s.listed.length === Math.min(3, s.current), `trial ${trial}: keepLast 3 window`);
        }
        if (trial > 0) {
          if (lastStarted > lastCommitted && s.current === lastCommitted) outcomes.inFlightRolledBack++;
          else if (lastStarted > lastCommitted && s.current === lastStarted) outcomes.committedUnreported++;
          else outcomes.betweenSaves++;
        }
        // The page's own view now becomes the reference (it may include a commit whose report the kill cut off).
        lastCommitted = s.current;
        lastStarted = s.current;
        if (verifyOnly) {
          await pageResult(page, 30_000);
          break;
        }
        await page.evaluate(() => ((window as unknown as { __go: boolean }).__go = true));
        // Kill at a random moment into the save loop.
        await new Promise((r) => setTimeout(r, 150 + Math.random() * 900));
      } finally {
        if (verifyOnly) await chrome.close().catch(() => undefined);
        else await chrome.kill();
      }
    }
    process.stdout.write(
      `# crash trials: ${TRIALS} kills, ${totalCommitted} saves reported committed, final v${lastCommitted}; kills ${JSON.stringify(outcomes)}\n`,
    );
    assert.ok(lastCommitted >= TRIALS, `saves made progress across trials (final v${lastCommitted})`);
  } finally {
    rmSync(profile, { recursive: true, force: true });
    await server.close();
  }
});

test('storage in Chromium: quota lowered over CDP — filling storage gives QUOTA_EXCEEDED, cached model evicted first, previous checkpoint intact', {
  skip,
  timeout: 120_000,
}, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  try {
    const page = await chrome.context.newPage();
    const cdp = await chrome.context.newCDPSession(page);
    const quota = 8 * 1024 * 1024;
    await cdp.send('Storage.overrideQuotaForOrigin', { origin: server.origin, quotaSize: quota });
    await page.goto(server.pageUrl('test/browser/pages/storage-quota.ts'));
    const r = await pageResult<{
      quota0?: number;
      quota?: number;
      usage?: number;
      lastCommitted: number;
      currentVersion?: number;
      intact: boolean;
      quotaError?: { code: string; message: string };
      evicted: string[];
      after: string;
      persisted: boolean;
      listed: number[];
    }>(page, 110_000);
    process.stdout.write(`# quota: ${JSON.stringify({ ...r, quotaError: r.quotaError?.code })}\n`);
    // estimate() is surfaced; this Chromium keeps reporting its default quota there while enforcing the CDP override.
    assert.ok(
      typeof r.quota0 === 'number' && r.quota0 > 0 && typeof r.usage === 'number',
      'estimate() surfaces usage and quota',
    );
    assert.ok((r.usage ?? Infinity) <= quota, `usage ${r.usage} stays under the lowered quota ${quota}`);
    assert.equal(r.quotaError?.code, 'QUOTA_EXCEEDED', 'the browser refusal became a typed error');
    assert.ok(r.lastCommitted >= 2, `some saves fitted first (last v${r.lastCommitted})`);
    assert.equal(r.currentVersion, r.lastCommitted, 'current is the last committed checkpoint');
    assert.equal(r.intact, true, 'its content loads byte for byte');
    assert.deepEqual(
      r.evicted,
      ['cached-encoder'],
      'the cached model was evicted before giving up; the checkpoint never',
    );
    assert.equal(r.after, 'still writable', 'profile still writable after the refusal');
    assert.equal(r.persisted, false, 'persist() answered (headless refuses it)');
    assert.equal(r.listed[r.listed.length - 1], r.lastCommitted, 'kept list ends at current');
  } finally {
    await chrome.close();
    await server.close();
  }
});

test('storage in Chromium: two real pages adapting at once lose no update and hear each other by BroadcastChannel', {
  skip,
  timeout: 120_000,
}, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  const n = 15;
  try {
    const a = await chrome.open(server.pageUrl('test/browser/pages/storage-tab.ts', { who: 'a', n: String(n) }));
    const b = await chrome.open(server.pageUrl('test/browser/pages/storage-tab.ts', { who: 'b', n: String(n) }));
    for (const p of [a, b])
      await p.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true);
    await Promise.all([
      a.evaluate(() => ((window as unknown as { __go: boolean }).__go = true)),
      b.evaluate(() => ((window as unknown as { __go: boolean }).__go = true)),
    ]);
    type R = { versions: number[]; heard: number; finalVersion: number; items: string[] };
    const [ra, rb] = await Promise.all([pageResult<R>(a, 100_000), pageResult<R>(b, 100_000)]);
    assert.equal(ra.finalVersion, 2 * n, 'one version per update');
    assert.equal(rb.finalVersion, 2 * n);
    assert.deepEqual(
      [...ra.items].sort(),
      [...Array.from({ length: n }, (_, i) => `a${i}`), ...Array.from({ length: n }, (_, i) => `b${i}`)].sort(),
      'every update of both tabs is in the final checkpoint',
    );
    assert.deepEqual(new Set([...ra.versions, ...rb.versions]).size, 2 * n, 'no version number given twice');
    const interleaved = ra.versions.some((v, i) => i > 0 && v !== ra.versions[i - 1]! + 1);
    assert.ok(interleaved, 'the two tabs really ran at the same time (their versions interleave)');
    assert.ok(ra.heard > 0 && rb.heard > 0, `each tab heard the other's checkpoints (${ra.heard}, ${rb.heard})`);
  } finally {
    await chrome.close();
    await server.close();
  }
});

test('storage in Chromium: a connection the browser terminates (site data cleared) reports closed/terminated, then DB_CLOSED', {
  skip,
  timeout: 60_000,
}, async () => {
  const server = await serve();
  const chrome = await launchChromium();
  try {
    const page = await chrome.open(server.pageUrl('test/browser/pages/storage-terminated.ts'));
    await page.waitForFunction(() => (window as unknown as { __ready?: boolean }).__ready === true);
    const cdp = await chrome.context.newCDPSession(page);
    await cdp.send('Storage.clearDataForOrigin', { origin: server.origin, storageTypes: 'indexeddb' });
    const r = await pageResult<{ reason: string; code: string; reopenedEmpty: boolean }>(page, 30_000);
    assert.deepEqual(r, { reason: 'terminated', code: 'DB_CLOSED', reopenedEmpty: true });
  } finally {
    await chrome.close();
    await server.close();
  }
});
