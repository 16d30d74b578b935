// The sample store of one slot: appends under the lock with per-slot sequence numbers, batched iteration, delete/trim/clear.
import { EdgetuneError } from '../core/errors.js';
import { bodySize, type StorageEngine } from './engine.js';
import { reserve } from './keyring.js';
import type { StorageSchema } from './schema.js';
import type { SampleStore, StoredSample } from './types.js';

function range(e: StorageEngine, slot: string, afterSeq?: number): IDBKeyRange {
  return afterSeq === undefined
    ? e.keyRange.bound([slot, -Infinity], [slot, Infinity])
    : e.keyRange.bound([slot, afterSeq], [slot, Infinity], true, false);
}

/** The samples of `slot` (already checked). */
export function sampleStore<S>(e: StorageEngine, slot: string): SampleStore<S> {
  const decodeAll = async (recs: StorageSchema['samples']['value'][]): Promise<StoredSample<S>[]> => {
    const out: StoredSample<S>[] = [];
    for (const r of recs) {
      const value = (await e.unseal(
        e.cipher,
        r.body,
        'samples',
        `${slot}/${r.seq}`,
        0,
        `sample ${slot}/${r.seq}`,
      )) as S;
      out.push({ seq: r.seq, createdAt: r.createdAt, value });
    }
    return out;
  };
  const removeWhere = (what: string, pick: (seqs: number[]) => number[]): Promise<number> =>
    e.lock(undefined, async () => {
      let removed = 0;
      await e.write(what, ['samples'], 0, async (tx, acct) => {
        const store = tx.objectStore('samples');
        const keys = (await store.getAllKeys(range(e, slot))).map((k) => k[1]);
        const chosen = new Set(pick(keys));
        let cursor = await store.openCursor(range(e, slot));
        while (cursor) {
          if (chosen.has(cursor.value.seq)) {
            acct.delta.samples -= cursor.value.size;
            await cursor.delete();
            removed++;
          }
          cursor = await cursor.continue();
        }
      });
      return removed;
    });
  return {
    slot,
    add: (values, options = {}) =>
      e.lock(
        options.signal,
        async () => {
          const first = ((await e.db.get('sys', `seq:${slot}`)) as number | undefined) ?? 1;
          await reserve(e, values.length, options);
          const cipher = e.cipher;
          const recs: StorageSchema['samples']['value'][] = [];
          const createdAt = Date.now();
          for (let i = 0; i < values.length; i++) {
            const seq = first + i;
            const body = await e.seal(cipher, 'samples', `${slot}/${seq}`, 0, values[i]);
            options.onProgress?.({ phase: 'encrypt', done: i + 1, total: values.length });
            recs.push({ slot, seq, createdAt, size: bodySize(body), body });
          }
          await e.write(
            `Adding ${values.length} samples to ${slot}`,
            ['samples'],
            cipher ? values.length : 0,
            async (tx, acct) => {
              const now = ((await tx.objectStore('sys').get(`seq:${slot}`)) as number | undefined) ?? 1;
              if (now !== first)
                throw new EdgetuneError(
                  'CONFLICT',
                  `Samples of ${slot} changed while adding (another writer bypassed the lock). Retry.`,
                );
              for (const r of recs) {
                await tx.objectStore('samples').put(r);
                acct.delta.samples += r.size;
              }
              await tx.objectStore('sys').put(first + values.length, `seq:${slot}`);
            },
            options,
          );
          return recs.map((r) => r.seq);
        },
        options.onProgress,
      ),
    count: async () => {
      e.assertOpen();
      return e.db.count('samples', range(e, slot));
    },
    getAll: async () => {
      e.assertOpen();
      const recs = await e.db.getAll('samples', range(e, slot));
      return decodeAll(recs);
    },
    async *iterate(options = {}) {
      const batch = options.batchSize ?? 256;
      if (!Number.isInteger(batch) || batch < 1)
        throw new EdgetuneError('INVALID_ARGUMENT', `batchSize must be an integer >= 1, got ${batch}.`);
      let after: number | undefined;
      for (;;) {
        e.assertOpen();
        if (options.signal?.aborted)
          throw new EdgetuneError('ABORTED', 'Iterating samples was aborted.', { cause: options.signal.reason });
        const recs = await e.db.getAll('samples', range(e, slot, after), batch);
        for (const s of await decodeAll(recs)) yield s;
        if (recs.length < batch) return;
        after = recs[recs.length - 1]!.seq;
      }
    },
    delete: async (seqs) => {
      const want = new Set(seqs);
      await removeWhere(`Deleting ${seqs.length} samples of ${slot}`, (keys) => keys.filter((k) => want.has(k)));
    },
    trim: async (maxCount) => {
      if (!Number.isInteger(maxCount) || maxCount < 0)
        throw new EdgetuneError('INVALID_ARGUMENT', `maxCount must be an integer >= 0, got ${maxCount}.`);
      return removeWhere(`Trimming samples of ${slot} to ${maxCount}`, (keys) =>
        keys.slice(0, Math.max(0, keys.length - maxCount)),
      );
    },
    clear: async () => {
      await removeWhere(`Clearing samples of ${slot}`, (keys) => keys);
    },
  };
}
