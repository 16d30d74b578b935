// Process-wide runtime settings (wasm file location, threads, log level); everything else is a per-call option.

/** Process-wide runtime settings. Set before the first model is opened. */
export interface RuntimeEnv {
  /**
   * Directory URL (ending in `/`) that holds onnxruntime-web's `ort-wasm-*.{mjs,wasm}` files.
   * When unset, onnxruntime-web loads its own files from beside its own module: in Node and under an
   * import map that is the installed package, and bundlers that handle `new URL(…, import.meta.url)`
   * (Vite, webpack 5, esbuild with a file loader) emit them with the app. Never a CDN. edgetune's
   * package carries no copy: to serve them from a folder of your choice, run
   * `npx edgetune-copy-assets public/assets` and set `'/assets/ort/'`. edgetune never overwrites a
   * path the app set on onnxruntime-web's own `env` either.
   * @defaultValue undefined
   */
  wasmPaths: string | undefined;
  /**
   * WASM threads. Unset: all cores (up to 4) when the page is cross-origin isolated, else 1
   * (browsers forbid threads without isolation; ORT would silently drop to 1); with an open's `cache`
   * on such a page, chosen by timing all cores against 1 thread across page loads
   * (`diagnostics.threads`). Set, it is used as it is and nothing is timed.
   */
  numThreads: number | undefined;
  /** Log level passed to onnxruntime-web. @defaultValue 'error' */
  logLevel: 'verbose' | 'info' | 'warning' | 'error' | 'fatal';
  /**
   * Directory URL (ending in `/`) of tfjs-tflite's `tflite_web_api_cc*` files (browser only). Required
   * before a TFLite model opens: copy them with `npx edgetune-copy-assets public/assets --tflite` and
   * set `'/assets/tflite/'`. Unset, opening a TFLite model fails with `BACKEND_UNAVAILABLE` (tfjs-tflite's
   * own default, the page's folder, would fail later with a bare 404).
   * @defaultValue undefined
   */
  tfliteWasmPath: string | undefined;
}

/** The single process-wide {@link RuntimeEnv}. */
export const env: RuntimeEnv = {
  wasmPaths: undefined,
  numThreads: undefined,
  logLevel: 'error',
  tfliteWasmPath: undefined,
};
