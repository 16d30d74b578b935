// Personalizer behaviour cases shared by Node (in-thread, fake-indexeddb) and real Chromium (in-thread and in a Worker), on the shipped default encoder and the Fashion-MNIST sample.
import { isEdgetuneError, type ErrorCode } from '../../src/core/errors.js';
import type { Personalizer, PersonalizerModel, PersonalizerOptions } from '../../src/personalizer/index.js';
import type { RawPixels } from '../../src/runtime/preprocess.js';

/** The sample: 784 bytes per image and a label byte each. */
export interface Sample {
  readonly images: Uint8Array;
  readonly labels: Uint8Array;
}

/** Where the cases run. */
export interface PEnv {
  /** Opens a personalizer on `profile` (the env picks storage factory and worker). */
  open(profile: string, extra?: Partial<PersonalizerOptions>): Promise<Personalizer>;
  /** The shipped default encoder as the env passes it. */
  readonly model: PersonalizerModel;
  readonly sample: Sample;
  /** Every record of every store of database `profile`, read with the raw IndexedDB API. */
  raw(profile: string): Promise<Record<string, { keys: unknown[]; values: unknown[] }>>;
}

/** One case. */
export interface PCase {
  readonly name: string;
  run(env: PEnv): Promise<void>;
}

export const CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

function fail(msg: string): never {
  throw new Error(`assertion failed: ${msg}`);
}
function ok(v: unknown, msg: string): void {
  if (!v) fail(msg);
}
function eq(a: unknown, b: unknown, msg: string): void {
  if (JSON.stringify(a) !== JSON.stringify(b)) fail(`${msg}: got ${JSON.stringify(a)}, expected ${JSON.stringify(b)}`);
}
async function rejects(p: Promise<unknown>, code: ErrorCode, msg: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (isEdgetuneError(e, code)) return;
    fail(
      `${msg}: expected ${code}, got ${(e as Error)?.name} ${(e as { code?: string })?.code ?? ''} ${(e as Error)?.message}`,
    );
  }
  fail(`${msg}: expected ${code}, but it succeeded`);
}

let n = 0;
/** A fresh profile name per case. */
export function profileName(tag: string): string {
  return `p-${tag}-${Date.now().toString(36)}-${(n++).toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
}

/** Image `k` of the sample as raw pixels (a fresh copy each call, so moving it is harmless). */
export function image(s: Sample, k: number): RawPixels {
  return { data: s.images.slice(k * 784, (k + 1) * 784), width: 28, height: 28, channels: 1 };
}

/** The first `count` sample indices of class `c` after skipping `skip` of them. */
export function ofClass(s: Sample, c: number, count: number, skip = 0): number[] {
  const out: number[] = [];
  for (let k = 0; k < s.labels.length && out.length < count; k++) {
    if (s.labels[k] === c) {
      if (skip > 0) skip--;
      else out.push(k);
    }
  }
  return out;
}

/** A cluttered gray scene (a fixed camera's empty view), `w × h`. */
function scene(w: number, h: number): RawPixels {
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) data[y * w + x] = 120 + ((x * 7 + y * 13) % 50) + 40 * (((x >> 3) + (y >> 3)) & 1);
  return { data, width: w, height: h, channels: 1 };
}

/** The scene with sample image `k` placed at (`x`, `y`). */
function withObject(bg: RawPixels, s: Sample, k: number, x: number, y: number): RawPixels {
  const data = Uint8Array.from(bg.data as Uint8Array);
  for (let r = 0; r < 28; r++)
    data.set(s.images.subarray(k * 784 + r * 28, k * 784 + (r + 1) * 28), (y + r) * bg.width + x);
  return { ...bg, data };
}

const TROUSER = 1;
const BAG = 8;
const SNEAKER = 7;

async function teachTwo(p: Personalizer, s: Sample, perClass = 5): Promise<void> {
  for (const k of ofClass(s, TROUSER, perClass)) await p.teach(image(s, k), 'trouser');
  for (const k of ofClass(s, BAG, perClass)) await p.teach(image(s, k), 'bag');
}

/** Predicted labels of held-out trousers and bags. */
async function predictHeldOut(p: Personalizer, s: Sample, count = 15): Promise<{ labels: string[]; accuracy: number }> {
  const idx = [
    ...ofClass(s, TROUSER, count, 20).map((k) => [k, 'trouser'] as const),
    ...ofClass(s, BAG, count, 20).map((k) => [k, 'bag'] as const),
  ];
  const labels: string[] = [];
  let hits = 0;
  for (const [k, want] of idx) {
    const r = await p.predict(image(s, k));
    labels.push(r.label);
    if (r.label === want) hits++;
    ok(
      r.scores.length === 2 && Math.abs(r.scores[0]!.score + r.scores[1]!.score - 1) < 1e-4,
      `scores cover both classes and sum to 1 (${JSON.stringify(r.scores)})`,
    );
    ok(typeof r.unknown === 'boolean', 'unknown is a boolean');
  }
  return { labels, accuracy: hits / idx.length };
}

async function until(cond: () => Promise<boolean>, what: string, tries = 400): Promise<void> {
  for (let i = 0; i < tries; i++) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  fail(`timed out waiting for ${what}`);
}

export const CASES: PCase[] = [
  {
    name: 'teach two classes from images, predict held-out images, reopen and predict the same',
    async run(env) {
      const profile = profileName('two');
      const a = await env.open(profile);
      await rejects(a.predict(image(env.sample, 0)), 'NOT_READY', 'predict before any teach');
      await rejects(a.teach(image(env.sample, 0), ''), 'INVALID_ARGUMENT', 'empty label');
      await teachTwo(a, env.sample);
      await a.idle();
      eq((await a.classes()).sort(), ['bag', 'trouser'], 'classes');
      const before = await predictHeldOut(a, env.sample);
      ok(before.accuracy >= 0.85, `held-out accuracy ${before.accuracy}`);
      await a.dispose();
      await rejects(a.predict(image(env.sample, 0)), 'DISPOSED', 'after dispose');
      const b = await env.open(profile);
      const st = await b.stats();
      ok(st.version >= 1, `restored from a checkpoint (v${st.version})`);
      eq(
        st.classes.map((c) => [c.label, c.examples]).sort(),
        [
          ['bag', 5],
          ['trouser', 5],
        ],
        'examples per class',
      );
      const after = await predictHeldOut(b, env.sample);
      eq(after.labels, before.labels, 'same predictions after reopening');
      await b.dispose();
    },
  },
  {
    name: 'forget() deletes every checkpoint version, sample and metadata record (read from IndexedDB directly); reopening starts empty',
    async run(env) {
      const profile = profileName('forget');
      const p = await env.open(profile);
      await teachTwo(p, env.sample, 3);
      await p.save();
      await p.observe(image(env.sample, 100));
      await p.save();
      await p.teach(image(env.sample, ofClass(env.sample, SNEAKER, 1)[0]!), 'sneaker');
      await p.save();
      const full = await env.raw(profile);
      ok(
        full['checkpoints']!.values.length >= 2 && full['samples']!.values.length === 7,
        `records before forget: ${full['checkpoints']!.values.length} checkpoints, ${full['samples']!.values.length} samples`,
      );
      await p.forget();
      eq(await p.classes(), [], 'empty after forget');
      const raw = await env.raw(profile);
      for (const st of ['checkpoints', 'heads', 'samples', 'meta'])
        eq(raw[st]!.values.length, 0, `no ${st} records left`);
      eq(
        raw['sys']!.keys.filter((k) => String(k).startsWith('seq:')),
        [],
        'no sample counters left',
      );
      await p.dispose();
      const again = await env.open(profile);
      eq(await again.classes(), [], 'reopened empty');
      eq((await env.raw(profile))['checkpoints']!.values.length, 0, 'dispose after forget saved nothing');
      await again.dispose();
    },
  },
  {
    name: 'two tabs teaching the same profile at once lose no label',
    async run(env) {
      const profile = profileName('tabs');
      const [a, b] = await Promise.all([env.open(profile), env.open(profile)]);
      const ta = ofClass(env.sample, TROUSER, 4);
      const tb = ofClass(env.sample, BAG, 4);
      await Promise.all([
        (async () => {
          for (const k of ta) await a.teach(image(env.sample, k), 'trouser');
          await a.save();
        })(),
        (async () => {
          for (const k of tb) await b.teach(image(env.sample, k), 'bag');
          await b.save();
        })(),
      ]);
      await Promise.all([a.dispose(), b.dispose()]);
      const c = await env.open(profile);
      const st = await c.stats();
      eq(
        st.classes.map((x) => [x.label, x.examples]).sort(),
        [
          ['bag', 4],
          ['trouser', 4],
        ],
        'every label of both tabs',
      );
      await c.dispose();
    },
  },
  {
    name: 'a checkpoint saved while an adaptation runs restores; calls made meanwhile wait and are applied',
    async run(env) {
      const profile = profileName('adapt');
      const p = await env.open(profile, {
        learner: { firstEpochs: 20000, epochs: 1 },
        adaptDelayMs: 300,
        autosaveMs: false,
      });
      const started = new Promise<void>((r) => p.on('adapting', () => r()));
      await teachTwo(p, env.sample, 4);
      await started;
      ok((await p.stats()).adapting, 'the (long) first adaptation is running');
      const v = await p.save();
      ok(v >= 1, `saved during the adaptation (v${v})`);
      const during = await p.teach(image(env.sample, ofClass(env.sample, SNEAKER, 1)[0]!), 'sneaker');
      eq(during.examples, 1, 'a label taught during the adaptation is applied');
      const obs = await p.observe(image(env.sample, 300));
      ok(typeof obs.deferred === 'boolean', 'observe answers during or after the adaptation');
      const q = await env.open(profile, { learner: { firstEpochs: 1, epochs: 1 } });
      const r = await q.predict(image(env.sample, ofClass(env.sample, BAG, 1, 30)[0]!));
      ok(
        Number.isFinite(r.confidence) && r.scores.every((x) => Number.isFinite(x.score)),
        `the checkpoint saved mid-adaptation restores and predicts (${JSON.stringify(r.scores)})`,
      );
      eq(
        (await q.classes()).sort(),
        ['bag', 'sneaker', 'trouser'],
        'the label taught after that save is in the journal and restored too',
      );
      await q.dispose();
      await p.dispose();
    },
  },
  {
    name: 'undoLast, renameClass, removeClass and addClass take effect and persist',
    async run(env) {
      const profile = profileName('edit');
      const p = await env.open(profile);
      await teachTwo(p, env.sample, 3);
      await p.teach(image(env.sample, ofClass(env.sample, SNEAKER, 1)[0]!), 'sneaker');
      eq(await p.undoLast(), true, 'undo the sneaker');
      eq((await p.classes()).includes('sneaker'), false, 'sneaker gone after undo');
      await p.renameClass('bag', 'handbag');
      await p.removeClass('trouser');
      eq(await p.undoLast(), false, 'nothing to undo after an edit');
      await rejects(p.removeClass('zebra'), 'UNKNOWN_LABEL', 'removing an unknown class');
      await p.addClass('hat');
      await p.addClass('hat');
      await p.dispose();
      const q = await env.open(profile);
      const st = await q.stats();
      eq(
        st.classes.map((c) => [c.label, c.examples]),
        [
          ['handbag', 3],
          ['hat', 0],
        ],
        'edits persisted (an empty class too)',
      );
      eq(st.diagnostics.device, st.device, 'diagnostics come with the stats');
      eq(st.manifest.id, q.modelId, 'and the manifest');
      eq((await env.raw(profile))['samples']!.values.length, 3, 'the journal holds only the kept labels');
      await q.dispose();
    },
  },
  {
    name: 'a class added with no example, then an adaptation on the other class only: both classes are predicted once taught (regression)',
    async run(env) {
      const p = await env.open(profileName('empty'), { adaptDelayMs: 0 });
      // The app's flow: the visitor names a class first, then shows the other object, then this one.
      await p.addClass('bag');
      for (const k of ofClass(env.sample, TROUSER, 3)) await p.teach(image(env.sample, k), 'trouser');
      await p.idle();
      const early = await p.predict(image(env.sample, ofClass(env.sample, TROUSER, 1, 20)[0]!));
      eq(early.label, 'trouser', 'a trouser is a trouser while bag has no example');
      for (const k of ofClass(env.sample, BAG, 3)) await p.teach(image(env.sample, k), 'bag');
      await p.idle();
      const held = await predictHeldOut(p, env.sample, 10);
      ok(
        held.labels.includes('bag') && held.accuracy >= 0.85,
        `held-out accuracy ${held.accuracy} after the empty class got its examples (${held.labels.join(',')})`,
      );
      await p.dispose();
    },
  },
  {
    name: 'setBackground and roi: an object anywhere in a cluttered frame is predicted as the object alone; the reference is not saved',
    async run(env) {
      const profile = profileName('bg');
      const p = await env.open(profile);
      await teachTwo(p, env.sample, 5);
      await p.idle();
      const room = scene(112, 112);
      eq((await p.stats()).background, undefined, 'no background before setBackground');
      const info = await p.setBackground(scene(112, 112));
      eq(info, { width: 112, height: 112, threshold: 25, margin: 0.1, mask: true }, 'the reference figures');
      eq((await p.stats()).background, info, 'stats report it');
      const held = [
        ...ofClass(env.sample, TROUSER, 8, 20).map((k) => [k, 'trouser'] as const),
        ...ofClass(env.sample, BAG, 8, 20).map((k) => [k, 'bag'] as const),
      ];
      let withBg = 0;
      let whole = 0;
      for (const [i, [k, want]] of held.entries()) {
        const x = (i * 23) % 84;
        const y = (i * 37) % 84;
        if ((await p.predict(withObject(room, env.sample, k, x, y))).label === want) withBg++;
        if ((await p.predict(withObject(room, env.sample, k, x, y), { background: false })).label === want) whole++;
        if (i < 4) {
          // A region of interest exactly on the object embeds the object itself.
          const alone = await p.predict(image(env.sample, k), { background: false });
          const roi = await p.predict(withObject(room, env.sample, k, x, y), {
            roi: { x, y, width: 28, height: 28 },
            background: false,
          });
          eq(roi.label, alone.label, `roi on the object predicts as the object alone (${i})`);
          ok(
            Math.abs(roi.confidence - alone.confidence) < 1e-3,
            `same confidence (${roi.confidence} vs ${alone.confidence})`,
          );
        }
      }
      ok(
        withBg / held.length >= 0.85,
        `with the background reference ${withBg}/${held.length} right (whole frame: ${whole}/${held.length})`,
      );
      // teach and observe take the same options; a bad option or size is a typed error.
      const k0 = ofClass(env.sample, BAG, 1, 40)[0]!;
      eq((await p.teach(withObject(room, env.sample, k0, 50, 10), 'bag')).examples, 6, 'teach with the background');
      ok(typeof (await p.observe(withObject(room, env.sample, k0, 5, 60))).accepted === 'boolean', 'observe with it');
      await rejects(
        p.predict(withObject(scene(100, 112), env.sample, k0, 0, 0)),
        'INPUT_SHAPE',
        'frame of another size',
      );
      await rejects(
        p.predict(new Float32Array(p.dim), { roi: { x: 0, y: 0, width: 1, height: 1 } }),
        'INVALID_ARGUMENT',
        'roi with an embedding',
      );
      await rejects(
        p.predict(withObject(room, env.sample, k0, 0, 0), { roi: { x: 100, y: 0, width: 28, height: 28 } }),
        'INVALID_ARGUMENT',
        'roi outside the frame',
      );
      await rejects(p.setBackground(room, { threshold: 300 }), 'INVALID_ARGUMENT', 'threshold out of range');
      await p.forget();
      eq((await p.stats()).background, info, 'forget() keeps the reference (nothing of the user in it)');
      eq(await p.setBackground(null), undefined, 'cleared');
      eq((await p.stats()).background, undefined, 'none after null');
      await p.setBackground(room);
      await p.dispose();
      const q = await env.open(profile);
      eq((await q.stats()).background, undefined, 'not saved in the profile');
      await q.dispose();
    },
  },
  {
    name: 'setBackground with mask: what did not change inside the crop does not reach the model; without it, it does',
    async run(env) {
      const p = await env.open(profileName('bgmask'));
      await teachTwo(p, env.sample, 5);
      await p.idle();
      // Two rooms that differ only by a bright stripe left of the object: inside the changed box (its margin is
      // half the object's size) but farther from the object than the mask's rim.
      const roomA = scene(112, 112);
      const data = Uint8Array.from(roomA.data as Uint8Array);
      for (let y = 30; y < 80; y++) for (let x = 30; x < 36; x++) data[y * 112 + x] = 255;
      const roomB: RawPixels = { ...roomA, data };
      const k = ofClass(env.sample, BAG, 1, 30)[0]!;
      // The probability of the other class: far from saturated, unlike the winner's.
      const other = (r: { label: string; scores: ReadonlyArray<{ label: string; score: number }> }): number =>
        r.scores.find((x) => x.label !== r.label)!.score;
      const seen = async (mask: boolean): Promise<[number, number]> => {
        const info = await p.setBackground(roomA, { margin: 0.5, mask });
        eq(info?.mask, mask, 'the reference reports its mask flag');
        const a = await p.predict(withObject(roomA, env.sample, k, 42, 42));
        await p.setBackground(roomB, { margin: 0.5, mask });
        const b = await p.predict(withObject(roomB, env.sample, k, 42, 42));
        eq((await p.stats()).background?.mask, mask, 'stats report the mask flag');
        return [other(a), other(b)];
      };
      const [ma, mb] = await seen(true);
      eq(ma, mb, 'masked: the stripe is replaced, both frames give the same scores');
      const [ca, cb] = await seen(false);
      ok(
        Math.abs(Math.log(ca) - Math.log(cb)) > 0.01,
        `crop only: the stripe is in the crop and moves the scores (${ca} vs ${cb})`,
      );
      await rejects(
        p.setBackground(roomA, { mask: 1 as unknown as boolean }),
        'INVALID_ARGUMENT',
        'mask must be a boolean',
      );
      await p.dispose();
    },
  },
  {
    name: 'a second tab follows checkpoints saved by the first (BroadcastChannel)',
    async run(env) {
      const profile = profileName('follow');
      const a = await env.open(profile);
      const b = await env.open(profile);
      const synced: number[] = [];
      b.on('synced', (e) => synced.push(e.version));
      await teachTwo(a, env.sample, 2);
      const v = await a.save();
      await until(async () => synced.includes(v), `tab b to load v${v}`);
      eq((await b.classes()).sort(), ['bag', 'trouser'], 'tab b knows the classes taught in tab a');
      await a.dispose();
      await b.dispose();
    },
  },
  {
    name: 'exportProfile / importProfile: another profile predicts the same; settings passed on reopen override the saved ones',
    async run(env) {
      const src = profileName('exp');
      const a = await env.open(src, { learner: { epochs: 2 } });
      await teachTwo(a, env.sample, 3);
      await a.idle();
      const want = await predictHeldOut(a, env.sample, 5);
      const file = await a.exportProfile();
      ok(file instanceof Uint8Array && file.byteLength > 1000, `an export file (${file.byteLength} bytes)`);
      await a.dispose();
      const dst = profileName('imp');
      // With an open-time onProgress: import restores without calling it again (in the worker it is a released proxy).
      const phases: string[] = [];
      const b = await env.open(dst, { onProgress: (p) => phases.push(p.phase) });
      const seen = phases.length;
      await b.importProfile(file);
      eq(phases.length, seen, `no open-time progress reported by importProfile (${phases.join(',')})`);
      eq((await predictHeldOut(b, env.sample, 5)).labels, want.labels, 'same predictions after import');
      await b.dispose();
      const c = await env.open(src, { learner: { epochs: 7 } });
      await c.observe(image(env.sample, 5));
      await c.save();
      await c.dispose();
      const raw = await env.raw(src);
      const payloads = raw['checkpoints']!.values as Array<{
        version: number;
        body: { value?: { learner: { options: { epochs: number } } } };
      }>;
      const newest = payloads.sort((x, y) => y.version - x.version)[0]!;
      eq(newest.body.value?.learner.options.epochs, 7, 'the epochs passed on reopen replaced the saved 2');
    },
  },
];
