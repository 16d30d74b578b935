// Keeps EdgetuneError codes and details intact across the worker boundary (comlink's default throw handler drops them).
import { transferHandlers, type TransferHandler } from 'comlink';
import { EdgetuneError, type ErrorCode } from '../core/errors.js';

interface SerializedError {
  name: string;
  message: string;
  stack: string | undefined;
  code: string | undefined;
  details: unknown;
}

type Thrown = { value: unknown };

function serializeDetails(details: unknown): unknown {
  try {
    return structuredClone(details);
  } catch {
    return undefined;
  }
}

const throwHandler: Omit<TransferHandler<Thrown, { isError: boolean; value: SerializedError | unknown }>, 'canHandle'> = {
  serialize({ value }) {
    if (value instanceof Error) {
      const e = value as Error & { code?: string; details?: unknown };
      return [{ isError: true, value: { name: e.name, message: e.message, stack: e.stack, code: e.code, details: serializeDetails(e.details) } }, []];
    }
    return [{ isError: false, value }, []];
  },
  deserialize(s) {
    if (!s.isError) throw s.value;
    const v = s.value as SerializedError;
    if (v.name === 'EdgetuneError' && v.code) {
      const err = new EdgetuneError(v.code as ErrorCode, v.message, v.details === undefined ? {} : { details: v.details as Record<string, unknown> });
      if (v.stack) err.stack = v.stack;
      throw err;
    }
    throw Object.assign(new Error(v.message), { name: v.name, stack: v.stack });
  },
};

/** Installs the error-preserving throw handler (idempotent; called by both the worker and the client). */
let installed = false;

export function installErrorTransfer(): void {
  if (installed) return;
  installed = true;
  const builtin = transferHandlers.get('throw');
  if (!builtin) return;
  // Comlink marks thrown values with a private symbol: keep its detection, replace the (de)serialisation.
  transferHandlers.set('throw', { canHandle: builtin.canHandle.bind(builtin), ...throwHandler } as TransferHandler<unknown, unknown>);
}
