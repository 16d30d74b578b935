// Warm-up at open: runs the model on a canary until WebAssembly has tiered up (V8 first runs code from its fast baseline compiler and swaps in optimised code compiled in the background), so the first user-facing embeds run at steady speed.
import { EdgetuneError, throwIfAborted } from '../core/errors.js';

/** How {@link Encoder.open} warms the model up: `'auto'` (until tier-up is past, within a budget), or an exact number of batch-1 runs. */
export type WarmupOption = 'auto' | number | { readonly budgetMs: number };

/** What the warm-up did, in {@link EncoderDiagnostics}. */
export interface WarmupReport {
  /** Batch-1 runs made. */
  readonly runs: number;
  /** Wall time spent, ms. */
  readonly ms: number;
  /** First run, ms: far above `lastMs` means the warm-up absorbed a tier-up. */
  readonly firstMs: number;
  /** Last run, ms. */
  readonly lastMs: number;
  /** Why it stopped: `'steady'`, `'budget'` (time ran out first) or `'count'` (a fixed number was asked for). */
  readonly stopped: 'steady' | 'budget' | 'count';
}

function quantile(v: readonly number[], q: number): number {
  const s = [...v].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))]!;
}

/** Default time budget of `'auto'`, ms. */
export const WARMUP_BUDGET_MS = 2000;

/**
 * Runs `once` until the run time settles. "Settled" = the median of the last five runs is within 2×
 * of the lower quartile of all runs, and either that quartile is at most a third of the first run (a
 * tier-up happened) or, after eight runs, the median run is within 2× of it (the code was already
 * warm, e.g. a second encoder in the same page). The budget caps the cost on a slow or loaded device.
 * Limitation: a long flat stretch on baseline code before the optimised code arrives reads as settled.
 *
 * @param once - one batch-1 inference (its output is checked by the caller)
 * @param option - `'auto'`, `{ budgetMs }` or a fixed run count
 * @param signal - checked between runs
 * @defaultValue option `'auto'` with a {@link WARMUP_BUDGET_MS} budget
 */
export async function warmUp(
  once: () => Promise<unknown>,
  option: WarmupOption = 'auto',
  signal?: AbortSignal,
): Promise<WarmupReport> {
  const t0 = performance.now();
  const times: number[] = [];
  const timed = async (): Promise<void> => {
    if (times.length > 0) throwIfAborted(signal);
    const s = performance.now();
    await once();
    times.push(performance.now() - s);
  };
  const report = (stopped: WarmupReport['stopped']): WarmupReport => ({
    runs: times.length,
    ms: performance.now() - t0,
    firstMs: times[0] ?? 0,
    lastMs: times[times.length - 1] ?? 0,
    stopped,
  });
  if (typeof option === 'number') {
    for (let i = 0; i < option; i++) await timed();
    return report('count');
  }
  const budget = option === 'auto' ? WARMUP_BUDGET_MS : option.budgetMs;
  await timed();
  while (performance.now() - t0 < budget) {
    // Optimised code is compiled on background threads: pausing as long as the last run took (at most
    // 50 ms) leaves them a core on a small device instead of competing with more baseline runs.
    await new Promise((r) => setTimeout(r, Math.min(50, times[times.length - 1]!)));
    await timed();
    if (times.length < 5) continue;
    // Quartiles and medians, not min and max: one run the scheduler delayed (or a lucky fast one)
    // must not keep a warm model spinning to the budget.
    const fast = quantile(times, 0.25);
    if (quantile(times.slice(-5), 0.5) > 2 * fast) continue;
    if (fast <= times[0]! / 3) return report('steady');
    if (times.length >= 8 && quantile(times.slice(1), 0.5) <= 2 * fast) return report('steady');
  }
  return report('budget');
}

/**
 * Throws `INVALID_ARGUMENT` unless `option` is `'auto'`, a whole number of runs ≥ 1 (one run is the
 * load-time NaN check) or `{ budgetMs }` with a finite budget ≥ 0.
 *
 * @param option - the `warmup` option as passed
 */
export function checkWarmup(option: unknown): asserts option is WarmupOption | undefined {
  if (option === undefined || option === 'auto') return;
  if (typeof option === 'number' && Number.isInteger(option) && option >= 1) return;
  if (typeof option === 'object' && option !== null) {
    const b = (option as { budgetMs?: unknown }).budgetMs;
    if (typeof b === 'number' && Number.isFinite(b) && b >= 0) return;
  }
  throw new EdgetuneError(
    'INVALID_ARGUMENT',
    `warmup must be 'auto', a whole number of runs >= 1, or { budgetMs: number >= 0 } (got ${JSON.stringify(option)}).`,
    { details: { field: 'warmup', value: option } },
  );
}
