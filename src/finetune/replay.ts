// Bounded, class-balanced replay of labeled and pseudo-labeled embeddings (one reservoir per class).
import type { Rng } from './rng.js';

/** One remembered sample. */
export interface ReplayEntry {
  /** Embedding in the head's input space. */
  x: Float32Array;
  /** Second (augmented) view, when the app supplied one. */
  x2: Float32Array | undefined;
  /** Class index. */
  cls: number;
  /** True for a user label, false for a pseudo-label. */
  labeled: boolean;
  /** Held back from training to score adaptations (labeled only). */
  holdout: boolean;
  /** Teacher confidence when pseudo-labeled (1 for labels). */
  conf: number;
  /** Stream step when the entry was added or last confirmed by the teacher. */
  step: number;
}

/** Packed, structured-clone-able replay contents. */
export interface ReplayState {
  count: number;
  dim: number;
  x: Float32Array;
  hasX2: Uint8Array;
  x2: Float32Array;
  cls: Int32Array;
  flags: Uint8Array;
  conf: Float32Array;
  step: Float64Array;
  /** Per class: labeled seen, pseudo seen (reservoir counters). */
  seenLabeled: Float64Array;
  seenPseudo: Float64Array;
}

/**
 * Per-class reservoirs: labeled samples up to `labeledPerClass` per class, pseudo-labels up to
 * `pseudoCapacity / classes` per class, so no class can crowd out another and memory stays bounded.
 */
export class ReplayBuffer {
  readonly labeledPerClass: number;
  readonly pseudoCapacity: number;
  /** Per class, its labeled entries. */
  labeled: ReplayEntry[][] = [];
  /** Per class, its pseudo-labeled entries. */
  pseudo: ReplayEntry[][] = [];
  seenLabeled: number[] = [];
  seenPseudo: number[] = [];

  /**
   * @param labeledPerClass - labeled entries kept per class
   * @param pseudoCapacity - pseudo-labeled entries kept over all classes
   */
  constructor(labeledPerClass: number, pseudoCapacity: number) {
    this.labeledPerClass = labeledPerClass;
    this.pseudoCapacity = pseudoCapacity;
  }

  /** Pseudo-label slots per class. */
  get pseudoQuota(): number {
    return this.labeled.length ? Math.floor(this.pseudoCapacity / this.labeled.length) : 0;
  }

  /** Makes room for one more class; shrinks other classes' pseudo reservoirs to the new quota. */
  addClass(rng: Rng): void {
    this.addClassLazily();
    this.shrinkToQuota(rng);
  }

  /** Makes room for one more class in O(1); call {@link ReplayBuffer.shrinkToQuota} before the next pseudo-label. */
  addClassLazily(): void {
    this.labeled.push([]);
    this.pseudo.push([]);
    this.seenLabeled.push(0);
    this.seenPseudo.push(0);
  }

  /** Shrinks every class's pseudo reservoir to the current quota (one pass, however many classes were added). */
  shrinkToQuota(rng: Rng): void {
    const q = this.pseudoQuota;
    for (const list of this.pseudo) while (list.length > q) list.splice(rng.int(list.length), 1);
  }

  /** Forgets class `idx`; later classes move down one index. */
  removeClass(idx: number): void {
    this.labeled.splice(idx, 1);
    this.pseudo.splice(idx, 1);
    this.seenLabeled.splice(idx, 1);
    this.seenPseudo.splice(idx, 1);
    for (const lists of [this.labeled, this.pseudo]) for (const l of lists) for (const e of l) if (e.cls > idx) e.cls--;
  }

  /** Reservoir insert into one class list; returns the entry kept or undefined when it was not kept. */
  private insert(list: ReplayEntry[], cap: number, seen: number, e: ReplayEntry, rng: Rng): boolean {
    if (cap <= 0) return false;
    if (list.length < cap) {
      list.push(e);
      return true;
    }
    const j = rng.int(seen);
    if (j < cap) {
      list[j] = e;
      return true;
    }
    return false;
  }

  /** Adds a labeled sample. */
  addLabeled(e: ReplayEntry, rng: Rng): boolean {
    const c = e.cls;
    this.seenLabeled[c] = this.seenLabeled[c]! + 1;
    return this.insert(this.labeled[c]!, this.labeledPerClass, this.seenLabeled[c]!, e, rng);
  }

  /** Adds a pseudo-labeled sample. */
  addPseudo(e: ReplayEntry, rng: Rng): boolean {
    const c = e.cls;
    this.seenPseudo[c] = this.seenPseudo[c]! + 1;
    return this.insert(this.pseudo[c]!, this.pseudoQuota, this.seenPseudo[c]!, e, rng);
  }

  /** Drops pseudo-labels not confirmed since `before`; returns how many went. */
  dropAged(before: number): number {
    let n = 0;
    for (let c = 0; c < this.pseudo.length; c++) {
      const kept = this.pseudo[c]!.filter((e) => e.step >= before);
      n += this.pseudo[c]!.length - kept.length;
      this.pseudo[c] = kept;
    }
    return n;
  }

  /** Every entry, labeled first, class by class. */
  all(): ReplayEntry[] {
    return [...this.labeled.flat(), ...this.pseudo.flat()];
  }

  /** Counts per class: [labeled, pseudo]. */
  counts(): Array<[number, number]> {
    return this.labeled.map((l, c) => [l.length, this.pseudo[c]!.length]);
  }

  /** Packs the contents into typed arrays. */
  pack(dim: number): ReplayState {
    const all = this.all();
    const n = all.length;
    const s: ReplayState = {
      count: n,
      dim,
      x: new Float32Array(n * dim),
      hasX2: new Uint8Array(n),
      x2: new Float32Array(n * dim),
      cls: new Int32Array(n),
      flags: new Uint8Array(n),
      conf: new Float32Array(n),
      step: new Float64Array(n),
      seenLabeled: Float64Array.from(this.seenLabeled),
      seenPseudo: Float64Array.from(this.seenPseudo),
    };
    all.forEach((e, i) => {
      s.x.set(e.x, i * dim);
      if (e.x2) {
        s.hasX2[i] = 1;
        s.x2.set(e.x2, i * dim);
      }
      s.cls[i] = e.cls;
      s.flags[i] = (e.labeled ? 1 : 0) | (e.holdout ? 2 : 0);
      s.conf[i] = e.conf;
      s.step[i] = e.step;
    });
    return s;
  }

  /** Rebuilds a buffer from {@link pack} output (entries keep their order). */
  static unpack(s: ReplayState, labeledPerClass: number, pseudoCapacity: number): ReplayBuffer {
    const b = new ReplayBuffer(labeledPerClass, pseudoCapacity);
    const classes = s.seenLabeled.length;
    for (let c = 0; c < classes; c++) {
      b.labeled.push([]);
      b.pseudo.push([]);
    }
    b.seenLabeled = Array.from(s.seenLabeled);
    b.seenPseudo = Array.from(s.seenPseudo);
    const d = s.dim;
    for (let i = 0; i < s.count; i++) {
      const f = s.flags[i]!;
      const e: ReplayEntry = {
        x: s.x.slice(i * d, (i + 1) * d),
        x2: s.hasX2[i] ? s.x2.slice(i * d, (i + 1) * d) : undefined,
        cls: s.cls[i]!,
        labeled: (f & 1) !== 0,
        holdout: (f & 2) !== 0,
        conf: s.conf[i]!,
        step: s.step[i]!,
      };
      (e.labeled ? b.labeled : b.pseudo)[e.cls]!.push(e);
    }
    return b;
  }
}
