// edgetune: edge inference with on-device fine-tuning. This barrel re-exports every area; import a subpath (`edgetune/runtime`, …) to load less.
export * from './runtime/index.js';
