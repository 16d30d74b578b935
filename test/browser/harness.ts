// Shared harness for real-browser tests: a static server on 127.0.0.1 that bundles TS pages with esbuild, and headless Debian Chromium driven by playwright-core over CDP.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Repository root (served as `/`). */
export const REPO_ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));

/** Path of Debian's Chromium. */
export const CHROMIUM_PATH = process.env['EDGETUNE_CHROMIUM'] ?? '/usr/bin/chromium';

/** True when a Chromium binary is present; browser tests skip with a clear reason otherwise (never under CI). */
export const hasChromium = existsSync(CHROMIUM_PATH);
// In CI a missing browser must fail the run, not quietly skip the browser layer.
if (!hasChromium && /^(1|true|yes)$/i.test(process.env['CI'] ?? '')) {
  throw new Error(
    `CI is set but there is no Chromium at ${CHROMIUM_PATH}: the browser layer cannot be skipped in CI. Run scripts/setup.mjs as root (it installs Debian's chromium) or set EDGETUNE_CHROMIUM.`,
  );
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.tflite': 'application/octet-stream',
  '.bin': 'application/octet-stream',
  '.gz': 'application/octet-stream',
  '.u8': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.webmanifest': 'application/manifest+json',
};

/** Options of {@link serve}. */
export interface ServeOptions {
  /** Fixed port (same port = same origin = same IndexedDB across relaunches). 0 picks a free one. */
  port?: number;
  /** Send COOP/COEP/CORP so the page is cross-origin isolated (needed for WASM threads). */
  isolated?: boolean;
}

/** A running test server. */
export interface TestServer {
  /** Base URL without trailing slash, e.g. `http://127.0.0.1:43123`. */
  readonly origin: string;
  readonly port: number;
  /** URL of a page that loads the esbuild bundle of `tsPath` (repo-relative) as a module script. */
  pageUrl(tsPath: string, query?: Record<string, string>): string;
  close(): Promise<void>;
}

async function bundle(tsFile: string): Promise<string> {
  const result = await build({
    entryPoints: [tsFile],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    sourcemap: 'inline',
    // ORT's "bundle" builds inline their glue; the wasm file itself is served from node_modules.
    logLevel: 'silent',
    absWorkingDir: REPO_ROOT,
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error(`esbuild produced nothing for ${tsFile}`);
  return out.text;
}

/**
 * Serves the repository on 127.0.0.1.
 *
 * Routes: `/bundle/<repo path>.ts` → esbuild ESM bundle of that file (also usable as a module
 * worker script); `/page/<repo path>.ts?…` → an HTML page that imports that bundle; anything else →
 * the file under the repo root.
 */
export async function serve(options: ServeOptions = {}): Promise<TestServer> {
  const server = http.createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const headers: Record<string, string> = { 'Cache-Control': 'no-store' };
      if (options.isolated) {
        headers['Cross-Origin-Opener-Policy'] = 'same-origin';
        headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
        headers['Cross-Origin-Resource-Policy'] = 'same-origin';
      }
      try {
        const path = decodeURIComponent(url.pathname);
        if (path.startsWith('/page/')) {
          const src = path.slice('/page'.length);
          res.writeHead(200, { ...headers, 'Content-Type': MIME['.html']! });
          res.end(
            `<!doctype html><meta charset="utf-8"><title>edgetune test</title><body><script type="module" src="/bundle${src}${url.search}"></script></body>`,
          );
          return;
        }
        if (path.startsWith('/bundle/')) {
          const file = safePath(path.slice('/bundle/'.length));
          const code = await bundle(file);
          res.writeHead(200, { ...headers, 'Content-Type': MIME['.js']! });
          res.end(code);
          return;
        }
        const file = safePath(path.slice(1));
        if (!existsSync(file) || !statSync(file).isFile()) {
          res.writeHead(404, headers);
          res.end('not found');
          return;
        }
        res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream' });
        res.end(readFileSync(file));
      } catch (err) {
        res.writeHead(500, { ...headers, 'Content-Type': 'text/plain' });
        res.end(String(err instanceof Error ? (err.stack ?? err.message) : err));
      }
    })();
  });
  server.listen(options.port ?? 0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    port,
    pageUrl(tsPath, query) {
      const qs = query ? `?${new URLSearchParams(query).toString()}` : '';
      return `${origin}/page/${tsPath.replace(/^\/+/, '')}${qs}`;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function safePath(rel: string): string {
  const full = normalize(join(REPO_ROOT, rel));
  if (full !== REPO_ROOT && !full.startsWith(REPO_ROOT + sep)) throw new Error(`path escapes the repo: ${rel}`);
  return full;
}

/** Options of {@link launchChromium}. */
export interface LaunchOptions {
  /** Profile directory to reuse across launches; a fresh temporary one (removed on close) when absent. */
  userDataDir?: string;
  /** Expose WebGPU (SwiftShader) with `--enable-unsafe-webgpu`. */
  webgpu?: boolean;
  /** Expose `navigator.ml` (WebNN); this browser then refuses every context, which is what fallback tests need. */
  webnn?: boolean;
  /** Extra command-line switches. */
  args?: string[];
}

/** A running Chromium, connected over CDP. */
export interface LaunchedChromium {
  readonly browser: Browser;
  /** The default (profile) context. */
  readonly context: BrowserContext;
  readonly pid: number;
  readonly userDataDir: string;
  /** Opens a page, forwards its console errors to stderr, and navigates to `url`. */
  open(url: string): Promise<Page>;
  /** SIGKILLs the browser process (crash simulation) and waits until it is gone. */
  kill(): Promise<void>;
  /** Closes the browser (and removes a temporary profile). */
  close(): Promise<void>;
}

const BASE_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--no-default-browser-check',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--remote-debugging-port=0',
];

/** Launches headless Debian Chromium and connects playwright-core to it over CDP. */
export async function launchChromium(options: LaunchOptions = {}): Promise<LaunchedChromium> {
  const temporary = options.userDataDir === undefined;
  const userDataDir = options.userDataDir ?? mkdtempSync(join(tmpdir(), 'edgetune-chromium-'));
  const args = [...BASE_ARGS, `--user-data-dir=${userDataDir}`];
  const features: string[] = [];
  if (options.webgpu) args.push('--enable-unsafe-webgpu', '--use-angle=swiftshader', '--enable-features=Vulkan');
  if (options.webnn) features.push('WebMachineLearningNeuralNetwork');
  if (features.length) args.push(`--enable-features=${features.join(',')}`);
  args.push(...(options.args ?? []), 'about:blank');
  // Own process group, so a crash simulation can kill the renderers and GPU process with the browser.
  const proc: ChildProcess = spawn(CHROMIUM_PATH, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const wsUrl = await new Promise<string>((res, rej) => {
    let buf = '';
    const timer = setTimeout(() => rej(new Error(`chromium did not start in 30 s: ${buf.slice(-2000)}`)), 30_000);
    proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const m = /DevTools listening on (ws:\/\/\S+)/.exec(buf);
      if (m?.[1]) {
        clearTimeout(timer);
        res(m[1]);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      rej(new Error(`chromium exited with ${code}: ${buf.slice(-2000)}`));
    });
  });
  proc.stderr!.resume();
  const browser = await chromium.connectOverCDP(wsUrl);
  const context = browser.contexts()[0] ?? (await browser.newContext());
  const exited = once(proc, 'exit');
  let gone = false;
  const killGroup = (sig: NodeJS.Signals): void => {
    try {
      process.kill(-proc.pid!, sig);
    } catch {
      // already gone
    }
  };
  const finish = async (): Promise<void> => {
    killGroup('SIGKILL');
    if (!temporary) return;
    for (let k = 0; k < 20; k++) {
      try {
        rmSync(userDataDir, { recursive: true, force: true });
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  return {
    browser,
    context,
    pid: proc.pid!,
    userDataDir,
    async open(url) {
      const page = await context.newPage();
      page.on('console', (m) => {
        if (m.type() === 'error' && process.env['EDGETUNE_BROWSER_LOG']) process.stderr.write(`[page] ${m.text()}\n`);
      });
      page.on('pageerror', (e) => process.stderr.write(`[pageerror] ${e.message}\n`));
      await page.goto(url);
      return page;
    },
    async kill() {
      if (gone) return;
      gone = true;
      killGroup('SIGKILL');
      await exited;
      await browser.close().catch(() => undefined);
    },
    async close() {
      if (!gone) {
        gone = true;
        await browser.close().catch(() => undefined);
        killGroup('SIGTERM');
        const t = setTimeout(() => killGroup('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      await finish();
    },
  };
}

/**
 * Waits until the page sets `window.__result` (or `window.__error`) and returns it.
 * Pages report through these two globals so a test reads one structured value.
 */
export async function pageResult<T>(page: Page, timeoutMs = 60_000): Promise<T> {
  await page.waitForFunction(() => '__result' in window || '__error' in window, undefined, { timeout: timeoutMs });
  const { result, error } = await page.evaluate(() => ({
    result: (window as unknown as { __result?: unknown }).__result,
    error: (window as unknown as { __error?: unknown }).__error,
  }));
  if (error !== undefined) throw new Error(`page failed: ${String(error)}`);
  return result as T;
}
