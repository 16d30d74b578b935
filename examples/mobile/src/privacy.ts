// Privacy and kiosk controls of the app: forget everything (confirmed), export/import, passphrase encryption, the kiosk settings, the admin gesture (PIN, then the admin panel) and the idle reset.
import { openStorage } from '../../../src/storage/index.js';
import type { StorageOptions } from '../../../src/storage/index.js';
import { closeAdmin, openAdmin } from './background.js';
import { forgetOthers, saveSettings, sha256 } from './profiles.js';
import { SAMPLE_POSITION, profileName, settings, state } from './state.js';
import { ask, setReady, ui } from './ui.js';

/** What these controls need from the app. */
export interface Hooks {
  openCurrent(): Promise<void>;
  refresh(): Promise<void>;
  showError(err: unknown, context: string, retry?: () => void): Promise<void>;
  storageFor(): Promise<StorageOptions | false>;
  setLive(on: boolean): void;
  unfreeze(): void;
}

let h: Hooks;

/** Hands the app's functions to these controls. */
export function initPrivacy(hooks: Hooks): void {
  h = hooks;
}

export async function forgetAll(): Promise<void> {
  const ok = await ask({
    title: 'Forget everything?',
    text: 'Every class, example and saved version of both profiles is deleted from this device. Export first to keep a copy.',
    ok: 'Forget everything',
    danger: true,
  });
  if (!ok || !state.p) return;
  setReady(false);
  try {
    await state.p.forget();
    await state.p.dispose();
    state.p = undefined;
    await forgetOthers(settings.kiosk && settings.kioskStore === 'none' ? undefined : profileName());
    state.thumbs.clear();
    state.undo = [];
    ui.events.replaceChildren();
    localStorage.removeItem(SAMPLE_POSITION);
    ui.privacyMsg.textContent = 'Forgotten: nothing of what you taught is left on this device.';
    document.body.dataset['forgotten'] = String(Date.now());
  } catch (err) {
    await h.showError(err, 'Forgetting');
  }
  await h.openCurrent();
}

export async function exportProfile(): Promise<void> {
  if (!state.p) return;
  try {
    const bytes = await state.p.exportProfile();
    const a = Object.assign(document.createElement('a'), {
      href: URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>])),
      download: `edgetune-${state.source}-${new Date().toISOString().slice(0, 10)}.edgetune`,
    });
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
    ui.privacyMsg.textContent = `Exported ${(bytes.byteLength / 1024).toFixed(0)} KiB${settings.encrypted || settings.kiosk ? ' (encrypted)' : ''}.`;
  } catch (err) {
    await h.showError(err, 'Exporting');
  }
}

export async function importProfile(): Promise<void> {
  const file = ui.importFile.files?.[0];
  ui.importFile.value = '';
  if (!file || !state.p) return;
  try {
    const bytes = new Uint8Array(await file.arrayBuffer());
    const storage = await h.storageFor();
    if (!storage)
      throw Object.assign(new Error('This kiosk keeps nothing, so there is no profile to import into.'), {
        name: 'NoProfile',
      });
    // Work-around: the worker personalizer's importProfile() calls the open-time onProgress proxy, which comlink has released by then
    // ("Proxy has been released"). So the page closes it, imports through edgetune/storage, and opens it again.
    await state.p.dispose();
    state.p = undefined;
    const s = await openStorage(storage);
    try {
      await s.importProfile(bytes, state.passphrase ? { passphrase: state.passphrase } : {});
    } finally {
      await s.dispose();
    }
    state.thumbs.clear();
    state.undo = [];
    await h.openCurrent();
    ui.privacyMsg.textContent = `Imported ${file.name}.`;
  } catch (err) {
    await h.showError(err, 'Importing', state.p ? undefined : () => void h.openCurrent());
  }
}

export async function encryptOn(): Promise<void> {
  if (!ui.encrypt.checked) return;
  const pass = await ask({
    title: 'Encrypt on this device',
    text: 'Everything learned is encrypted with a key made from this passphrase (AES-GCM). Without it, the profile cannot be opened: there is no recovery.',
    ok: 'Encrypt',
    input: { label: 'Passphrase (8 characters or more)', type: 'password' },
    validate: (v) => (v.length < 8 ? 'Use 8 characters or more.' : undefined),
  });
  if (!pass) {
    ui.encrypt.checked = false;
    return;
  }
  settings.encrypted = true;
  state.passphrase = pass;
  saveSettings(settings);
  // Opening a plain profile with encryption encrypts every record in place.
  await h.openCurrent();
  ui.privacyMsg.textContent = 'The profile is now encrypted on this device.';
}

// ---------------------------------------------------------------- kiosk and settings

export function wireSettings(): void {
  ui.kioskSwitch.checked = settings.kiosk;
  ui.kioskIdle.value = String(settings.idleSeconds);
  ui.kioskStore.value = settings.kioskStore;
  ui.kioskSwitch.addEventListener('change', () => {
    settings.kiosk = ui.kioskSwitch.checked;
    saveSettings(settings);
    location.reload();
  });
  ui.kioskIdle.addEventListener('change', () => {
    settings.idleSeconds = Math.max(5, Number(ui.kioskIdle.value) || 60);
    saveSettings(settings);
  });
  ui.kioskStore.addEventListener('change', () => {
    settings.kioskStore = ui.kioskStore.value === 'encrypted' ? 'encrypted' : 'none';
    saveSettings(settings);
  });
  ui.kioskPin.addEventListener('change', async () => {
    settings.pinHash = ui.kioskPin.value ? await sha256(ui.kioskPin.value) : '';
    saveSettings(settings);
  });
}

/** The admin gesture: the PIN (when one is set), then the admin panel (empty scene, leave kiosk mode). */
export async function adminGesture(): Promise<void> {
  const pin = settings.pinHash
    ? await ask({
        title: 'Admin',
        text: 'Type the admin PIN to open the admin panel (empty scene, leave kiosk mode).',
        ok: 'Open admin panel',
        input: { label: 'PIN', type: 'password' },
        validate: async (v) => ((await sha256(v)) === settings.pinHash ? undefined : 'Wrong PIN.'),
      })
    : await ask({ title: 'Admin', text: 'Open the admin panel?', ok: 'Open admin panel' });
  if (pin !== undefined) openAdmin();
}

/** Leaves kiosk mode (from the admin panel, so after the PIN). */
export function leaveKiosk(): void {
  settings.kiosk = false;
  saveSettings(settings);
  location.href = location.pathname;
}

/** A kiosk idle for N seconds: back to the home screen, and a fresh session when it keeps nothing. */
export async function resetVisitor(): Promise<void> {
  if (ui.dlg.open) ui.dlg.close('cancel');
  h.setLive(false);
  h.unfreeze();
  for (const d of document.querySelectorAll('details')) d.open = false;
  window.scrollTo(0, 0);
  closeAdmin();
  state.thumbs.clear();
  state.undo = [];
  ui.events.replaceChildren();
  if (settings.kioskStore === 'none') await state.p?.forget().catch(() => undefined);
  document.body.dataset['resets'] = String(Number(document.body.dataset['resets'] ?? 0) + 1);
  await h.refresh();
}
