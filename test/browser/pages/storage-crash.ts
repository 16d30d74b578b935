// Browser page for the crash trials: checks what the last (killed) run left, then saves realistic checkpoints in a loop until the browser is killed.
import { report } from '../harness-page.js';
import { sha256Hex } from '../../../src/core/hash.js';
import { openStorage } from '../../../src/storage/index.js';
import { fill } from './storage-fill.js';

interface Payload {
  version: number;
  head: { weights: Float32Array; bias: Float32Array };
  replay: Float32Array;
  labels: Uint8Array;
  digest: string;
}

declare function edgetuneStarted(v: number): Promise<void>;
declare function edgetuneCommitted(v: number): Promise<void>;

const q = new URLSearchParams(location.search);
const encrypted = q.get('enc') === '1';
const saving = q.get('mode') === 'run';
// Replay rows per checkpoint: 2000 is the realistic size (~1.1 MB); fewer keeps a value under Chromium's 64 KB blob-wrapping threshold.
const rows = Number(q.get('rows') ?? '2000');

async function digestOf(p: Omit<Payload, 'digest'>): Promise<string> {
  const parts = [p.head.weights, p.head.bias, p.replay, p.labels].map(
    (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength),
  );
  const all = new Uint8Array(parts.reduce((n, a) => n + a.byteLength, 0));
  let o = 0;
  for (const a of parts) {
    all.set(a, o);
    o += a.byteLength;
  }
  return sha256Hex(all);
}

/** Content is a function of the version, so a reopened checkpoint can be checked byte for byte. */
async function payloadFor(version: number): Promise<Payload> {
  const base = {
    version,
    head: { weights: fill(10 * 128, version), bias: fill(10, version + 1) },
    replay: fill(rows * 128, version + 2),
    labels: Uint8Array.from(fill(rows, version + 3), (x) => Math.floor((x + 0.5) * 10)),
  };
  return { ...base, digest: await digestOf(base) };
}

async function rawCount(name: string): Promise<number> {
  const db = await new Promise<IDBDatabase>((res, rej) => {
    const r = indexedDB.open(name);
    r.onsuccess = () => res(r.result);
    r.onerror = () => rej(r.error);
  });
  try {
    if (!db.objectStoreNames.contains('checkpoints')) return 0;
    return await new Promise<number>((res, rej) => {
      const r = db.transaction('checkpoints').objectStore('checkpoints').count();
      r.onsuccess = () => res(r.result);
      r.onerror = () => rej(r.error);
    });
  } finally {
    db.close();
  }
}

const w = globalThis as unknown as { __state?: unknown };
report(async () => {
  const store = await openStorage({
    name: 'crash',
    keepLast: 3,
    ...(encrypted ? { encryption: { passphrase: 'crash-trial', iterations: 1000 } } : {}),
  });
  const list = await store.checkpoints<Payload>().list();
  const current = await store.checkpoints<Payload>().load();
  const problems: string[] = [];
  for (const info of list) {
    const c = await store.checkpoints<Payload>().load(info.version);
    if (!c) problems.push(`listed v${info.version} does not load`);
    else if (c.payload.version !== info.version)
      problems.push(`v${info.version} holds payload of v${c.payload.version}`);
    else if (
      (await digestOf(c.payload)) !== c.payload.digest ||
      c.payload.digest !== (await payloadFor(info.version)).digest
    )
      problems.push(`v${info.version} payload damaged`);
  }
  const records = await rawCount('crash');
  const state = {
    current: current?.version ?? 0,
    listed: list.map((v) => v.version),
    records,
    problems,
    currentOk: current ? current.payload.digest === (await payloadFor(current.version)).digest : true,
  };
  w.__state = state;
  if (!saving) {
    await store.dispose();
    return state;
  }
  // Wait until Node has read the state above, so no report of this run can race its check.
  while (!(globalThis as unknown as { __go?: boolean }).__go) await new Promise((r) => setTimeout(r, 5));
  // Save until killed; tell Node before starting and after committing each version.
  for (let v = state.current + 1; ; v++) {
    const p = await payloadFor(v);
    await edgetuneStarted(v);
    const r = await store.checkpoints<Payload>().save(p);
    if (r.version !== v) throw new Error(`saved as v${r.version}, expected v${v}`);
    await edgetuneCommitted(v);
  }
});
