// Type tests of the public surface (checked by `tsc -p tsconfig.json --noEmit`, never run): what each entry exports, and the personalizer's and the worker mirrors' shapes.
import {
  EdgetuneError,
  type ERROR_CODES,
  EdgetuneWorker,
  env,
  isEdgetuneError,
  openPersonalizer,
} from '../../src/index.js';
import type {
  ErrorCode,
  OperationOptions,
  Personalizer,
  PersonalizerEvents,
  PersonalizerOptions,
  PersonalizerPrediction,
  TeachResult,
} from '../../src/index.js';
import * as root from '../../src/index.js';
import type * as runtime from '../../src/runtime/index.js';
import * as finetune from '../../src/finetune/index.js';
import type * as storage from '../../src/storage/index.js';
import type * as worker from '../../src/worker/index.js';
import type { Learner } from '../../src/finetune/index.js';
import type { CheckpointStore, EdgetuneStorage } from '../../src/storage/index.js';
import type { Mirror, WorkerLearner, WorkerStorage } from '../../src/worker/index.js';

/** Compiles only when `A` and `B` are the same type. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectTrue<T extends true>(): T | undefined {
  return undefined;
}

// ---------- errors from every entry, the same objects ----------
expectTrue<Equal<typeof root.EdgetuneError, typeof runtime.EdgetuneError>>();
expectTrue<Equal<typeof finetune.isEdgetuneError, typeof storage.isEdgetuneError>>();
expectTrue<Equal<typeof worker.ERROR_CODES, typeof ERROR_CODES>>();
expectTrue<Equal<ErrorCode, storage.ErrorCode>>();
const codes: ErrorCode[] = ['BUSY', 'CONFLICT', 'WORKER_LOST', 'DB_FOREIGN', 'IMPORT_INVALID'];
// @ts-expect-error not a code
const notACode: ErrorCode = 'NOPE';

// ---------- one OperationOptions shape ----------
expectTrue<
  Equal<OperationOptions<number>, { readonly signal?: AbortSignal; readonly onProgress?: (progress: number) => void }>
>();
expectTrue<Equal<storage.OperationOptions['signal'], AbortSignal | undefined>>();

// ---------- the root entry is the personalizer's face, not a re-export of every area ----------
// @ts-expect-error the Learner lives at edgetune/finetune
void root.Learner;
// @ts-expect-error the Encoder lives at edgetune/runtime
void root.Encoder;
// @ts-expect-error openStorage lives at edgetune/storage
void root.openStorage;
void env.wasmPaths;
void EdgetuneWorker.start;

// ---------- edgetune/finetune: the Learner, its types and kind tables only ----------
void finetune.HEAD_KINDS;
void finetune.THRESHOLD_KINDS;
// @ts-expect-error internals are not public
void finetune.Rng;
// @ts-expect-error internals are not public
void finetune.ReplayBuffer;
// @ts-expect-error internals are not public
void finetune.optimizerStep;
// @ts-expect-error internals are not public
void finetune.PageHinkley;

// ---------- the personalizer ----------
async function personalizerShape(img: ImageData): Promise<void> {
  await using me = await openPersonalizer({ model: '/m.json', storage: 'app', worker: true });
  const t: TeachResult = await me.teach(img, 'mug');
  const p: PersonalizerPrediction = await me.predict(img);
  const unknown: boolean = p.unknown;
  const top: string | undefined = p.scores[0]?.label;
  const o = await me.observe(new Float32Array(256));
  const deferred: boolean = o.deferred;
  const off = me.on('saved', (e) => void e.version);
  off();
  void [t, unknown, top, deferred];
  // @ts-expect-error a label is a string
  await me.teach(img, 3);
  // @ts-expect-error no such event
  me.on('nope', () => undefined);
  // @ts-expect-error model is required
  await openPersonalizer({ storage: 'app' });
  // @ts-expect-error dim comes from the model
  await openPersonalizer({ model: '/m.json', learner: { dim: 3 } });
  await openPersonalizer({
    model: { id: 'cached' },
    storage: false,
    worker: { url: '/w.js' },
    onProgress: (x) => void x.phase,
    signal: AbortSignal.timeout(1),
  });
}
expectTrue<Equal<PersonalizerEvents['saved'], { readonly version: number }>>();
expectTrue<Equal<Awaited<ReturnType<typeof openPersonalizer>>, Personalizer>>();
expectTrue<Equal<PersonalizerOptions['worker'], boolean | EdgetuneWorker | worker.StartWorkerOptions | undefined>>();

// ---------- the worker mirrors are derived from the in-thread types ----------
type LearnerMirror = Mirror<Learner, 'predict' | 'observe' | 'addLabeled' | 'stats' | 'getState' | 'adapt'>;
const mirroredLearner: (l: WorkerLearner) => LearnerMirror = (l) => l;
expectTrue<Equal<Awaited<ReturnType<WorkerLearner['predict']>>, ReturnType<Learner['predict']>>>();
expectTrue<Equal<Parameters<WorkerLearner['observe']>, Parameters<Learner['observe']>>>();
const mirroredStorage: (
  s: WorkerStorage,
) => Mirror<EdgetuneStorage, 'exportProfile' | 'importProfile' | 'forget' | 'listModels'> = (s) => s;
const fullCheckpoints: (s: WorkerStorage) => CheckpointStore<number> = (s) => s.checkpoints<number>('x');
const storageName: (s: WorkerStorage) => string = (s) => s.name;
void [
  mirroredLearner,
  mirroredStorage,
  fullCheckpoints,
  storageName,
  personalizerShape,
  codes,
  notACode,
  isEdgetuneError,
  EdgetuneError,
];
