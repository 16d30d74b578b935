// Browser half of the suite's Chromium part: raw onnxruntime-web WASM on the shipped int8 and fp32 encoders at the thread count in `?threads=`, timed after the tier-up window.
import * as ort from 'onnxruntime-web';
import { fetchSample, report } from '../../test/browser/harness-page.js';

const q = new URLSearchParams(location.search);
const threads = Number(q.get('threads') ?? '1');
const rounds = Number(q.get('rounds') ?? '3');
ort.env.wasm.wasmPaths = '/node_modules/onnxruntime-web/dist/';
ort.env.wasm.numThreads = threads;

function median(v: number[]): number {
  const s = [...v].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

report(async () => {
  const { images } = await fetchSample();
  const x = new Float32Array(32 * 784);
  for (let i = 0; i < x.length; i++) x[i] = (images[i]! / 255 - 0.286) / 0.353;
  const out: Record<string, number[]> = {};
  const sessions: Array<[string, ort.InferenceSession]> = [];
  for (const id of ['fmnist-cnn-vicreg-int8', 'fmnist-cnn-vicreg-fp32']) {
    const bytes = new Uint8Array(await (await fetch(`/models/${id}.onnx`)).arrayBuffer());
    sessions.push([
      id.endsWith('int8') ? 'int8' : 'fp32',
      await ort.InferenceSession.create(bytes, { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }),
    ]);
  }
  const feeds = {
    1: { input: new ort.Tensor('float32', x.subarray(0, 784), [1, 1, 28, 28]) },
    32: { input: new ort.Tensor('float32', x, [32, 1, 28, 28]) },
  };
  for (const [, s] of sessions) {
    for (let i = 0; i < 300; i++) await s.run(feeds[1]);
    for (let i = 0; i < 20; i++) await s.run(feeds[32]);
  }
  for (let r = 0; r < rounds; r++) {
    for (const [name, s] of sessions) {
      for (const n of [1, 32] as const) {
        const t: number[] = [];
        for (let i = 0; i < (n === 1 ? 30 : 6); i++) {
          const t0 = performance.now();
          await s.run(feeds[n]);
          t.push(performance.now() - t0);
        }
        (out[`${name}/b${n}`] ??= []).push(median(t));
      }
    }
  }
  for (const [, s] of sessions) await s.release();
  return {
    isolated: crossOriginIsolated,
    threads: ort.env.wasm.numThreads,
    hardwareConcurrency: navigator.hardwareConcurrency,
    times: out,
  };
});
