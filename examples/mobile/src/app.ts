// The mobile example app: camera frames or sample images → encoder in the edgetune worker → tap-to-label → live predictions → a learner that keeps adapting, saved in IndexedDB.
import type { LoadProgress } from '../../../src/runtime/encoder.js';
import { EdgetuneWorker, type WorkerEncoder } from '../../../src/worker/index.js';
import { LEARNER_NAME, newLearner, restoreLearner, type AppLearner, type Prediction } from './learning.js';
import { humanError } from './messages.js';
import { cachedModel, cacheModel, getSetting, loadLearner, onRemoteCheckpoint, saveLearner, setSetting, storageInfo } from './persist.js';
import type { ModelManifest } from '../../../src/runtime/manifest.js';
import { loadSample, sampleImage, type Sample } from './sample.js';

// Set by build.mjs.
declare const __EDGETUNE_ACCELERATORS__: boolean;
declare const __EDGETUNE_SAMPLE__: string;

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};

const ui = {
  net: $('net'),
  device: $('device'),
  load: $('load'),
  loadText: $('load-text'),
  loadPct: $('load-pct'),
  loadBar: $<HTMLProgressElement>('load-bar'),
  error: $('error'),
  srcSample: $<HTMLButtonElement>('src-sample'),
  srcCamera: $<HTMLButtonElement>('src-camera'),
  canvas: $<HTMLCanvasElement>('canvas'),
  video: $<HTMLVideoElement>('video'),
  predLabel: $('pred-label'),
  predBar: $('pred-bar'),
  predConf: $('pred-conf'),
  truth: $('truth'),
  next: $<HTMLButtonElement>('next'),
  live: $<HTMLButtonElement>('live'),
  classes: $('classes'),
  addForm: $<HTMLFormElement>('add-form'),
  className: $<HTMLInputElement>('class-name'),
  saved: $('saved'),
  diag: $('diag'),
  attempts: $('attempts'),
  timing: $('timing'),
  forget: $<HTMLButtonElement>('forget'),
};

interface Frame {
  /** Embedding from the worker, once computed. */
  embedding: Float32Array;
  /** Dataset label of a sample image (for the caption). */
  truth: string | undefined;
  labeled: boolean;
}

const state = {
  encoder: undefined as WorkerEncoder | undefined,
  modelId: '',
  learner: undefined as AppLearner | undefined,
  sample: undefined as Sample | undefined,
  sampleIndex: -1,
  source: 'sample' as 'sample' | 'camera',
  stream: undefined as MediaStream | undefined,
  frame: undefined as Frame | undefined,
  live: false,
  busy: false,
  adaptTimer: 0,
  embedMs: 0,
  saveTimer: 0,
};

// ---------------------------------------------------------------- errors and status

function showError(err: unknown, context: string): void {
  const h = humanError(err, context);
  $('error-title').textContent = h.title;
  $('error-text').textContent = h.text;
  $('error-code').textContent = h.detail;
  ui.error.hidden = false;
  console.error(context, err);
}

function setNet(): void {
  ui.net.textContent = navigator.onLine ? 'online' : 'offline';
  ui.net.classList.toggle('off', !navigator.onLine);
}

function progressText(p: LoadProgress): [string, number | undefined] {
  switch (p.phase) {
    case 'download':
      return [`Downloading ${p.file}`, p.total ? p.loaded / p.total : undefined];
    case 'verify':
      return [`Checking ${p.file} (SHA-256)`, 1];
    case 'compile':
      return [`Compiling for ${p.device}`, undefined];
    case 'selfcheck':
      return [`Self-checking ${p.device} against WASM`, undefined];
    case 'warmup':
      return [`Warming up on ${p.device}`, undefined];
    case 'ready':
      return [`Ready on ${p.device}`, 1];
  }
}

function onProgress(p: LoadProgress): void {
  const [text, frac] = progressText(p);
  ui.loadText.textContent = text;
  if (frac === undefined) {
    ui.loadBar.removeAttribute('value');
    ui.loadPct.textContent = '';
  } else {
    ui.loadBar.value = frac;
    ui.loadPct.textContent = `${Math.round(frac * 100)}%`;
  }
}

function threads(): number {
  return crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
}

function renderDiagnostics(enc: WorkerEncoder): void {
  const d = enc.diagnostics;
  const m = enc.manifest;
  const rows: [string, string][] = [
    ['Runs on', `${d.device} (${d.backend})`],
    ['Model', `${m.id} · ${m.dtype} · ${m.output.dim}-d · ${(m.bytes / 1024).toFixed(0)} KiB`],
    ['Loaded from', d.origin === 'bytes' ? 'IndexedDB model cache (edgetune/storage)' : d.origin === 'url' ? (navigator.serviceWorker?.controller ? 'app files cached by the service worker' : 'network') : d.origin],
    ['Load time', `${Math.round(d.loadMs)} ms`],
    ['Self-check', d.selfCheck ? `accelerators must match WASM (cosine ≥ ${d.selfCheck.threshold}) on ${d.selfCheck.samples} canaries` : 'off'],
    ['WASM threads', `${threads()} (${crossOriginIsolated ? 'page is cross-origin isolated' : 'not cross-origin isolated: 1 thread'})`],
    ['Devices tried', __EDGETUNE_ACCELERATORS__ ? 'auto: WebNN NPU → WebNN GPU → WebGPU → WASM' : 'WASM only (this build ships no WebGPU/WebNN runtime files; build with --accelerators)'],
    ['Learner', LEARNER_NAME],
  ];
  ui.diag.replaceChildren(...rows.flatMap(([k, v]) => [Object.assign(document.createElement('dt'), { textContent: k }), Object.assign(document.createElement('dd'), { textContent: v })]));
  ui.attempts.replaceChildren(
    ...d.attempts.map((a) => {
      const li = document.createElement('li');
      li.textContent = `${a.device}: ${a.status}${a.reason ? ` — ${a.reason}` : ''}${a.cosine !== undefined ? ` (cosine ${a.cosine.toFixed(4)})` : ''}`;
      return li;
    }),
  );
  ui.device.textContent = d.device === 'wasm' ? `wasm · ${threads()} thr` : d.device;
  ui.device.title = `Encoder runs on ${d.device}; open "Device and diagnostics" for why.`;
}

// ---------------------------------------------------------------- learner UI

function renderClasses(top?: string): void {
  const l = state.learner;
  const counts = l?.counts() ?? {};
  ui.classes.replaceChildren(
    ...(l?.classes ?? []).map((name) => {
      const b = document.createElement('button');
      b.className = `cls${name === top ? ' top' : ''}`;
      b.dataset['class'] = name;
      const n = counts[name] ?? 0;
      b.setAttribute('aria-label', `Label as ${name} (${n} example${n === 1 ? '' : 's'})`);
      b.append(name, Object.assign(document.createElement('small'), { textContent: `${n} labeled` }));
      b.disabled = !state.frame;
      b.addEventListener('click', () => void label(name));
      return b;
    }),
  );
  const s = l?.stats() ?? { labeled: 0, seen: 0, pseudo: 0, drifts: 0, adaptations: 0, rollbacks: 0 };
  $('st-labeled').textContent = String(s.labeled);
  $('st-seen').textContent = String(s.seen);
  $('st-pseudo').textContent = String(s.pseudo);
  $('st-drift').textContent = String(s.drifts);
  $('adapt-info').textContent = s.adaptations ? `Adapted ${s.adaptations}× on labels and pseudo-labels${s.rollbacks ? `, ${s.rollbacks} rolled back by the accuracy guard` : ''}.` : '';
}

function renderPrediction(p: Prediction | undefined): void {
  if (!p) {
    ui.predLabel.textContent = '—';
    ui.predBar.style.width = '0';
    const classes = state.learner?.classes.length ?? 0;
    ui.predConf.textContent = classes < 2 ? 'Add two classes and label a few images to start predicting.' : 'Label at least one image in two classes to start predicting.';
    renderClasses();
    return;
  }
  ui.predLabel.textContent = p.label;
  ui.predBar.style.width = `${Math.round(p.confidence * 100)}%`;
  ui.predConf.textContent = `${Math.round(p.confidence * 100)}% confident`;
  ui.predConf.dataset['confidence'] = p.confidence.toFixed(4);
  renderClasses(p.label);
}

function scheduleSave(delay = 1500): void {
  clearTimeout(state.saveTimer);
  state.saveTimer = window.setTimeout(() => void save(), delay);
}

async function save(): Promise<void> {
  clearTimeout(state.saveTimer);
  if (!state.learner || !state.modelId) return;
  try {
    const { seen } = state.learner.stats();
    const at = await saveLearner(state.modelId, state.learner.getState());
    // The sample stream resumes where it was, so a reload does not feed the learner the same images again.
    if (state.sampleIndex >= 0) await setSetting('sampleIndex', state.sampleIndex);
    document.body.dataset['savedSeen'] = String(seen);
    ui.saved.textContent = `Saved on this device at ${new Date(at).toLocaleTimeString()}.`;
    document.body.dataset['savedAt'] = String(at);
  } catch (err) {
    showError(err, 'Saving');
  }
}

async function label(name: string): Promise<void> {
  const f = state.frame;
  const l = state.learner;
  if (!f || !l) return;
  try {
    l.addLabeled(f.embedding, name);
  } catch (err) {
    showError(err, 'Labeling');
    return;
  }
  f.labeled = true;
  await save();
  renderPrediction(l.predict(f.embedding));
  // Train the head on the new labels once the taps pause.
  clearTimeout(state.adaptTimer);
  state.adaptTimer = window.setTimeout(() => void adapt(), 800);
  // In sample mode move on, so labeling is one tap per image.
  if (state.source === 'sample' && !state.live) await step();
}

async function adapt(): Promise<void> {
  const l = state.learner;
  if (!l) return;
  try {
    if (await l.adapt()) {
      renderClasses();
      scheduleSave(0);
    }
  } catch (err) {
    showError(err, 'Adapting');
  }
}

// ---------------------------------------------------------------- frames

/** Leaves the current frame: an unlabeled one goes to the learner as part of the unlabeled stream. */
function leaveFrame(): void {
  const f = state.frame;
  const l = state.learner;
  if (!f || !l || f.labeled) return;
  const o = l.observe(f.embedding);
  if (!o) return;
  if (o.drift) ui.saved.textContent = 'Drift detected: the stream changed; unconfirmed pseudo-labels were dropped and the learner re-adapts (your labels are kept).';
  if (o.adaptDue) void adapt();
  else scheduleSave(4000);
}

let frames = 0;

async function show(image: ImageData, truth: string | undefined): Promise<void> {
  const enc = state.encoder;
  if (!enc) return;
  const t0 = performance.now();
  const [embedding] = await enc.embed([image]);
  const ms = performance.now() - t0;
  state.embedMs = state.embedMs ? state.embedMs * 0.8 + ms * 0.2 : ms;
  ui.timing.textContent = `Embedding a frame in the worker: ${state.embedMs.toFixed(1)} ms (running average, includes the message round trip).`;
  state.frame = { embedding: embedding!, truth, labeled: false };
  ui.truth.textContent = truth === undefined ? '' : `Sample ${state.sampleIndex + 1} of ${state.sample?.count ?? 0} · dataset says: ${truth}`;
  ui.truth.dataset['label'] = truth ?? '';
  ui.truth.dataset['frame'] = String(++frames);
  renderPrediction(state.learner?.predict(embedding!));
}

function drawSample(img: ImageData): void {
  if (ui.canvas.width !== img.width) ui.canvas.width = img.width;
  if (ui.canvas.height !== img.height) ui.canvas.height = img.height;
  ui.canvas.getContext('2d')!.putImageData(img, 0, 0);
}

const grab = document.createElement('canvas');
grab.width = grab.height = 56;

function cameraFrame(): ImageData | undefined {
  const v = ui.video;
  if (v.readyState < 2 || !v.videoWidth) return undefined;
  // Centre square crop: the encoder wants a square and squashing would distort objects.
  const s = Math.min(v.videoWidth, v.videoHeight);
  const ctx = grab.getContext('2d', { willReadFrequently: true })!;
  ctx.drawImage(v, (v.videoWidth - s) / 2, (v.videoHeight - s) / 2, s, s, 0, 0, grab.width, grab.height);
  return ctx.getImageData(0, 0, grab.width, grab.height);
}

/** Shows the next frame of the current source. Frames are processed one at a time. */
async function step(): Promise<void> {
  if (state.busy || !state.encoder) return;
  state.busy = true;
  try {
    leaveFrame();
    if (state.source === 'sample') {
      const s = state.sample;
      if (!s) return;
      state.sampleIndex = (state.sampleIndex + 1) % s.count;
      const { image, label: truth } = sampleImage(s, state.sampleIndex);
      drawSample(image);
      ui.canvas.setAttribute('aria-label', `Sample image ${state.sampleIndex + 1}: ${truth}`);
      await show(image, truth);
    } else {
      const img = cameraFrame();
      if (img) await show(img, undefined);
    }
  } catch (err) {
    showError(err, 'Embedding');
    setLive(false);
  } finally {
    state.busy = false;
  }
}

function setLive(on: boolean): void {
  state.live = on;
  ui.live.setAttribute('aria-pressed', String(on));
  ui.live.textContent = on ? '❚❚ Pause' : '▶ Live';
  if (on) void liveLoop();
  else scheduleSave(0);
}

async function liveLoop(): Promise<void> {
  while (state.live) {
    await step();
    await new Promise((r) => setTimeout(r, state.source === 'sample' ? 350 : 150));
  }
}

async function setSource(src: 'sample' | 'camera'): Promise<void> {
  if (src === state.source) return;
  ui.error.hidden = true;
  if (src === 'camera') {
    try {
      if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('getUserMedia is not available'), { name: 'SecurityError' });
      // Rear camera where there is one; any camera otherwise.
      state.stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: { ideal: 'environment' }, width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    } catch (err) {
      showError(err, 'Starting the camera');
      return;
    }
    ui.video.srcObject = state.stream;
    await ui.video.play().catch(() => undefined);
    ui.video.hidden = false;
    ui.canvas.hidden = true;
    ui.truth.textContent = '';
  } else {
    for (const t of state.stream?.getTracks() ?? []) t.stop();
    state.stream = undefined;
    ui.video.srcObject = null;
    ui.video.hidden = true;
    ui.canvas.hidden = false;
  }
  state.source = src;
  ui.srcSample.setAttribute('aria-pressed', String(src === 'sample'));
  ui.srcCamera.setAttribute('aria-pressed', String(src === 'camera'));
  ui.next.textContent = src === 'sample' ? 'Next image' : 'Capture frame';
  await step();
}

// ---------------------------------------------------------------- start-up

async function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator)) {
    document.body.dataset['sw'] = 'unsupported';
    return;
  }
  try {
    await navigator.serviceWorker.register('sw.js', { scope: './' });
    await navigator.serviceWorker.ready;
    document.body.dataset['sw'] = 'ready';
    ui.net.title = 'Every file of the app is cached: it works offline.';
  } catch (err) {
    document.body.dataset['sw'] = 'failed';
    console.warn('service worker registration failed', err);
  }
}

async function restore(modelId: string, dim: number): Promise<AppLearner> {
  try {
    const saved = await loadLearner(modelId);
    if (saved?.state) {
      const l = restoreLearner(saved.state);
      ui.saved.textContent = `Restored ${l.stats().labeled} labels in ${l.classes.length} classes, saved ${new Date(saved.savedAt).toLocaleString()}.`;
      document.body.dataset['restored'] = String(l.classes.length);
      return l;
    }
  } catch (err) {
    showError(err, 'Restoring what was learned');
  }
  document.body.dataset['restored'] = '0';
  return newLearner(dim);
}

/** Opens the model in the worker: from the IndexedDB model cache when it holds this build's model, else from its URL (then cached for next time). */
async function openModel(worker: EdgetuneWorker): Promise<WorkerEncoder> {
  const url = new URL('models/default.json', location.href).href;
  const options = { device: __EDGETUNE_ACCELERATORS__ ? ('auto' as const) : ('wasm' as const), onProgress };
  const current = (await fetch(url)
    .then((r) => (r.ok ? (r.json() as Promise<ModelManifest>) : undefined))
    .catch(() => undefined));
  const cached = await cachedModel(current?.id).catch(() => undefined);
  if (cached && (!current || cached.manifest.sha256 === current.sha256)) {
    document.body.dataset['modelCached'] = cached.manifest.id;
    return worker.openEncoder({ manifest: cached.manifest, bytes: cached.bytes }, options);
  }
  const enc = await worker.openEncoder(url, options);
  // The bytes come from the service worker's cache here, so storing them costs no download.
  void fetch(new URL(`models/${enc.manifest.file}`, location.href))
    .then(async (r) => {
      if (!r.ok) return;
      await cacheModel(enc.manifest, new Uint8Array(await r.arrayBuffer()));
      document.body.dataset['modelCached'] = enc.manifest.id;
    })
    .catch((err: unknown) => console.warn('could not cache the model in IndexedDB', err));
  return enc;
}

async function renderStorage(): Promise<void> {
  try {
    const s = await storageInfo();
    const mb = (n: number | undefined): string => (n === undefined ? '?' : `${(n / 1e6).toFixed(1)} MB`);
    const dt = Object.assign(document.createElement('dt'), { textContent: 'Storage' });
    const dd = Object.assign(document.createElement('dd'), { textContent: `${mb(s.usage)} used of ${mb(s.quota)}; edgetune holds ${mb(s.tracked.total)}; ${s.persisted || s.persistGranted ? 'persistent' : 'may be evicted under pressure (browser did not grant persistence)'}` });
    ui.diag.append(dt, dd);
  } catch (err) {
    console.warn('storage estimate failed', err);
  }
}

async function main(): Promise<void> {
  setNet();
  addEventListener('online', setNet);
  addEventListener('offline', setNet);
  void registerServiceWorker();

  ui.srcSample.addEventListener('click', () => void setSource('sample'));
  ui.srcCamera.addEventListener('click', () => void setSource('camera'));
  ui.next.addEventListener('click', () => void step());
  ui.live.addEventListener('click', () => setLive(!state.live));
  ui.addForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const name = ui.className.value.trim();
    if (!name || !state.learner) return;
    state.learner.addClass(name);
    ui.className.value = '';
    renderPrediction(state.frame ? state.learner.predict(state.frame.embedding) : undefined);
    void save();
  });
  ui.forget.addEventListener('click', () => {
    if (!state.encoder) return;
    state.learner = newLearner(state.encoder.dim);
    renderPrediction(undefined);
    void save().then(() => {
      ui.saved.textContent = 'Started over: the classes are gone (the last versions stay on this device until newer saves replace them).';
    });
  });
  // Best effort: up to a few seconds of stream observations would otherwise wait for the next save.
  addEventListener('pagehide', () => void save());
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      setLive(false);
      void save();
    }
  });

  const samplePromise = loadSample(__EDGETUNE_SAMPLE__).catch((err: unknown) => {
    showError(err, 'Loading the sample images');
    return undefined;
  });

  let worker: EdgetuneWorker;
  try {
    worker = await EdgetuneWorker.start({ url: new URL('worker.js', location.href), env: { wasmPaths: new URL('ort/', location.href).href } });
    ui.loadText.textContent = 'Loading the model…';
    state.encoder = await openModel(worker);
  } catch (err) {
    ui.load.hidden = true;
    ui.device.textContent = 'not loaded';
    showError(err, 'Loading the model');
    document.body.dataset['state'] = 'error';
    return;
  }
  state.modelId = state.encoder.manifest.id;
  renderDiagnostics(state.encoder);
  void renderStorage();
  state.learner = await restore(state.modelId, state.encoder.dim);
  // Two tabs of the app share one profile: take over what the other tab learned.
  void onRemoteCheckpoint(state.modelId, () => {
    void (async () => {
      const saved = await loadLearner(state.modelId);
      if (!saved?.state || !state.encoder) return;
      state.learner = restoreLearner(saved.state);
      ui.saved.textContent = 'Updated with what another tab of this app learned.';
      renderPrediction(state.frame ? state.learner.predict(state.frame.embedding) : undefined);
    })().catch((err: unknown) => showError(err, 'Loading what another tab learned'));
  }).catch(() => undefined);
  state.sample = await samplePromise;
  const resume = await getSetting<number>('sampleIndex').catch(() => undefined);
  if (state.sample && typeof resume === 'number' && resume >= 0) state.sampleIndex = resume % state.sample.count;
  ui.load.hidden = true;
  document.body.dataset['state'] = 'ready';
  await step();
}

void main();
