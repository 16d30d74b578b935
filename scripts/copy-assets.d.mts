// Types of scripts/copy-assets.mjs for TypeScript callers (tests, build scripts).

/** A copied file, relative to the destination folder, and its size in bytes. */
export interface CopiedAsset {
  file: string;
  bytes: number;
}

/** Options of {@link copyAssets}. */
export interface CopyAssetsOptions {
  /** Which onnxruntime-web files: the WASM build's (`wasm`), also the WebGPU and WebNN builds' (`all`), or none. @defaultValue 'wasm' */
  ort?: 'wasm' | 'all' | 'none';
  /** Also copy @tensorflow/tfjs-tflite's files to `dir/tflite/`. @defaultValue false */
  tflite?: boolean;
  /** The project whose installed packages are copied from. @defaultValue process.cwd() */
  from?: string;
}

/** Copies the runtimes' WASM files from the installed packages into `dir/ort/` (and `dir/tflite/`). */
export function copyAssets(dir: string, options?: CopyAssetsOptions): CopiedAsset[];

/** onnxruntime-web file names per set. */
export const ORT_FILES: { wasm: string[]; all: string[] };
