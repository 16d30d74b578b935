// Classic-worker bootstrap: loads the module worker script with import(), so the worker keeps importScripts (which tfjs-tflite needs) and still runs ESM.
// The page passes the module's URL as ?module=…; the script tells the page when the API is exposed (or why it is not).

const scope = globalThis as unknown as {
  name?: string;
  location?: { href: string };
  postMessage?: (m: unknown) => void;
  document?: unknown;
};
if (
  typeof scope.document === 'undefined' &&
  typeof scope.postMessage === 'function' &&
  scope.location &&
  scope.name?.startsWith('edgetune')
) {
  const here = new URL(scope.location.href);
  const target = new URL(here.searchParams.get('module') ?? './worker-script.js', here);
  const post = scope.postMessage.bind(scope);
  import(/* @vite-ignore */ /* webpackIgnore: true */ target.href).then(
    () => post({ edgetuneWorker: 'ready' }),
    (err: unknown) =>
      post({
        edgetuneWorker: 'failed',
        message: `${target.href}: ${err instanceof Error ? err.message : String(err)}`,
      }),
  );
}

export {};
