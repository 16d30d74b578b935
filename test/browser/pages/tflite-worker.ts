// Module-worker script: tries to open a TFLite model inside a module Worker and posts back the typed error the tflite backend reports there.
import { Encoder, env, isEdgetuneError, registerTfliteBackend } from '../../../src/runtime/index.js';

env.tfliteWasmPath = '/node_modules/@tensorflow/tfjs-tflite/wasm/';

self.onmessage = async (e: MessageEvent<{ manifestUrl: string }>) => {
  registerTfliteBackend();
  try {
    const enc = await Encoder.open(new URL(e.data.manifestUrl, self.location.origin).href, { device: 'wasm' });
    await enc.dispose();
    self.postMessage({ opened: true });
  } catch (err) {
    self.postMessage(
      isEdgetuneError(err) ? { code: err.code, message: err.message } : { code: 'OTHER', message: String(err) },
    );
  }
};
