// T3A (test-time template adjuster): per class, the head's row plus the lowest-entropy stream features seen so far.
import { COSINE_SCALE } from './heads.js';

/** One support: a unit feature, its prediction entropy and the step it was seen. */
export interface Support {
  f: Float32Array;
  ent: number;
  step: number;
}

/** Packed supports as kept in the learner state. */
export interface SupportsState {
  x: Float32Array;
  cls: Int32Array;
  ent: Float32Array;
  step: Float64Array;
  count: number;
}

/** Unit-length copy of `v` (zeros stay zeros). */
export function unit(v: ArrayLike<number>): Float32Array {
  let s = 0;
  for (let j = 0; j < v.length; j++) s += v[j]! * v[j]!;
  const k = s > 0 ? 1 / Math.sqrt(s) : 0;
  const u = new Float32Array(v.length);
  for (let j = 0; j < v.length; j++) u[j] = v[j]! * k;
  return u;
}

/** Support sets, one list per class, each kept sorted by entropy and capped. */
export class SupportSets {
  lists: Support[][] = [];

  /** Adds a support to class `k`, keeping the `filter` lowest-entropy ones. */
  add(k: number, s: Support, filter: number): void {
    const list = this.lists[k]!;
    list.push(s);
    list.sort((a, b) => a.ent - b.ent || a.step - b.step);
    if (list.length > filter) list.length = filter;
  }

  /** Normalised mean of the class row `row` and the supports of class `k`. */
  centroid(k: number, row: Float32Array): Float32Array {
    const s = Float64Array.from(unit(row));
    for (const sp of this.lists[k] ?? []) for (let j = 0; j < s.length; j++) s[j] = s[j]! + sp.f[j]!;
    return unit(s);
  }

  /** Cosine logits of a feature against every class centroid. */
  logits(f: Float32Array, rows: (k: number) => Float32Array, out: Float64Array): void {
    for (let k = 0; k < out.length; k++) {
      const cen = this.centroid(k, rows(k));
      let s = 0;
      for (let j = 0; j < f.length; j++) s += f[j]! * cen[j]!;
      out[k] = COSINE_SCALE * s;
    }
  }

  /** Drops supports seen before `before`; returns how many went. */
  dropAged(before: number): number {
    let dropped = 0;
    for (let k = 0; k < this.lists.length; k++) {
      const kept = this.lists[k]!.filter((s) => s.step >= before);
      dropped += this.lists[k]!.length - kept.length;
      this.lists[k] = kept;
    }
    return dropped;
  }

  /** Total number of supports. */
  get count(): number {
    let n = 0;
    for (const l of this.lists) n += l.length;
    return n;
  }

  /** Packs the supports into typed arrays. */
  pack(dim: number): SupportsState {
    const sups = this.lists.flatMap((l, k) => l.map((s) => ({ s, k })));
    const out: SupportsState = {
      x: new Float32Array(sups.length * dim),
      cls: new Int32Array(sups.length),
      ent: new Float32Array(sups.length),
      step: new Float64Array(sups.length),
      count: sups.length,
    };
    sups.forEach(({ s, k }, i) => {
      out.x.set(s.f, i * dim);
      out.cls[i] = k;
      out.ent[i] = s.ent;
      out.step[i] = s.step;
    });
    return out;
  }

  /** Rebuilds the sets of `classes` classes from {@link SupportSets.pack} output. */
  static unpack(s: SupportsState, classes: number, dim: number): SupportSets {
    const sets = new SupportSets();
    sets.lists = Array.from({ length: classes }, () => []);
    for (let i = 0; i < s.count; i++) {
      sets.lists[s.cls[i]!]!.push({ f: s.x.slice(i * dim, (i + 1) * dim), ent: s.ent[i]!, step: s.step[i]! });
    }
    return sets;
  }
}
