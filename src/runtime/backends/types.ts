// The contract between the encoder and a runtime backend (ONNX Runtime, TFLite, or one a test injects).
import type { Device } from '../devices.js';
import type { ModelFormat, ModelManifest } from '../manifest.js';

/** A loaded model on one device. Runs are serialised by the caller. */
export interface BackendSession {
  /**
   * Runs one batch.
   *
   * @param input - preprocessed input, laid out as the manifest's input shape with batch `batch`
   * @param batch - number of samples in `input`
   * @returns the output tensor's data, `batch × manifest.output.dim` floats
   */
  run(input: Float32Array, batch: number): Promise<Float32Array>;
  /** Frees the session. */
  dispose(): Promise<void>;
}

/** What a backend is told when it is asked for a session. */
export interface SessionRequest {
  readonly bytes: Uint8Array;
  readonly manifest: ModelManifest;
  readonly device: Device;
  readonly signal: AbortSignal | undefined;
}

/** A runtime that can run models of one format on some devices. */
export interface Backend {
  /** Name shown in diagnostics, e.g. `onnxruntime-web/webgpu`. */
  readonly name: string;
  readonly format: ModelFormat;
  /** Devices this backend can serve. */
  readonly devices: readonly Device[];
  /**
   * Cheap availability probe (no heavy code loaded). Resolves to `undefined` when `device` looks
   * usable, or to the reason it is not.
   */
  probe(device: Device): Promise<string | undefined>;
  /** Loads the model on `device`; throws when it cannot. */
  createSession(request: SessionRequest): Promise<BackendSession>;
}
