// The page's elements and the small UI pieces the app uses everywhere: a modal dialog, the event log, and a live region that speaks label changes only.

const $ = <T extends HTMLElement = HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing from index.html`);
  return el as T;
};

/** Every element the app drives. */
export const ui = {
  net: $('net'),
  device: $('device'),
  banner: $('persist-banner'),
  load: $('load'),
  loadText: $('load-text'),
  loadPct: $('load-pct'),
  loadBar: $<HTMLProgressElement>('load-bar'),
  error: $('error'),
  errorTitle: $('error-title'),
  errorText: $('error-text'),
  errorCode: $('error-code'),
  retry: $<HTMLButtonElement>('retry'),
  srcSample: $<HTMLButtonElement>('src-sample'),
  srcCamera: $<HTMLButtonElement>('src-camera'),
  canvas: $<HTMLCanvasElement>('canvas'),
  video: $<HTMLVideoElement>('video'),
  viewfinder: $('viewfinder'),
  freeze: $<HTMLCanvasElement>('freeze'),
  frozenTag: $('frozen-tag'),
  predLabel: $('pred-label'),
  predBar: $('pred-bar'),
  predConf: $('pred-conf'),
  truth: $('truth'),
  eye: $<HTMLCanvasElement>('eye'),
  modelInfo: $('model-info'),
  hint: $('hint'),
  next: $<HTMLButtonElement>('next'),
  live: $<HTMLButtonElement>('live'),
  undo: $<HTMLButtonElement>('undo'),
  classes: $('classes'),
  addForm: $<HTMLFormElement>('add-form'),
  className: $<HTMLInputElement>('class-name'),
  addClass: $<HTMLButtonElement>('add-class'),
  addMsg: $('add-msg'),
  events: $('events'),
  saved: $('saved'),
  exportBtn: $<HTMLButtonElement>('export'),
  importFile: $<HTMLInputElement>('import-file'),
  encrypt: $<HTMLInputElement>('encrypt'),
  forget: $<HTMLButtonElement>('forget'),
  privacyMsg: $('privacy-msg'),
  kioskSwitch: $<HTMLInputElement>('kiosk-switch'),
  kioskIdle: $<HTMLInputElement>('kiosk-idle'),
  kioskStore: $<HTMLSelectElement>('kiosk-store'),
  kioskPin: $<HTMLInputElement>('kiosk-pin'),
  admin: $('admin'),
  bgTag: $('bg-tag'),
  bgState: $('bg-state'),
  bgCapture: $<HTMLButtonElement>('bg-capture'),
  bgClear: $<HTMLButtonElement>('bg-clear'),
  bgMsg: $('bg-msg'),
  adminLeave: $<HTMLButtonElement>('admin-leave'),
  adminClose: $<HTMLButtonElement>('admin-close'),
  diag: $('diag'),
  timing: $('timing'),
  announce: $('announce'),
  dlg: $<HTMLDialogElement>('dlg'),
};

/** Controls that stay disabled until the personalizer is ready (a class added during load would be lost). */
const GATED = [
  'srcSample',
  'srcCamera',
  'next',
  'live',
  'className',
  'addClass',
  'exportBtn',
  'importFile',
  'encrypt',
  'forget',
] as const;

/** Enables or disables every control that needs a ready personalizer. */
export function setReady(ready: boolean): void {
  for (const k of GATED) (ui[k] as HTMLButtonElement | HTMLInputElement).disabled = !ready;
  document.querySelector('label[for="import-file"]')?.setAttribute('aria-disabled', String(!ready));
}

/**
 * Opens the app's dialog. With `input` it asks for text and resolves to it (or undefined on cancel);
 * `validate` returns an error message to keep the dialog open.
 */
export function ask(o: {
  title: string;
  text: string;
  ok: string;
  input?: { label: string; value?: string; type?: string };
  validate?: (v: string) => string | undefined | Promise<string | undefined>;
  danger?: boolean;
}): Promise<string | undefined> {
  const d = ui.dlg;
  const input = document.getElementById('dlg-input') as HTMLInputElement;
  const label = document.getElementById('dlg-label')!;
  const msg = document.getElementById('dlg-msg')!;
  const ok = document.getElementById('dlg-ok') as HTMLButtonElement;
  document.getElementById('dlg-title')!.textContent = o.title;
  document.getElementById('dlg-text')!.textContent = o.text;
  ok.textContent = o.ok;
  ok.classList.toggle('danger', o.danger === true);
  msg.textContent = '';
  label.hidden = !o.input;
  if (o.input) {
    label.firstChild!.textContent = `${o.input.label} `;
    input.type = o.input.type ?? 'text';
    input.value = o.input.value ?? '';
  }
  const opener = document.activeElement as HTMLElement | null;
  return new Promise((resolve) => {
    const onClose = async (): Promise<void> => {
      if (d.returnValue === 'ok' && o.validate) {
        const err = await o.validate(input.value);
        if (err) {
          msg.textContent = err;
          d.showModal();
          input.focus();
          return;
        }
      }
      d.removeEventListener('close', onClose);
      opener?.focus?.();
      resolve(d.returnValue === 'ok' ? (o.input ? input.value : 'ok') : undefined);
    };
    d.addEventListener('close', onClose);
    d.returnValue = '';
    d.showModal();
    (o.input ? input : ok).focus();
  });
}

/** Adds a line to the on-screen event log (newest first, last 8 kept). */
export function logEvent(text: string, kind: 'pseudo' | 'drift' | 'rollback' | 'adapt' | 'info'): void {
  const li = document.createElement('li');
  li.dataset['kind'] = kind;
  li.textContent = `${new Date().toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' })} ${text}`;
  ui.events.prepend(li);
  while (ui.events.children.length > 8) ui.events.lastElementChild?.remove();
}

let spoken = '';
let pending = '';
let speakTimer = 0;

/**
 * Tells a screen reader the shown label, only when it changed and held for a moment: live
 * predictions change several times a second, and a live region that followed them would never stop.
 */
export function announceLabel(text: string): void {
  if (text === pending) return;
  pending = text;
  clearTimeout(speakTimer);
  speakTimer = window.setTimeout(() => {
    if (pending !== spoken) {
      spoken = pending;
      ui.announce.textContent = pending;
    }
  }, 1200);
}
