// Errors across the worker boundary as plain values: the worker returns them in an envelope and the page rethrows them, so comlink's global throw handler is never replaced.
import { EdgetuneError, isEdgetuneError, type ErrorCode } from '../core/errors.js';

/** An error as it crosses postMessage. */
export interface SerializedError {
  readonly name: string;
  readonly message: string;
  readonly stack: string | undefined;
  readonly code: string | undefined;
  readonly details: unknown;
}

/** What every guarded worker call resolves to: its value, or the error it threw. */
export type Envelope<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly error: SerializedError };

function cloneable(details: unknown): unknown {
  try {
    return structuredClone(details);
  } catch {
    return undefined;
  }
}

/** Turns anything thrown into a structured-clone-able record that keeps an EdgetuneError's code and details. */
export function serializeError(value: unknown): SerializedError {
  if (value instanceof Error || isEdgetuneError(value)) {
    const e = value as Error & { code?: string; details?: unknown };
    return {
      name: e.name,
      message: e.message,
      stack: e.stack,
      code: typeof e.code === 'string' ? e.code : undefined,
      details: cloneable(e.details),
    };
  }
  return { name: 'Error', message: String(value), stack: undefined, code: undefined, details: undefined };
}

/** Rebuilds a thrown error on the page: an EdgetuneError with its code and details, or a plain Error with its name. */
export function deserializeError(s: SerializedError): Error {
  if (s.name === 'EdgetuneError' && s.code) {
    const err = new EdgetuneError(
      s.code as ErrorCode,
      s.message,
      s.details === undefined ? {} : { details: s.details as Record<string, unknown> },
    );
    if (s.stack) err.stack = s.stack;
    return err;
  }
  return Object.assign(new Error(s.message), { name: s.name, stack: s.stack });
}
