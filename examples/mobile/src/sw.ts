// Service worker of the mobile example: precaches every file of the build under a versioned cache and serves cache-first, so the app starts with the network off.

// The build replaces these with the file list and the content hash of the build.
declare const __PRECACHE__: string[];
declare const __VERSION__: string;

// The DOM lib has no service-worker types; these are the few members used here.
interface ExtendableEvent extends Event {
  waitUntil(p: Promise<unknown>): void;
}
interface FetchEvent extends ExtendableEvent {
  readonly request: Request;
  respondWith(r: Response | Promise<Response>): void;
}
interface SwScope {
  addEventListener(type: 'install' | 'activate', fn: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', fn: (e: FetchEvent) => void): void;
  addEventListener(type: 'message', fn: (e: MessageEvent) => void): void;
  skipWaiting(): Promise<void>;
  readonly clients: { claim(): Promise<void> };
  readonly registration: { readonly scope: string };
}

const sw = self as unknown as SwScope;
const PREFIX = 'edgetune-mobile-';
const CACHE = `${PREFIX}${__VERSION__}`;

sw.addEventListener('install', (e) => {
  e.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // `reload` skips the HTTP cache, so a new version never precaches a stale file.
      await cache.addAll(__PRECACHE__.map((u) => new Request(new URL(u, sw.registration.scope), { cache: 'reload' })));
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (e) => {
  e.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key.startsWith(PREFIX) && key !== CACHE) await caches.delete(key);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('message', (e) => {
  // The page asks which build is cached, to show "offline ready" with the version.
  if (e.data === 'version') (e.source as { postMessage(m: unknown): void } | null)?.postMessage({ version: __VERSION__, files: __PRECACHE__.length });
});

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== new URL(sw.registration.scope).origin) return;
  e.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      // Navigations (with any query string) get the app shell.
      const hit = req.mode === 'navigate' ? await cache.match(new URL('./', sw.registration.scope).href) : await cache.match(req, { ignoreSearch: true });
      if (hit) return hit;
      return fetch(req);
    })(),
  );
});
