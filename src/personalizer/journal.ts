// The label journal: every taught example, written to the profile's sample store before it is learned (or kept in memory without a profile), and replayed into a learner that does not hold it yet.
import { isEdgetuneError } from '../core/errors.js';
import type { Learner } from '../finetune/learner.js';
import type { EdgetuneStorage } from '../storage/types.js';
import type { JournalEntry } from './record.js';

/** The label journal of one model slot: in the profile's sample store, or in memory (`storage: false`). */
export class LabelJournal {
  readonly #storage: EdgetuneStorage | null;
  readonly #slot: string;
  /** Entries of the memory-only mode. */
  readonly #mem = new Map<number, JournalEntry>();
  #memSeq = 1;

  constructor(storage: EdgetuneStorage | null, slot: string) {
    this.#storage = storage;
    this.#slot = slot;
  }

  /** Every entry, by sequence number. */
  async all(): Promise<Map<number, JournalEntry>> {
    if (!this.#storage) return new Map(this.#mem);
    const all = await this.#storage.samples<JournalEntry>(this.#slot).getAll();
    return new Map(all.map((s) => [s.seq, s.value]));
  }

  /** Writes one entry; resolves with its sequence number. */
  async add(entry: JournalEntry): Promise<number> {
    if (!this.#storage) {
      const seq = this.#memSeq++;
      this.#mem.set(seq, entry);
      return seq;
    }
    const [seq] = await this.#storage.samples<JournalEntry>(this.#slot).add([entry]);
    return seq!;
  }

  /** Deletes entries by sequence number. */
  async delete(seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return;
    if (!this.#storage) {
      for (const s of seqs) this.#mem.delete(s);
      return;
    }
    await this.#storage.samples(this.#slot).delete([...seqs]);
  }

  /** Entries whose label is `label`, as `[seq, entry]`. */
  async ofLabel(label: string): Promise<Array<[number, JournalEntry]>> {
    return [...(await this.all())].filter(([, e]) => e.label === label);
  }

  /** Forgets the memory-only entries (the profile's own are deleted with the profile). */
  clearMemory(): void {
    this.#mem.clear();
  }

  /**
   * Learns every entry `learner` does not hold yet (taught in another tab, or after the last save)
   * and drops from `labels` the entries deleted elsewhere (undo, remove).
   * @returns how many entries were learned
   */
  async reconcile(learner: Learner, labels: Set<number>): Promise<number> {
    const journal = await this.all();
    let added = 0;
    for (const [seq, e] of journal) {
      if (labels.has(seq)) continue;
      try {
        learner.addLabeled(e.embedding, e.label);
        labels.add(seq);
        added++;
      } catch (err) {
        // An entry this model cannot take (damaged) is skipped, never fatal.
        if (!isEdgetuneError(err)) throw err;
      }
    }
    for (const seq of [...labels]) if (!journal.has(seq)) labels.delete(seq);
    return added;
  }
}
