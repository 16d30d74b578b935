// Static int8 QDQ rewrite of an ONNX graph: per-channel int8 weights for Conv/MatMul/Gemm, uint8 activations from calibrated ranges.
import { EdgetuneError } from '../core/errors.js';
import {
  ELEM,
  encodeFloatOutput,
  encodeNode,
  encodeTensor,
  tensorFloats,
  writeOnnx,
  type OnnxModel,
  type OnnxNode,
  type OnnxTensor,
} from './onnx-proto.js';

/** Ops whose weights and inputs are quantized. */
export const QUANTIZED_OPS: readonly string[] = Object.freeze(['Conv', 'MatMul', 'Gemm']);

/** What will be quantized: weights (initializer → channel axis) and activation tensors. */
export interface QdqPlan {
  readonly weights: ReadonlyMap<string, number>;
  /** Conv biases to store as int32 (bias → [activation, weight]). */
  readonly biases: ReadonlyMap<string, readonly [string, string]>;
  readonly activations: readonly string[];
  /** Nodes that are quantized. */
  readonly nodes: ReadonlySet<OnnxNode>;
}

/** A calibrated activation range (with the mean magnitude of the values it covers). */
export interface Range {
  min: number;
  max: number;
  sumAbs?: number;
  count?: number;
}

function attrInt(n: OnnxNode, name: string, dflt: number): number {
  const a = n.attrs.find((x) => x.name === name);
  return a?.i !== undefined ? Number(a.i) : dflt;
}

/**
 * Chooses what to quantize: Conv (input, output, per-output-channel weight, int32 bias), MatMul
 * with a 2-D constant weight or two activations (attention), Gemm (input, per-channel weight).
 *
 * @param model - the decoded fp32 model
 * @param exclude - nodes to leave in float
 */
export function planQdq(model: OnnxModel, exclude: ReadonlySet<OnnxNode> = new Set()): QdqPlan {
  const inits = new Map(model.initializers.map((t) => [t.name, t]));
  const weights = new Map<string, number>();
  const biases = new Map<string, readonly [string, string]>();
  const acts = new Set<string>();
  const nodes = new Set<OnnxNode>();
  const isFloatInit = (name: string | undefined): name is string =>
    name !== undefined && inits.get(name)?.elemType === ELEM.FLOAT;
  const claim = (w: string, axis: number): boolean => {
    const had = weights.get(w);
    if (had !== undefined && had !== axis) return false;
    weights.set(w, axis);
    return true;
  };
  for (const n of model.nodes) {
    if ((n.domain !== '' && n.domain !== 'ai.onnx') || exclude.has(n)) continue;
    const [a, b, c] = n.inputs;
    if (n.op === 'Conv' && a && isFloatInit(b) && !isFloatInit(a) && inits.get(b)!.dims.length >= 3) {
      if (!claim(b, 0)) continue;
      acts.add(a);
      acts.add(n.outputs[0]!);
      if (isFloatInit(c)) biases.set(c, [a, b]);
      nodes.add(n);
    } else if (n.op === 'MatMul' && a && b) {
      if (isFloatInit(b) && !isFloatInit(a) && inits.get(b)!.dims.length === 2) {
        if (!claim(b, 1)) continue;
        acts.add(a);
        nodes.add(n);
      } else if (!isFloatInit(a) && !isFloatInit(b) && !inits.has(a) && !inits.has(b)) {
        acts.add(a);
        acts.add(b);
        nodes.add(n);
      }
    } else if (
      n.op === 'Gemm' &&
      a &&
      isFloatInit(b) &&
      !isFloatInit(a) &&
      attrInt(n, 'transA', 0) === 0 &&
      inits.get(b)!.dims.length === 2
    ) {
      if (!claim(b, attrInt(n, 'transB', 0) === 1 ? 0 : 1)) continue;
      acts.add(a);
      nodes.add(n);
    }
  }
  return { weights, biases, activations: [...acts], nodes };
}

/** The model with every planned activation added as a graph output, for calibration runs. */
export function calibrationModel(model: OnnxModel, plan: QdqPlan): Uint8Array {
  const existing = new Set(model.outputs.map((o) => o.name));
  const inputs = new Set(model.inputs.map((i) => i.name));
  const extra = plan.activations.filter((a) => !existing.has(a) && !inputs.has(a)).map(encodeFloatOutput);
  return writeOnnx(model, { extraOutputs: extra });
}

/** Asymmetric uint8 parameters covering `r` and zero. */
export function uint8Params(r: Range): { scale: number; zero: number } {
  const lo = Math.min(0, r.min);
  const hi = Math.max(0, r.max);
  const scale = hi > lo ? (hi - lo) / 255 : 1;
  return { scale, zero: Math.max(0, Math.min(255, Math.round(-lo / scale))) };
}

/** Per-channel symmetric int8 quantization of a weight along `axis`. */
export function quantizeWeight(
  w: Float32Array,
  dims: readonly number[],
  axis: number,
): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const maxAbs = new Float32Array(channels);
  for (let k = 0; k < w.length; k++) {
    const c = Math.floor(k / inner) % channels;
    const v = Math.abs(w[k]!);
    if (v > maxAbs[c]!) maxAbs[c] = v;
  }
  const scales = Float32Array.from(maxAbs, (m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(w.length);
  for (let k = 0; k < w.length; k++) {
    const c = Math.floor(k / inner) % channels;
    q[k] = Math.max(-127, Math.min(127, Math.round(w[k]! / scales[c]!)));
  }
  return { q, scales };
}

/**
 * Writes the QDQ model.
 *
 * @param model - the decoded fp32 model
 * @param plan - from {@link planQdq}
 * @param ranges - calibrated range of every planned activation
 */
export function applyQdq(model: OnnxModel, plan: QdqPlan, ranges: ReadonlyMap<string, Range>): Uint8Array {
  const opset = model.opsets.get('') ?? 0;
  if (opset < 13)
    throw new EdgetuneError(
      'UNSUPPORTED_OP',
      `The model uses opset ${opset}; per-channel QDQ needs opset 13 or later. Re-export it with opset_version=17.`,
    );
  const inits = new Map<string, OnnxTensor>(model.initializers.map((t) => [t.name, t]));
  const newInits: Uint8Array[] = [];
  const head: Uint8Array[] = [];
  const actName = new Map<string, string>();
  const actParams = new Map<string, { scale: number; zero: number }>();
  const qdqOf = (t: string): Uint8Array[] => {
    const r = ranges.get(t);
    if (!r || !Number.isFinite(r.min) || !Number.isFinite(r.max))
      throw new EdgetuneError('INVALID_ARGUMENT', `No calibrated range for tensor ${t}; calibration did not reach it.`);
    const p = uint8Params(r);
    actParams.set(t, p);
    const s = `${t}__s`;
    const z = `${t}__z`;
    newInits.push(
      encodeTensor(s, [], ELEM.FLOAT, new Float32Array([p.scale])),
      encodeTensor(z, [], ELEM.UINT8, new Uint8Array([p.zero])),
    );
    actName.set(t, `${t}__dq`);
    return [
      encodeNode({ name: `${t}__Q`, op: 'QuantizeLinear', inputs: [t, s, z], outputs: [`${t}__q`] }),
      encodeNode({ name: `${t}__DQ`, op: 'DequantizeLinear', inputs: [`${t}__q`, s, z], outputs: [`${t}__dq`] }),
    ];
  };
  const acts = new Set(plan.activations);
  const graphInputs = new Set(model.inputs.map((i) => i.name));
  for (const t of plan.activations) if (graphInputs.has(t)) head.push(...qdqOf(t));

  // Weights: int8 per channel, zero point 0.
  const weightScales = new Map<string, Float32Array>();
  const weightName = new Map<string, string>();
  for (const [name, axis] of plan.weights) {
    const t = inits.get(name)!;
    const { q, scales } = quantizeWeight(tensorFloats(t), t.dims, axis);
    weightScales.set(name, scales);
    newInits.push(
      encodeTensor(`${name}__q8`, t.dims, ELEM.INT8, q),
      encodeTensor(`${name}__ws`, [scales.length], ELEM.FLOAT, scales),
      encodeTensor(`${name}__wz`, [scales.length], ELEM.INT8, new Int8Array(scales.length)),
    );
    head.push(
      encodeNode({
        name: `${name}__DQ`,
        op: 'DequantizeLinear',
        inputs: [`${name}__q8`, `${name}__ws`, `${name}__wz`],
        outputs: [`${name}__dqw`],
        attrs: [{ name: 'axis', i: axis }],
      }),
    );
    weightName.set(name, `${name}__dqw`);
  }
  // Conv biases: int32 at scale x_scale · w_scale[c], as ORT's QLinearConv fusion expects.
  const biasName = new Map<string, string>();
  const deferredBias: [string, readonly [string, string]][] = [...plan.biases];

  // Which initializers are still needed in float (used by nodes we do not quantize).
  const floatUses = new Set<string>();
  for (const n of model.nodes) {
    for (const [k, x] of n.inputs.entries()) {
      const quantizedUse = plan.nodes.has(n) && ((plan.weights.has(x) && k === 1) || (plan.biases.has(x) && k === 2));
      if (!quantizedUse) floatUses.add(x);
    }
  }
  for (const t of model.initializers) if (!plan.weights.has(t.name) && !plan.biases.has(t.name)) newInits.push(t.raw!);
  for (const t of model.initializers)
    if ((plan.weights.has(t.name) || plan.biases.has(t.name)) && floatUses.has(t.name)) newInits.push(t.raw!);

  const body: Uint8Array[] = [];
  for (const n of model.nodes) {
    const inputs = n.inputs.map((x, k) => {
      if (plan.nodes.has(n) && k === 1 && weightName.has(x)) return weightName.get(x)!;
      if (plan.nodes.has(n) && k === 2 && plan.biases.has(x)) return biasName.get(x) ?? x;
      return actName.get(x) ?? x;
    });
    // Conv bias needs its activation's scale, known once that activation's Q/DQ is written.
    if (
      plan.nodes.has(n) &&
      n.op === 'Conv' &&
      n.inputs[2] &&
      plan.biases.has(n.inputs[2]) &&
      !biasName.has(n.inputs[2])
    ) {
      const b = n.inputs[2];
      const [act, w] = plan.biases.get(b)!;
      const sx = actParams.get(act)?.scale;
      const sw = weightScales.get(w);
      if (sx !== undefined && sw) {
        const bf = tensorFloats(inits.get(b)!);
        const scales = Float32Array.from(sw, (x) => x * sx);
        const q = Int32Array.from(bf, (v, c) =>
          Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, Math.round(v / scales[c]!))),
        );
        newInits.push(
          encodeTensor(`${b}__q32`, [q.length], ELEM.INT32, q),
          encodeTensor(`${b}__bs`, [q.length], ELEM.FLOAT, scales),
          encodeTensor(`${b}__bz`, [q.length], ELEM.INT32, new Int32Array(q.length)),
        );
        body.push(
          encodeNode({
            name: `${b}__DQ`,
            op: 'DequantizeLinear',
            inputs: [`${b}__q32`, `${b}__bs`, `${b}__bz`],
            outputs: [`${b}__dqb`],
            attrs: [{ name: 'axis', i: 0 }],
          }),
        );
        biasName.set(b, `${b}__dqb`);
        inputs[2] = `${b}__dqb`;
      } else if (floatUses.has(b) === false) {
        newInits.push(inits.get(b)!.raw!);
      }
    }
    const changed = inputs.some((x, k) => x !== n.inputs[k]);
    body.push(
      changed
        ? encodeNode({
            name: n.name,
            op: n.op,
            domain: n.domain,
            inputs,
            outputs: n.outputs,
            attrs: n.attrs.map((a) => a.raw),
          })
        : n.raw!,
    );
    for (const o of n.outputs) if (acts.has(o)) body.push(...qdqOf(o));
  }
  void deferredBias;
  return writeOnnx(model, { nodes: [...head, ...body], initializers: newInits });
}
