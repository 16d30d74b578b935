// The whole profile at once: read and decrypt it in one snapshot, seal it under a key, and replace every record in one write (export, import, re-key).
import { EdgetuneError } from '../core/errors.js';
import type { Cipher } from './crypto.js';
import { ZERO, bodySize, toArrayBuffer, type Accounting, type RwTx, type StorageEngine } from './engine.js';
import type { ProfileData } from './profile.js';
import { ALL_STORES, type Body, type StorageSchema, type StoreName, type Usage } from './schema.js';
import type { OperationOptions, StoredManifest } from './types.js';

/** A profile with every record sealed (or wrapped plain) and sized, ready to write. */
export interface SealedProfile {
  data: ProfileData;
  models: { id: string; size: number; storedAt: number; lastUsed: number; body: Body; bytesBody: Body }[];
  checkpoints: StorageSchema['checkpoints']['value'][];
  samples: StorageSchema['samples']['value'][];
  meta: StorageSchema['meta']['value'][];
  /** Encryptions done. */
  count: number;
}

/** Reads and decrypts the whole profile in one snapshot transaction. */
export async function readAll(
  e: StorageEngine,
  cipher: Cipher | null,
  options: OperationOptions,
): Promise<ProfileData> {
  const tx = e.db.transaction(ALL_STORES as StoreName[], 'readonly');
  const [models, bytes, ckpts, heads, samples, meta, sysKeys] = await Promise.all([
    tx.objectStore('models').getAll(),
    tx.objectStore('modelBytes').getAll(),
    tx.objectStore('checkpoints').getAll(),
    tx.objectStore('heads').getAll(),
    tx.objectStore('samples').getAll(),
    tx.objectStore('meta').getAll(),
    tx.objectStore('sys').getAllKeys(),
  ]);
  const seqKeys = sysKeys.filter((k) => k.startsWith('seq:'));
  const seqVals = await Promise.all(seqKeys.map((k) => tx.objectStore('sys').get(k)));
  await tx.done;
  const total = models.length * 2 + ckpts.length + samples.length + meta.length;
  let done = 0;
  const tick = (): void => {
    done++;
    options.onProgress?.({ phase: 'decrypt', done, total });
  };
  const byteMap = new Map(bytes.map((b) => [b.id, b.body]));
  const out: ProfileData = {
    models: [],
    checkpoints: [],
    heads: heads.map((h) => ({ slot: h.slot, current: h.current, next: h.next, versions: h.versions })),
    samples: [],
    meta: [],
    seqs: {},
  };
  seqKeys.forEach((k, i) => (out.seqs[k.slice(4)] = seqVals[i] as number));
  for (const m of models) {
    if (options.signal?.aborted)
      throw new EdgetuneError('ABORTED', 'Reading the profile was aborted.', { cause: options.signal.reason });
    const manifest = (await e.unseal(cipher, m.body, 'models', m.id, 0, `manifest of model ${m.id}`)) as StoredManifest;
    tick();
    const b = (await e.unseal(
      cipher,
      byteMap.get(m.id),
      'modelBytes',
      m.id,
      0,
      `bytes of model ${m.id}`,
    )) as ArrayBuffer;
    tick();
    out.models.push({ id: m.id, manifest, bytes: new Uint8Array(b), storedAt: m.storedAt, lastUsed: m.lastUsed });
  }
  for (const c of ckpts) {
    const payload = await e.unseal(
      cipher,
      c.body,
      'checkpoints',
      c.slot,
      c.version,
      `checkpoint ${c.slot} v${c.version}`,
    );
    tick();
    out.checkpoints.push({
      slot: c.slot,
      version: c.version,
      createdAt: c.createdAt,
      ...(c.label !== undefined ? { label: c.label } : {}),
      payload,
    });
  }
  for (const s of samples) {
    const value = await e.unseal(cipher, s.body, 'samples', `${s.slot}/${s.seq}`, 0, `sample ${s.slot}/${s.seq}`);
    tick();
    out.samples.push({ slot: s.slot, seq: s.seq, createdAt: s.createdAt, value });
  }
  for (const m of meta) {
    const value = await e.unseal(cipher, m.body, 'meta', m.key, 0, `meta ${m.key}`);
    tick();
    out.meta.push({ key: m.key, value });
  }
  return out;
}

/** Seals every record of `data` under `cipher` (or wraps it plain), sized for accounting. */
export async function sealAll(
  e: StorageEngine,
  cipher: Cipher | null,
  data: ProfileData,
  options: OperationOptions,
): Promise<SealedProfile> {
  const total = data.models.length * 2 + data.checkpoints.length + data.samples.length + data.meta.length;
  let done = 0;
  const tick = (): void => {
    done++;
    options.onProgress?.({ phase: 'encrypt', done, total });
  };
  const out: SealedProfile = { data, models: [], checkpoints: [], samples: [], meta: [], count: 0 };
  for (const m of data.models) {
    if (options.signal?.aborted)
      throw new EdgetuneError('ABORTED', 'Encrypting the profile was aborted; nothing was written.', {
        cause: options.signal.reason,
      });
    const mb = await e.seal(cipher, 'models', m.id, 0, m.manifest);
    tick();
    const bb = await e.seal(cipher, 'modelBytes', m.id, 0, toArrayBuffer(m.bytes));
    tick();
    out.models.push({
      id: m.id,
      size: bodySize(bb),
      storedAt: m.storedAt,
      lastUsed: m.lastUsed,
      body: mb,
      bytesBody: bb,
    });
  }
  for (const c of data.checkpoints) {
    const body = await e.seal(cipher, 'checkpoints', c.slot, c.version, c.payload);
    tick();
    out.checkpoints.push({
      slot: c.slot,
      version: c.version,
      createdAt: c.createdAt,
      size: bodySize(body),
      ...(c.label !== undefined ? { label: c.label } : {}),
      body,
    });
  }
  for (const s of data.samples) {
    const body = await e.seal(cipher, 'samples', `${s.slot}/${s.seq}`, 0, s.value);
    tick();
    out.samples.push({ slot: s.slot, seq: s.seq, createdAt: s.createdAt, size: bodySize(body), body });
  }
  for (const m of data.meta) {
    const body = await e.seal(cipher, 'meta', m.key, 0, m.value);
    tick();
    out.meta.push({ key: m.key, size: bodySize(body), body });
  }
  out.count = cipher ? done : 0;
  return out;
}

/**
 * Clears the data stores and writes `sealed` in their place, keeping the meta records `keepMeta` names
 * (sealed under the same key, so they stay readable); sets absolute usage. Inside a write.
 */
export async function replaceAll(
  tx: RwTx,
  sealed: SealedProfile,
  acct: Accounting,
  keepMeta?: (key: string) => boolean,
): Promise<void> {
  const kept = keepMeta ? (await tx.objectStore('meta').getAll()).filter((m) => keepMeta(m.key)) : [];
  for (const s of ['models', 'modelBytes', 'checkpoints', 'heads', 'samples', 'meta'] as const)
    await tx.objectStore(s).clear();
  const sys = tx.objectStore('sys');
  for (const k of await sys.getAllKeys()) if (k.startsWith('seq:')) await sys.delete(k);
  const usage: Usage = { ...ZERO };
  for (const m of sealed.models) {
    await tx
      .objectStore('models')
      .put({ id: m.id, size: m.size, storedAt: m.storedAt, lastUsed: m.lastUsed, body: m.body });
    await tx.objectStore('modelBytes').put({ id: m.id, body: m.bytesBody });
    usage.models += m.size;
    acct.protect.add(m.id);
  }
  for (const c of sealed.checkpoints) {
    await tx.objectStore('checkpoints').put(c);
    usage.checkpoints += c.size;
  }
  for (const h of sealed.data.heads) {
    const versions = h.versions.map((v) => ({
      ...v,
      size: sealed.checkpoints.find((c) => c.slot === h.slot && c.version === v.version)?.size ?? v.size,
    }));
    await tx
      .objectStore('heads')
      .put({ slot: h.slot, current: h.current, next: h.next, versions, updatedAt: Date.now() });
  }
  for (const s of sealed.samples) {
    await tx.objectStore('samples').put(s);
    usage.samples += s.size;
  }
  for (const m of [...kept, ...sealed.meta]) {
    await tx.objectStore('meta').put(m);
    usage.meta += m.size;
  }
  for (const [slot, seq] of Object.entries(sealed.data.seqs)) await sys.put(seq, `seq:${slot}`);
  acct.absolute = usage;
}
