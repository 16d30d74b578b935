// Procedural 28×28 test patterns (stripes, checkerboards, gradients, rings, blocks, noise) for the harness's source-switch stream: inputs from no taught class.
import { Rng } from '../../src/finetune/rng.js';

/** `count` seeded patterns as count×784 bytes. */
export function testPatterns(count: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(count * 784);
  for (let n = 0; n < count; n++) {
    const kind = n % 6;
    const a = rng.next() * Math.PI,
      f = 0.2 + rng.next() * 0.8,
      ph = rng.next() * 6.28,
      cell = 2 + rng.int(6);
    const cx = 6 + rng.next() * 16,
      cy = 6 + rng.next() * 16,
      lo = rng.int(80),
      hi = 150 + rng.int(105);
    for (let y = 0; y < 28; y++)
      for (let x = 0; x < 28; x++) {
        let v: number;
        if (kind === 0) v = Math.sin(f * (x * Math.cos(a) + y * Math.sin(a)) + ph) > 0 ? 1 : 0;
        else if (kind === 1) v = (Math.floor(x / cell) + Math.floor(y / cell)) % 2;
        else if (kind === 2) v = (x * Math.cos(a) + y * Math.sin(a) + 20) / 60;
        else if (kind === 3) v = Math.sin(f * Math.hypot(x - cx, y - cy) + ph) > 0 ? 1 : 0;
        else if (kind === 4) v = Math.abs(x - cx) < cell * 1.5 || Math.abs(y - cy) < cell ? 1 : 0;
        else v = rng.next();
        out[n * 784 + y * 28 + x] = Math.max(
          0,
          Math.min(255, Math.round(lo + (hi - lo) * Math.max(0, Math.min(1, v)))),
        );
      }
  }
  return out;
}
