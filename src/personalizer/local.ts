// The personalizer in this thread: one encoder, one learner, one profile; single-flight adaptation, a label journal that loses nothing across tabs, debounced saves, following other tabs.
import { EdgetuneError, isEdgetuneError, throwIfAborted } from '../core/errors.js';
import { Learner, type LearnerState } from '../finetune/learner.js';
import { isDeviceLocalKey } from '../runtime/devices.js';
import type { Encoder } from '../runtime/encoder.js';
import { createBackground, type ImageInput } from '../runtime/preprocess.js';
import type { BackgroundOptions, BackgroundReference } from '../runtime/region.js';
import { openStorage } from '../storage/storage.js';
import type { EdgetuneStorage, StorageOptions } from '../storage/types.js';
import { Emitter, onPageHide } from './emitter.js';
import { backgroundInfo, regionOptions } from './frame.js';
import { LabelJournal } from './journal.js';
import { openModel } from './model.js';
import {
  RECORD_FORMAT,
  checkRecord,
  restoreLearner,
  slotFor,
  toPrediction,
  type PersonalizerRecord,
} from './record.js';
import type {
  BackgroundInfo,
  ForgetProfileOptions,
  FrameOptions,
  Personalizer,
  PersonalizerEvents,
  PersonalizerObservation,
  PersonalizerOptions,
  PersonalizerPrediction,
  PersonalizerStats,
  TeachInput,
  TeachResult,
} from './types.js';

/** Undo steps kept (each holds one learner state). */
const UNDO_DEPTH = 5;
/** Frames kept while an adaptation runs, learned from once it ends. */
const DEFERRED_FRAMES = 256;

interface UndoStep {
  readonly seq: number;
  readonly state: LearnerState;
  readonly labels: ReadonlySet<number>;
}

function storageOptions(s: PersonalizerOptions['storage']): StorageOptions | null {
  if (s === false) return null;
  if (s === undefined) return { name: 'edgetune' };
  if (typeof s === 'string') return { name: s };
  return s;
}

/**
 * Opens a personalizer in this thread (see {@link openPersonalizer}).
 *
 * @param options - model, profile, learner settings
 * @throws EdgetuneError as `Encoder.open` and `openStorage`; `ABORTED`
 */
export async function openLocalPersonalizer(options: PersonalizerOptions): Promise<Personalizer> {
  const { signal, onProgress } = options;
  throwIfAborted(signal);
  const so = storageOptions(options.storage);
  const storage = so ? await openStorage(so) : null;
  let encoder: Encoder | undefined;
  let p: LocalPersonalizer | undefined;
  try {
    encoder = await openModel(options.model, storage, {
      device: options.device,
      signal,
      onProgress: onProgress ? (x) => onProgress({ phase: 'model', progress: x }) : undefined,
    });
    p = new LocalPersonalizer(encoder, storage, options);
    const version = await p.restore();
    onProgress?.({ phase: 'restore', version });
    throwIfAborted(signal);
    onProgress?.({ phase: 'ready' });
    return p;
  } catch (e) {
    if (p) await p.discard();
    else {
      await encoder?.dispose();
      await storage?.dispose();
    }
    throw e;
  }
}

class LocalPersonalizer implements Personalizer {
  readonly inWorker = false;
  readonly #encoder: Encoder;
  readonly #storage: EdgetuneStorage | null;
  readonly #options: PersonalizerOptions;
  readonly #slot: string;
  readonly #model: { id: string; sha256: string };
  #learner: Learner;
  /** Journal entries inside the learner. */
  #labels = new Set<number>();
  readonly #journal: LabelJournal;
  /** The empty scene of a fixed camera (memory only, see `setBackground`). */
  #background: BackgroundReference | undefined;
  /** Checkpoint version the learner descends from. */
  #version = 0;
  #dirty = false;
  #queue: Promise<unknown> = Promise.resolve();
  /** While an adaptation runs: the consistent state taken just before it, for saves made meanwhile. */
  #adaptSnapshot: { state: LearnerState; labels: number[] } | undefined;
  #deferred: Float32Array[] = [];
  #undo: UndoStep[] = [];
  #saveTimer: ReturnType<typeof setTimeout> | undefined;
  #adaptTimer: ReturnType<typeof setTimeout> | undefined;
  #adaptPending = false;
  /** Adaptations queued or running. */
  #adaptsQueued = 0;
  readonly #closing = new AbortController();
  readonly #events = new Emitter();
  readonly #offs: Array<() => void> = [];
  #offLearner: () => void = () => undefined;
  #disposed: Promise<void> | undefined;

  constructor(encoder: Encoder, storage: EdgetuneStorage | null, options: PersonalizerOptions) {
    this.#encoder = encoder;
    this.#storage = storage;
    this.#options = options;
    this.#model = { id: encoder.manifest.id, sha256: encoder.manifest.sha256 };
    this.#slot = slotFor(this.#model.id, this.#model.sha256);
    this.#journal = new LabelJournal(storage, this.#slot);
    this.#learner = this.#fresh();
    this.#watchLearner();
    if (storage) {
      this.#offs.push(
        storage.on('checkpoint', (e) => {
          if (e.source === 'remote' && e.slot === this.#slot && e.version > this.#version) void this.#follow();
        }),
        storage.on('forgotten', (e) => {
          if (e.source === 'remote') void this.#exclusive(async () => this.#reset('remote'));
        }),
      );
    }
    // The page may be gone for good after pagehide: write what we have now, without waiting for anything.
    this.#offs.push(onPageHide(() => void this.#saveNow().catch(() => undefined)));
  }

  get modelId(): string {
    return this.#model.id;
  }

  get dim(): number {
    return this.#encoder.dim;
  }

  // ---------- plumbing ----------

  #fresh(): Learner {
    return new Learner({ ...this.#options.learner, dim: this.#encoder.dim });
  }

  #watchLearner(): void {
    this.#offLearner();
    this.#offLearner = this.#learner.on((e) => this.#emit('learner', e));
  }

  #replaceLearner(next: Learner): void {
    const old = this.#learner;
    this.#learner = next;
    this.#watchLearner();
    if (old !== next) old.dispose();
  }

  #alive(): void {
    if (this.#disposed)
      throw new EdgetuneError('DISPOSED', 'This personalizer was disposed; open a new one with openPersonalizer().');
  }

  /** Runs `fn` after every earlier mutation (adaptation included) has finished: one mutation at a time. */
  #exclusive<T>(fn: () => Promise<T> | T): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #emit<K extends keyof PersonalizerEvents>(type: K, event: PersonalizerEvents[K]): void {
    this.#events.emit(type, event);
  }

  on<K extends keyof PersonalizerEvents>(type: K, listener: (event: PersonalizerEvents[K]) => void): () => void {
    return this.#events.on(type, listener);
  }

  async #embed(input: TeachInput, options: FrameOptions | undefined): Promise<Float32Array> {
    const region = regionOptions(input, options, this.#background);
    if (input instanceof Float32Array) return input;
    const [e] = await this.#encoder.embed([input], { ...region, signal: this.#closing.signal });
    return e!;
  }

  #markDirty(): void {
    this.#dirty = true;
    const ms = this.#options.autosaveMs ?? 1000;
    if (ms === false || !this.#storage) return;
    clearTimeout(this.#saveTimer);
    this.#saveTimer = setTimeout(
      () => void this.save().catch((error: unknown) => this.#emit('error', { error, during: 'save' })),
      ms,
    );
    (this.#saveTimer as { unref?: () => void }).unref?.();
  }

  #scheduleAdapt(ms = this.#options.adaptDelayMs ?? 250): void {
    clearTimeout(this.#adaptTimer);
    this.#adaptPending = true;
    // Not unref'd: a caller awaiting the adaptation (an event, idle()) must keep Node alive until it runs.
    this.#adaptTimer = setTimeout(() => void this.#runScheduled(), ms);
  }

  // ---------- restore, follow, save ----------

  /**
   * Restore-or-create: the current checkpoint of this model (id and SHA-256), then the labels journaled since.
   * @returns the checkpoint version restored, or `undefined` for a new profile
   */
  async restore(): Promise<number | undefined> {
    let version: number | undefined;
    if (this.#storage) {
      const ck = await this.#storage.checkpoints<PersonalizerRecord>(this.#slot).load();
      if (ck) {
        const rec = checkRecord(ck.payload, this.#model);
        this.#replaceLearner(restoreLearner(rec.learner, this.#options.learner, this.#encoder.dim));
        this.#labels = new Set(rec.labels);
        this.#version = ck.version;
        version = ck.version;
      }
    }
    // No progress report here: after open the app's onProgress may be gone (in the worker, a released comlink proxy),
    // and importProfile restores too. Open reports the restore itself.
    if ((await this.#journal.reconcile(this.#learner, this.#labels)) > 0) {
      this.#markDirty();
      this.#scheduleAdapt();
    }
    return version;
  }

  /** Loads a checkpoint another tab saved; labels journaled here since stay (they are in the journal). */
  #follow(): Promise<void> {
    return this.#exclusive(async () => {
      if (this.#disposed || !this.#storage) return;
      try {
        const ck = await this.#storage.checkpoints<PersonalizerRecord>(this.#slot).load();
        if (!ck || ck.version <= this.#version) return;
        const rec = checkRecord(ck.payload, this.#model);
        const next = restoreLearner(rec.learner, this.#options.learner, this.#encoder.dim);
        const labels = new Set(rec.labels);
        await this.#journal.reconcile(next, labels);
        this.#replaceLearner(next);
        this.#labels = labels;
        this.#version = ck.version;
        this.#undo = [];
        this.#emit('synced', { version: ck.version });
      } catch (error) {
        this.#emit('error', { error, during: 'sync' });
      }
    });
  }

  #record(state: LearnerState, labels: Iterable<number>): PersonalizerRecord {
    return {
      format: RECORD_FORMAT,
      version: 1,
      model: this.#model,
      labels: [...labels].sort((a, b) => a - b),
      learner: state,
      savedAt: Date.now(),
    };
  }

  async #write(payload: () => Promise<PersonalizerRecord> | PersonalizerRecord): Promise<number> {
    const r = await this.#storage!.checkpoints<PersonalizerRecord>(this.#slot).update(() => payload(), {
      label: `labels ${this.#labels.size}`,
    });
    this.#version = Math.max(this.#version, r.version);
    this.#emit('saved', { version: r.version });
    return r.version;
  }

  /** Saves without waiting behind other work: during an adaptation, the state taken just before it. */
  async #saveNow(): Promise<number> {
    if (!this.#storage || !this.#dirty) return this.#version;
    const snap = this.#adaptSnapshot;
    if (snap) return this.#write(() => this.#record(snap.state, snap.labels));
    return this.save();
  }

  async save(): Promise<number> {
    this.#alive();
    // During an adaptation this writes the state taken just before it, at once; the adapted one follows.
    if (this.#adaptSnapshot) return this.#saveNow();
    return this.#saveQueued();
  }

  #saveQueued(): Promise<number> {
    return this.#exclusive(async () => {
      clearTimeout(this.#saveTimer);
      if (!this.#storage || !this.#dirty) return this.#version;
      this.#dirty = false;
      try {
        // Under the profile lock: labels other tabs journaled since are learned first, so the newest checkpoint holds every label.
        return await this.#write(async () => {
          await this.#journal.reconcile(this.#learner, this.#labels);
          return this.#record(this.#learner.getState(), this.#labels);
        });
      } catch (e) {
        this.#dirty = true;
        throw e;
      }
    });
  }

  // ---------- learning ----------

  #runScheduled(): Promise<void> {
    clearTimeout(this.#adaptTimer);
    this.#adaptPending = false;
    return this.#adapt().catch((error: unknown) => this.#emit('error', { error, during: 'adapt' }));
  }

  async idle(): Promise<void> {
    this.#alive();
    // An adaptation may make another one due (frames deferred during it): wait for the chain to end.
    for (let round = 0; round < 64 && (this.#adaptPending || this.#adaptsQueued > 0); round++) {
      if (this.#adaptPending) await this.#runScheduled();
      await this.#exclusive(() => undefined);
    }
    await this.#exclusive(() => undefined);
  }

  #adapt(): Promise<void> {
    this.#adaptsQueued++;
    return this.#exclusive(async () => {
      try {
        await this.#adaptNow();
      } finally {
        this.#adaptsQueued--;
      }
    });
  }

  async #adaptNow(): Promise<void> {
    if (this.#disposed || !this.#learner.ready) return;
    this.#adaptSnapshot = { state: this.#learner.getState(), labels: [...this.#labels] };
    this.#emit('adapting', { labels: this.#labels.size });
    try {
      const r = await this.#learner.adapt({ signal: this.#closing.signal });
      this.#emit('adapted', r);
    } catch (e) {
      if (!isEdgetuneError(e, 'ABORTED')) throw e;
    } finally {
      this.#adaptSnapshot = undefined;
    }
    const frames = this.#deferred;
    this.#deferred = [];
    let due = false;
    for (const f of frames) due = this.#learner.observe(f).adaptDue || due;
    this.#markDirty();
    if (due) void this.#runScheduled();
  }

  async teach(input: TeachInput, label: string, options?: FrameOptions): Promise<TeachResult> {
    this.#alive();
    if (typeof label !== 'string' || label.length === 0)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        `teach() needs a non-empty string label, got ${JSON.stringify(label)}.`,
      );
    const embedding = await this.#embed(input, options);
    return this.#exclusive(async () => {
      this.#alive();
      const before = this.#learner.getState();
      const labelsBefore = new Set(this.#labels);
      this.#learner.addLabeled(embedding, label);
      let seq: number;
      try {
        // Journaled before anything else: a label survives a crash, a reload and another tab's save.
        seq = await this.#journal.add({ embedding: Float32Array.from(embedding), label, at: Date.now() });
      } catch (e) {
        this.#replaceLearner(Learner.fromState(before));
        throw e;
      }
      this.#labels.add(seq);
      this.#undo.push({ seq, state: before, labels: labelsBefore });
      if (this.#undo.length > UNDO_DEPTH) this.#undo.shift();
      this.#markDirty();
      this.#scheduleAdapt();
      const examples = this.#learner.stats().perClass.find((c) => c.label === label)?.labeled ?? 0;
      return { label, examples, classes: [...this.#learner.classes] };
    });
  }

  async predict(input: TeachInput, options?: FrameOptions): Promise<PersonalizerPrediction> {
    this.#alive();
    const e = await this.#embed(input, options);
    // Reading is safe between the adaptation's mini-batches; it never waits behind one.
    return toPrediction(this.#learner.predict(e), this.#learner.classes);
  }

  async observe(input: TeachInput, options?: FrameOptions): Promise<PersonalizerObservation> {
    this.#alive();
    const e = await this.#embed(input, options);
    if (this.#adaptSnapshot) {
      const p = this.#learner.predict(e);
      if (this.#deferred.length >= DEFERRED_FRAMES) this.#deferred.shift();
      this.#deferred.push(Float32Array.from(e));
      return { ...toPrediction(p, this.#learner.classes), accepted: false, deferred: true };
    }
    const o = this.#learner.observe(e);
    this.#markDirty();
    // Started now rather than on a timer: a tight loop of observes may never give a timer its turn.
    if (o.adaptDue) void this.#runScheduled();
    return { ...toPrediction(o.prediction, this.#learner.classes), accepted: o.accepted, deferred: false };
  }

  async setBackground(frame: ImageInput | null, options?: BackgroundOptions): Promise<BackgroundInfo | undefined> {
    this.#alive();
    // Not journaled nor saved: a picture of the place, stale once the light changes (see the interface).
    this.#background = frame === null ? undefined : createBackground(frame, options);
    return backgroundInfo(this.#background);
  }

  async classes(): Promise<string[]> {
    this.#alive();
    return [...this.#learner.classes];
  }

  async addClass(label: string): Promise<void> {
    this.#alive();
    await this.#exclusive(() => {
      if (this.#learner.classes.includes(label)) return;
      this.#learner.addClass(label);
      this.#markDirty();
    });
  }

  async renameClass(from: string, to: string): Promise<void> {
    this.#alive();
    await this.#exclusive(async () => {
      this.#learner.renameClass(from, to);
      const moved = await this.#journal.ofLabel(from);
      await this.#journal.delete(moved.map(([s]) => s));
      for (const [seq, e] of moved) {
        this.#labels.delete(seq);
        this.#labels.add(await this.#journal.add({ ...e, label: to }));
      }
      this.#undo = [];
      this.#markDirty();
    });
    await this.#saveEdit();
  }

  async removeClass(label: string): Promise<void> {
    this.#alive();
    await this.#exclusive(async () => {
      this.#learner.removeClass(label);
      const gone = (await this.#journal.ofLabel(label)).map(([s]) => s);
      await this.#journal.delete(gone);
      for (const s of gone) this.#labels.delete(s);
      this.#undo = [];
      this.#markDirty();
    });
    await this.#saveEdit();
  }

  async undoLast(): Promise<boolean> {
    this.#alive();
    const undone = await this.#exclusive(async () => {
      const step = this.#undo.pop();
      if (!step) return false;
      await this.#journal.delete([step.seq]);
      const learner = Learner.fromState(step.state);
      const labels = new Set(step.labels);
      await this.#journal.reconcile(learner, labels);
      this.#replaceLearner(learner);
      this.#labels = labels;
      this.#markDirty();
      return true;
    });
    if (undone) await this.#saveEdit();
    return undone;
  }

  /**
   * Rename, remove and undo change the label journal at once; the checkpoint must follow before the call returns, or a
   * reload in between would replay journal entries against a checkpoint that predates the edit.
   */
  async #saveEdit(): Promise<void> {
    if (this.#storage && this.#options.autosaveMs !== false) await this.save();
  }

  #reset(source: 'local' | 'remote'): void {
    clearTimeout(this.#saveTimer);
    clearTimeout(this.#adaptTimer);
    this.#adaptPending = false;
    this.#replaceLearner(this.#fresh());
    this.#labels = new Set();
    this.#journal.clearMemory();
    this.#version = 0;
    this.#undo = [];
    this.#deferred = [];
    this.#dirty = false;
    this.#emit('forgotten', { source });
  }

  async forget(options: ForgetProfileOptions = {}): Promise<void> {
    this.#alive();
    await this.#exclusive(async () => {
      await this.#storage?.forget({ keepModels: options.models !== true });
      this.#reset('local');
    });
  }

  async exportProfile(): Promise<Uint8Array> {
    this.#alive();
    if (!this.#storage)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        'This personalizer keeps nothing (storage: false), so it has no profile to export; open it with a storage name.',
      );
    await this.#saveQueued();
    return this.#exclusive(() => this.#storage!.exportProfile({ localMeta: isDeviceLocalKey }));
  }

  async importProfile(file: Uint8Array, options: Parameters<Personalizer['importProfile']>[1] = {}): Promise<void> {
    this.#alive();
    if (!this.#storage)
      throw new EdgetuneError(
        'INVALID_ARGUMENT',
        'This personalizer keeps nothing (storage: false), so it cannot import a profile; open it with a storage name.',
      );
    await this.#exclusive(async () => {
      await this.#storage!.importProfile(file, { ...options, localMeta: isDeviceLocalKey });
      clearTimeout(this.#saveTimer);
      this.#replaceLearner(this.#fresh());
      this.#labels = new Set();
      this.#version = 0;
      this.#undo = [];
      this.#dirty = false;
      await this.restore();
    });
  }

  async stats(): Promise<PersonalizerStats> {
    this.#alive();
    const st = this.#learner.stats();
    return {
      modelId: this.#model.id,
      modelSha256: this.#model.sha256,
      device: this.#encoder.diagnostics.device,
      diagnostics: this.#encoder.diagnostics,
      manifest: this.#encoder.manifest,
      inWorker: false,
      profile: this.#storage?.name,
      version: this.#version,
      dirty: this.#dirty,
      adapting: this.#adaptSnapshot !== undefined,
      background: backgroundInfo(this.#background),
      classes: st.perClass.map((c) => ({ label: c.label, examples: c.labeled })),
      learner: st,
    };
  }

  /** Frees everything without saving (a failed or aborted open). */
  async discard(): Promise<void> {
    this.#dirty = false;
    await this.dispose();
  }

  dispose(): Promise<void> {
    this.#disposed ??= (async () => {
      clearTimeout(this.#adaptTimer);
      this.#adaptPending = false;
      // A running adaptation stops at its next mini-batch and leaves the learner as before it.
      this.#closing.abort(new EdgetuneError('ABORTED', 'The personalizer was disposed.'));
      try {
        await this.#saveQueued();
      } catch (error) {
        this.#emit('error', { error, during: 'save' });
      }
      for (const off of this.#offs) off();
      this.#offLearner();
      this.#learner.dispose();
      await this.#encoder.dispose();
      await this.#storage?.dispose();
    })();
    return this.#disposed;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.dispose();
  }
}
