// Public types of the personalizer: options, results, events and the one Personalizer interface shared by the in-thread and the worker implementation.
import type { OperationOptions } from '../core/options.js';
import type { AdaptResult, LearnerEvent, LearnerOptions, LearnerStats } from '../finetune/learner.js';
import type { DevicePreference } from '../runtime/devices.js';
import type { EncoderDiagnostics, LoadProgress } from '../runtime/encoder.js';
import type { ModelManifest } from '../runtime/manifest.js';
import type { ImageInput } from '../runtime/preprocess.js';
import type { BackgroundOptions, Rect } from '../runtime/region.js';
import type { ImportOptions, StorageOptions } from '../storage/types.js';
import type { EdgetuneWorker, StartWorkerOptions } from '../worker/client.js';

/** Where the personalizer's encoder comes from. */
export type PersonalizerModel =
  /** URL of a model manifest; the model is cached in the profile on first open and opened offline afterwards. */
  | string
  | URL
  /** A manifest and the model bytes (cached in the profile too). */
  | { readonly manifest: unknown; readonly bytes: Uint8Array | ArrayBuffer }
  /** A model already cached in the profile, by its manifest id. */
  | { readonly id: string };

/** Where the personalizer keeps what it learns: a profile name, storage options, or `false` for memory only. */
export type PersonalizerStorage = false | string | StorageOptions;

/** Progress of {@link openPersonalizer}, told apart by `phase`; `'ready'` comes last, once. */
export type PersonalizerProgress =
  | { readonly phase: 'model'; readonly progress: LoadProgress }
  | { readonly phase: 'restore'; readonly version: number | undefined }
  | { readonly phase: 'ready' };

/** Options of {@link openPersonalizer}. */
export interface PersonalizerOptions extends OperationOptions<PersonalizerProgress> {
  /** The encoder's model. */
  readonly model: PersonalizerModel;
  /**
   * The profile: an IndexedDB database name, full storage options (name, encryption, budget…), or
   * `false` to keep everything in memory.
   * @defaultValue 'edgetune'
   */
  readonly storage?: PersonalizerStorage;
  /**
   * Learner settings (`dim` comes from the model). On reopen, the settings given here override those
   * saved with the profile, except the ones that shape its weights (`head`, `hidden`, `seed`, `replay`).
   */
  readonly learner?: Omit<LearnerOptions, 'dim'>;
  /** Device preference of the encoder. @defaultValue 'auto' */
  readonly device?: DevicePreference;
  /**
   * Run encoder, learner and storage in a Web Worker: `true` starts one (disposed with the
   * personalizer), an {@link EdgetuneWorker} shares yours, start options start one with them.
   * @defaultValue false
   */
  readonly worker?: boolean | EdgetuneWorker | StartWorkerOptions;
  /**
   * Debounce of the automatic save after a change, in ms; `false` saves only on `save()`, `pagehide`
   * and `dispose()`.
   * @defaultValue 1000
   */
  readonly autosaveMs?: number | false;
  /**
   * Delay before adapting after `teach()`, in ms, so a burst of labels starts one adaptation.
   * @defaultValue 250
   */
  readonly adaptDelayMs?: number;
  /**
   * With a worker: move inputs' pixel buffers to it instead of copying them (the page's copies then
   * become unusable). `ImageBitmap`s are always moved.
   * @defaultValue false
   */
  readonly transfer?: boolean;
}

/** What the personalizer takes as an example: an image input, or an embedding from the same model. */
export type TeachInput = ImageInput | Float32Array;

/** Per-call options of {@link Personalizer.teach}, {@link Personalizer.predict} and {@link Personalizer.observe}. */
export interface FrameOptions {
  /**
   * Region of interest in the input's own pixels (e.g. the viewfinder box): only it reaches the model,
   * the crop policy applies inside it. For image inputs only (`INVALID_ARGUMENT` with an embedding).
   */
  readonly roi?: Rect;
  /**
   * Crop to what differs from the empty scene set with {@link Personalizer.setBackground} (inside `roi`
   * when both apply), and mask what did not change when it was set with `mask: true`. No effect while
   * none is set, or for an embedding.
   * @defaultValue true
   */
  readonly background?: boolean;
}

/** The background reference a personalizer holds (see {@link Personalizer.setBackground}). */
export interface BackgroundInfo {
  /** Width of the empty-scene frame; frames cropped against it must have this size. */
  readonly width: number;
  /** Height of the empty-scene frame. */
  readonly height: number;
  /** Difference (0..255) in any colour channel that counts as a change. */
  readonly threshold: number;
  /** Margin around the changed box, as a share of its size. */
  readonly margin: number;
  /** Whether unchanged pixels inside the changed box are masked, not only cropped around (`BackgroundOptions.mask`). */
  readonly mask: boolean;
}

/** A prediction of the personalizer. */
export interface PersonalizerPrediction {
  /** Most likely class. */
  readonly label: string;
  /** Its probability. */
  readonly confidence: number;
  /** True when the input looks like none of the taught classes (when the learner can tell; otherwise false). */
  readonly unknown: boolean;
  /** Every class with its probability, most likely first. */
  readonly scores: ReadonlyArray<{ readonly label: string; readonly score: number }>;
}

/** The result of {@link Personalizer.observe}. */
export interface PersonalizerObservation extends PersonalizerPrediction {
  /** The frame was kept as a pseudo-label for adaptation. */
  readonly accepted: boolean;
  /** An adaptation was running: the frame was predicted and will be learned from once it ends. */
  readonly deferred: boolean;
}

/** The result of {@link Personalizer.teach}. */
export interface TeachResult {
  readonly label: string;
  /** Labeled examples of that class now. */
  readonly examples: number;
  readonly classes: readonly string[];
}

/** Figures of a personalizer. */
export interface PersonalizerStats {
  readonly modelId: string;
  readonly modelSha256: string;
  /** Where the encoder runs (`diagnostics.device` of the encoder). */
  readonly device: EncoderDiagnostics['device'];
  /** The encoder's diagnostics: devices tried and why, where the model came from (`origin`), load time. */
  readonly diagnostics: EncoderDiagnostics;
  /** The model's manifest. */
  readonly manifest: ModelManifest;
  readonly inWorker: boolean;
  /** Profile name, or undefined in memory-only mode. */
  readonly profile: string | undefined;
  /** Current checkpoint version of this model in the profile (0 before the first save). */
  readonly version: number;
  /** Unsaved changes are pending. */
  readonly dirty: boolean;
  /** An adaptation is running now. */
  readonly adapting: boolean;
  /** The background reference in use, or undefined when none is set. */
  readonly background: BackgroundInfo | undefined;
  /** Labeled examples per class. */
  readonly classes: ReadonlyArray<{ readonly label: string; readonly examples: number }>;
  /** The learner's own figures. */
  readonly learner: LearnerStats;
}

/** Events a personalizer emits. */
export interface PersonalizerEvents {
  /** An adaptation started (the UI may show that it is learning). */
  adapting: { readonly labels: number };
  /** An adaptation finished (also when it rolled back). */
  adapted: AdaptResult;
  /** A checkpoint was saved. */
  saved: { readonly version: number };
  /** A checkpoint saved by another tab was loaded (labels taught here since are kept). */
  synced: { readonly version: number };
  /** The profile was forgotten (here or in another tab); the personalizer starts empty. */
  forgotten: { readonly source: 'local' | 'remote' };
  /** A background save or adaptation failed; the last good state is kept. */
  error: { readonly error: unknown; readonly during: 'save' | 'adapt' | 'sync' };
  /** A learner event (drift, rollback, adapted). */
  learner: LearnerEvent;
}

/** Options of {@link Personalizer.forget}. */
export interface ForgetProfileOptions {
  /**
   * Also delete the cached model bytes (they hold nothing of the user; keeping them lets the app
   * start offline again).
   * @defaultValue false
   */
  readonly models?: boolean;
}

/**
 * Encoder, learner and storage glued into one object: teach from images, predict, learn from the
 * stream, and keep it all in the profile. The same members in-thread and with `worker: true`.
 */
export interface Personalizer extends AsyncDisposable {
  /** The model's manifest id. */
  readonly modelId: string;
  /** Embedding size. */
  readonly dim: number;
  /** True when encoder, learner and storage live in a Web Worker. */
  readonly inWorker: boolean;
  /**
   * Adds a labeled example (an image, or an embedding of this model); adaptation starts shortly after.
   * `options` picks the part of an image that is embedded (region of interest, background crop).
   */
  teach(input: TeachInput, label: string, options?: FrameOptions): Promise<TeachResult>;
  /** Predicts the class of an input (`options` as for `teach`). @throws `NOT_READY` before the first `teach` */
  predict(input: TeachInput, options?: FrameOptions): Promise<PersonalizerPrediction>;
  /** Predicts and learns from an unlabeled frame of the stream (one worker round trip; `options` as for `teach`). */
  observe(input: TeachInput, options?: FrameOptions): Promise<PersonalizerObservation>;
  /**
   * Captures the empty scene of a fixed camera (raw pixels or `ImageData` at the camera's resolution):
   * from then on `teach`, `predict` and `observe` crop each image to what differs from it, so the
   * model sees the object, not the room; `{ mask: true }` also replaces the unchanged pixels inside
   * that crop (the measured best for the RGB camera encoder, see `BackgroundOptions.mask`). `null` clears it. The reference lives with this personalizer
   * (in the worker, with `worker`): it is not saved in the profile nor exported (it is a picture of
   * the place, and stale once the light or the furniture change), so capture it again after opening;
   * `forget()` keeps it (it holds nothing of the user).
   * @returns the reference's figures, or undefined after `null`
   * @throws `INVALID_ARGUMENT` for a bad threshold, margin or mask; `INPUT_TYPE` for an unreadable frame
   */
  setBackground(frame: ImageInput | null, options?: BackgroundOptions): Promise<BackgroundInfo | undefined>;
  /** Class labels, in the order of the learner. */
  classes(): Promise<string[]>;
  /** Adds a class with no example yet (a no-op when it exists); it is saved and shared with other tabs. */
  addClass(label: string): Promise<void>;
  /** Renames a class; its examples stay. Saved before it resolves (unless `autosaveMs: false`). */
  renameClass(from: string, to: string): Promise<void>;
  /** Removes a class with its examples. Saved before it resolves (unless `autosaveMs: false`). */
  removeClass(label: string): Promise<void>;
  /**
   * Undoes the last `teach()` made here (and any adaptation after it); labels taught in other tabs
   * stay. Returns false when there is nothing to undo (also after a rename, remove or import). Saved before it
   * resolves (unless `autosaveMs: false`).
   */
  undoLast(): Promise<boolean>;
  /** Deletes every checkpoint version, sample and metadata record of the profile, and starts empty. */
  forget(options?: ForgetProfileOptions): Promise<void>;
  /**
   * Saves now (pending changes first) and returns the profile as one file. What the runtime measured on
   * this device (its remembered device choice, WASM thread trials) is left out: it stays on the device.
   */
  exportProfile(): Promise<Uint8Array>;
  /**
   * Replaces the profile with an exported file (validated in full first) and loads it; this device's
   * remembered device choice and thread trials stay as they are.
   */
  importProfile(file: Uint8Array, options?: Omit<ImportOptions, 'signal' | 'onProgress' | 'localMeta'>): Promise<void>;
  /**
   * Saves pending changes now; resolves with the checkpoint version (0 in memory-only mode). During an
   * adaptation it writes the state taken just before it at once (the adapted state is saved after).
   */
  save(): Promise<number>;
  /** Resolves once the scheduled adaptation (and any it made due) and the queued calls have finished. */
  idle(): Promise<void>;
  /** Figures. */
  stats(): Promise<PersonalizerStats>;
  /** Subscribes to an event; returns the unsubscribe function. */
  on<K extends keyof PersonalizerEvents>(type: K, listener: (event: PersonalizerEvents[K]) => void): () => void;
  /** Saves pending changes, then frees the encoder, learner, storage (and an owned worker). Idempotent. */
  dispose(): Promise<void>;
}
