// Page-side half of the browser test harness: publish a page's result for `pageResult` in harness.ts.

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
