// Browser page: a worker that dies mid-embed, dispose while busy, restart, detached inputs, and comlink's throw handler left alone.
import { transferHandlers } from 'comlink';
import { errorCode, report } from '../harness-page.js';
import { EdgetuneWorker } from '../../../src/worker/index.js';
import { tinyCnn } from '../../fixtures/onnx-builder.js';
import { manifestFor, testImages } from '../../fixtures/models.js';

const ORT = '/node_modules/onnxruntime-web/dist/';
const start = (url = '/bundle/test/browser/pages/dying-worker.ts') =>
  EdgetuneWorker.start({ url, env: { wasmPaths: ORT } });

report(async () => {
  const throwBefore = transferHandlers.get('throw');
  const bytes = tinyCnn();
  const manifest = await manifestFor(bytes);

  // 1. The worker closes itself while a long embed runs: every pending call rejects with WORKER_LOST.
  const w1 = await start();
  const lostEvents: string[] = [];
  w1.on('lost', (e) => lostEvents.push(e.error.code));
  const enc = await w1.openEncoder({ manifest, bytes: bytes.slice() }, { device: 'wasm' });
  const pending = [enc.embed(testImages(3000)), enc.embed(testImages(10))].map((p) => errorCode(p));
  await new Promise((r) => setTimeout(r, 50));
  new BroadcastChannel('edgetune-test-die').postMessage('die');
  const pendingCodes = await Promise.all(pending);
  const laterCode = await errorCode(enc.embed(testImages(1)));
  const laterOpen = await errorCode(w1.openStorage({ name: 'x' }));
  await w1.dispose();

  // 2. The app restarts the worker and goes on.
  const w2 = await start();
  const enc2 = await w2.openEncoder({ manifest, bytes: bytes.slice() }, { device: 'wasm' });
  const [e2] = await enc2.embed(testImages(1));

  // 3. dispose() while busy: in-flight work is cancelled and the worker terminates.
  const busy = errorCode(enc2.embed(testImages(3000)));
  await new Promise((r) => setTimeout(r, 50));
  await w2.dispose();
  const busyCode = await busy;
  const afterDispose = await errorCode(enc2.embed(testImages(1)));

  // 4. A detached (already transferred) buffer is a typed error, not a raw DataCloneError.
  const w3 = await start('/bundle/src/worker/worker-script.ts');
  const enc3 = await w3.openEncoder({ manifest, bytes: bytes.slice() }, { device: 'wasm' });
  const img = testImages(1)[0]!;
  const mc = new MessageChannel();
  mc.port1.postMessage(null, [img.data.buffer]);
  mc.port1.close();
  const detached = await errorCode(enc3.embed([img]));
  const detachedCopy = await errorCode(enc3.embed([img], { transfer: false }));
  const bitmap = await createImageBitmap(new ImageData(16, 16));
  bitmap.close();
  const closedBitmap = await errorCode(enc3.embed([bitmap]));
  const notArray = await errorCode(enc3.embed(img as never));
  const stillWorks = (await enc3.embed(testImages(1)))[0]?.length;
  await w3.dispose();

  return {
    pendingCodes,
    laterCode,
    laterOpen,
    lostEvents,
    restartedDim: e2?.length,
    busyCode,
    afterDispose,
    detached,
    detachedCopy,
    closedBitmap,
    notArray,
    stillWorks,
    throwHandlerUntouched: transferHandlers.get('throw') === throwBefore,
  };
});
