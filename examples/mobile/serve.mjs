// A tiny static server for examples/mobile/dist on 127.0.0.1, cross-origin isolated (COOP/COEP/CORP) so WASM threads work.
import { createReadStream, existsSync, statSync } from 'node:fs';
import http from 'node:http';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.gz': 'application/octet-stream',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
};

/**
 * Starts the server.
 *
 * @param {{ root?: string, port?: number, host?: string, log?: (line: string) => void }} options
 * @returns {Promise<{ origin: string, port: number, requests: string[], close(): Promise<void> }>}
 */
export async function serveExample(options = {}) {
  const root = options.root ?? join(dirname(fileURLToPath(import.meta.url)), 'dist');
  const requests = [];
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(path);
    options.log?.(`${req.method} ${path}`);
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      // Revalidate every time: the service worker, not the HTTP cache, is what keeps the app offline.
      'Cache-Control': 'no-cache',
    };
    let file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (file !== root && !file.startsWith(root + sep)) file = '';
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
      res.end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = server.address().port;
  return {
    origin: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    requests,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const port = Number(process.env.PORT ?? 8080);
  const root = join(dirname(fileURLToPath(import.meta.url)), 'dist');
  if (!existsSync(join(root, 'index.html'))) {
    console.error('examples/mobile/dist is missing: run `node examples/mobile/build.mjs` first.');
    process.exit(1);
  }
  const s = await serveExample({ port, log: process.env.VERBOSE ? (l) => console.log(l) : undefined });
  console.log(`edgetune mobile example on ${s.origin}/ (cross-origin isolated). Ctrl-C to stop.`);
}
