// Typed errors with stable codes, shared by every area of edgetune.

/**
 * Every error code edgetune throws, one literal per failure an app may want to
 * handle differently. Codes are stable across releases; messages are not.
 */
export const ERROR_CODES = Object.freeze({
  /** An argument or option has an invalid value. */
  INVALID_ARGUMENT: 'INVALID_ARGUMENT',
  /** The operation was cancelled through its `AbortSignal`. */
  ABORTED: 'ABORTED',
  /** The object was used after `dispose()`. */
  DISPOSED: 'DISPOSED',
  /** A model manifest is missing a field or has a bad value. */
  MANIFEST_INVALID: 'MANIFEST_INVALID',
  /** Model bytes could not be fetched or read. */
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  /** Model bytes are not a valid model of the declared format. */
  MODEL_CORRUPT: 'MODEL_CORRUPT',
  /** Model bytes do not match the manifest's SHA-256 or byte size. */
  CHECKSUM_MISMATCH: 'CHECKSUM_MISMATCH',
  /** No requested backend could be initialised. */
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  /** The model uses an operator the chosen runtime does not support. */
  UNSUPPORTED_OP: 'UNSUPPORTED_OP',
  /** An input has the wrong shape or size. */
  INPUT_SHAPE: 'INPUT_SHAPE',
  /** An input has a type the runtime cannot take. */
  INPUT_TYPE: 'INPUT_TYPE',
  /** NaN or Infinity in an input, output, embedding or weight. */
  NON_FINITE: 'NON_FINITE',
  /** A label the learner has never seen. */
  UNKNOWN_LABEL: 'UNKNOWN_LABEL',
  /** The learner cannot predict yet (no classes or no training). */
  NOT_READY: 'NOT_READY',
  /** A serialised state or record has the wrong shape or version. */
  STATE_INVALID: 'STATE_INVALID',
  /** Storage quota exhausted; the previous state is intact. */
  QUOTA_EXCEEDED: 'QUOTA_EXCEEDED',
  /** A database upgrade is blocked by another open connection. */
  DB_BLOCKED: 'DB_BLOCKED',
  /** The database connection was closed or terminated unexpectedly. */
  DB_CLOSED: 'DB_CLOSED',
  /** A stored record is missing, unreadable or fails its checksum. */
  RECORD_CORRUPT: 'RECORD_CORRUPT',
  /** Decryption failed: wrong key, or the record was tampered with. */
  DECRYPT_FAILED: 'DECRYPT_FAILED',
  /** The encryption key has written too many records and must be rotated. */
  KEY_ROTATION_REQUIRED: 'KEY_ROTATION_REQUIRED',
  /** A cross-tab lock could not be taken in time. */
  LOCK_TIMEOUT: 'LOCK_TIMEOUT',
  /** An exported profile is invalid; nothing was replaced. */
  IMPORT_INVALID: 'IMPORT_INVALID',
  /** A worker failed to start or died. */
  WORKER_FAILED: 'WORKER_FAILED',
  /**
   * The worker died (terminated, crashed, or disposed) while a call was pending or after it.
   * Every pending call rejects with it; start a new worker (`EdgetuneWorker.start()`) to go on.
   */
  WORKER_LOST: 'WORKER_LOST',
  /**
   * The object is busy with an operation that cannot run twice at once (e.g. `adapt()` while one runs).
   * Await the running call, then retry.
   */
  BUSY: 'BUSY',
  /**
   * Another writer changed a record between our read and our write (it bypassed the cross-tab lock).
   * Nothing was written; retry the operation.
   */
  CONFLICT: 'CONFLICT',
  /**
   * A database under the profile's name exists but was not written by edgetune (unknown stores).
   * Nothing was read or changed; pick another `name`, or delete that database if it is yours.
   */
  DB_FOREIGN: 'DB_FOREIGN',
} as const);

/** Union of every stable error code. */
export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

/** Options accepted by {@link EdgetuneError}. */
export interface EdgetuneErrorOptions {
  /** The underlying error, if any. */
  cause?: unknown;
  /** Structured details (field name, expected/actual values) for programmatic use. */
  details?: Readonly<Record<string, unknown>>;
}

/**
 * Base class of every error edgetune throws.
 *
 * Tell errors apart with {@link isEdgetuneError} and the `code`, not with
 * `instanceof`: an error that crosses a worker boundary loses its prototype.
 */
export class EdgetuneError extends Error {
  override name = 'EdgetuneError' as const;
  /** Stable code of this failure. */
  readonly code: ErrorCode;
  /** Structured details, if any. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  /**
   * @param code - stable code of the failure
   * @param message - what was wrong, with the value, and what to do
   * @param options - cause and details
   */
  constructor(code: ErrorCode, message: string, options: EdgetuneErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

/**
 * True when `value` is an edgetune error (also one that crossed a worker and
 * lost its prototype), optionally with the given code.
 *
 * @param value - anything caught
 * @param code - narrow to this code
 */
export function isEdgetuneError(value: unknown, code?: ErrorCode): value is EdgetuneError {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as { name?: unknown; code?: unknown };
  if (v.name !== 'EdgetuneError' || typeof v.code !== 'string') return false;
  return code === undefined || v.code === code;
}

/**
 * Throws an `ABORTED` error when `signal` has been aborted.
 *
 * @param signal - the caller's signal, if any
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) {
    throw new EdgetuneError('ABORTED', 'The operation was aborted.', { cause: signal.reason });
  }
}

/**
 * Lets queued events (such as an abort message from another thread) run before long work goes on.
 * A message-channel hop queues behind messages already waiting (`scheduler.yield()` would jump
 * ahead of them) and is not clamped like nested timeouts.
 */
export function yieldToEventLoop(): Promise<void> {
  if (typeof MessageChannel === 'function') {
    return new Promise((resolve) => {
      const ch = new MessageChannel();
      ch.port1.onmessage = () => {
        ch.port1.close();
        resolve();
      };
      ch.port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}
