// Page-side half of the browser test harness: publish a page's result for `pageResult` in harness.ts, and helpers the pages share.
import { isEdgetuneError } from '../../src/core/errors.js';

/** Runs `fn` and publishes its value (or error) on `window.__result` / `window.__error`. */
export function report(fn: () => Promise<unknown>): void {
  const w = globalThis as unknown as { __result?: unknown; __error?: unknown };
  fn().then(
    (v) => {
      w.__result = v;
    },
    (e: unknown) => {
      w.__error = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
    },
  );
}

/** Settles `p` and names the outcome: `'resolved'`, an EdgetuneError's `code`, or `name: message` of any other error. */
export async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    return isEdgetuneError(e) ? e.code : `${(e as Error)?.name}: ${(e as Error)?.message}`;
  }
}

/** The checked-in Fashion-MNIST test sample as served by the test server: 784 bytes per image, and one label byte each. */
export async function fetchSample(): Promise<{ images: Uint8Array; labels: Uint8Array }> {
  const res = await fetch('/models/data/fmnist-test-5000.images.u8.gz');
  const images = new Uint8Array(
    await new Response(res.body!.pipeThrough(new DecompressionStream('gzip'))).arrayBuffer(),
  );
  const labels = new Uint8Array(await (await fetch('/models/data/fmnist-test-5000.labels.u8')).arrayBuffer());
  return { images, labels };
}
