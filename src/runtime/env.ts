// Process-wide runtime settings (wasm file location, threads, log level); everything else is a per-call option.

/** Process-wide runtime settings. Set before the first model is opened. */
export interface RuntimeEnv {
  /**
   * Directory URL (ending in `/`) that holds onnxruntime-web's `ort-wasm-*.{mjs,wasm}` files.
   * When unset: in Node, onnxruntime-web finds its own files; in a browser, the files edgetune's
   * build copies next to its bundle (`dist/ort/`). Never a CDN. edgetune never overwrites a path
   * the app set on onnxruntime-web's own `env` either.
   */
  wasmPaths: string | undefined;
  /**
   * WASM threads. Unset: all cores (up to 4) when the page is cross-origin isolated, else 1
   * (browsers forbid threads without isolation; ORT would silently drop to 1).
   */
  numThreads: number | undefined;
  /** Log level passed to onnxruntime-web. @defaultValue 'error' */
  logLevel: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /** Directory URL of tfjs-tflite's wasm files (browser only). Unset: `dist/tflite/` next to the bundle. */
  tfliteWasmPath: string | undefined;
}

/** The single process-wide {@link RuntimeEnv}. */
export const env: RuntimeEnv = {
  wasmPaths: undefined,
  numThreads: undefined,
  logLevel: 'error',
  tfliteWasmPath: undefined,
};
