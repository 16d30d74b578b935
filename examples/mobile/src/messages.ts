// Turns typed edgetune errors, camera errors and storage errors into messages that name the real cause, and says which of them a retry can fix.
import { isEdgetuneError } from '../../../src/index.js';

/** A message for the error banner. */
export interface HumanError {
  readonly title: string;
  readonly text: string;
  /** Technical line: the code and original message. */
  readonly detail: string;
}

/** What the app found out about the failure beyond the error itself. */
export interface Facts {
  readonly online: boolean;
  /** A runtime file the build should ship answered with this HTTP status (a deployment problem). */
  readonly missingFile?: { readonly path: string; readonly status: number } | undefined;
}

const EDGETUNE: Record<string, [string, string]> = {
  CHECKSUM_MISMATCH: [
    'The model file was damaged',
    'The stored copy is not the published model (checksum mismatch). The app dropped it; Retry downloads it again.',
  ],
  MODEL_CORRUPT: [
    'The model file was damaged',
    'The model could not be read. The app dropped the stored copy; Retry downloads it again.',
  ],
  MANIFEST_INVALID: [
    'The model description is invalid',
    'This deployment ships a broken model manifest; the site needs rebuilding.',
  ],
  BACKEND_UNAVAILABLE: [
    'This browser cannot run the model',
    'WebAssembly did not start here. Try an up-to-date Chrome, Edge, Safari or Firefox.',
  ],
  UNSUPPORTED_OP: ['This browser cannot run the model', 'The model uses an operation this runtime does not support.'],
  WORKER_FAILED: [
    'The background worker did not start',
    'Retry. If it keeps happening, the worker script is missing from this deployment.',
  ],
  WORKER_LOST: [
    'The background worker stopped',
    'The browser ended it (low memory?). Retry starts it again; what was saved is kept.',
  ],
  QUOTA_EXCEEDED: ['The device is out of storage space', 'Free some space; what you taught before is still saved.'],
  DB_BLOCKED: ['Another tab is updating the app', 'Close the other tabs of this app, then Retry.'],
  DECRYPT_FAILED: [
    'Wrong passphrase',
    'The profile on this device is encrypted with another passphrase. Retry and type it again.',
  ],
  STATE_INVALID: ['What was learned could not be restored', 'It was saved by an incompatible version of the app.'],
  IMPORT_INVALID: ['That file is not a profile of this app', 'Pick a file made with “Export profile”.'],
  NOT_READY: ['Not enough labels yet', 'Label at least one image in two classes first.'],
  UNKNOWN_LABEL: ['Unknown class', 'Add the class first, then label images with it.'],
  NON_FINITE: ['The model produced invalid numbers', 'The runtime on this device gives wrong results; Retry.'],
  INPUT_SHAPE: ['The image could not be used', 'The camera frame or image had an unexpected size.'],
  INPUT_TYPE: ['The image could not be used', 'The camera frame or image had an unexpected type.'],
  LOCK_TIMEOUT: ['Another tab is busy with the profile', 'Wait a moment and Retry.'],
};

const DOM: Record<string, [string, string]> = {
  NotAllowedError: [
    'Camera permission was denied',
    'Allow the camera in the browser settings, or use the sample images.',
  ],
  NotFoundError: ['No camera found', 'This device has no camera the browser can use. Use the sample images instead.'],
  NotReadableError: [
    'The camera is busy',
    'Another app is using the camera. Close it and try again, or use the sample images.',
  ],
  OverconstrainedError: ['No suitable camera', 'No camera matched the request. Use the sample images instead.'],
  SecurityError: ['The camera needs a secure page', 'Open the app over https (or localhost) to use the camera.'],
  QuotaExceededError: [
    'The device is out of storage space',
    'Free some space; the app keeps working but cannot save new labels.',
  ],
};

/** Describes any thrown value for the error banner; `facts` tell offline from a deployment problem. */
export function humanError(err: unknown, context: string, facts: Facts): HumanError {
  const message = err instanceof Error ? err.message : String(err);
  if (facts.missingFile) {
    const { path, status } = facts.missingFile;
    return {
      title: 'This deployment is incomplete',
      text: `The server answers HTTP ${status} for ${path}, a file the app needs to run the model. This is a problem of the site, not of your browser or connection; tell whoever runs it.`,
      detail: isEdgetuneError(err) ? `${err.code}: ${message}` : message,
    };
  }
  if (isEdgetuneError(err)) {
    const detail = `${err.code}: ${message}`;
    if (err.code === 'MODEL_NOT_FOUND') {
      const status = (err.details as { status?: unknown } | undefined)?.status;
      if (!facts.online)
        return {
          title: 'You are offline',
          text: 'The model has not been saved on this device yet. Connect once so the app can save itself for offline use, then Retry.',
          detail,
        };
      if (typeof status === 'number')
        return {
          title: 'The model is missing on the server',
          text: `The server answers HTTP ${status} for the model. You are online; this is a problem of the site, not of your connection.`,
          detail,
        };
      return {
        title: 'The server could not be reached',
        text: 'You seem to be online, but the request failed. Retry in a moment.',
        detail,
      };
    }
    const [title, text] = EDGETUNE[err.code] ?? [`${context} failed`, 'Retry; if it keeps failing, reload the page.'];
    return { title, text, detail };
  }
  const name = (err as { name?: unknown } | null)?.name;
  if (typeof name === 'string' && DOM[name]) {
    const [title, text] = DOM[name];
    return { title, text, detail: `${name}: ${message}` };
  }
  if (!facts.online)
    return {
      title: `${context} failed while offline`,
      text: 'Connect once so the app can save itself for offline use, then Retry.',
      detail: message,
    };
  return {
    title: `${context} failed`,
    text: 'Retry; if it keeps failing, reload the page.',
    detail: `${typeof name === 'string' ? name : 'Error'}: ${message}`,
  };
}

/** Errors after which the model copy on the device is bad and must be fetched again. */
export function isDamagedModel(err: unknown): boolean {
  return isEdgetuneError(err, 'CHECKSUM_MISMATCH') || isEdgetuneError(err, 'MODEL_CORRUPT');
}
