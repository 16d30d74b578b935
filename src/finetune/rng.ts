// Seeded, serialisable pseudo-random numbers (sfc32) so training and sampling are reproducible.

/**
 * A small-state PRNG (sfc32). Its whole state is four uint32 words, so it can be
 * saved in the learner state and resumed exactly.
 */
export class Rng {
  /** The four state words; copied into and out of saved states. */
  readonly state: Uint32Array;

  /**
   * @param seed - any 32-bit integer, or a previously saved 4-word state
   */
  constructor(seed: number | Uint32Array) {
    if (typeof seed === 'number') {
      this.state = new Uint32Array([0x9e3779b9, 0x243f6a88, 0xb7e15162, seed >>> 0]);
      // Mix the seed through the state so nearby seeds give unrelated streams.
      for (let i = 0; i < 16; i++) this.nextU32();
    } else {
      this.state = Uint32Array.from(seed);
    }
  }

  /** Next uniform 32-bit unsigned integer. */
  nextU32(): number {
    const s = this.state;
    let a = s[0]!,
      b = s[1]!,
      c = s[2]!,
      d = s[3]!;
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    s[0] = a;
    s[1] = b;
    s[2] = c;
    s[3] = d;
    return t;
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller; one value per call keeps the state simple). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
