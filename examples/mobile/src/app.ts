// The mobile example app: camera frames or sample images → one edgetune personalizer in the worker (encoder, learner, profile) → tap-to-label → live predictions that keep adapting, saved in IndexedDB.
import type { LoadProgress } from '../../../src/runtime/encoder.js';
import { isEdgetuneError, openPersonalizer, type Personalizer, type PersonalizerPrediction, type PersonalizerStats } from '../../../src/index.js';
import { humanError } from './messages.js';
import { getSetting, setSetting, storageInfo } from './persist.js';
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

/** Learner settings of the example: the library defaults, but adapting after 20 pseudo-labels instead of 100 so a short demo shows it. */
const LEARNER = { adaptEvery: 20 } as const;
const LEARNER_NAME = `edgetune personalizer in the worker: Learner (linear head, self-training with FreeMatch thresholds, Page-Hinkley + ADWIN drift, adapt every ${LEARNER.adaptEvery} pseudo-labels) and its profile in IndexedDB`;

interface Frame {
  /** The frame itself: the personalizer embeds it in the worker for each call. */
  image: ImageData;
  /** Dataset label of a sample image (for the caption). */
  truth: string | undefined;
  labeled: boolean;
}

const state = {
  me: undefined as Personalizer | undefined,
  /** The personalizer's figures as of the last call, for synchronous rendering. */
  stats: undefined as PersonalizerStats | undefined,
  sample: undefined as Sample | undefined,
  sampleIndex: -1,
  source: 'sample' as 'sample' | 'camera',
  stream: undefined as MediaStream | undefined,
  frame: undefined as Frame | undefined,
  live: false,
  busy: false,
  embedMs: 0,
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
    case 'warning':
      return [`Warning: ${p.message}`, undefined];
    case 'update':
      return [p.status === 'stored' ? 'A model update is stored for the next start' : 'A model update could not be fetched', undefined];
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

function renderDiagnostics(st: PersonalizerStats): void {
  const d = st.diagnostics;
  const m = st.manifest;
  const rows: [string, string][] = [
    ['Runs on', `${d.device} (${d.backend})`],
    ['Model', `${m.id} · ${m.dtype} · ${m.output.dim}-d · ${(m.bytes / 1024).toFixed(0)} KiB`],
    ['Loaded from', d.origin === 'cache' ? 'IndexedDB model cache (edgetune/storage)' : d.origin === 'url' ? (navigator.serviceWorker?.controller ? 'app files cached by the service worker' : 'network') : d.origin],
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
  const st = state.stats;
  ui.classes.replaceChildren(
    ...(st?.classes ?? []).map(({ label: name, examples: n }) => {
      const b = document.createElement('button');
      b.className = `cls${name === top ? ' top' : ''}`;
      b.dataset['class'] = name;
      b.setAttribute('aria-label', `Label as ${name} (${n} example${n === 1 ? '' : 's'})`);
      b.append(name, Object.assign(document.createElement('small'), { textContent: `${n} labeled` }));
      b.disabled = !state.frame;
      b.addEventListener('click', () => void label(name));
      return b;
    }),
  );
  const s = st?.learner;
  $('st-labeled').textContent = String(s?.labeled ?? 0);
  $('st-seen').textContent = String(s?.seen ?? 0);
  $('st-pseudo').textContent = String(s?.accepted ?? 0);
  $('st-drift').textContent = String(s?.drifts ?? 0);
  $('adapt-info').textContent = s?.adaptations ? `Adapted ${s.adaptations}× on labels and pseudo-labels${s.rollbacks ? `, ${s.rollbacks} rolled back by the accuracy guard` : ''}.` : '';
}

/** True when two classes have labels, so a prediction means something. */
function ready(): boolean {
  return (state.stats?.classes.filter((c) => c.examples > 0).length ?? 0) >= 2;
}

/** Refreshes the figures the UI renders from. */
async function refresh(): Promise<void> {
  if (state.me) state.stats = await state.me.stats();
}

async function predict(image: ImageData): Promise<PersonalizerPrediction | undefined> {
  if (!state.me || !ready()) return undefined;
  try {
    return await state.me.predict(image);
  } catch (err) {
    if (isEdgetuneError(err, 'NOT_READY')) return undefined;
    throw err;
  }
}

function renderPrediction(p: PersonalizerPrediction | undefined): void {
  if (!p) {
    ui.predLabel.textContent = '—';
    ui.predBar.style.width = '0';
    const classes = state.stats?.classes.length ?? 0;
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

async function label(name: string): Promise<void> {
  const f = state.frame;
  if (!f || !state.me) return;
  try {
    // Saved, adapted (once the taps pause) and shared with other tabs by the personalizer.
    await state.me.teach(f.image, name);
    await refresh();
  } catch (err) {
    showError(err, 'Labeling');
    return;
  }
  f.labeled = true;
  renderPrediction(await predict(f.image));
  // In sample mode move on, so labeling is one tap per image.
  if (state.source === 'sample' && !state.live) await step();
}

// ---------------------------------------------------------------- frames

/** Leaves the current frame: an unlabeled one goes to the learner as part of the unlabeled stream. */
async function leaveFrame(): Promise<void> {
  const f = state.frame;
  if (!f || !state.me || f.labeled || !ready()) return;
  await state.me.observe(f.image);
  await refresh();
}

let frames = 0;

async function show(image: ImageData, truth: string | undefined): Promise<void> {
  if (!state.me) return;
  const t0 = performance.now();
  const p = await predict(image);
  const ms = performance.now() - t0;
  if (p) {
    state.embedMs = state.embedMs ? state.embedMs * 0.8 + ms * 0.2 : ms;
    ui.timing.textContent = `Embedding and predicting a frame in the worker: ${state.embedMs.toFixed(1)} ms (running average, includes the message round trip).`;
  }
  state.frame = { image, truth, labeled: false };
  ui.truth.textContent = truth === undefined ? '' : `Sample ${state.sampleIndex + 1} of ${state.sample?.count ?? 0} · dataset says: ${truth}`;
  ui.truth.dataset['label'] = truth ?? '';
  ui.truth.dataset['frame'] = String(++frames);
  renderPrediction(p);
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
  if (state.busy || !state.me) return;
  state.busy = true;
  try {
    await leaveFrame();
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
  else void state.me?.save();
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

/** Tells the UI what a save wrote (and resumes the sample stream there after a reload). */
async function onSaved(): Promise<void> {
  await refresh();
  if (state.sampleIndex >= 0) await setSetting('sampleIndex', state.sampleIndex).catch(() => undefined);
  const at = Date.now();
  document.body.dataset['savedSeen'] = String(state.stats?.learner.seen ?? 0);
  ui.saved.textContent = `Saved on this device at ${new Date(at).toLocaleTimeString()}.`;
  document.body.dataset['savedAt'] = String(at);
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
    const me = state.me;
    if (!name || !me) return;
    ui.className.value = '';
    void (async () => {
      await me.addClass(name);
      await refresh();
      renderPrediction(state.frame ? await predict(state.frame.image) : undefined);
    })().catch((err: unknown) => showError(err, 'Adding a class'));
  });
  ui.forget.addEventListener('click', () => {
    const me = state.me;
    if (!me) return;
    void (async () => {
      await me.forget();
      await refresh();
      renderPrediction(undefined);
      ui.saved.textContent = 'Started over: every class, label and checkpoint of this app was deleted from this device.';
    })().catch((err: unknown) => showError(err, 'Forgetting'));
  });
  // The personalizer saves on pagehide itself; a hidden page also stops the live loop.
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) {
      setLive(false);
      void state.me?.save();
    }
  });

  const samplePromise = loadSample(__EDGETUNE_SAMPLE__).catch((err: unknown) => {
    showError(err, 'Loading the sample images');
    return undefined;
  });

  try {
    ui.loadText.textContent = 'Loading the model…';
    // Encoder, learner and profile in the worker; the model is cached in the profile for offline starts.
    state.me = await openPersonalizer({
      model: new URL('models/default.json', location.href).href,
      storage: { name: 'edgetune-mobile', keepLast: 3 },
      learner: LEARNER,
      device: __EDGETUNE_ACCELERATORS__ ? 'auto' : 'wasm',
      worker: { url: new URL('worker.js', location.href), env: { wasmPaths: new URL('ort/', location.href).href } },
      adaptDelayMs: 800,
      onProgress: (p) => p.phase === 'model' && onProgress(p.progress),
    });
  } catch (err) {
    ui.load.hidden = true;
    ui.device.textContent = 'not loaded';
    showError(err, 'Loading the model');
    document.body.dataset['state'] = 'error';
    return;
  }
  const me = state.me;
  await refresh();
  const st = state.stats!;
  document.body.dataset['modelCached'] = st.modelId;
  renderDiagnostics(st);
  void renderStorage();
  if (st.version > 0) ui.saved.textContent = `Restored ${st.learner.labeled} labels in ${st.classes.length} classes.`;
  document.body.dataset['restored'] = String(st.version > 0 ? st.classes.length : 0);
  me.on('saved', () => void onSaved().catch(() => undefined));
  me.on('adapted', () => void refresh().then(() => renderClasses()).catch(() => undefined));
  me.on('error', (e) => showError(e.error, e.during === 'save' ? 'Saving' : e.during === 'adapt' ? 'Adapting' : 'Loading what another tab learned'));
  me.on('learner', (e) => {
    if (e.type === 'drift') ui.saved.textContent = 'Drift detected: the stream changed; unconfirmed pseudo-labels were dropped and the learner re-adapts (your labels are kept).';
  });
  // Two tabs of the app share one profile: the personalizer takes over what the other tab saved.
  me.on('synced', () => {
    void (async () => {
      await refresh();
      ui.saved.textContent = 'Updated with what another tab of this app learned.';
      renderPrediction(state.frame ? await predict(state.frame.image) : undefined);
    })().catch((err: unknown) => showError(err, 'Loading what another tab learned'));
  });
  state.sample = await samplePromise;
  const resume = await getSetting<number>('sampleIndex').catch(() => undefined);
  if (state.sample && typeof resume === 'number' && resume >= 0) state.sampleIndex = resume % state.sample.count;
  ui.load.hidden = true;
  document.body.dataset['state'] = 'ready';
  await step();
}

void main();
