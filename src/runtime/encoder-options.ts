// The Encoder's public contract: open options, load progress, per-call embed options and the diagnostics of where it runs.
import type { Device, DeviceChoice, DevicePreference, ThreadChoice } from './devices.js';
import type { Encoder } from './encoder.js';
import type { BackgroundReference, Rect } from './region.js';
import type { ResolveFile } from './resolve-file.js';
import type { DownloadProgress, LoadWarning, ModelCache, UpdateEvent } from './source.js';
import type { WarmupOption, WarmupReport } from './warmup.js';

/** Progress of {@link Encoder.open}, told apart by `phase`. */
export type LoadProgress =
  | DownloadProgress
  | LoadWarning
  | UpdateEvent
  | { readonly phase: 'verify'; readonly file: string }
  /** Compile, self-check and warm-up repeat every second with `elapsedMs` while they last. */
  | { readonly phase: 'compile'; readonly device: Device; readonly elapsedMs?: number }
  | { readonly phase: 'selfcheck'; readonly device: Device; readonly elapsedMs?: number }
  | { readonly phase: 'warmup'; readonly device: Device; readonly elapsedMs?: number }
  | { readonly phase: 'ready'; readonly device: Device };

/** Self-check settings. */
export interface SelfCheckOptions {
  /** Minimum per-sample cosine between the accelerator and WASM. @defaultValue 0.99 */
  readonly threshold?: number;
  /** Number of canary inputs. @defaultValue 4 */
  readonly samples?: number;
}

/** Options of {@link Encoder.open}. */
export interface EncoderOptions {
  /** `'auto'` (WebNN NPU → WebNN GPU → WebGPU → WASM), one device, or an ordered list. @defaultValue 'auto' */
  readonly device?: DevicePreference;
  /**
   * Compare an accelerator's output with WASM on canary inputs at load and fall back when they
   * disagree; then time both on a batch-1 canary and pass the accelerator over when it is more than
   * 1.25× (and 0.5 ms) slower than WASM (`status: 'slower'`). `false` turns both off. @defaultValue true
   */
  readonly selfCheck?: boolean | SelfCheckOptions;
  /**
   * Try a software (fallback) WebGPU adapter such as SwiftShader, which computes correctly but
   * ~200× slower than WASM. Passed over (and recorded in `diagnostics.attempts`) unless allowed;
   * allowed, it is still timed against WASM when WASM is in the list, and used only if not slower.
   * @defaultValue `false` with `device: 'auto'`; `true` when the app lists the devices itself
   */
  readonly softwareGpu?: boolean;
  /** L2-normalise embeddings (skipped when the model already does). @defaultValue true */
  readonly normalize?: boolean;
  /** Inputs per runtime call. @defaultValue 16 */
  readonly batchSize?: number;
  /**
   * Warm-up before `open` resolves. `'auto'` runs a batch-1 canary until WebAssembly has tiered up
   * (fresh pages otherwise run their first ~30-50 embeds on V8's baseline code, measured 10-70x
   * slower; see bench/README.md), capped at 2 s; a number runs exactly that many times;
   * `{ budgetMs }` sets the cap. What it cost is in `diagnostics.warmup`.
   * @defaultValue 'auto'
   */
  readonly warmup?: WarmupOption;
  /** With a URL source: read the model from here when present, store it after download. */
  readonly cache?: ModelCache;
  /** Custom fetch for URL sources. */
  readonly fetch?: typeof fetch;
  /**
   * With a URL source: opt-in to model files outside the manifest's directory or origin (e.g. a CDN).
   * @defaultValue the manifest's `file` must be a relative path inside the manifest's directory
   */
  readonly resolveFile?: ResolveFile;
  /**
   * With a URL or path source: the folder holding the model file, in place of the manifest's
   * directory (`file` is resolved and confined there). A string: the form that crosses to a Worker.
   * @defaultValue the manifest's directory
   */
  readonly modelBaseUrl?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: LoadProgress) => void;
}

/** What happened to one device in the fallback chain. */
export interface DeviceAttempt {
  readonly device: Device;
  /**
   * `ok`: chosen; `unavailable`: probe said no; `failed`: session creation failed; `rejected`: self-check disagreed;
   * `slower`: correct, but WASM ran the canary faster; `skipped`: not tried (an earlier device was chosen, or a
   * remembered decision named another one).
   */
  readonly status: 'ok' | 'unavailable' | 'failed' | 'rejected' | 'slower' | 'skipped';
  readonly backend?: string;
  readonly reason?: string;
  /** Minimum canary cosine against WASM, when the self-check ran. */
  readonly cosine?: number;
  /** Fastest batch-1 canary time, ms, when the device was timed against WASM. */
  readonly ms?: number;
}

/** Why the encoder runs where it runs. */
export interface EncoderDiagnostics {
  readonly modelId: string;
  readonly device: Device;
  readonly backend: string;
  readonly attempts: readonly DeviceAttempt[];
  readonly selfCheck: { readonly threshold: number; readonly samples: number } | false;
  readonly origin: 'url' | 'bytes' | 'cache';
  readonly loadMs: number;
  /** What the load-time warm-up did (set once `open` resolves). */
  readonly warmup?: WarmupReport;
  /** How the device was chosen: measured against WASM, remembered from an earlier open, or the only one viable. */
  readonly choice?: DeviceChoice;
  /** WASM threads and how their count was chosen (browser with a `cache` meta store; WASM chosen). */
  readonly threads?: ThreadChoice;
}

/** Per-call options of {@link Encoder.embed}. */
export interface EmbedOptions {
  readonly signal?: AbortSignal;
  /** Called after each batch with the number of inputs embedded so far. */
  readonly onProgress?: (p: { readonly phase: 'embed'; readonly done: number; readonly total: number }) => void;
  /** Region of interest (input pixels), e.g. the viewfinder box; the crop policy applies inside it. */
  readonly roi?: Rect;
  /** Empty-scene reference of a fixed camera (`createBackground`): crop to what differs from it. */
  readonly background?: BackgroundReference;
}
