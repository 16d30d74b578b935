// Service worker of the mobile example: precaches every file of the build under a versioned cache (the page waits for it on a first visit, so each file is downloaded once) and serves cache-first, so the app starts with the network off.

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
  readonly clients: {
    claim(): Promise<void>;
    matchAll(o: { includeUncontrolled: boolean }): Promise<Array<{ postMessage(m: unknown): void }>>;
  };
  readonly registration: { readonly scope: string };
}

const sw = self as unknown as SwScope;
const PREFIX = 'edgetune-mobile-';
const CACHE = `${PREFIX}${__VERSION__}`;

sw.addEventListener('install', (e) => {
  e.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      const total = __PRECACHE__.length;
      let done = 0;
      const tell = async (): Promise<void> => {
        for (const c of await sw.clients.matchAll({ includeUncontrolled: true }))
          c.postMessage({ type: 'precache', done, total });
      };
      // Two at a time keeps the progress moving without starving the page; `reload` skips the HTTP cache, so a new version never precaches a stale file.
      const queue = [...__PRECACHE__];
      const next = async (): Promise<void> => {
        for (let u = queue.shift(); u !== undefined; u = queue.shift()) {
          await cache.add(new Request(new URL(u, sw.registration.scope), { cache: 'reload' }));
          done++;
          await tell();
        }
      };
      await Promise.all([next(), next()]);
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
  if (e.data === 'claim') void sw.clients.claim();
  if (e.data === 'version')
    (e.source as { postMessage(m: unknown): void } | null)?.postMessage({
      version: __VERSION__,
      files: __PRECACHE__.length,
    });
});

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  if (req.method !== 'GET' || new URL(req.url).origin !== new URL(sw.registration.scope).origin) return;
  e.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      // Navigations (with any query string) get the app shell.
      const hit =
        req.mode === 'navigate'
          ? await cache.match(new URL('./', sw.registration.scope).href)
          : await cache.match(req, { ignoreSearch: true });
      if (hit) return hit;
      // A miss (a copy the app dropped as damaged, or a file of a newer build): fetch it and keep it for offline use.
      const res = await fetch(req);
      if (res.ok && req.mode !== 'navigate' && res.type === 'basic')
        await cache.put(req, res.clone()).catch(() => undefined);
      return res;
    })(),
  );
});
