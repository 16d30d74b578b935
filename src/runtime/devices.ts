// The devices an encoder can run on, and how 'auto' or an app's preference resolves to an ordered list.
import { EdgetuneError } from '../core/errors.js';
import type { DeviceAttempt } from './encoder.js';

/** Every device edgetune can run a model on, fastest-first in the default order. */
export const DEVICES = Object.freeze({
  /** WebNN on the neural processing unit. */
  'webnn-npu': 'webnn-npu',
  /** WebNN on the GPU. */
  'webnn-gpu': 'webnn-gpu',
  /** WebGPU compute shaders. */
  webgpu: 'webgpu',
  /** WebAssembly on the CPU (SIMD; threads when cross-origin isolated). Works everywhere. */
  wasm: 'wasm',
} as const);

/** A device name. */
export type Device = keyof typeof DEVICES;

/** What an app may ask for: `'auto'`, one device, or its own order. */
export type DevicePreference = 'auto' | Device | readonly Device[];

/** The order `'auto'` tries, from the most to the least specialised. */
export const AUTO_ORDER: readonly Device[] = Object.freeze(['webnn-npu', 'webnn-gpu', 'webgpu', 'wasm']);

/** True when `value` is a known device name. */
export function isDevice(value: unknown): value is Device {
  return typeof value === 'string' && Object.hasOwn(DEVICES, value);
}

/**
 * Resolves a preference to an ordered, de-duplicated device list.
 *
 * @param pref - `'auto'`, a device, or a list of devices
 * @throws EdgetuneError `INVALID_ARGUMENT` listing the valid names for an unknown one
 */
export function resolveDevices(pref: DevicePreference = 'auto'): Device[] {
  const list = pref === 'auto' ? [...AUTO_ORDER] : typeof pref === 'string' ? [pref] : [...pref];
  for (const d of list) {
    if (!isDevice(d)) {
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `Unknown device ${JSON.stringify(d)}; use 'auto' or one of: ${Object.keys(DEVICES).join(', ')}.`,
        {
          details: { device: d },
        },
      );
    }
  }
  if (list.length === 0)
    throw new EdgetuneError('INVALID_ARGUMENT', "The device list is empty; use 'auto' or name at least one device.");
  return [...new Set(list)];
}

/** How {@link Encoder.open} came to run where it runs (`diagnostics.choice`). */
export interface DeviceChoice {
  /**
   * `'measured'`: every viable accelerator was timed against WASM on the canary in this open and the
   * fastest won; `'remembered'`: an earlier open's decision for this browser and model, read from the
   * `cache` storage (nothing probed, compiled or timed but the chosen device); `'only'`: one device
   * was viable, nothing to compare.
   */
  readonly how: 'measured' | 'remembered' | 'only';
  /** Fastest batch-1 canary time per device timed, ms (WASM timed past its tier-up). */
  readonly timings: Readonly<Partial<Record<Device, number>>>;
  /** Why this device, in words. */
  readonly reason: string;
  /** When the decision was measured (ISO 8601). */
  readonly measuredAt: string;
  /** Whether the decision is stored for later opens (`cache` with a `meta` store). */
  readonly saved: boolean;
}

/**
 * Where decisions are remembered: the `meta` key-value store of an `edgetune/storage` profile, found
 * on the `cache` the open was given. It keeps a plain record; it knows nothing of models or devices.
 */
export interface ChoiceStore {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<unknown>;
}

/** The `meta` store of a cache object, when it has one. */
export function choiceStoreOf(cache: unknown): ChoiceStore | undefined {
  const meta = (cache as { meta?: Partial<ChoiceStore> } | null | undefined)?.meta;
  return typeof meta?.get === 'function' && typeof meta.set === 'function' ? (meta as ChoiceStore) : undefined;
}

/** The record an open stores under {@link choiceKey}. */
export interface RememberedChoice {
  readonly v: 1;
  readonly sha256: string;
  /** Browser, adapter, isolation and thread setting the decision was measured under. */
  readonly platform: string;
  /** The device list (after `'auto'` resolved) and software-GPU setting it chose among. */
  readonly devices: string;
  readonly device: Device;
  readonly timings: Readonly<Partial<Record<Device, number>>>;
  readonly reason: string;
  readonly measuredAt: string;
}

/** Meta key of a model's remembered decision. */
export function choiceKey(modelId: string): string {
  return `edgetune.device-choice/${modelId}`;
}

/**
 * The stored decision for this model, when it was measured on the same browser and adapter, the same
 * model bytes and the same device list; anything else (or a damaged record) means measure again.
 */
export async function recallChoice(
  store: ChoiceStore,
  modelId: string,
  want: Pick<RememberedChoice, 'sha256' | 'platform' | 'devices'>,
): Promise<RememberedChoice | undefined> {
  let rec: Partial<RememberedChoice> | undefined;
  try {
    rec = (await store.get(choiceKey(modelId))) as Partial<RememberedChoice> | undefined;
  } catch {
    return undefined;
  }
  if (
    typeof rec !== 'object' ||
    rec === null ||
    rec.v !== 1 ||
    rec.sha256 !== want.sha256 ||
    rec.platform !== want.platform ||
    rec.devices !== want.devices ||
    !isDevice(rec.device) ||
    typeof rec.reason !== 'string' ||
    typeof rec.measuredAt !== 'string'
  )
    return undefined;
  return rec as RememberedChoice;
}

/** How many WASM threads the runtime uses and why (`diagnostics.threads`). */
export interface ThreadChoice {
  /** WASM threads the runtime runs with. */
  readonly threads: number;
  /**
   * `'set'`: `env.numThreads`; `'fixed'`: nothing to choose (no cross-origin isolation, one core, Node,
   * or the runtime was already loaded); `'trial'`: this page load times a count not measured yet
   * (all cores first, then 1); `'measured'`: the faster of the counts timed on earlier page loads.
   */
  readonly how: 'set' | 'fixed' | 'trial' | 'measured';
  /** Fastest batch-4 canary time per thread count timed so far for this model, ms. */
  readonly timings: Readonly<Record<number, number>>;
  /** Why this count, in words. */
  readonly reason: string;
}

/** Meta key of the WASM thread trials (one record per origin; per model inside). */
export const THREADS_KEY = 'edgetune.wasm-threads';

/**
 * Whether a meta key holds what the runtime measured on this device (device choice, WASM thread
 * trials): it describes the device, not the user's learning, so profile exports leave it out.
 */
export function isDeviceLocalKey(key: string): boolean {
  return key === THREADS_KEY || key.startsWith(choiceKey(''));
}

interface ThreadRecord {
  readonly v: 1;
  readonly platform: string;
  readonly trials: Record<string, Record<number, number>>;
}

async function readThreads(store: ChoiceStore, platform: string): Promise<ThreadRecord> {
  const rec = (await store.get(THREADS_KEY).catch(() => undefined)) as Partial<ThreadRecord> | undefined;
  return rec?.v === 1 && rec.platform === platform && typeof rec.trials === 'object' && rec.trials !== null
    ? (rec as ThreadRecord)
    : { v: 1, platform, trials: {} };
}

/**
 * Plans the WASM thread count of a page that may use threads: the default count (all cores, up to 4)
 * on the first load, 1 on the next, then whichever ran the canary faster. ORT fixes the count when it
 * loads, so one page load can time only one count; the trials are remembered in `store`.
 *
 * @param store - the cache's meta store
 * @param platform - the platform fingerprint (a change restarts the trials)
 * @param modelId - whose trials decide
 * @param candidates - the counts to compare, e.g. `[4, 1]` (one count: nothing to choose)
 * @param loadedWith - the count of an already loaded runtime (then no choice is left)
 */
export async function planWasmThreads(
  store: ChoiceStore,
  platform: string,
  modelId: string,
  candidates: readonly number[],
  loadedWith: number | undefined,
): Promise<ThreadChoice & { readonly trial: boolean }> {
  const timings = (await readThreads(store, platform)).trials[modelId] ?? {};
  const pending = candidates.find((n) => timings[n] === undefined);
  if (loadedWith !== undefined)
    return {
      threads: loadedWith,
      how: 'fixed',
      timings,
      reason: `the runtime was already loaded with ${loadedWith} thread(s) in this page`,
      trial: timings[loadedWith] === undefined && candidates.includes(loadedWith),
    };
  if (pending !== undefined)
    return {
      threads: pending,
      how: 'trial',
      timings,
      reason: `timing ${pending} thread(s) on this page load (${candidates.join(' vs ')} are compared across loads)`,
      trial: true,
    };
  const best = [...candidates].sort((a, b) => timings[a]! - timings[b]!)[0]!;
  return {
    threads: best,
    how: 'measured',
    timings,
    reason: `${best} thread(s) ran the canary fastest: ${candidates.map((n) => `${n}: ${timings[n]!.toFixed(2)} ms`).join(', ')}`,
    trial: false,
  };
}

/** Stores one thread-count trial (fastest canary ms) for `modelId`. */
export async function recordWasmThreads(
  store: ChoiceStore,
  platform: string,
  modelId: string,
  threads: number,
  ms: number,
): Promise<void> {
  const rec = await readThreads(store, platform);
  const trials = { ...rec.trials, [modelId]: { ...rec.trials[modelId], [threads]: ms } };
  await store.set(THREADS_KEY, { v: 1, platform, trials } satisfies ThreadRecord).catch(() => undefined);
}

/** `ms` in a short human form. */
export function fmtMs(ms: number): string {
  return `${ms < 10 ? ms.toFixed(2) : ms.toFixed(0)} ms`;
}

/**
 * The choice record for diagnostics, stored for later opens when it was made in this open and nothing
 * failed transiently (a failed session creation may succeed next time).
 *
 * @param device - the chosen device
 * @param attempts - every device's outcome in this open
 * @param timings - canary times measured in this open
 * @param remembered - the stored decision this open followed, if any
 * @param store - where to store a new decision
 * @param want - the record's identity (model sha256, platform, device list)
 * @param modelId - the model's id
 */
export async function decide(
  device: Device,
  attempts: readonly DeviceAttempt[],
  timings: Partial<Record<Device, number>>,
  remembered: RememberedChoice | undefined,
  store: ChoiceStore | undefined,
  want: Pick<RememberedChoice, 'sha256' | 'platform' | 'devices'> | undefined,
  modelId: string,
): Promise<DeviceChoice> {
  if (remembered?.device === device)
    return {
      how: 'remembered',
      timings: remembered.timings,
      reason: `remembered from an earlier open (${remembered.measuredAt}) on this browser and model: ${remembered.reason}`,
      measuredAt: remembered.measuredAt,
      saved: true,
    };
  const others = attempts.filter((a) => a.device !== device && a.status !== 'skipped');
  const timed = Object.keys(timings).length > 1;
  const reason = timed
    ? device === 'wasm'
      ? `WASM ran the batch-1 canary in ${fmtMs(timings.wasm!)}; ${others
          .filter((a) => a.status === 'slower')
          .map((a) => `${a.device} took ${fmtMs(a.ms!)}`)
          .join(', ')}`
      : `${device} ran the batch-1 canary in ${fmtMs(timings[device]!)} against WASM's ${fmtMs(timings.wasm!)}`
    : `the only viable device${others.length ? ` (${others.map((a) => `${a.device}: ${a.reason ?? a.status}`).join('; ')})` : ''}`;
  const measuredAt = new Date().toISOString();
  let saved = false;
  if (store && want && !attempts.some((a) => a.status === 'failed')) {
    const rec: RememberedChoice = { v: 1, ...want, device, timings, reason, measuredAt };
    saved = await store.set(choiceKey(modelId), rec).then(
      () => true,
      () => false,
    );
  }
  return { how: timed ? 'measured' : 'only', timings, reason, measuredAt, saved };
}
