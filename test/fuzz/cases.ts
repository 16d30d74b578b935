// The seeded fuzz cases of test/fuzz/hostile.test.ts: mutated manifests (also with crop, pooling and fixed-batch fields), manifest file paths (URL and Node file), embed arguments and regions, learner states and profile files, each run against the real API; anything but a typed EdgetuneError is a finding.
import 'fake-indexeddb/auto';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { isEdgetuneError } from '../../src/core/errors.js';
import { sha256Hex } from '../../src/core/hash.js';
import { Learner } from '../../src/finetune/learner.js';
import { createBackground, Encoder, loadModel, validateManifest } from '../../src/runtime/index.js';
import { openStorage } from '../../src/storage/index.js';
import { decodeValue, encodeValue } from '../../src/storage/codec.js';
import { manifestFor, testImages } from '../fixtures/models.js';
import { tinyCnn } from '../fixtures/onnx-builder.js';

/** The fuzzed areas; each runs in its own worker thread so a synchronous hang is caught, not suffered. */
export const DOMAINS = ['manifest', 'file', 'input', 'learner', 'profile', 'shaped', 'localfile', 'region'] as const;
/** One fuzzed area. */
export type Domain = (typeof DOMAINS)[number];

/** A case: a stable description (what was mutated, how) and the work that exercises it. */
export interface Case {
  readonly desc: string;
  run(): Promise<void> | void;
}

/** How one case went wrong: anything thrown that is not an EdgetuneError, or a broken invariant. */
export class Finding extends Error {}

/** Deterministic 32-bit generator (mulberry32), seeded per case so any case can be replayed alone. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Seed of case `i` of `domain` under the run's `seed`. */
export function caseSeed(seed: number, domain: Domain, i: number): number {
  let h = (seed ^ 0x811c9dc5) >>> 0;
  for (const ch of `${domain}:${i}`) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  return h;
}

type Rand = () => number;
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: Rand, lo: number, hi: number): number => lo + Math.floor(r() * (hi - lo + 1));

/** Runs `fn`; a throw or rejection that is not an EdgetuneError becomes a {@link Finding}. Returns the code, or 'ok'. */
export async function typedOnly(what: string, fn: () => unknown): Promise<string> {
  try {
    await fn();
    return 'ok';
  } catch (e) {
    if (e instanceof Finding) throw e;
    if (isEdgetuneError(e)) return e.code;
    const err = e as Error;
    throw new Finding(`${what}: raw ${err?.name ?? typeof e}: ${String(err?.message ?? e).slice(0, 200)}`);
  }
}

// ---------- generic tree mutation ----------

type Path = (string | number)[];

/** Paths into a plain tree of objects, arrays and typed arrays (not into typed arrays' elements). */
function paths(v: unknown, depth = 0, at: Path = [], out: Path[] = []): Path[] {
  if (depth > 5 || v === null || typeof v !== 'object' || ArrayBuffer.isView(v)) return out;
  const keys = Array.isArray(v) ? v.map((_, k) => k) : Object.keys(v);
  for (const k of keys) {
    out.push([...at, k]);
    paths((v as Record<string | number, unknown>)[k], depth + 1, [...at, k], out);
  }
  return out;
}

/** Deep copy that keeps typed arrays (structuredClone), so mutating the copy leaves the original. */
const clone = <T>(v: T): T => structuredClone(v);

/** One mutation of a value: its name (for the case description) and the new value; `DELETE` removes the key. */
const DELETE = Symbol('delete');
function mutations(v: unknown, r: Rand): [string, unknown][] {
  const any: [string, unknown][] = [
    ['delete', DELETE],
    ['null', null],
    ['undefined', undefined],
    ['string', 'x'],
    ['object', {}],
    ['array', []],
    ['true', true],
  ];
  if (typeof v === 'number') {
    return [
      ...any,
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
      ['-1', -1],
      ['0', 0],
      ['0.5', 0.5],
      ['1e9', 1e9],
      ['2^31', 2 ** 31],
      ['-2^31', -(2 ** 31)],
      ['+1', v + 1],
      ['-v', -v],
      ['x1e6', v * 1e6],
    ];
  }
  if (typeof v === 'string')
    return [...any, ['empty', ''], ['long', 'y'.repeat(2000)], ['number', 7], ['weird', '../\u0000\u{1F600}']];
  if (typeof v === 'boolean') return [...any, ['flip', !v], ['number', 1]];
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    const a = v as unknown as Float32Array;
    const nan = a.slice();
    if (nan.length) nan[int(r, 0, nan.length - 1)] = Number.NaN;
    const big = a.slice();
    if (big.length) big[int(r, 0, big.length - 1)] = 1e30;
    const longer = new (a.constructor as Float32ArrayConstructor)(a.length + 1);
    longer.set(a);
    return [
      ...any,
      ['truncate', a.slice(0, Math.max(0, a.length - 1))],
      ['empty-typed', a.slice(0, 0)],
      ['longer', longer],
      ['NaN-entry', nan],
      ['1e30-entry', big],
      ['plain-array', Array.from(a)],
      ['other-type', a instanceof Float64Array ? Float32Array.from(a) : Float64Array.from(a)],
      ['negate', a.map((x) => -x)],
    ];
  }
  if (Array.isArray(v)) {
    return [
      ...any,
      ['truncate', v.slice(0, -1)],
      ['emptied', []],
      ['dup-first', v.length ? [v[0], ...v] : [1]],
      ['extra', [...v, v[0] ?? 0]],
      ['reversed', [...v].reverse()],
    ];
  }
  if (typeof v === 'object' && v !== null) return [...any, ['emptied', {}], ['extra-key', { ...v, zz: 1 }]];
  return any;
}

/** Mutates 1–3 random places of a copy of `base`; the description lists them. */
function mutateTree<T>(base: T, r: Rand): { value: T; desc: string } {
  const value = clone(base);
  const all = paths(value);
  const n = r() < 0.75 ? 1 : int(r, 2, 3);
  const parts: string[] = [];
  for (let k = 0; k < n && all.length; k++) {
    const path = pick(r, all);
    let parent: Record<string | number, unknown> = value as Record<string | number, unknown>;
    let ok = true;
    for (const key of path.slice(0, -1)) {
      const next = parent[key];
      if (next === null || typeof next !== 'object') {
        ok = false;
        break;
      }
      parent = next as Record<string | number, unknown>;
    }
    if (!ok) continue;
    const last = path[path.length - 1]!;
    const [name, nv] = pick(r, mutations(parent[last], r));
    if (nv === DELETE) delete parent[last];
    else parent[last] = nv;
    parts.push(`${path.join('.')}=${name}`);
  }
  return { value, desc: parts.join(' ') || 'unchanged' };
}

// ---------- domains ----------

const modelBytes = tinyCnn();
const baseManifest = await manifestFor(modelBytes);

/** Manifests with 1–3 mutated fields: validation is typed; those that pass open, embed and dispose. */
function manifestCase(r: Rand): Case {
  let { value, desc } = mutateTree(baseManifest as unknown, r);
  if (r() < 0.1) {
    // Field-by-field mutations rarely keep shape, height and width consistent: size the input as a whole too.
    const [h, w] = [pick(r, [1, 3, 300, 8193, 65536, 100000, 2 ** 31]), pick(r, [1, 5, 300, 8193, 100000])];
    const c = pick(r, [1, 3] as const);
    value = {
      ...baseManifest,
      input: {
        ...baseManifest.input,
        channels: c,
        height: h,
        width: w,
        shape: [null, c, h, w],
        mean: Array(c).fill(0),
        std: Array(c).fill(1),
      },
    };
    desc = `input=${c}x${h}x${w}`;
  }
  return {
    desc,
    async run() {
      const code = await typedOnly('validateManifest', () => validateManifest(value));
      if (code !== 'ok' && code !== 'MANIFEST_INVALID')
        throw new Finding(`validateManifest gave ${code}, not MANIFEST_INVALID`);
      if (code === 'ok') {
        await typedOnly('open+embed', async () => {
          await using enc = await Encoder.open(
            { manifest: value, bytes: modelBytes },
            { device: 'wasm', selfCheck: false },
          );
          const out = await enc.embed(testImages(2));
          if (out.length !== 2 || out.some((e) => e.length !== enc.dim))
            throw new Finding(`embed returned ${out.length} embeddings of ${out.map((e) => e.length).join('/')}`);
        });
      }
    },
  };
}

const FILE_PIECES = [
  '..',
  '.',
  '/',
  '//',
  '\\',
  '%2e',
  '%2E%2e',
  '%2f',
  '%5c',
  'a',
  'm.onnx',
  'sub',
  'https:',
  'http:',
  'file:',
  'data:',
  'javascript:',
  'blob:',
  'evil.example',
  'm.example',
  '@',
  ':',
  '?',
  '#',
  ' ',
  '\t',
  '\u0000',
  '~',
  'C:',
  '%00',
];

/** Random `file` strings in a manifest fetched from https://m.example/dir/: refused, or fetched from inside that directory only. */
function fileCase(r: Rand): Case {
  const file = Array.from({ length: int(r, 1, 6) }, () => pick(r, FILE_PIECES)).join('');
  return {
    desc: `file=${JSON.stringify(file)}`,
    async run() {
      const fetched: string[] = [];
      const f = (async (url: string) => {
        fetched.push(String(url));
        if (String(url) === 'https://m.example/dir/m.json')
          return new Response(JSON.stringify({ ...baseManifest, file }));
        return new Response('missing', { status: 404 });
      }) as typeof fetch;
      await typedOnly('loadModel', () => loadModel('https://m.example/dir/m.json', { fetch: f }));
      for (const url of fetched.slice(1)) {
        if (!url.startsWith('https://m.example/dir/'))
          throw new Finding(`fetched ${url} outside the manifest's directory`);
      }
    },
  };
}

const VALUES: unknown[] = [
  null,
  undefined,
  0,
  -1,
  1.5,
  Number.NaN,
  1e9,
  '16',
  'abc',
  {},
  [],
  true,
  Symbol('s'),
  () => 1,
  new Uint8Array(4),
  new ArrayBuffer(8),
];
let encoder: Encoder | undefined;

/** Random embed() arguments: elements of every kind, dims in and out of range, wrong data types. */
function inputCase(r: Rand): Case {
  const element = (): { v: unknown; d: string } => {
    const roll = r();
    if (roll < 0.25) {
      const v = pick(r, VALUES);
      return {
        v,
        d:
          typeof v === 'symbol'
            ? 'symbol'
            : typeof v === 'function'
              ? 'function'
              : ArrayBuffer.isView(v)
                ? 'u8'
                : (JSON.stringify(v) ?? String(v)),
      };
    }
    const w = r() < 0.8 ? int(r, 1, 40) : pick(r, VALUES);
    const h = r() < 0.8 ? int(r, 1, 40) : pick(r, VALUES);
    const c = r() < 0.85 ? pick(r, [1, 3, 4]) : pick(r, [0, 2, 5, -1, 1.5, '3', null]);
    const kind = pick(r, ['u8', 'u8c', 'f32', 'f32nan', 'i16', 'array', 'null', 'short']);
    const n =
      typeof w === 'number' &&
      typeof h === 'number' &&
      typeof c === 'number' &&
      Number.isInteger(w * h * c) &&
      w * h * c > 0 &&
      w * h * c < 1e5
        ? w * h * c
        : 16;
    const data =
      kind === 'u8'
        ? new Uint8Array(n).map((_, k) => (k * 31) & 255)
        : kind === 'u8c'
          ? new Uint8ClampedArray(n)
          : kind === 'f32'
            ? new Float32Array(n).fill(0.5)
            : kind === 'f32nan'
              ? new Float32Array(n).fill(Number.NaN)
              : kind === 'i16'
                ? new Int16Array(n)
                : kind === 'array'
                  ? Array.from({ length: n }, () => 1)
                  : kind === 'null'
                    ? null
                    : new Uint8Array(Math.max(0, n - 1));
    return { v: { data, width: w, height: h, channels: c }, d: `{${kind} ${String(w)}x${String(h)}x${String(c)}}` };
  };
  const shape = r();
  let arg: unknown;
  let d: string;
  if (shape < 0.1) {
    const e = element();
    arg = e.v;
    d = `bare ${e.d}`;
  } else if (shape < 0.15) {
    const e = element();
    // biome-ignore lint/suspicious/noSparseArray: an array with a hole is the case under test
    arg = [e.v, , e.v];
    d = `holey [${e.d}]`;
  } else {
    const es = Array.from({ length: int(r, 0, 5) }, element);
    arg = es.map((e) => e.v);
    d = `[${es.map((e) => e.d).join(', ')}]`;
  }
  return {
    desc: d,
    async run() {
      encoder ??= await Encoder.open({ manifest: baseManifest, bytes: modelBytes }, { device: 'wasm', batchSize: 2 });
      await typedOnly('embed', async () => {
        const out = await encoder!.embed(arg as never);
        if (
          !Array.isArray(arg) ||
          out.length !== arg.length ||
          out.some((e) => e.length !== 16 || !e.every(Number.isFinite))
        )
          throw new Finding(`embed resolved with ${out.length} embeddings for this argument`);
      });
    },
  };
}

/** A trained small learner's state, built once: labels, an adapt, a stream of observations. */
let learnerState: unknown;
async function baseLearnerState(): Promise<unknown> {
  if (learnerState) return learnerState;
  const r = rng(7);
  const l = new Learner({ dim: 8, classes: ['a', 'b', 'c'] });
  const unitVec = (cls: number): Float32Array => {
    const v = new Float32Array(8).map(() => r() * 0.3);
    v[cls] = v[cls]! + 1;
    return v;
  };
  for (let k = 0; k < 12; k++) l.addLabeled(unitVec(k % 3), ['a', 'b', 'c'][k % 3]!);
  await l.adapt();
  for (let k = 0; k < 30; k++) l.observe(unitVec(k % 3));
  learnerState = l.getState();
  l.dispose();
  return learnerState;
}

/** Learner states with 1–3 mutated fields: fromState is typed; a learner it accepts predicts, observes, saves, and its save restores. */
async function learnerCase(r: Rand): Promise<Case> {
  const mutated = mutateTree(await baseLearnerState(), r);
  const x = new Float32Array(8).map(() => r() - 0.5);
  return {
    desc: mutated.desc,
    async run() {
      const code = await typedOnly('Learner.fromState and use', () => {
        const l = Learner.fromState(mutated.value as never);
        try {
          try {
            l.predict(x);
          } catch (e) {
            if (!isEdgetuneError(e, 'NOT_READY')) throw e;
          }
          for (let k = 0; k < 3; k++) l.observe(x.map((v) => v + k * 0.1));
          Learner.fromState(l.getState()).dispose();
        } finally {
          l.dispose();
        }
      });
      if (code !== 'ok' && code !== 'STATE_INVALID')
        throw new Finding(`fromState or use gave ${code}, not STATE_INVALID`);
    },
  };
}

/** An exported profile (plain), built once with real records of every kind. */
let profileBytes: { plain: Uint8Array; encrypted: Uint8Array } | undefined;
async function baseProfiles(): Promise<{ plain: Uint8Array; encrypted: Uint8Array }> {
  if (profileBytes) return profileBytes;
  const make = async (encryption?: { passphrase: string; iterations: number }): Promise<Uint8Array> => {
    await using s = await openStorage({
      name: `fuzz-src-${encryption ? 'enc' : 'plain'}`,
      indexedDB: new IDBFactory(),
      IDBKeyRange,
      ...(encryption ? { encryption } : {}),
    });
    await s.checkpoints('default').save({ weights: new Float32Array([1, 2, 3]), note: 'x' }, { label: 'first' });
    await s.checkpoints('default').save({ weights: new Float32Array([4, 5, 6]) });
    await s.samples('default').add([{ e: new Float32Array(4) }, { e: new Float32Array(4).fill(1) }]);
    await s.meta.set('app', { v: 1 });
    await s.putModel(baseManifest.id, { ...baseManifest }, modelBytes);
    return await s.exportProfile();
  };
  profileBytes = { plain: await make(), encrypted: await make({ passphrase: 'pw', iterations: 1000 }) };
  return profileBytes;
}

/** Rebuilds an export file around a new header/body (what an attacker who knows the format can do), checksum included. */
async function reseal(prefixParts: { flags: number; header: Uint8Array }, body: Uint8Array): Promise<Uint8Array> {
  const u32 = (n: number): Uint8Array => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n >>> 0, true);
    return b;
  };
  const parts = [
    new TextEncoder().encode('EDGTPROF'),
    u32(1),
    new Uint8Array([prefixParts.flags]),
    u32(prefixParts.header.byteLength),
    prefixParts.header,
    u32(body.byteLength),
    body,
  ];
  const unsummed = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let o = 0;
  for (const p of parts) {
    unsummed.set(p, o);
    o += p.byteLength;
  }
  const hex = await sha256Hex(unsummed);
  const out = new Uint8Array(unsummed.byteLength + 32);
  out.set(unsummed);
  for (let k = 0; k < 32; k++) out[unsummed.byteLength + k] = parseInt(hex.slice(k * 2, k * 2 + 2), 16);
  return out;
}

/** Splits an export into its parts (the layout of src/storage/profile.ts). */
function split(bytes: Uint8Array): { flags: number; header: Uint8Array; body: Uint8Array } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const flags = bytes[12]!;
  const hl = view.getUint32(13, true);
  const header = bytes.slice(17, 17 + hl);
  const bl = view.getUint32(17 + hl, true);
  return { flags, header, body: bytes.slice(21 + hl, 21 + hl + bl) };
}

async function fixSum(bytes: Uint8Array): Promise<Uint8Array> {
  const out = bytes.slice();
  const hex = await sha256Hex(out.subarray(0, out.byteLength - 32));
  for (let k = 0; k < 32; k++) out[out.byteLength - 32 + k] = parseInt(hex.slice(k * 2, k * 2 + 2), 16);
  return out;
}

/** Profile files: truncated, bit-flipped (with the checksum fixed up), or with a structurally mutated header or body, imported into a fresh storage. */
async function profileCase(r: Rand): Promise<Case> {
  const kind = pick(r, ['truncate', 'flip', 'flip-resum', 'body', 'body', 'body', 'header', 'enc-header', 'enc-flip']);
  const { plain, encrypted } = await baseProfiles();
  let file: Uint8Array;
  let desc: string;
  if (kind === 'truncate') {
    const n = int(r, 0, plain.byteLength - 1);
    file = plain.slice(0, n);
    desc = `truncate to ${n}`;
  } else if (kind === 'flip' || kind === 'flip-resum' || kind === 'enc-flip') {
    file = (kind === 'enc-flip' ? encrypted : plain).slice();
    const at = int(r, 0, file.byteLength - 33);
    file[at] = file[at]! ^ (1 << int(r, 0, 7));
    if (kind !== 'flip') file = await fixSum(file);
    desc = `${kind} byte ${at}`;
  } else if (kind === 'body') {
    const p = split(plain);
    const m = mutateTree(decodeValue(p.body), r);
    file = await reseal(p, encodeValue(m.value));
    desc = `body ${m.desc}`;
  } else {
    const p = split(kind === 'header' ? plain : encrypted);
    const m = mutateTree(decodeValue(p.header), r);
    file = await reseal({ flags: p.flags, header: encodeValue(m.value) }, p.body);
    desc = `${kind} ${m.desc}`;
  }
  return {
    desc,
    async run() {
      const s = await openStorage({ name: 'fuzz-dst', indexedDB: new IDBFactory(), IDBKeyRange });
      try {
        await s.meta.set('keep', 'me');
        const code = await typedOnly('importProfile', () => s.importProfile(file, { passphrase: 'pw' }));
        // Nothing lost: a refused import leaves the profile as it was.
        if (code !== 'ok' && (await s.meta.keys()).join() !== 'keep')
          throw new Finding(`importProfile failed with ${code} and changed the profile`);
      } finally {
        await s.dispose();
      }
    },
  };
}

// ---------- the import branch's runtime features ----------

/** Manifests with crop policy, fixed or dynamic sizes and output pooling fields, 1–3 of them mutated: typed, and those that pass embed. */
function shapedCase(r: Rand): Case {
  const batch = pick(r, [null, 1, 2, 3]);
  const spatial = r() < 0.5 ? [null, null] : [16, 16];
  const base = {
    ...baseManifest,
    input: {
      ...baseManifest.input,
      shape: [batch, 1, ...spatial],
      crop: pick(r, ['center', 'stretch', 'pad']),
      cropFraction: pick(r, [1, 0.875, 0.5]),
    },
    output: { ...baseManifest.output, shape: [null, 16], pooling: 'none' },
  };
  const { value, desc } = mutateTree(base as unknown, r);
  const frames = testImages(int(r, 1, 5), pick(r, [16, 24, 40]));
  return {
    desc: `batch=${String(batch)} spatial=${String(spatial[0])} ${desc}`,
    async run() {
      const code = await typedOnly('validateManifest', () => validateManifest(value));
      if (code !== 'ok' && code !== 'MANIFEST_INVALID')
        throw new Finding(`validateManifest gave ${code}, not MANIFEST_INVALID`);
      if (code !== 'ok') return;
      await typedOnly('open+embed', async () => {
        await using enc = await Encoder.open(
          { manifest: value, bytes: modelBytes },
          { device: 'wasm', selfCheck: false, batchSize: int(r, 1, 4) },
        );
        const out = await enc.embed(frames);
        if (out.length !== frames.length || out.some((e) => e.length !== enc.dim || !e.every(Number.isFinite)))
          throw new Finding(`embed returned ${out.length} embeddings of ${out.map((e) => e.length).join('/')}`);
      });
    },
  };
}

/** A folder whose parent (and a sibling) hold the model, while the manifest's own folder holds no copy: any load that succeeds read outside it. */
let localRoot: string | undefined;
function localDirs(): { root: string; dir: string } {
  if (!localRoot) {
    localRoot = mkdtempSync(join(tmpdir(), 'edgetune-fuzz-'));
    mkdirSync(join(localRoot, 'dir', 'sub'), { recursive: true });
    mkdirSync(join(localRoot, 'sub'));
    for (const name of ['m.onnx', 'a', 'sub/m.onnx', 'dirm.onnx', 'evil.example'])
      writeFileSync(join(localRoot, name), modelBytes);
  }
  return { root: localRoot, dir: join(localRoot, 'dir') };
}

/** Random `file` strings in a manifest opened by Node file path (or file:// URL): refused, or read from the manifest's folder only. */
function localFileCase(r: Rand): Case {
  const file = Array.from({ length: int(r, 1, 6) }, () => pick(r, FILE_PIECES)).join('');
  const asUrl = r() < 0.3;
  return {
    desc: `${asUrl ? 'url' : 'path'} file=${JSON.stringify(file)}`,
    async run() {
      const { dir } = localDirs();
      const path = join(dir, 'm.json');
      writeFileSync(path, JSON.stringify({ ...baseManifest, file }));
      const code = await typedOnly('loadModel', () => loadModel(asUrl ? new URL(`file://${path}`).href : path));
      if (code === 'ok') throw new Finding(`loaded the model from outside ${dir}`);
    },
  };
}

/** Random `roi` and `background` options of embed(): typed errors, or embeddings. */
function regionCase(r: Rand): Case {
  const size = pick(r, [8, 16, 33]);
  const frames = testImages(int(r, 1, 3), size, pick(r, [1, 3, 4] as const));
  const num = (): unknown => (r() < 0.8 ? int(r, -2, size + 2) + (r() < 0.2 ? 0.5 : 0) : pick(r, VALUES));
  const options: Record<string, unknown> = {};
  const parts: string[] = [];
  if (r() < 0.6) {
    const roi = r() < 0.85 ? { x: num(), y: num(), width: num(), height: num() } : pick(r, VALUES);
    options['roi'] = roi;
    parts.push(`roi=${typeof roi === 'symbol' || typeof roi === 'function' ? typeof roi : JSON.stringify(roi)}`);
  }
  let background: unknown;
  let bgDesc = '';
  if (r() < 0.6) {
    const kind = pick(r, ['same', 'other-size', 'mutated', 'value']);
    bgDesc = `background=${kind}`;
    const of = (w: number): unknown => createBackground(testImages(1, w, 3)[0]!);
    if (kind === 'same') background = of(size);
    else if (kind === 'other-size') background = of(size + 1);
    else if (kind === 'mutated') {
      const m = mutateTree(of(size), r);
      background = m.value;
      bgDesc += ` ${m.desc}`;
    } else background = pick(r, VALUES);
    parts.push(bgDesc);
  }
  return {
    desc: `${size}px ${parts.join(' ') || 'none'}`,
    async run() {
      if (background !== undefined) options['background'] = background;
      encoder ??= await Encoder.open({ manifest: baseManifest, bytes: modelBytes }, { device: 'wasm', batchSize: 2 });
      await typedOnly('embed', async () => {
        const out = await encoder!.embed(frames, options as never);
        if (out.length !== frames.length || out.some((e) => e.length !== 16 || !e.every(Number.isFinite)))
          throw new Finding(`embed resolved with ${out.length} embeddings`);
      });
    },
  };
}

/** Case `i` of `domain` under `seed` (built without running it, so it can be skipped by its description). */
export async function makeCase(domain: Domain, seed: number, i: number): Promise<Case> {
  const r = rng(caseSeed(seed, domain, i));
  switch (domain) {
    case 'manifest':
      return manifestCase(r);
    case 'file':
      return fileCase(r);
    case 'input':
      return inputCase(r);
    case 'learner':
      return learnerCase(r);
    case 'profile':
      return profileCase(r);
    case 'shaped':
      return shapedCase(r);
    case 'localfile':
      return localFileCase(r);
    case 'region':
      return regionCase(r);
  }
}
