// Turns typed edgetune errors, camera errors and storage errors into messages a person can act on.
import { isEdgetuneError } from '../../../src/core/errors.js';

/** A message for the error banner. */
export interface HumanError {
  readonly title: string;
  readonly text: string;
  /** Technical line: the code and original message. */
  readonly detail: string;
}

const EDGETUNE: Record<string, [string, string]> = {
  MODEL_NOT_FOUND: ['The model could not be downloaded', 'Check your connection and reload. Once the app has loaded fully it also works offline.'],
  CHECKSUM_MISMATCH: ['The model file is damaged', 'The downloaded model is not the published one (checksum mismatch). Reload to fetch it again.'],
  MODEL_CORRUPT: ['The model file is damaged', 'The model could not be read. Reload to fetch it again.'],
  MANIFEST_INVALID: ['The model description is invalid', 'This build ships a broken model manifest; rebuild the app.'],
  BACKEND_UNAVAILABLE: ['This browser cannot run the model', 'None of WebNN, WebGPU or WebAssembly worked here. Try an up-to-date Chrome, Edge, Safari or Firefox.'],
  UNSUPPORTED_OP: ['This browser cannot run the model', 'The model uses an operation this runtime does not support.'],
  WORKER_FAILED: ['The background worker did not start', 'Reload the page. If it keeps happening, the worker script is missing from the build.'],
  QUOTA_EXCEEDED: ['The device is out of storage space', 'Free some space; what you taught the app before is still saved.'],
  DB_BLOCKED: ['Another tab is updating the app', 'Close the other tabs of this app, then reload.'],
  STATE_INVALID: ['What was learned could not be restored', 'It was saved by an incompatible version of the app, so the app starts fresh.'],
  NOT_READY: ['Not enough labels yet', 'Label at least one image in two classes first.'],
  UNKNOWN_LABEL: ['Unknown class', 'Add the class first, then label images with it.'],
  NON_FINITE: ['The model produced invalid numbers', 'The runtime on this device gives wrong results; reload to try another device.'],
  INPUT_SHAPE: ['The image could not be used', 'The camera frame or image had an unexpected size.'],
  INPUT_TYPE: ['The image could not be used', 'The camera frame or image had an unexpected type.'],
};

const DOM: Record<string, [string, string]> = {
  NotAllowedError: ['Camera permission was denied', 'Allow the camera in the browser settings, or use the sample images.'],
  NotFoundError: ['No camera found', 'This device has no camera the browser can use. Use the sample images instead.'],
  NotReadableError: ['The camera is busy', 'Another app is using the camera. Close it and try again, or use the sample images.'],
  OverconstrainedError: ['No suitable camera', 'No camera matched the request. Use the sample images instead.'],
  SecurityError: ['The camera needs a secure page', 'Open the app over https (or localhost) to use the camera.'],
  QuotaExceededError: ['The device is out of storage space', 'Free some space; the app keeps working but cannot save new labels.'],
};

/** Describes any thrown value for the error banner. */
export function humanError(err: unknown, context: string): HumanError {
  if (isEdgetuneError(err)) {
    const [title, text] = EDGETUNE[err.code] ?? [`${context} failed`, 'Reload the page and try again.'];
    return { title, text, detail: `${err.code}: ${err.message}` };
  }
  const name = (err as { name?: unknown } | null)?.name;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof name === 'string' && DOM[name]) {
    const [title, text] = DOM[name];
    return { title, text, detail: `${name}: ${message}` };
  }
  if (!navigator.onLine) return { title: `${context} failed while offline`, text: 'Connect once so the app can save itself for offline use, then reload.', detail: message };
  return { title: `${context} failed`, text: 'Reload the page and try again.', detail: `${typeof name === 'string' ? name : 'Error'}: ${message}` };
}
