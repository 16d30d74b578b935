// Keeps long, silent load phases (compile, self-check, warm-up: up to a minute on a software GPU) visibly alive with periodic progress.

/** A phase event that may be repeated with the time spent in it so far. */
type Beating = { readonly phase: string; readonly elapsedMs?: number };

const SILENT_PHASES = new Set(['compile', 'selfcheck', 'warmup']);

/**
 * Wraps a progress callback: after a `compile`, `selfcheck` or `warmup` event, the same event is
 * repeated every `intervalMs` with `elapsedMs` until the next event or {@link stop}.
 *
 * @param onProgress - the app's callback (nothing happens without one)
 * @param intervalMs - repeat interval @defaultValue 1000
 */
export function heartbeat<P extends Beating>(
  onProgress: ((p: P) => void) | undefined,
  intervalMs = 1000,
): { emit: ((p: P) => void) | undefined; stop: () => void } {
  if (!onProgress) return { emit: undefined, stop: () => undefined };
  let timer: ReturnType<typeof setInterval> | undefined;
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  const emit = (p: P): void => {
    stop();
    onProgress(p);
    if (!SILENT_PHASES.has(p.phase)) return;
    const t0 = performance.now();
    timer = setInterval(() => {
      try {
        onProgress({ ...p, elapsedMs: Math.round(performance.now() - t0) });
      } catch {
        // A throw from a timer would be an uncaught exception (it crashes Node): the app's callback just stops beating.
        stop();
      }
    }, intervalMs);
    (timer as { unref?: () => void }).unref?.();
  };
  return { emit, stop };
}
