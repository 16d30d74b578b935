// The mobile/kiosk example app: camera frames (cropped to the viewfinder, and in a kiosk to what differs from the empty scene) or sample images → openPersonalizer in a Web Worker → tap-to-label, live predictions with "Not sure", a learner that keeps adapting, privacy controls and recovery.
import {
  openPersonalizer,
  type Personalizer,
  type PersonalizerPrediction,
  type StorageOptions,
} from '../../../src/index.js';
import { applyBackground, captureBackground, clearBackground, closeAdmin, renderBackground } from './background.js';
import { BURST_MAX, Burst, drawImage, drawModelEye, grabFrame, startCamera, stopCamera, thumbnail } from './camera.js';
import { nameProblem, renderClasses } from './classes.js';
import { startKiosk } from './kiosk.js';
import {
  encryptOn,
  exportProfile,
  forgetAll,
  importProfile,
  initPrivacy,
  adminGesture,
  leaveKiosk,
  resetVisitor,
  wireSettings,
} from './privacy.js';
import { PROFILE, askPersistence, deviceKey } from './profiles.js';
import { isDamagedModel } from './messages.js';
import { dropModelCopies } from './recovery.js';
import { loadSample, sampleImage } from './sample.js';
import { onProgress, progress, serviceWorkerReady, setNet, showError } from './status.js';
import { NOT_SURE_BELOW, SAMPLE_POSITION, type Source, model, pct, profileName, settings, state, t0 } from './state.js';
import { announceLabel, ask, logEvent, setReady, ui } from './ui.js';

// Set by build.mjs.
declare const __EDGETUNE_MODELS__: {
  readonly sample: { readonly manifest: string };
  readonly camera: { readonly manifest: string };
};
declare const __EDGETUNE_SAMPLE__: string;
declare const __EDGETUNE_ACCELERATORS__: boolean;

// ---------------------------------------------------------------- the personalizer

/** Where this visit keeps what it learns: memory only, an encrypted profile, or a plain one. */
async function storageFor(): Promise<StorageOptions | false> {
  if (settings.kiosk)
    return settings.kioskStore === 'none' ? false : { name: profileName(), encryption: { key: await deviceKey() } };
  if (!settings.encrypted) return { name: profileName() };
  state.passphrase ??= await ask({
    title: 'Unlock your profile',
    text: 'What you taught is encrypted on this device. Type its passphrase.',
    ok: 'Unlock',
    input: { label: 'Passphrase', type: 'password' },
  });
  if (state.passphrase === undefined)
    throw Object.assign(new Error('The profile stays locked: no passphrase given.'), { name: 'Locked' });
  return { name: profileName(), encryption: { passphrase: state.passphrase } };
}

async function openCurrent(): Promise<void> {
  setReady(false);
  document.body.dataset['state'] = 'loading';
  const m = model();
  const manifestUrl = new URL(m.manifest, location.href).href;
  let storage: StorageOptions | false = false;
  try {
    await state.p?.dispose();
    state.p = undefined;
    storage = await storageFor();
    const p = await openPersonalizer({
      model: manifestUrl,
      storage,
      learner: { adaptEvery: 20 },
      device: __EDGETUNE_ACCELERATORS__ ? 'auto' : 'wasm',
      worker: { url: new URL('worker.js', location.href), env: { wasmPaths: new URL('ort/', location.href).href } },
      onProgress,
    });
    state.p = p;
    wire(p);
  } catch (err) {
    document.body.dataset['state'] = 'error';
    ui.load.hidden = true;
    ui.device.textContent = 'not loaded';
    if ((err as { code?: string }).code === 'DECRYPT_FAILED') state.passphrase = undefined;
    // A damaged copy would fail again on every start: drop it everywhere, so Retry downloads a good one.
    if (isDamagedModel(err)) {
      const dropped = await dropModelCopies(manifestUrl, storage).catch(() => []);
      document.body.dataset['dropped'] = dropped.join(' ');
    }
    await showError(err, 'Loading the model', () => void openCurrent());
    return;
  }
  state.undo = [];
  // The reference lived in the worker of the personalizer just closed: hand the kept empty scene to this one.
  await applyBackground().catch((err: unknown) => {
    state.emptyScene = undefined;
    console.warn('empty scene dropped', err);
  });
  await refresh();
  renderModel();
  ui.load.hidden = true;
  setReady(true);
  ui.encrypt.checked = settings.encrypted;
  ui.encrypt.disabled = settings.encrypted || settings.kiosk;
  document.body.dataset['state'] = 'ready';
  document.body.dataset['readyMs'] ??= String(Math.round(performance.now() - t0));
  if (storage && !(await askPersistence())) ui.banner.hidden = false;
  if (state.source === 'sample') await step();
}

function wire(p: Personalizer): void {
  p.on('saved', () => {
    ui.saved.textContent = `Saved on this device at ${new Date().toLocaleTimeString()}.`;
    document.body.dataset['savedAt'] = String(Date.now());
  });
  p.on('synced', () => {
    logEvent('took over what another tab taught', 'info');
    void refresh();
  });
  p.on('forgotten', (e) => {
    if (e.source === 'remote') logEvent('another tab forgot everything', 'info');
    void refresh();
  });
  p.on('adapted', () => void refresh());
  p.on('learner', (e) => {
    if (e.type === 'drift')
      logEvent(`drift: the stream changed; ${e.droppedReplay} unconfirmed pseudo-labels dropped`, 'drift');
    else if (e.type === 'rollback')
      logEvent(
        `rollback: adaptation undone (${e.reason === 'guard' ? `held-back accuracy ${pct(e.before)} → ${pct(e.after)}` : 'numbers went non-finite'})`,
        'rollback',
      );
    else logEvent('adapted on labels and pseudo-labels', 'adapt');
  });
  p.on(
    'error',
    (e) =>
      void showError(
        e.error,
        e.during === 'save' ? 'Saving' : e.during === 'adapt' ? 'Adapting' : 'Following another tab',
      ),
  );
}

/** Re-reads classes and counts from the personalizer and redraws the list and figures. */
async function refresh(): Promise<void> {
  const p = state.p;
  if (!p) return;
  const st = await p.stats();
  state.counts = new Map(st.classes.map((c) => [c.label, c.examples]));
  state.diagnostics = st.diagnostics;
  ui.device.textContent = `${st.device}${st.inWorker ? ' · worker' : ''}`;
  document.body.dataset['classes'] = String(st.classes.length);
  document.body.dataset['version'] = String(st.version);
  const l = st.learner;
  ui.undo.disabled = state.undo.length === 0;
  document.getElementById('st-labeled')!.textContent = String(l.labeled);
  document.getElementById('st-seen')!.textContent = String(l.seen);
  document.getElementById('st-pseudo')!.textContent = String(l.accepted);
  document.getElementById('st-drift')!.textContent = String(l.drifts);
  renderList();
}

/** Every class name, those with no example yet included (`addClass`). */
const names = (): string[] => [...state.counts.keys()];

function renderList(): void {
  renderClasses(
    names().map((name) => ({ name, examples: state.counts.get(name) ?? 0, thumbs: state.thumbs.get(name) ?? [] })),
    {
      top: state.top,
      canLabel: !!state.p && (state.source === 'camera' ? !!state.stream : !!state.current),
      actions: { label: (n) => void label(n), rename: (n) => void rename(n), remove: (n) => void remove(n) },
    },
  );
}

function renderModel(): void {
  const m = model();
  ui.modelInfo.textContent = `Model ${m.id} (${m.dtype}, ${Math.round(m.bytes / 1024)} KiB), trained on ${m.trainedOn}. It sees:`;
  const rows: [string, string][] = [
    ['Model', `${m.id} · ${m.dtype} · ${m.dim}-d · ${(m.bytes / 1024).toFixed(0)} KiB`],
    ['Trained on', m.trainedOn],
    ['Input', `${m.input.width}×${m.input.height}, ${m.input.channels === 1 ? 'grayscale' : 'RGB'}`],
    [
      'Profile',
      settings.kiosk && settings.kioskStore === 'none'
        ? 'memory only (kiosk)'
        : `${profileName()}${settings.kiosk || settings.encrypted ? ' (encrypted)' : ''}`,
    ],
    [
      'Offline',
      navigator.serviceWorker?.controller
        ? 'every file is cached by the service worker'
        : 'not yet (no service worker)',
    ],
    ['WASM threads', crossOriginIsolated ? 'yes (cross-origin isolated)' : 'no: 1 thread'],
    ['Time to usable', `${document.body.dataset['readyMs'] ?? Math.round(performance.now() - t0)} ms`],
  ];
  const d = state.diagnostics;
  if (d) {
    rows.unshift(['Runs on', `${d.device} (${d.backend}) in the worker`]);
    rows.push(
      [
        'Model loaded from',
        d.origin === 'cache'
          ? 'the IndexedDB model cache'
          : d.origin === 'url'
            ? 'the app files (service worker cache or network)'
            : d.origin,
      ],
      ['Model load', `${Math.round(d.loadMs)} ms`],
    );
    for (const a of d.attempts) rows.push([`Tried ${a.device}`, `${a.status}${a.reason ? `: ${a.reason}` : ''}`]);
  }
  ui.diag.replaceChildren(
    ...rows.flatMap(([k, v]) => [
      Object.assign(document.createElement('dt'), { textContent: k }),
      Object.assign(document.createElement('dd'), { textContent: v }),
    ]),
  );
}

// ---------------------------------------------------------------- predictions

function renderPrediction(p: PersonalizerPrediction | undefined, image?: ImageData): void {
  if (image) drawModelEye(ui.eye, image, model().input);
  if (!p) {
    state.top = undefined;
    ui.predLabel.textContent = '—';
    ui.predBar.style.width = '0';
    ui.predConf.textContent = 'Add two classes and label a few images to start predicting.';
    delete ui.predLabel.dataset['unknown'];
    return;
  }
  const notSure = p.unknown || p.confidence < NOT_SURE_BELOW;
  state.top = notSure ? undefined : p.label;
  ui.predLabel.textContent = notSure ? 'Not sure' : p.label;
  ui.predLabel.dataset['unknown'] = String(notSure);
  ui.predLabel.dataset['label'] = p.label;
  ui.predBar.style.width = pct(p.confidence);
  ui.predConf.textContent = notSure
    ? `Closest: ${p.label} at ${pct(p.confidence)}${p.unknown ? '; looks like none of your classes' : ''}`
    : `${pct(p.confidence)} confident`;
  ui.predConf.dataset['confidence'] = p.confidence.toFixed(4);
  announceLabel(notSure ? 'Not sure' : p.label);
}

async function predictShown(image: ImageData, learn: boolean): Promise<void> {
  const p = state.p;
  if (!p || [...state.counts.values()].filter((n) => n > 0).length < 2) return renderPrediction(undefined, image);
  try {
    const r = learn ? await p.observe(image) : await p.predict(image);
    if (learn && 'accepted' in r && r.accepted && Date.now() - state.lastPseudoLog > 1500) {
      state.lastPseudoLog = Date.now();
      logEvent(`pseudo-label: ${r.label} (${pct(r.confidence)})`, 'pseudo');
    }
    if (!state.frozen) renderPrediction(r, image);
  } catch (err) {
    if ((err as { code?: string }).code === 'NOT_READY') renderPrediction(undefined, image);
    else throw err;
  }
}

let frames = 0;

let stepping: Promise<void> = Promise.resolve();

/** Shows the next sample image (after the one being shown has finished); the one left unlabeled goes to the learner as part of the stream. */
function step(): Promise<void> {
  stepping = stepping.then(stepNow, stepNow);
  return stepping;
}

async function stepNow(): Promise<void> {
  if (!state.p || !state.sample || state.source !== 'sample') return;
  try {
    const prev = state.current;
    if (prev && [...state.counts.values()].filter((n) => n > 0).length >= 2 && !(prev as { labeled?: boolean }).labeled)
      await state.p.observe(prev.image).catch(() => undefined);
    state.sampleIndex = (state.sampleIndex + 1) % state.sample.count;
    // The stream resumes where it was after a reload, so the learner is not fed the same images again.
    localStorage.setItem(SAMPLE_POSITION, String(state.sampleIndex));
    const { image, label: truth } = sampleImage(state.sample, state.sampleIndex);
    drawImage(ui.canvas, image);
    ui.canvas.setAttribute('aria-label', `Sample image ${state.sampleIndex + 1}`);
    state.current = { image, truth };
    ui.truth.textContent = `Sample ${state.sampleIndex + 1} of ${state.sample.count} · dataset says: ${truth}`;
    await predictShown(image, false);
    renderList();
    // Set last: a test (or a person) sees the new frame only once its prediction is on screen.
    ui.truth.dataset['label'] = truth;
    ui.truth.dataset['frame'] = String(++frames);
  } catch (err) {
    await showError(err, 'Predicting');
  }
}

/** Camera mode: predicts on the viewfinder crop a few times a second (and learns from it while Live is on). */
async function cameraLoop(): Promise<void> {
  while (state.source === 'camera' && state.stream) {
    if (!state.frozen && !state.busy && state.p) {
      const img = grabFrame(ui.video);
      if (img) {
        state.current = { image: img };
        state.busy = true;
        await predictShown(img, state.live).catch((err: unknown) => console.error('camera prediction failed', err));
        state.busy = false;
      }
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

function setLive(on: boolean): void {
  state.live = on;
  ui.live.setAttribute('aria-pressed', String(on));
  ui.live.textContent = on ? '❚❚ Pause' : '▶ Live';
  if (on && state.source === 'sample')
    void (async () => {
      while (state.live && state.source === 'sample') {
        await step();
        await new Promise((r) => setTimeout(r, 350));
      }
    })();
}

// ---------------------------------------------------------------- freeze, burst and labeling

function freeze(frames: ImageData[], dropped = 0): void {
  state.frozen = frames;
  drawImage(ui.freeze, frames[0]!);
  ui.freeze.hidden = false;
  ui.frozenTag.hidden = false;
  ui.frozenTag.textContent = frames.length > 1 ? `Frozen · ${frames.length} frames` : 'Frozen';
  document.body.dataset['frozen'] = String(frames.length);
  document.body.dataset['burstDropped'] = String(dropped);
  ui.hint.textContent = `Tap a class to label ${frames.length > 1 ? `these ${frames.length} frames` : 'this frame'}, or tap Capture again to drop ${frames.length > 1 ? 'them' : 'it'}.`;
}

function unfreeze(): void {
  state.frozen = undefined;
  ui.freeze.hidden = true;
  ui.frozenTag.hidden = true;
  delete document.body.dataset['frozen'];
  ui.hint.textContent =
    state.source === 'camera'
      ? 'Put the object inside the box. Tap Capture to freeze a frame, hold it for a burst.'
      : '';
}

let burst: { b: Burst; timer: number } | undefined;
let swallowClick = false;

function burstStart(): void {
  if (state.source !== 'camera' || !state.stream || state.frozen) return;
  const b = new Burst();
  const grab = (): void => {
    const f = grabFrame(ui.video);
    if (f) b.offer(f);
  };
  grab();
  burst = { b, timer: window.setInterval(grab, 90) };
}

function burstEnd(): void {
  if (!burst) return;
  clearInterval(burst.timer);
  const { b } = burst;
  burst = undefined;
  swallowClick = true;
  if (b.frames.length) freeze(b.frames, b.dropped);
}

async function capture(): Promise<void> {
  if (swallowClick) {
    swallowClick = false;
    return;
  }
  if (state.source === 'sample') return step();
  if (state.frozen) return unfreeze();
  const f = grabFrame(ui.video);
  if (f) freeze([f]);
}

async function label(name: string): Promise<void> {
  const p = state.p;
  if (!p) return;
  // Camera: the frame on screen at the tap is the one labelled (frozen first if it was not already).
  let images: ImageData[];
  if (state.source === 'camera') {
    if (!state.frozen) {
      const f = grabFrame(ui.video);
      if (!f) return;
      freeze([f]);
    }
    images = state.frozen!;
  } else {
    if (!state.current || (state.current as { labeled?: boolean }).labeled) return;
    images = [state.current.image];
    (state.current as { labeled?: boolean }).labeled = true;
  }
  // One label per shown frame: a second tap finds nothing frozen.
  state.frozen = undefined;
  setReady(false);
  try {
    let n = 0;
    for (const img of images.slice(0, BURST_MAX)) {
      await p.teach(img, name);
      n++;
      state.thumbs.set(name, [...(state.thumbs.get(name) ?? []), thumbnail(img)]);
    }
    state.undo.push({ name, n });
    ui.hint.textContent = `Labelled ${n} frame${n === 1 ? '' : 's'} as ${name}.`;
    logEvent(`you labelled ${n} as ${name}`, 'info');
  } catch (err) {
    await showError(err, 'Labeling');
  } finally {
    setReady(true);
    if (state.source === 'camera') unfreeze();
  }
  await refresh();
  if (state.source === 'sample' && !state.live) await step();
}

async function undo(): Promise<void> {
  const p = state.p;
  const last = state.undo.pop();
  if (!p || !last) return;
  let done = 0;
  // Each undo is saved before it resolves: a reload cannot bring the label back.
  for (let i = 0; i < last.n; i++) if (await p.undoLast()) done++;
  const thumbs = state.thumbs.get(last.name) ?? [];
  state.thumbs.set(last.name, thumbs.slice(0, Math.max(0, thumbs.length - done)));
  logEvent(done ? `undid ${done} label${done === 1 ? '' : 's'} of ${last.name}` : 'nothing left to undo', 'info');
  if (!done) state.undo = [];
  await refresh();
}

async function addClass(): Promise<void> {
  const name = ui.className.value.trim();
  const problem = nameProblem(name, names());
  ui.addMsg.textContent = problem ?? '';
  if (problem || !state.p) return;
  // Saved (and shared with other tabs) before its first example.
  try {
    await state.p.addClass(name);
  } catch (err) {
    await showError(err, 'Adding a class');
    return;
  }
  ui.className.value = '';
  ui.addMsg.textContent = `Added ${name}. Tap it to label the ${state.source === 'camera' ? 'frame' : 'image'}.`;
  await refresh();
}

async function rename(from: string): Promise<void> {
  const all = names();
  const to = await ask({
    title: `Rename ${from}`,
    text: 'Its examples stay.',
    ok: 'Rename',
    input: { label: 'New name', value: from },
    validate: (v) => nameProblem(v, all, from),
  });
  if (to === undefined || to.trim() === from) return;
  const name = to.trim();
  // Saved before it resolves.
  await state.p?.renameClass(from, name);
  state.thumbs.set(name, state.thumbs.get(from) ?? []);
  state.thumbs.delete(from);
  state.undo = [];
  logEvent(`renamed ${from} to ${name}`, 'info');
  await refresh();
}

async function remove(name: string): Promise<void> {
  const ok = await ask({
    title: `Delete ${name}?`,
    text: `Its ${state.counts.get(name) ?? 0} examples are deleted from this device.`,
    ok: 'Delete',
    danger: true,
  });
  if (!ok) return;
  await state.p?.removeClass(name);
  state.thumbs.delete(name);
  state.undo = [];
  await refresh();
}

// ---------------------------------------------------------------- sources

async function setSource(src: Source): Promise<void> {
  if (src === state.source) return;
  ui.error.hidden = true;
  setLive(false);
  unfreeze();
  const reopen = __EDGETUNE_MODELS__[src].manifest !== model().manifest || PROFILE[src] !== profileName();
  if (reopen) {
    setReady(false);
    document.body.dataset['state'] = 'loading';
  }
  if (src === 'camera') {
    try {
      state.stream = await startCamera(ui.video);
    } catch (err) {
      await showError(err, 'Starting the camera');
      return;
    }
  } else {
    stopCamera(ui.video, state.stream);
    state.stream = undefined;
  }
  state.source = src;
  state.current = undefined;
  state.thumbs.clear();
  document.body.dataset['source'] = src;
  ui.video.hidden = ui.viewfinder.hidden = src !== 'camera';
  ui.canvas.hidden = src === 'camera';
  ui.truth.textContent = '';
  ui.srcSample.setAttribute('aria-pressed', String(src === 'sample'));
  ui.srcCamera.setAttribute('aria-pressed', String(src === 'camera'));
  ui.next.textContent = src === 'sample' ? 'Next image' : 'Capture';
  ui.next.setAttribute('aria-description', src === 'camera' ? 'Hold for a burst of frames' : '');
  unfreeze();
  if (reopen) await openCurrent();
  else await refresh();
  renderBackground();
  if (src === 'camera') void cameraLoop();
}

// ---------------------------------------------------------------- start-up

async function main(): Promise<void> {
  setNet();
  setReady(false);
  addEventListener('online', setNet);
  addEventListener('offline', setNet);
  ui.srcSample.addEventListener('click', () => void setSource('sample'));
  ui.srcCamera.addEventListener('click', () => void setSource('camera'));
  ui.next.addEventListener('pointerdown', burstStart);
  for (const e of ['pointerup', 'pointerleave', 'pointercancel'] as const) ui.next.addEventListener(e, burstEnd);
  ui.next.addEventListener('click', () => void capture());
  ui.live.addEventListener('click', () => setLive(!state.live));
  ui.undo.addEventListener('click', () => void undo());
  ui.addForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void addClass();
  });
  ui.forget.addEventListener('click', () => void forgetAll());
  ui.exportBtn.addEventListener('click', () => void exportProfile());
  ui.importFile.addEventListener('change', () => void importProfile());
  ui.encrypt.addEventListener('change', () => void encryptOn());
  ui.bgCapture.addEventListener('click', () => void captureBackground());
  ui.bgClear.addEventListener('click', () => void clearBackground());
  ui.adminLeave.addEventListener('click', leaveKiosk);
  ui.adminClose.addEventListener('click', closeAdmin);
  initPrivacy({ openCurrent, refresh, showError, storageFor, setLive, unfreeze });
  wireSettings();
  document.addEventListener('visibilitychange', () => document.hidden && setLive(false));
  if (settings.kiosk)
    state.kiosk = startKiosk(settings.idleSeconds, {
      onIdle: () => void resetVisitor(),
      onAdmin: () => void adminGesture(),
    });
  document.body.dataset['source'] = 'sample';

  await serviceWorkerReady();
  progress('Loading the sample images…');
  state.sample = await loadSample(__EDGETUNE_SAMPLE__).catch(async (err: unknown) => {
    await showError(err, 'Loading the sample images');
    return undefined;
  });
  const resume = Number(localStorage.getItem(SAMPLE_POSITION) ?? -1);
  if (state.sample && Number.isInteger(resume) && resume >= 0) state.sampleIndex = resume % state.sample.count;
  await openCurrent();
}

void main();
