// Seeded synthetic RGB scenes for calibration fallbacks, canaries and tests (no Node APIs: pages use it too).
import type { RawPixels } from '../runtime/preprocess.js';

/** A seeded PRNG (xorshift32). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 4294967296;
  };
}

/**
 * Seeded synthetic RGB scenes (sky/ground gradient, coloured discs and boxes, texture): enough
 * variety to calibrate activation ranges when no photos are at hand.
 *
 * @param count - how many
 * @param width - image width @defaultValue 320
 * @param height - image height @defaultValue 240
 * @param seed - seed @defaultValue 1
 */
export function syntheticImages(count: number, width = 320, height = 240, seed = 1): RawPixels[] {
  const r = rng(seed);
  const out: RawPixels[] = [];
  for (let n = 0; n < count; n++) {
    const data = new Uint8Array(width * height * 3);
    const top = [r() * 255, r() * 255, r() * 255];
    const bottom = [r() * 255, r() * 255, r() * 255];
    const shapes = Array.from({ length: 2 + Math.floor(r() * 5) }, () => ({
      x: r() * width,
      y: r() * height,
      s: (0.05 + r() * 0.3) * Math.min(width, height),
      c: [r() * 255, r() * 255, r() * 255],
      disc: r() < 0.5,
    }));
    const freq = 0.05 + r() * 0.4;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const t = y / height;
        let px = [0, 1, 2].map(
          (c) => top[c]! * (1 - t) + bottom[c]! * t + 20 * Math.sin(freq * x + n) * Math.cos(freq * y),
        );
        for (const s of shapes) {
          const inside = s.disc
            ? Math.hypot(x - s.x, y - s.y) < s.s
            : Math.abs(x - s.x) < s.s && Math.abs(y - s.y) < s.s * 0.6;
          if (inside) px = s.c.map((v) => v + 10 * (r() - 0.5));
        }
        for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(px[c]!)));
      }
    }
    out.push({ data, width, height, channels: 3 });
  }
  return out;
}
