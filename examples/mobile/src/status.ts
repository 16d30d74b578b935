// What the app tells the user about itself: online/offline, load progress, the error card, and the first visit's offline caching.
import type { PersonalizerProgress } from '../../../src/index.js';
import { humanError, isDamagedModel } from './messages.js';
import { missingRuntimeFile } from './recovery.js';
import { logEvent, ui } from './ui.js';

/** Shows whether the device is online. */
export function setNet(): void {
  ui.net.textContent = navigator.onLine ? 'online' : 'offline';
  ui.net.classList.toggle('off', !navigator.onLine);
}

/** Shows the error card for `err`, in words, with a retry button when `retry` is given. */
export async function showError(err: unknown, context: string, retry?: () => void): Promise<void> {
  console.error(context, err);
  const missingFile = isDamagedModel(err) ? undefined : await missingRuntimeFile().catch(() => undefined);
  const h = humanError(err, context, { online: navigator.onLine, missingFile });
  ui.errorTitle.textContent = h.title;
  ui.errorText.textContent = h.text;
  ui.errorCode.textContent = h.detail;
  ui.error.dataset['code'] = (err as { code?: string }).code ?? (missingFile ? 'DEPLOYMENT' : '');
  ui.retry.hidden = !retry;
  ui.retry.onclick = retry
    ? () => {
        ui.error.hidden = true;
        retry();
      }
    : null;
  ui.error.hidden = false;
}

/** Shows the loading panel with `text` and, when known, the fraction done. */
export function progress(text: string, frac?: number): void {
  ui.load.hidden = false;
  ui.loadText.textContent = text;
  if (frac === undefined) {
    ui.loadBar.removeAttribute('value');
    ui.loadPct.textContent = '';
  } else {
    ui.loadBar.value = frac;
    ui.loadPct.textContent = `${Math.round(frac * 100)}%`;
  }
}

/** The personalizer's open progress, shown in the loading panel (warnings and updates go to the log). */
export function onProgress(p: PersonalizerProgress): void {
  if (p.phase === 'restore') progress('Restoring what you taught…');
  else if (p.phase === 'ready') progress('Ready', 1);
  else if (p.progress.phase === 'download')
    progress(`Downloading ${p.progress.file}`, p.progress.total ? p.progress.loaded / p.progress.total : undefined);
  else if (p.progress.phase === 'verify') progress(`Checking ${p.progress.file} (SHA-256)`);
  else if (p.progress.phase === 'warning') logEvent(`warning: ${p.progress.message}`, 'info');
  else if (p.progress.phase === 'update')
    logEvent(
      p.progress.status === 'stored'
        ? 'a model update is stored for the next start'
        : 'a model update could not be fetched',
      'info',
    );
  else progress(`Preparing the model (${p.progress.phase} on ${p.progress.device})`);
}

/** First visit: waits until the service worker has cached the app, so every file is downloaded once (by it). */
export async function serviceWorkerReady(): Promise<void> {
  if (!('serviceWorker' in navigator)) {
    document.body.dataset['sw'] = 'unsupported';
    return;
  }
  try {
    navigator.serviceWorker.addEventListener(
      'message',
      (e: MessageEvent<{ type?: string; done?: number; total?: number }>) => {
        if (e.data?.type === 'precache' && e.data.total)
          progress(
            `Saving the app for offline use (${e.data.done}/${e.data.total} files)`,
            (e.data.done ?? 0) / e.data.total,
          );
      },
    );
    const reg = await navigator.serviceWorker.register('sw.js', { scope: './' });
    if (!navigator.serviceWorker.controller) {
      progress('Saving the app for offline use…');
      await new Promise<void>((res) => {
        navigator.serviceWorker.addEventListener('controllerchange', () => res(), { once: true });
        const w = reg.installing ?? reg.waiting;
        w?.addEventListener('statechange', () => w.state === 'redundant' && res());
        if (!w && reg.active) reg.active.postMessage('claim');
      });
    }
    document.body.dataset['sw'] = navigator.serviceWorker.controller ? 'ready' : 'failed';
  } catch (err) {
    document.body.dataset['sw'] = 'failed';
    console.warn('service worker registration failed', err);
  }
}
