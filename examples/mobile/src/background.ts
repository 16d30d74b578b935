// The kiosk's "capture the empty scene": the admin panel's buttons, the background reference handed to the personalizer (in its worker), and the state shown on the preview.
import { grabFrame } from './camera.js';
import { state } from './state.js';
import { logEvent, ui } from './ui.js';

/**
 * Difference (0..255, in any colour channel) that counts as "something is there": low, because a mug on a
 * cloth of its own colours differs little; 12 keeps a still camera's own noise out on the test scenes. The
 * SDK's default mask also blanks what did not change inside the crop.
 */
export const BACKGROUND_THRESHOLD = 12;

/** Shows whether a background reference is in use: a tag on the preview and the admin panel's line. */
export function renderBackground(): void {
  const bg = state.emptyScene;
  const camera = state.source === 'camera';
  ui.bgTag.hidden = !bg || !camera;
  ui.bgState.textContent = bg
    ? `Empty scene set at ${new Date(bg.at).toLocaleTimeString()} (${bg.image.width}×${bg.image.height} px of the viewfinder): each frame is cropped to what differs from it.`
    : 'Empty scene: not set. The model sees the whole viewfinder.';
  ui.bgCapture.textContent = bg ? 'Capture the empty scene again' : 'Capture the empty scene';
  ui.bgCapture.disabled = !camera || !state.stream || !state.p;
  ui.bgClear.disabled = !bg || !state.p;
  document.body.dataset['background'] = bg ? 'set' : 'none';
}

/** Hands the captured empty scene (or none) to the personalizer: after opening, and after a capture or clear. */
export async function applyBackground(): Promise<void> {
  const p = state.p;
  if (!p) return;
  const bg = state.source === 'camera' ? state.emptyScene : undefined;
  await p.setBackground(bg ? bg.image : null, { threshold: BACKGROUND_THRESHOLD });
  renderBackground();
}

/** Captures the viewfinder of the frame on screen as the empty scene. */
export async function captureBackground(): Promise<void> {
  const img = state.source === 'camera' ? grabFrame(ui.video) : undefined;
  if (!img || !state.p) {
    ui.bgMsg.textContent = 'Switch to the camera first.';
    return;
  }
  const again = state.emptyScene !== undefined;
  state.emptyScene = { image: img, at: Date.now() };
  try {
    await applyBackground();
    ui.bgMsg.textContent = 'Empty scene captured. Put an object in the box to try it.';
    logEvent(again ? 'admin captured the empty scene again' : 'admin captured the empty scene', 'info');
  } catch (err) {
    state.emptyScene = undefined;
    renderBackground();
    ui.bgMsg.textContent = `Could not use this frame: ${(err as Error).message}`;
  }
}

/** Drops the empty scene: the model sees the whole viewfinder again. */
export async function clearBackground(): Promise<void> {
  state.emptyScene = undefined;
  await applyBackground().catch(() => undefined);
  ui.bgMsg.textContent = 'Empty scene cleared.';
  logEvent('admin cleared the empty scene', 'info');
}

/** Opens the admin panel (after the admin gesture and PIN). */
export function openAdmin(): void {
  ui.admin.hidden = false;
  ui.bgMsg.textContent = '';
  renderBackground();
  ui.admin.scrollIntoView({ block: 'nearest' });
  (ui.bgCapture.disabled ? ui.adminClose : ui.bgCapture).focus();
}

/** Closes the admin panel (Done, or the idle reset). */
export function closeAdmin(): void {
  ui.admin.hidden = true;
}
