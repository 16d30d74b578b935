// A tiny static server for examples/mobile/dist on 127.0.0.1: cross-origin isolated (COOP/COEP/CORP) so WASM threads work, and brotli/gzip copies made at build time sent by Accept-Encoding.
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

/** The precompressed copy to send for `file`, if the client takes it and the build made it. */
function encoded(file, accept) {
  const takes = (enc) => new RegExp(`(^|[,\\s])${enc}(;q=(?!0(\\.0*)?\\b)[0-9.]+)?(\\s*,|$)`).test(accept);
  if (takes('br') && existsSync(`${file}.br`)) return { path: `${file}.br`, encoding: 'br' };
  if (takes('gzip') && existsSync(`${file}.gz`)) return { path: `${file}.gz`, encoding: 'gzip' };
  return { path: file, encoding: undefined };
}

/**
 * Starts the server.
 *
 * @param {{ root?: string, port?: number, host?: string, log?: (line: string) => void, override?: (path: string) => { status?: number, body?: Uint8Array } | undefined }} options
 * @returns {Promise<import('./serve.d.mts').ExampleServer>}
 */
export async function serveExample(options = {}) {
  const root = options.root ?? join(dirname(fileURLToPath(import.meta.url)), 'dist');
  const requests = [];
  const responses = [];
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
      Vary: 'Accept-Encoding',
    };
    const done = (status, bytes, encoding) =>
      responses.push({ path, status, bytes, encoding, method: req.method ?? 'GET' });
    const forced = options.override?.(path);
    if (forced) {
      const body = forced.body ?? new Uint8Array(0);
      res.writeHead(forced.status ?? 200, {
        ...headers,
        'Content-Type': MIME[extname(path)] ?? 'application/octet-stream',
        'Content-Length': body.byteLength,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
      done(forced.status ?? 200, req.method === 'HEAD' ? 0 : body.byteLength, undefined);
      return;
    }
    let file = normalize(join(root, path.endsWith('/') ? `${path}index.html` : path));
    if (file !== root && !file.startsWith(root + sep)) file = '';
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'Content-Type': 'text/plain' });
      res.end('not found');
      done(404, 9, undefined);
      return;
    }
    const send = encoded(file, String(req.headers['accept-encoding'] ?? ''));
    const size = statSync(send.path).size;
    res.writeHead(200, {
      ...headers,
      'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
      'Content-Length': size,
      ...(send.encoding ? { 'Content-Encoding': send.encoding } : {}),
    });
    if (req.method === 'HEAD') {
      res.end();
      done(200, 0, send.encoding);
      return;
    }
    createReadStream(send.path).pipe(res);
    done(200, size, send.encoding);
  });
  server.listen(options.port ?? 0, options.host ?? '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const port = server.address().port;
  return {
    origin: `http://${options.host ?? '127.0.0.1'}:${port}`,
    port,
    requests,
    responses,
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
  console.log(`edgetune mobile example on ${s.origin}/ (cross-origin isolated, brotli/gzip). Ctrl-C to stop.`);
}
