"""Static int8 QDQ quantization of the fp32 ONNX encoder (our own; no onnxruntime quantizer is installable here).

- weights: per-channel symmetric int8 (axis 0), bias int32 with scale = input_scale * weight_scale[c];
- activations: per-tensor int8 calibrated on unlabeled train images (min/max or percentile); for a
  3-channel input, on composites from the RGB pretraining pool (rgb_augment.pool_views);
- a Conv followed by Relu becomes DQ -> Conv -> Q with the Relu's [0, max] range (zero point -128
  clips exactly like Relu), so onnxruntime fuses DQ/Conv/Q into QLinearConv; MaxPool keeps its
  input's scale (runs in int8); GlobalAveragePool and Flatten stay float.
Writes OUT.onnx and OUT.calibration.json (fp32 tensor name -> [min, max], reused by the TFLite converter).
"""
import argparse
import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import load_split, normalise  # noqa: E402


def _attrs(node):
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def run_graph(model, x, keep_all=False):
    """Executes our op subset (torch-backed) and returns {tensor name: value}.

    Covers the fp32 export and its QDQ version (QuantizeLinear/DequantizeLinear simulated), so
    calibration and the fidelity check need no onnxruntime in Python.
    """
    g = model.graph
    env = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    env = {k: torch.from_numpy(np.array(v)) for k, v in env.items()}
    env[g.input[0].name] = torch.as_tensor(x)
    for n in g.node:
        a = _attrs(n)
        i = [env[name] if name else None for name in n.input]
        op = n.op_type
        if op == "Conv":
            pads = a.get("pads", [0, 0, 0, 0])
            y = F.conv2d(i[0], i[1].float(), i[2].float() if len(i) > 2 else None, stride=a.get("strides", [1, 1]),
                         padding=(pads[0], pads[1]), dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
        elif op == "Relu":
            y = F.relu(i[0])
        elif op == "MaxPool":
            pads = a.get("pads", [0, 0, 0, 0])
            y = F.max_pool2d(i[0], a["kernel_shape"], a.get("strides", a["kernel_shape"]), (pads[0], pads[1]))
        elif op == "GlobalAveragePool":
            y = i[0].mean(dim=(2, 3), keepdim=True)
        elif op == "Flatten":
            y = i[0].reshape(i[0].shape[0], -1)
        elif op == "QuantizeLinear":
            lo, hi = (-128, 127) if i[2].dtype == torch.int8 else (0, 255)
            y = torch.clamp(torch.round(i[0] / i[1]) + i[2].float(), lo, hi)  # round half to even, like ONNX
        elif op == "DequantizeLinear":
            axis = a.get("axis", 1)
            s, z = i[1].float(), i[2].float()
            if s.ndim == 1 and s.numel() > 1:
                shape = [1] * i[0].ndim
                shape[axis] = -1
                s, z = s.view(shape), z.view(shape)
            y = (i[0].float() - z) * s
        else:
            raise ValueError(f"run_graph: op {op} ({n.name}) is not in the encoder op set")
        env[n.output[0]] = y
    return env


def act_range(values, method, pct=99.99):
    v = values.detach().numpy().ravel()
    if method == "minmax":
        return float(v.min()), float(v.max())
    lo = float(np.percentile(v, 100 - pct)) if v.min() < 0 else float(v.min())
    return lo, float(np.percentile(v, pct))


def act_qparams(lo, hi):
    """Asymmetric per-tensor int8: the range always holds 0 so zero padding and Relu's floor are exact."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    scale = max(hi - lo, 1e-8) / 255.0
    zp = int(np.clip(round(-128 - lo / scale), -128, 127))
    return np.float32(scale), np.int8(zp)


def calibrate(model, images, method, batch=128):
    """Ranges of every activation tensor (fp32 graph names) over the calibration images."""
    acc = {}
    for b in range(0, len(images), batch):
        env = run_graph(model, images[b:b + batch])
        for name, val in env.items():
            if val.dtype != torch.float32 or name in {i.name for i in model.graph.initializer}:
                continue
            acc.setdefault(name, []).append(val.detach().reshape(-1))
    ranges = {}
    for name, parts in acc.items():
        ranges[name] = act_range(torch.cat(parts), method)
    return ranges


def quantize(model, ranges):
    """Builds the QDQ graph from the fp32 graph and per-tensor activation ranges."""
    g = model.graph
    inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    consumers = {}
    for n in g.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)
    new_inits, nodes = [], []
    qparams = {}  # quantized float tensor name -> (scale name, zp name, scale, zp)

    def add_init(name, arr):
        new_inits.append(numpy_helper.from_array(arr, name))
        return name

    def qdq(tensor, range_of=None, qp=None):
        """Q then DQ of `tensor`; returns the name of the dequantized tensor."""
        if qp is None:
            scale, zp = act_qparams(*ranges[range_of or tensor])
        else:
            scale, zp = qp
        s = add_init(f"{tensor}_scale", np.array(scale, np.float32))
        z = add_init(f"{tensor}_zero_point", np.array(zp, np.int8))
        nodes.append(helper.make_node("QuantizeLinear", [tensor, s, z], [f"{tensor}_q"], name=f"{tensor}_Q"))
        nodes.append(helper.make_node("DequantizeLinear", [f"{tensor}_q", s, z], [f"{tensor}_dq"], name=f"{tensor}_DQ"))
        qparams[tensor] = (scale, zp)
        return f"{tensor}_dq"

    rename = {g.input[0].name: qdq(g.input[0].name)}
    skip = set()
    for n in g.node:
        if n.name in skip:
            continue
        ins = [rename.get(x, x) for x in n.input]
        if n.op_type == "Conv":
            x_name = n.input[0]
            x_scale = qparams[x_name][0]
            w = inits[n.input[1]].astype(np.float32)
            wmax = np.abs(w.reshape(w.shape[0], -1)).max(1)
            w_scale = (np.maximum(wmax, 1e-12) / 127.0).astype(np.float32)
            wq = np.clip(np.round(w / w_scale.reshape(-1, 1, 1, 1)), -127, 127).astype(np.int8)
            wn = n.input[1]
            add_init(f"{wn}_q", wq)
            add_init(f"{wn}_scale", w_scale)
            add_init(f"{wn}_zero_point", np.zeros(w.shape[0], np.int8))
            nodes.append(helper.make_node("DequantizeLinear", [f"{wn}_q", f"{wn}_scale", f"{wn}_zero_point"],
                                          [f"{wn}_dq"], name=f"{wn}_DQ", axis=0))
            conv_in = [ins[0], f"{wn}_dq"]
            if len(n.input) > 2:
                bn = n.input[2]
                b_scale = (x_scale * w_scale).astype(np.float32)
                bq = np.round(inits[bn] / b_scale).astype(np.int32)
                add_init(f"{bn}_q", bq)
                add_init(f"{bn}_scale", b_scale)
                add_init(f"{bn}_zero_point", np.zeros(w.shape[0], np.int32))
                nodes.append(helper.make_node("DequantizeLinear", [f"{bn}_q", f"{bn}_scale", f"{bn}_zero_point"],
                                              [f"{bn}_dq"], name=f"{bn}_DQ", axis=0))
                conv_in.append(f"{bn}_dq")
            out = n.output[0]
            nxt = consumers.get(out, [])
            if len(nxt) == 1 and nxt[0].op_type == "Relu":
                # Relu folded into the output quantization: its range starts at 0 (zero point -128).
                relu = nxt[0]
                skip.add(relu.name)
                nodes.append(helper.make_node("Conv", conv_in, [relu.output[0]], name=n.name, **_attrs(n)))
                rename[relu.output[0]] = qdq(relu.output[0])
            else:
                nodes.append(helper.make_node("Conv", conv_in, [out], name=n.name, **_attrs(n)))
                rename[out] = qdq(out)
        elif n.op_type == "MaxPool":
            # Same scale in and out: onnxruntime then runs MaxPool on the int8 values directly.
            nodes.append(helper.make_node("MaxPool", ins, list(n.output), name=n.name, **_attrs(n)))
            rename[n.output[0]] = qdq(n.output[0], qp=qparams[n.input[0]])
        else:
            nodes.append(helper.make_node(n.op_type, ins, list(n.output), name=n.name, **_attrs(n)))
    graph = helper.make_graph(nodes, g.name + "_int8", list(g.input), list(g.output), new_inits)
    qm = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="edgetune-quantize")
    qm.ir_version = model.ir_version
    onnx.checker.check_model(qm)
    return qm


def cosine(a, b):
    a, b = a.detach().numpy(), b.detach().numpy()
    return float(np.mean(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)))


def refuse_foreign(model, dims):
    """Calibration here uses our own data and normalisation (Fashion-MNIST, or the RGB pretraining pool): refuse a
    model that is not one of our exports (export.py names its tensors input -> embedding) or not 1x28x28 in gray."""
    name_in, name_out = model.graph.input[0].name, model.graph.output[0].name
    shown = "x".join(str(d) for d in dims[1:])
    why = None
    if (name_in, name_out) != ("input", "embedding"):
        why = f"its tensors are {name_in!r} -> {name_out!r}, not export.py's 'input' -> 'embedding'"
    elif len(dims) != 4 or dims[1] not in (1, 3) or (dims[1] == 1 and dims[2:] != [28, 28]):
        why = f"its input is {shown} (CxHxW), neither 1x28x28 (Fashion-MNIST) nor 3-channel (the RGB pool)"
    if why:
        raise SystemExit(
            f"quantize.py: the model is not one of our encoders: {why}. "
            "Calibrating it on our Fashion-MNIST or RGB-pool images with our normalisation would be wrong; "
            "use `edgetune import MODEL.onnx` and `edgetune quantize MANIFEST --calibrate DIR` (its own input spec and images)"
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("fp32")
    ap.add_argument("--out", required=True, help="int8 ONNX path")
    ap.add_argument("--calib", type=int, default=512, help="unlabeled train images for calibration")
    ap.add_argument("--calib-offset", type=int, default=50000, help="first train index used for calibration")
    ap.add_argument("--method", choices=["auto", "minmax", "percentile"], default="auto",
                    help="auto: keep whichever gives the higher held-out fp32/int8 cosine")
    ap.add_argument("--check", type=int, default=512, help="held-out train images for the cosine check")
    ap.add_argument("--calib-seed", type=int, default=777, help="RGB models: seed of the calibration pool views")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model = onnx.load(args.fp32)
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    refuse_foreign(model, dims)
    if dims[1] == 3:
        # RGB camera encoder: calibrate on pretraining-pool composites (seeded), check on other ones;
        # never on Fashion-MNIST and never on the camera benchmark's images.
        from rgb_augment import pool_views
        calib = pool_views(args.calib, dims[2], seed=args.calib_seed).numpy()
        held = pool_views(args.check, dims[2], seed=args.calib_seed + 1)
        source = {"images": "rgb-pool views", "seeds": [args.calib_seed, args.calib_seed + 1]}
    else:
        x, _ = load_split("train")
        if args.calib_offset + args.calib + args.check > len(x):
            raise SystemExit("--calib-offset + --calib + --check exceeds the 60000 train images")
        calib = normalise(x[args.calib_offset: args.calib_offset + args.calib])
        held = torch.from_numpy(normalise(x[args.calib_offset + args.calib: args.calib_offset + args.calib + args.check]))
        source = {"trainIndices": [args.calib_offset, args.calib_offset + args.calib]}
    out_name = model.graph.output[0].name
    ref = run_graph(model, held)[out_name]
    tried = {}
    for method in (["minmax", "percentile"] if args.method == "auto" else [args.method]):
        ranges = calibrate(model, calib, method)
        qm = quantize(model, ranges)
        tried[method] = (cosine(ref, run_graph(qm, held)[out_name]), ranges, qm)
    best = max(tried, key=lambda m: tried[m][0])
    cos, ranges, qm = tried[best]
    onnx.save(qm, args.out)
    stem = args.out[:-5] if args.out.endswith(".onnx") else args.out
    with open(stem + ".calibration.json", "w") as f:
        json.dump({"source": os.path.basename(args.fp32), "method": best, "images": args.calib, **source,
                   "tensors": {k: [lo, hi] for k, (lo, hi) in sorted(ranges.items())}}, f, indent=1)
        f.write("\n")
    print(json.dumps({"int8": args.out, "calibration": best,
                      "cosine": {m: round(v[0], 5) for m, v in tried.items()},
                      "bytes": {"fp32": os.path.getsize(args.fp32), "int8": os.path.getsize(args.out)}}))


if __name__ == "__main__":
    main()
