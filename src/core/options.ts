// The `{ signal, onProgress }` options every long operation of every entry takes.

/** `{ signal, onProgress }` accepted by every long operation; `P` is its progress union (told apart by `phase`). */
export interface OperationOptions<P = unknown> {
  /** Cancels the operation. */
  readonly signal?: AbortSignal;
  /** Called as the operation moves through its phases. */
  readonly onProgress?: (progress: P) => void;
}
