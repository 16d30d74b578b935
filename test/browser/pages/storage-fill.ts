// Deterministic pseudo-random floats for storage pages: a checkpoint's content follows from its seed, so a reopened profile can be checked byte for byte.

/** `n` floats in [-0.5, 0.5) from an LCG seeded with `seed`. */
export function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32 - 0.5;
  }
  return out;
}
