// The blocked head kernels against a plain textbook implementation of the same maths, at sizes that exercise every unrolled remainder.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headSpec } from '../../src/finetune/heads.js';
import { Rng } from '../../src/finetune/rng.js';

/** Plain forward and backward of the residual adapter (layout W1, b1, W2, Wc, bc), in float64. */
function reference(
  p: Float32Array,
  d: number,
  h: number,
  c: number,
  x: Float32Array,
  dl: Float64Array,
): { logits: number[]; grad: Float64Array } {
  const oB1 = h * d;
  const oW2 = oB1 + h;
  const oWc = oW2 + d * h;
  const bo = oWc + c * d;
  const z: number[] = [];
  for (let i = 0; i < h; i++) {
    let s = p[oB1 + i]!;
    for (let j = 0; j < d; j++) s += p[i * d + j]! * x[j]!;
    z.push(Math.max(0, s));
  }
  const a: number[] = [];
  for (let j = 0; j < d; j++) {
    let s = x[j]!;
    for (let i = 0; i < h; i++) s += p[oW2 + j * h + i]! * z[i]!;
    a.push(s);
  }
  const logits: number[] = [];
  for (let k = 0; k < c; k++) {
    let s = p[bo + k]!;
    for (let j = 0; j < d; j++) s += p[oWc + k * d + j]! * a[j]!;
    logits.push(s);
  }
  const g = new Float64Array(p.length);
  const da = new Float64Array(d);
  for (let k = 0; k < c; k++) {
    for (let j = 0; j < d; j++) {
      g[oWc + k * d + j] = g[oWc + k * d + j]! + dl[k]! * a[j]!;
      da[j] = da[j]! + dl[k]! * p[oWc + k * d + j]!;
    }
    g[bo + k] = g[bo + k]! + dl[k]!;
  }
  const dz = new Float64Array(h);
  for (let j = 0; j < d; j++) {
    for (let i = 0; i < h; i++) {
      g[oW2 + j * h + i] = g[oW2 + j * h + i]! + da[j]! * z[i]!;
      dz[i] = dz[i]! + da[j]! * p[oW2 + j * h + i]!;
    }
  }
  for (let i = 0; i < h; i++) {
    if (z[i]! <= 0) continue;
    for (let j = 0; j < d; j++) g[i * d + j] = g[i * d + j]! + dz[i]! * x[j]!;
    g[oB1 + i] = g[oB1 + i]! + dz[i]!;
  }
  return { logits, grad: g };
}

function close(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    assert.ok(Math.abs(actual[i]! - e) <= 1e-9 * (1 + Math.abs(e)), `${what}[${i}]: ${actual[i]} vs ${e}`);
  }
}

for (const [d, h, c] of [
  [13, 7, 5],
  [16, 8, 4],
  [31, 3, 9],
] as const) {
  test(`adapter and linear kernels match the plain maths (dim ${d}, hidden ${h}, ${c} classes)`, () => {
    const rng = new Rng(d * 100 + h);
    const x = Float32Array.from({ length: d }, () => rng.normal());
    const dl = Float64Array.from({ length: c }, () => rng.normal());
    const ad = headSpec('adapter', d, h);
    const p = ad.init(rng, c);
    // Non-zero W2 and classifier so every path carries signal.
    for (let i = h * d + h; i < p.length; i++) p[i] = 0.3 * rng.normal();
    const ref = reference(p, d, h, c, x, dl);
    const out = new Float64Array(c);
    ad.forward(p, c, x, out);
    close(out, ref.logits, 'adapter logits');
    const g = new Float64Array(p.length);
    ad.backward(p, c, x, dl, g);
    close(g, ref.grad, 'adapter grad after forward');
    // Without a forward just before (and after the parameters changed) backward recomputes the activations.
    const q = Float32Array.from(p, (v) => v * 0.5);
    ad.forward(q, c, x, out);
    q.set(p);
    const g2 = new Float64Array(p.length);
    ad.backward(p, c, x, dl, g2);
    close(g2, g, 'adapter grad without the cached forward');
    const feats = ad.features(p, x);
    assert.ok(feats instanceof Float32Array && feats.length === d);

    const lin = headSpec('linear', d);
    const w = Float32Array.from({ length: lin.size(c) }, () => rng.normal());
    const lo = new Float64Array(c);
    lin.forward(w, c, x, lo);
    const gl = new Float64Array(w.length);
    lin.backward(w, c, x, dl, gl);
    for (let k = 0; k < c; k++) {
      let s = w[c * d + k]!;
      for (let j = 0; j < d; j++) s += w[k * d + j]! * x[j]!;
      assert.ok(Math.abs(lo[k]! - s) <= 1e-9 * (1 + Math.abs(s)), `linear logit ${k}`);
      for (let j = 0; j < d; j++)
        assert.ok(Math.abs(gl[k * d + j]! - dl[k]! * x[j]!) <= 1e-12, `linear grad ${k},${j}`);
      assert.equal(gl[c * d + k], dl[k]);
    }
  });
}
