// Browser page: the real faulty accelerator — ONNX Runtime's default (JSEP) build on WebGPU — registered ahead of ours, on a uint8 QDQ model.
import { report } from '../harness-page.js';
import { Encoder, env, onnxBackend, registerBackend, type Backend } from '../../../src/runtime/index.js';
import { qdqUint8Model } from '../../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../../fixtures/models.js';

env.wasmPaths = '/node_modules/onnxruntime-web/dist/';

const defaultBuildOnWebGPU: Backend = {
  name: 'onnxruntime-web default build',
  format: 'onnx',
  devices: ['webgpu'],
  probe: (d) => onnxBackend.probe(d),
  async createSession({ bytes, manifest }) {
    const ort = await import('onnxruntime-web');
    ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
    const session = await ort.InferenceSession.create(bytes, { executionProviders: ['webgpu'] });
    return {
      async run(input, batch) {
        const out = await session.run({
          input: new ort.Tensor('float32', input, [batch, ...(manifest.input.shape.slice(1) as number[])]),
        });
        return Float32Array.from(out['embedding']!.data as Float32Array);
      },
      dispose: () => session.release(),
    };
  },
};

report(async () => {
  const bytes = qdqUint8Model();
  const manifest = { ...(await manifestFor(bytes)), dtype: 'int8' as const };
  const unregister = registerBackend(defaultBuildOnWebGPU, 10);
  const unchecked = await Encoder.open({ manifest, bytes }, { device: ['webgpu', 'wasm'], selfCheck: false });
  const wasm = await Encoder.open({ manifest, bytes }, { device: 'wasm' });
  const imgs = testImages(4);
  const a = await unchecked.embed(imgs);
  const b = await wasm.embed(imgs);
  const cos = a.map((e, k) => e.reduce((s, v, j) => s + v * b[k]![j]!, 0));
  const checked = await Encoder.open({ manifest, bytes }, { device: ['webgpu', 'wasm'] });
  const result = {
    uncheckedBackend: unchecked.backend,
    cosUnchecked: cos,
    checkedBackend: checked.backend,
    attempts: checked.diagnostics.attempts,
  };
  unregister();
  await Promise.all([unchecked.dispose(), wasm.dispose(), checked.dispose()]);
  // Our own WebGPU path (the dedicated webgpu build) on the same model; WebGPU alone, since with WASM listed
  // too the speed comparison would pass SwiftShader over (device-choice.test.ts).
  const ours = await Encoder.open({ manifest, bytes }, { device: ['webgpu'] });
  const oursResult = { backend: ours.backend, attempts: ours.diagnostics.attempts };
  await ours.dispose();
  return { ...result, ours: oursResult };
});
