// Browser page for bench/storage.ts: save/load of a realistic checkpoint through edgetune storage (plain and AES-GCM) against a raw idb put/get of the same object.
import { openDB } from 'idb';
import { report } from '../harness-page.js';
import { openStorage } from '../../../src/storage/index.js';
import { fill } from './storage-fill.js';

const q = new URLSearchParams(location.search);
const reps = Number(q.get('reps') ?? '15');

/** 10-class head on 128-d embeddings plus 2,000 replay embeddings of 128-d with labels. */
function checkpoint(seed: number) {
  return {
    head: {
      weights: fill(10 * 128, seed),
      bias: fill(10, seed + 1),
      classes: Array.from({ length: 10 }, (_, i) => `class-${i}`),
    },
    replay: {
      embeddings: fill(2000 * 128, seed + 2),
      labels: Uint8Array.from(fill(2000, seed + 3), (x) => Math.floor((x + 0.5) * 10)),
    },
    step: seed,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

async function time(fn: (i: number) => Promise<unknown>): Promise<number> {
  for (let i = 0; i < 3; i++) await fn(-1 - i); // warm-up
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    await fn(i);
    t.push(performance.now() - t0);
  }
  return median(t);
}

report(async () => {
  const payloads = Array.from({ length: reps + 3 }, (_, i) => checkpoint(i + 1));
  const pick = (i: number) => payloads[(i + 3) % payloads.length]!;
  const bytes = 4 * (10 * 128 + 10 + 2000 * 128) + 2000;

  // Raw idb, same durability as ours.
  const raw = await openDB('bench-raw', 1, { upgrade: (db) => void db.createObjectStore('ckpt') });
  const rawPut = await time(async (i) => {
    const tx = raw.transaction('ckpt', 'readwrite', { durability: 'strict' });
    await tx.store.put(pick(i), 'current');
    await tx.done;
  });
  const rawGet = await time(async () => raw.get('ckpt', 'current'));
  raw.close();

  const plain = await openStorage({ name: 'bench-plain' });
  const plainSave = await time((i) => plain.checkpoints().save(pick(i)));
  const plainLoad = await time(() => plain.checkpoints().load());
  await plain.dispose();

  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
  const enc = await openStorage({ name: 'bench-enc', encryption: { key } });
  const encSave = await time((i) => enc.checkpoints().save(pick(i)));
  const encLoad = await time(() => enc.checkpoints().load());
  await enc.dispose();

  // One-off cost of opening with a passphrase at the default 600k PBKDF2 iterations.
  const t0 = performance.now();
  const pp = await openStorage({ name: 'bench-pp', encryption: { passphrase: 'bench passphrase' } });
  const ppOpen = performance.now() - t0;
  await pp.dispose();

  return { reps, bytes, ms: { rawPut, rawGet, plainSave, plainLoad, encSave, encLoad, passphraseOpen600k: ppOpen } };
});
