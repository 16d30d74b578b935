// The Encoder: opens a model, picks a device through the fallback chain with a self-check, and embeds images in batches.
import { EdgetuneError, isEdgetuneError, throwIfAborted, yieldToEventLoop, type ErrorCode } from '../core/errors.js';
import { onnxBackend, ortThreads } from './backends/onnx.js';
import { findBackend, hasBackendFor, registerBackend } from './backends/registry.js';
import type { Backend, BackendSession } from './backends/types.js';
import {
  choiceStoreOf,
  decide,
  fmtMs,
  planWasmThreads,
  recallChoice,
  recordWasmThreads,
  resolveDevices,
  type Device,
  type RememberedChoice,
  type ThreadChoice,
} from './devices.js';
import { defaultThreads, isNode, threadPlan } from './platform.js';
import { env } from './env.js';
import { platformFingerprint, softwareWebGPU } from './gpu-adapter.js';
import { abortPoint, Owned, untilAborted } from './guard.js';
import type { ModelManifest } from './manifest.js';
import { heartbeat } from './heartbeat.js';
import { assertInputList, type MAX_INPUT_PIXELS } from './inputs.js';
import { adaptSession, forRuntime } from './pooling.js';
import { preprocessBatch, type ImageInput } from './preprocess.js';
import { batchCosines, canaryInputs, timeCanary } from './selfcheck.js';
import { loadModel, type ModelSource } from './source.js';
import type { DeviceAttempt, EmbedOptions, EncoderDiagnostics, EncoderOptions } from './encoder-options.js';
import { checkWarmup, warmUp, type WarmupReport } from './warmup.js';

export type {
  DeviceAttempt,
  EmbedOptions,
  EncoderDiagnostics,
  EncoderOptions,
  LoadProgress,
  SelfCheckOptions,
} from './encoder-options.js';

let builtinsRegistered = false;
function ensureBuiltins(): void {
  if (builtinsRegistered) return;
  builtinsRegistered = true;
  registerBackend(onnxBackend, 0);
}

/**
 * An accelerator is passed over when its canary takes more than this many times WASM's, and more than
 * {@link SLOWER_BY_MS} longer (below that, the difference is scheduling noise and means nothing to a user).
 */
const SLOWER_THAN_WASM = 1.25;
const SLOWER_BY_MS = 0.5;

/** Session-creation failures that no other device would fix (or that the caller asked for). */
const FATAL_AT_CREATE: ReadonlySet<ErrorCode> = new Set(['MODEL_CORRUPT', 'MANIFEST_INVALID', 'ABORTED']);

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function assertFinite(data: Float32Array, manifest: ModelManifest, device: Device): void {
  for (let k = 0; k < data.length; k++) {
    if (!Number.isFinite(data[k]!)) {
      throw new EdgetuneError(
        'NON_FINITE',
        `Model ${manifest.id} on ${device} produced ${data[k]} at output index ${k}; the model or the backend is broken for this input.`,
        { details: { device, index: k } },
      );
    }
  }
}

/**
 * An SSL encoder opened on the best available device: images in, one embedding per image out.
 *
 * @example
 * ```ts
 * await using enc = await Encoder.open('/models/fmnist-cnn-simclr-int8.json');
 * const [e] = await enc.embed([imageData]);
 * console.log(enc.device, e.length);
 * ```
 */
export class Encoder {
  readonly #manifest: ModelManifest;
  readonly #session: BackendSession;
  readonly #diagnostics: EncoderDiagnostics;
  readonly #normalize: boolean;
  readonly #batchSize: number;
  #queue: Promise<unknown> = Promise.resolve();
  #disposed = false;

  private constructor(
    manifest: ModelManifest,
    session: BackendSession,
    diagnostics: EncoderDiagnostics,
    normalize: boolean,
    batchSize: number,
  ) {
    this.#manifest = manifest;
    this.#session = session;
    this.#diagnostics = diagnostics;
    this.#normalize = normalize && !manifest.output.normalized;
    this.#batchSize = batchSize;
  }

  /**
   * Opens a model: loads and verifies its bytes, then walks the device list, recording why each
   * device that cannot serve it was passed over.
   *
   * @param source - manifest URL, `{ manifest, bytes }`, or `{ cache, id }`
   * @param options - device, self-check, batching, cache, signal and progress
   * @throws EdgetuneError `MANIFEST_INVALID`, `MODEL_NOT_FOUND`, `CHECKSUM_MISMATCH`, `MODEL_CORRUPT`,
   *   `UNSUPPORTED_OP`, `BACKEND_UNAVAILABLE` (with every device's reason in `details.attempts`), `ABORTED`
   */
  static async open(source: ModelSource, options: EncoderOptions = {}): Promise<Encoder> {
    options ??= {};
    const beat = heartbeat(options.onProgress);
    try {
      return await Encoder.#open(source, beat.emit ? { ...options, onProgress: beat.emit } : options);
    } finally {
      beat.stop();
    }
  }

  static async #open(source: ModelSource, options: EncoderOptions): Promise<Encoder> {
    ensureBuiltins();
    const t0 = performance.now();
    const devices = resolveDevices(options.device ?? 'auto');
    const allowSoftwareGpu = options.softwareGpu ?? (options.device !== undefined && options.device !== 'auto');
    const batchSize = options.batchSize ?? 16;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new EdgetuneError('INVALID_ARGUMENT', `batchSize must be a positive integer (got ${batchSize}).`);
    checkWarmup(options.warmup);
    const check =
      options.selfCheck === false
        ? false
        : {
            threshold: 0.99,
            samples: 4,
            ...(options.selfCheck === true || options.selfCheck === undefined ? {} : options.selfCheck),
          };
    if (check && (typeof check.threshold !== 'number' || !(check.threshold >= -1 && check.threshold <= 1)))
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `selfCheck.threshold must be a cosine in [-1, 1] (got ${String(check.threshold)}).`,
        { details: { option: 'selfCheck.threshold' } },
      );
    if (check && (!Number.isInteger(check.samples) || check.samples < 1 || check.samples > 64))
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `selfCheck.samples must be an integer from 1 to 64 (got ${String(check.samples)}).`,
        { details: { option: 'selfCheck.samples' } },
      );
    const { signal, onProgress } = options;
    const model = await loadModel(source, {
      signal,
      onProgress,
      cache: options.cache,
      fetch: options.fetch,
      resolveFile: options.resolveFile,
      modelBaseUrl: options.modelBaseUrl,
    });
    const { bytes } = model;
    // Backends see concrete spatial sizes; pooling and fixed batches are handled by adaptSession.
    const manifest = forRuntime(model.manifest);
    if (!hasBackendFor(manifest.format)) {
      throw new EdgetuneError(
        'BACKEND_UNAVAILABLE',
        `No backend is registered for ${manifest.format} models; ${manifest.format === 'tflite' ? "call registerTfliteBackend() from 'edgetune/runtime' first (browser only)" : 'this should not happen'}.`,
        { details: { format: manifest.format } },
      );
    }
    // Verification hashed the bytes: an abort during it lands here.
    await abortPoint(signal);

    // Every session this call creates is freed on every way out except the one handed to the caller.
    const owned = new Owned<BackendSession>();
    const create = (backend: Backend, device: Device): Promise<BackendSession> =>
      untilAborted(backend.createSession({ bytes, manifest, device, signal }), signal, (late) => late.dispose()).then(
        (s) => owned.add(adaptSession(s, manifest)),
      );
    const attempts: DeviceAttempt[] = [];
    // Device choice by speed, remembered per browser + model in the cache's meta store (see devices.ts).
    const store =
      devices.length > 1 ? choiceStoreOf(options.cache ?? (source as { cache?: unknown }).cache) : undefined;
    const want = store && {
      sha256: manifest.sha256,
      platform: await platformFingerprint(env.numThreads ?? 'default'),
      devices: `${devices.join(',')}${allowSoftwareGpu ? ' +software-gpu' : ''}`,
    };
    let remembered: RememberedChoice | undefined = want && (await recallChoice(store, manifest.id, want));
    const order = remembered ? [remembered.device, ...devices.filter((d) => d !== remembered!.device)] : devices;
    // WASM threads on an isolated multi-core page: trials across page loads, remembered beside the device choice.
    let threads: (ThreadChoice & { readonly trial: boolean }) | undefined;
    if (store && want && devices.includes('wasm') && !isNode()) {
      if (env.numThreads !== undefined)
        threads = { threads: env.numThreads, how: 'set', timings: {}, reason: 'env.numThreads', trial: false };
      else if (defaultThreads() > 1) {
        threads = await planWasmThreads(store, want.platform, manifest.id, [defaultThreads(), 1], await ortThreads());
        if (threads.how !== 'fixed') threadPlan.count = threads.threads;
      }
    }
    const timings: Partial<Record<Device, number>> = {};
    // The batch-1 canary of the speed comparison, made only when an accelerator is timed.
    let canary1: Float32Array | undefined;
    const canaryOne = (): Float32Array =>
      (canary1 ??= preprocessBatch(canaryInputs(manifest.input, 1), manifest.input));
    let reference: { session: BackendSession; output?: Float32Array } | undefined;
    let chosen: { device: Device; backend: Backend; session: BackendSession } | undefined;
    try {
      const canaries = check ? preprocessBatch(canaryInputs(manifest.input, check.samples), manifest.input) : undefined;
      const referenceSession = async (): Promise<BackendSession> => {
        if (!reference) {
          const wasm = findBackend(manifest.format, 'wasm');
          if (!wasm)
            throw new EdgetuneError(
              'BACKEND_UNAVAILABLE',
              `No WASM backend for ${manifest.format} to self-check against.`,
            );
          reference = { session: await create(wasm, 'wasm') };
        }
        return reference.session;
      };
      const referenceOutput = async (): Promise<Float32Array> => {
        const session = await referenceSession();
        reference!.output ??= await session.run(canaries!, check ? check.samples : 0);
        return reference!.output;
      };
      for (const device of order) {
        await abortPoint(signal);
        if (chosen) {
          attempts.push({
            device,
            status: 'skipped',
            ...(remembered && { reason: 'a remembered decision chose another' }),
          });
          continue;
        }
        const fromMemory = remembered?.device === device;
        const backend = findBackend(manifest.format, device);
        if (!backend) {
          attempts.push({ device, status: 'unavailable', reason: `no ${manifest.format} backend serves ${device}` });
          continue;
        }
        const unavailable = fromMemory ? undefined : await backend.probe(device);
        await abortPoint(signal);
        if (unavailable !== undefined) {
          attempts.push({ device, status: 'unavailable', backend: backend.name, reason: unavailable });
          continue;
        }
        const software = device === 'webgpu' && !allowSoftwareGpu && !fromMemory ? await softwareWebGPU() : undefined;
        if (software !== undefined) {
          attempts.push({ device, status: 'unavailable', backend: backend.name, reason: software });
          continue;
        }
        onProgress?.({ phase: 'compile', device });
        let session: BackendSession;
        try {
          session =
            device === 'wasm' && reference && backend === findBackend(manifest.format, 'wasm')
              ? reference.session
              : await create(backend, device);
        } catch (err) {
          // These fail the same on every device (or were asked for): say so now instead of trying the rest.
          if (isEdgetuneError(err) && FATAL_AT_CREATE.has(err.code)) throw err;
          attempts.push({ device, status: 'failed', backend: backend.name, reason: message(err) });
          remembered = undefined;
          if (device === devices[devices.length - 1] && (err as EdgetuneError).code === 'UNSUPPORTED_OP') throw err;
          continue;
        }
        await abortPoint(signal);
        let verdict: { ok: boolean; cosine: number; reason?: string } | undefined;
        if (check && device !== 'wasm' && !fromMemory) {
          onProgress?.({ phase: 'selfcheck', device });
          try {
            const out = await session.run(canaries!, check.samples);
            const ref = await referenceOutput();
            if (out.length !== ref.length)
              verdict = {
                ok: false,
                cosine: Number.NaN,
                reason: `output length ${out.length} differs from WASM's ${ref.length}`,
              };
            else {
              const cos = Math.min(...batchCosines(out, ref, manifest.output.dim));
              verdict =
                Number.isFinite(cos) && cos >= check.threshold
                  ? { ok: true, cosine: cos }
                  : {
                      ok: false,
                      cosine: cos,
                      reason: `self-check failed: cosine ${cos.toFixed(5)} against WASM is below ${check.threshold}`,
                    };
            }
          } catch (err) {
            if (isEdgetuneError(err, 'ABORTED')) throw err;
            verdict = { ok: false, cosine: Number.NaN, reason: `self-check run failed: ${message(err)}` };
          }
          await abortPoint(signal);
          if (!verdict.ok) {
            await owned.release(session);
            attempts.push({
              device,
              status: 'rejected',
              backend: backend.name,
              reason: verdict.reason ?? 'self-check failed',
              cosine: verdict.cosine,
            });
            continue;
          }
        }
        const cosine = verdict?.cosine;
        if (check && device !== 'wasm' && !fromMemory && devices.includes('wasm')) {
          // Correct is not enough: a software or weak accelerator can be 100× slower than WASM. Time both (WASM
          // first and past its tier-up, as it runs after open's warm-up); keep the accelerator unless WASM is
          // clearly faster (an accelerator at about WASM's speed still leaves the CPU to the app).
          onProgress?.({ phase: 'selfcheck', device });
          let ms: number;
          try {
            if (timings.wasm === undefined) {
              const ref = await referenceSession();
              await warmUp(() => ref.run(canaryOne(), 1), 'auto', signal);
              timings.wasm = await timeCanary(() => ref.run(canaryOne(), 1));
              await abortPoint(signal);
            }
            ms = await timeCanary(() => session.run(canaryOne(), 1));
          } catch (err) {
            if (isEdgetuneError(err, 'ABORTED')) throw err;
            await owned.release(session);
            attempts.push({
              device,
              status: 'failed',
              backend: backend.name,
              reason: `timing run failed: ${message(err)}`,
            });
            continue;
          }
          await abortPoint(signal);
          timings[device] = ms;
          if (ms > SLOWER_THAN_WASM * timings.wasm && ms - timings.wasm > SLOWER_BY_MS) {
            await owned.release(session);
            attempts.push({
              device,
              status: 'slower',
              backend: backend.name,
              reason: `correct but slower: batch-1 canary ${fmtMs(ms)} against WASM's ${fmtMs(timings.wasm)} (${timings.wasm > 0 ? `${(ms / timings.wasm).toFixed(1)}×` : 'far'} slower)`,
              ...(cosine !== undefined && { cosine }),
              ms,
            });
            continue;
          }
        }
        attempts.push({
          device,
          status: 'ok',
          backend: backend.name,
          ...(cosine !== undefined && { cosine }),
          ...(timings[device] !== undefined && { ms: timings[device] }),
          ...(fromMemory && { reason: `remembered decision of ${remembered!.measuredAt}` }),
        });
        chosen = { device, backend, session };
      }
      if (reference && reference.session !== chosen?.session) await owned.release(reference.session);
      if (!chosen) {
        const summary = attempts.map((a) => `${a.device}: ${a.reason ?? a.status}`).join('; ');
        throw new EdgetuneError('BACKEND_UNAVAILABLE', `No device could run ${manifest.id}. ${summary}`, {
          details: { attempts },
        });
      }
      const choice = await decide(chosen.device, attempts, timings, remembered, store, want, manifest.id);
      onProgress?.({ phase: 'warmup', device: chosen.device });
      const encoder = new Encoder(
        manifest,
        chosen.session,
        {
          modelId: manifest.id,
          device: chosen.device,
          backend: `${chosen.backend.name}/${chosen.device}`,
          attempts,
          selfCheck: check,
          origin: model.origin,
          loadMs: 0,
          choice,
        },
        options.normalize ?? true,
        batchSize,
      );
      // Warm-up compiles kernels now, not on the user's first tap (past WebAssembly tier-up, see warmup.ts); its output
      // doubles as a NaN and output.dim check. On failure the session is released by `owned` below.
      const canary = preprocessBatch(canaryInputs(manifest.input, 1), manifest.input);
      (encoder.#diagnostics as { warmup?: WarmupReport }).warmup = await warmUp(
        () => encoder.#runBatch(canary, 1),
        options.warmup,
        signal,
      );
      await abortPoint(signal);
      if (threads && chosen.device === 'wasm' && chosen.backend === onnxBackend) {
        const used = (await ortThreads()) ?? threads.threads;
        let t = threads.timings;
        if (threads.trial && used === threads.threads) {
          const canary4 = preprocessBatch(canaryInputs(manifest.input, 4), manifest.input);
          const ms = await timeCanary(() => encoder.#runBatch(canary4, 4), 7, 1000);
          await recordWasmThreads(store!, want!.platform, manifest.id, used, ms);
          t = { ...t, [used]: ms };
        }
        const { trial: _, ...rest } = threads;
        (encoder.#diagnostics as { threads?: ThreadChoice }).threads = { ...rest, threads: used, timings: t };
      }
      owned.keep(chosen.session);
      (encoder.#diagnostics as { loadMs: number }).loadMs = performance.now() - t0;
      onProgress?.({ phase: 'ready', device: chosen.device });
      return encoder;
    } finally {
      await owned.releaseAll();
    }
  }

  /** The model's manifest. */
  get manifest(): ModelManifest {
    return this.#manifest;
  }

  /** The device that runs the model, e.g. `'wasm'` (the runtime and device together: `diagnostics.backend`). */
  get device(): Device {
    return this.#diagnostics.device;
  }

  /**
   * The device that runs the model.
   * @deprecated Use {@link Encoder.device}: `backend` here meant the device, while `diagnostics.backend` names the
   * runtime and device (`'onnxruntime-web/wasm'`). Kept for 0.1 apps; removed in the next minor version.
   */
  get backend(): Device {
    return this.#diagnostics.device;
  }

  /** Embedding size. */
  get dim(): number {
    return this.#manifest.output.dim;
  }

  /** Which device runs the model and why the others were passed over. */
  get diagnostics(): EncoderDiagnostics {
    return this.#diagnostics;
  }

  #assertOpen(): void {
    if (this.#disposed)
      throw new EdgetuneError('DISPOSED', `Encoder for ${this.#manifest.id} was disposed; open a new one.`);
  }

  async #runBatch(input: Float32Array, batch: number): Promise<Float32Array> {
    const out = await this.#session.run(input, batch);
    if (out.length !== batch * this.#manifest.output.dim) {
      throw new EdgetuneError(
        'MANIFEST_INVALID',
        `Model ${this.#manifest.id} returned ${out.length / batch} values per input but the manifest's output.dim is ${this.#manifest.output.dim}.`,
        { details: { field: 'output.dim' } },
      );
    }
    assertFinite(out, this.#manifest, this.#diagnostics.device);
    return out;
  }

  /**
   * Embeds images, one `Float32Array` of `dim` values per input (L2-normalised unless disabled).
   * Calls are queued: the runtime runs one batch at a time.
   *
   * @param inputs - an array of images of any supported kind and size (resized per the manifest);
   *   one image still goes in brackets (`embed([img])`): anything but a dense array is `INPUT_TYPE`.
   *   Raw pixels and `ImageData` are capped at {@link MAX_INPUT_PIXELS} pixels (`INPUT_SHAPE` past it).
   * @throws EdgetuneError `INPUT_TYPE`, `INPUT_SHAPE`, `NON_FINITE`, `DISPOSED`, `ABORTED`
   */
  async embed(inputs: readonly ImageInput[], options: EmbedOptions = {}): Promise<Float32Array[]> {
    // async, so a disposed encoder rejects rather than throws synchronously (as through a worker).
    this.#assertOpen();
    assertInputList(inputs);
    options ??= {};
    const job = this.#queue.then(async () => {
      this.#assertOpen();
      const dim = this.#manifest.output.dim;
      const result: Float32Array[] = [];
      for (let start = 0; start < inputs.length; start += this.#batchSize) {
        // With a signal, let an abort (e.g. forwarded from the page to a worker) be delivered between batches.
        if (options.signal && start > 0) await yieldToEventLoop();
        throwIfAborted(options.signal);
        const chunk = inputs.slice(start, start + this.#batchSize);
        const tensor = preprocessBatch(chunk, this.#manifest.input, start, {
          roi: options.roi,
          background: options.background,
        });
        const out = await this.#runBatch(tensor, chunk.length);
        for (let k = 0; k < chunk.length; k++) {
          const e = out.slice(k * dim, (k + 1) * dim);
          if (this.#normalize) normalizeInPlace(e);
          result.push(e);
        }
        options.onProgress?.({ phase: 'embed', done: result.length, total: inputs.length });
      }
      return result;
    });
    this.#queue = job.catch(() => undefined);
    return job;
  }

  /** Frees the runtime session. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.#disposed) return;
    this.#disposed = true;
    await this.#queue;
    await this.#session.dispose();
  }

  /** `await using enc = await Encoder.open(...)` disposes at scope end. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}

/** Scales `v` to unit L2 norm in place (a zero vector stays zero). */
export function normalizeInPlace(v: Float32Array): Float32Array {
  let s = 0;
  for (let k = 0; k < v.length; k++) s += v[k]! * v[k]!;
  if (s > 0) {
    const inv = 1 / Math.sqrt(s);
    for (let k = 0; k < v.length; k++) v[k] = v[k]! * inv;
  }
  return v;
}
