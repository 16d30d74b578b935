// edgetune: edge inference with on-device fine-tuning. This barrel re-exports the runtime, the learner and storage; import a subpath (`edgetune/runtime`, …) to load less. The worker client lives at `edgetune/worker`.
export * from './runtime/index.js';
export * from './finetune/index.js';
export * from './storage/index.js';
