#!/usr/bin/python3
"""ONNX (small CNN: Conv/Relu/pools/GlobalAveragePool/Flatten/Gemm) -> fp32 or full-int8 TFLite, NHWC, with an edgetune manifest.

Usage (Debian's interpreter, which has python3-onnx and python3-flatbuffers):
  /usr/bin/python3 models/pipeline/tflite/convert.py MODEL.onnx --out OUT.tflite [--int8]
      [--ranges RANGES.json | --calib-images IDX.gz] [--manifest SRC.json] [--id ID]

Without --manifest only our own 1x28x28 Fashion-MNIST encoders are accepted (their mean/std and MIT
licence are the defaults); any other input shape is refused with exit code 2. See README.md next to this file.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import math
import os
import struct
import sys
from dataclasses import dataclass
from typing import Optional

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tfl_schema import (  # noqa: E402
    Activation,
    AddOptionsF,
    Builtin,
    BUILTIN_NAMES,
    Conv2DOptionsF,
    FullyConnectedOptionsF,
    Options,
    Padding,
    Pool2DOptionsF,
    ReducerOptionsF,
    ReshapeOptionsF,
    TensorType,
    TFJS_TFLITE_MAX_VERSION,
    op_version,
)
from tfl_writer import Graph, Op, QParams, Tensor, serialize  # noqa: E402


class ConvertError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# ONNX loading and a numpy reference executor (shapes, calibration ranges, self-check).
# ---------------------------------------------------------------------------------------------


def _attrs(node: onnx.NodeProto) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


@dataclass
class OnnxGraph:
    nodes: list
    inits: dict
    input_name: str
    input_shape: list  # NCHW, batch may be 0/None
    output_name: str


def load_onnx(path: str) -> OnnxGraph:
    m = onnx.load(path)
    g = m.graph
    inits = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    nodes = []
    for n in g.node:
        if n.op_type == "Constant":
            inits[n.output[0]] = numpy_helper.to_array(_attrs(n)["value"])
            continue
        nodes.append(n)
    real_inputs = [i for i in g.input if i.name not in inits]
    if len(real_inputs) != 1 or len(g.output) != 1:
        raise ConvertError(f"expected one input and one output, got {len(real_inputs)} and {len(g.output)}")
    dims = [d.dim_value if d.HasField("dim_value") else 0 for d in real_inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise ConvertError(f"input must be NCHW (rank 4), got dims {dims}")
    nodes = _fold_batchnorm(nodes, inits)
    return OnnxGraph(nodes, inits, real_inputs[0].name, dims, g.output[0].name)


def _fold_batchnorm(nodes: list, inits: dict) -> list:
    """Folds BatchNormalization into the Conv that feeds it (exports usually do this already)."""
    out = []
    producer = {}
    for n in nodes:
        if n.op_type == "BatchNormalization" and n.input[0] in producer and producer[n.input[0]].op_type == "Conv":
            conv = producer[n.input[0]]
            gamma, beta, mean, var = (inits[x] for x in n.input[1:5])
            eps = _attrs(n).get("epsilon", 1e-5)
            w = inits[conv.input[1]]
            b = inits[conv.input[2]] if len(conv.input) > 2 else np.zeros(w.shape[0], np.float32)
            k = gamma / np.sqrt(var + eps)
            wname, bname = conv.input[1] + "_bnfold", conv.output[0] + "_bnbias"
            inits[wname] = (w * k[:, None, None, None]).astype(np.float32)
            inits[bname] = ((b - mean) * k + beta).astype(np.float32)
            new = onnx.helper.make_node("Conv", [conv.input[0], wname, bname], [n.output[0]], name=conv.name)
            new.attribute.extend(conv.attribute)
            out[out.index(conv)] = new
            producer[n.output[0]] = new
            continue
        out.append(n)
        for o in n.output:
            producer[o] = n
    return out


def _pads_hw(a: dict) -> tuple:
    p = a.get("pads", [0, 0, 0, 0])
    return p[0], p[1], p[2], p[3]  # top, left, bottom, right


def _conv_np(x, w, b, a):
    strides = a.get("strides", [1, 1])
    dil = a.get("dilations", [1, 1])
    if a.get("group", 1) != 1:
        raise ConvertError("grouped/depthwise Conv is not supported")
    if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise ConvertError("Conv auto_pad is not supported; export with explicit pads")
    t, l, bo, r = _pads_hw(a)
    x = np.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh = (h - dil[0] * (kh - 1) - 1) // strides[0] + 1
    ow = (wd - dil[1] * (kw - 1) - 1) // strides[1] + 1
    cols = np.empty((n, c, kh, kw, oh, ow), np.float32)
    for i in range(kh):
        for j in range(kw):
            cols[:, :, i, j] = x[:, :, i * dil[0] : i * dil[0] + strides[0] * oh : strides[0], j * dil[1] : j * dil[1] + strides[1] * ow : strides[1]]
    y = np.einsum("nckhij,ockh->noij", cols.reshape(n, c, kh, kw, oh, ow), w, optimize=True)
    if b is not None:
        y += b[None, :, None, None]
    return y.astype(np.float32)


def _pool_np(x, a, kind):
    k = a["kernel_shape"]
    s = a.get("strides", [1, 1])
    t, l, bo, r = _pads_hw(a)
    if a.get("ceil_mode", 0):
        raise ConvertError("pooling with ceil_mode=1 is not supported")
    fill = -np.inf if kind == "max" else np.nan
    xp = np.pad(x, ((0, 0), (0, 0), (t, bo), (l, r)), constant_values=fill)
    n, c, h, w = xp.shape
    oh = (h - k[0]) // s[0] + 1
    ow = (w - k[1]) // s[1] + 1
    win = np.stack([xp[:, :, i : i + s[0] * oh : s[0], j : j + s[1] * ow : s[1]] for i in range(k[0]) for j in range(k[1])])
    if kind == "max":
        return win.max(0)
    if a.get("count_include_pad", 0):
        return np.nan_to_num(win).mean(0)
    return np.nanmean(win, 0)


def run_reference(g: OnnxGraph, x: np.ndarray) -> dict:
    """Runs the graph in numpy (float32) and returns every tensor by name."""
    env = dict(g.inits)
    env[g.input_name] = x.astype(np.float32)
    for n in g.nodes:
        a = _attrs(n)
        i = [env[name] if name else None for name in n.input]
        op = n.op_type
        if op == "Conv":
            y = _conv_np(i[0], i[1], i[2] if len(i) > 2 else None, a)
        elif op == "Relu":
            y = np.maximum(i[0], 0)
        elif op == "MaxPool":
            y = _pool_np(i[0], a, "max")
        elif op == "AveragePool":
            y = _pool_np(i[0], a, "avg")
        elif op == "GlobalAveragePool":
            y = i[0].mean(axis=(2, 3), keepdims=True)
        elif op == "ReduceMean":
            axes = tuple(a.get("axes", i[1].tolist() if len(i) > 1 and i[1] is not None else []))
            y = i[0].mean(axis=axes, keepdims=bool(a.get("keepdims", 1)))
        elif op == "Flatten":
            ax = a.get("axis", 1)
            y = i[0].reshape(int(np.prod(i[0].shape[:ax])), -1)
        elif op == "Reshape":
            shape = [d if d != 0 else i[0].shape[k] for k, d in enumerate(i[1].tolist())]
            y = i[0].reshape(shape)
        elif op == "Gemm":
            A = i[0].T if a.get("transA", 0) else i[0]
            B = i[1].T if a.get("transB", 0) else i[1]
            y = a.get("alpha", 1.0) * (A @ B)
            if len(i) > 2 and i[2] is not None:
                y = y + a.get("beta", 1.0) * i[2]
        elif op in ("Identity", "Dropout"):
            y = i[0]
        elif op == "Add":
            y = i[0] + i[1]
        elif op == "Squeeze":
            axes = a.get("axes", i[1].tolist() if len(i) > 1 and i[1] is not None else None)
            y = np.squeeze(i[0], axis=tuple(axes) if axes is not None else None)
        elif op == "Shape":
            env[n.output[0]] = np.array(i[0].shape, np.int64)
            continue
        elif op == "Gather":
            env[n.output[0]] = np.take(i[0], i[1], axis=a.get("axis", 0))
            continue
        elif op == "Unsqueeze":
            axes = a.get("axes", i[1].tolist() if len(i) > 1 and i[1] is not None else [])
            env[n.output[0]] = np.expand_dims(i[0], tuple(axes))
            continue
        elif op == "Concat":
            env[n.output[0]] = np.concatenate([np.atleast_1d(v) for v in i], axis=a.get("axis", 0))
            continue
        elif op == "Cast":
            env[n.output[0]] = i[0]
            continue
        else:
            raise ConvertError(f"unsupported ONNX op {op} (node {n.name}); supported: Conv, Relu, MaxPool, AveragePool, GlobalAveragePool, ReduceMean, Flatten, Reshape, Squeeze, Gemm, Add, Identity, BatchNormalization (and Shape/Gather/Unsqueeze/Concat/Cast feeding a Reshape)")
        env[n.output[0]] = y.astype(np.float32)
    return env


# ---------------------------------------------------------------------------------------------
# Calibration.
# ---------------------------------------------------------------------------------------------


def read_idx_images(path: str, count: int, offset: int = 0) -> np.ndarray:
    """Reads `count` 28x28 uint8 images from an IDX3 file (gzip or raw)."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        magic, n, h, w = struct.unpack(">IIII", f.read(16))
        if magic != 2051:
            raise ConvertError(f"{path} is not an IDX3 image file (magic {magic})")
        count = min(count, n - offset)
        f.read(offset * h * w)
        data = np.frombuffer(f.read(count * h * w), np.uint8).reshape(count, 1, h, w)
    return data


def preprocess(images_u8: np.ndarray, spec: dict) -> np.ndarray:
    lo, hi = spec["range"]
    x = lo + (hi - lo) * images_u8.astype(np.float32) / 255.0
    mean = np.array(spec["mean"], np.float32)[None, :, None, None]
    std = np.array(spec["std"], np.float32)[None, :, None, None]
    return ((x - mean) / std).astype(np.float32)


def calibrate(g: OnnxGraph, x: np.ndarray, batch: int = 64) -> dict:
    ranges: dict = {}
    for s in range(0, len(x), batch):
        env = run_reference(g, x[s : s + batch])
        for name, v in env.items():
            if name in g.inits or not isinstance(v, np.ndarray) or v.dtype != np.float32:
                continue
            lo, hi = float(v.min()), float(v.max())
            if name in ranges:
                lo, hi = min(lo, ranges[name][0]), max(hi, ranges[name][1])
            ranges[name] = (lo, hi)
    return ranges


def load_ranges(path: str) -> dict:
    """Reads activation ranges written by the ONNX quantizer. Accepts {name: [min, max]},
    {name: {min, max}}, {name: {scale, zero_point[, dtype]}}, optionally under a "tensors" or "ranges" key."""
    with open(path) as f:
        doc = json.load(f)
    for key in ("tensors", "ranges", "activations"):
        if isinstance(doc, dict) and isinstance(doc.get(key), dict):
            doc = doc[key]
            break
    out = {}
    for name, v in doc.items():
        if isinstance(v, (list, tuple)) and len(v) == 2 and all(isinstance(e, (int, float)) for e in v):
            out[name] = (float(v[0]), float(v[1]))
        elif isinstance(v, dict) and "min" in v and "max" in v:
            out[name] = (float(v["min"]), float(v["max"]))
        elif isinstance(v, dict) and "scale" in v and "zero_point" in v:
            scale, zp = float(v["scale"]), int(v["zero_point"])
            qmin, qmax = (0, 255) if v.get("dtype", "uint8" if zp >= 0 and zp > 127 else "int8") == "uint8" else (-128, 127)
            out[name] = (scale * (qmin - zp), scale * (qmax - zp))
    if not out:
        raise ConvertError(f"{path} holds no activation ranges this converter understands")
    return out


def act_qparams(lo: float, hi: float) -> QParams:
    """Asymmetric int8 for activations; the range always contains 0 so padding and ReLU are exact."""
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi - lo < 1e-8:
        hi = lo + 1e-8
    scale = (hi - lo) / 255.0
    zp = int(round(-128 - lo / scale))
    return QParams.per_tensor(scale, max(-128, min(127, zp)))


def weight_qparams(w: np.ndarray) -> tuple:
    """Symmetric per-output-channel int8 in [-127, 127] along axis 0."""
    flat = np.abs(w.reshape(w.shape[0], -1)).max(axis=1)
    scale = np.where(flat > 0, flat / 127.0, 1e-8).astype(np.float32)
    q = np.clip(np.round(w / scale.reshape((-1,) + (1,) * (w.ndim - 1))), -127, 127).astype(np.int8)
    return q, QParams(scale, np.zeros(len(scale), np.int64), 0)


# ---------------------------------------------------------------------------------------------
# Lowering.
# ---------------------------------------------------------------------------------------------


@dataclass
class Value:
    index: int  # TFLite tensor
    nchw: tuple  # the ONNX shape without batch
    layout: str  # "NHWC" (rank 4) or "flat"
    quant: Optional[QParams]
    # For a Flatten of a feature map with H*W > 1: the (C, H, W) it came from, so Gemm can permute columns.
    flat_from: Optional[tuple] = None


def _same_pads(size: int, k: int, s: int, d: int = 1) -> tuple:
    out = math.ceil(size / s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


class Lowering:
    def __init__(self, g: OnnxGraph, int8: bool, ranges: Optional[dict], fc_per_channel: bool):
        self.g = g
        self.int8 = int8
        self.ranges = ranges or {}
        self.fc_per_channel = fc_per_channel
        self.t = Graph()
        self.values: dict = {}
        self.consumers: dict = {}
        for n in g.nodes:
            for name in n.input:
                self.consumers.setdefault(name, []).append(n)

    # -- helpers
    def qp(self, onnx_name: str) -> Optional[QParams]:
        if not self.int8:
            return None
        if onnx_name not in self.ranges:
            raise ConvertError(f"no calibration range for tensor '{onnx_name}'; pass --ranges or --calib-images")
        return act_qparams(*self.ranges[onnx_name])

    def act_tensor(self, name: str, shape: list, quant: Optional[QParams]) -> int:
        return self.t.add(Tensor(name, shape, TensorType.INT8 if self.int8 else TensorType.FLOAT32, None, quant))

    def const(self, name: str, arr: np.ndarray, ttype: int, quant: Optional[QParams] = None) -> int:
        return self.t.add(Tensor(name, list(arr.shape), ttype, np.ascontiguousarray(arr).tobytes(), quant))

    def op(self, code, ins, outs, options_type=0, options=None, nfields=0):
        self.t.ops.append(Op(code, ins, outs, self.int8, options_type, options or [], nfields))

    def fused_relu(self, node) -> Optional[onnx.NodeProto]:
        users = self.consumers.get(node.output[0], [])
        if len(users) == 1 and users[0].op_type == "Relu" and node.output[0] != self.g.output_name:
            return users[0]
        return None

    # -- main
    def run(self, sample_env: dict) -> Graph:
        g = self.g
        c, h, w = g.input_shape[1:]
        inp = self.t.add(Tensor(g.input_name, [1, h, w, c], TensorType.FLOAT32))
        self.t.inputs = [inp]
        if self.int8:
            q = self.qp(g.input_name)
            qi = self.act_tensor(g.input_name + "_int8", [1, h, w, c], q)
            self.op(Builtin.QUANTIZE, [inp], [qi])
            self.values[g.input_name] = Value(qi, (c, h, w), "NHWC", q)
        else:
            self.values[g.input_name] = Value(inp, (c, h, w), "NHWC", None)

        skip: set = set()
        for n in g.nodes:
            if id(n) in skip:
                continue
            relu = self.fused_relu(n) if n.op_type in ("Conv", "Gemm", "Add") else None
            if relu is not None:
                skip.add(id(relu))
            out_name = relu.output[0] if relu is not None else n.output[0]
            shape = tuple(np.shape(sample_env[out_name])[1:])
            getattr(self, "lower_" + n.op_type, self.unsupported)(n, out_name, shape, relu is not None)

        out = self.values[g.output_name]
        if out.layout != "flat" and any(d != 1 for d in out.nchw[1:]):
            raise ConvertError("the graph output must be a vector per sample (after Flatten/Gemm)")
        if self.int8:
            fo = self.t.add(Tensor(g.output_name, [1, int(np.prod(out.nchw))], TensorType.FLOAT32))
            self.t.tensors[out.index].name = g.output_name + "_int8"
            self.op(Builtin.DEQUANTIZE, [out.index], [fo])
            self.t.outputs = [fo]
        else:
            self.t.tensors[out.index].name = g.output_name
            self.t.outputs = [out.index]
        return self.t

    def unsupported(self, n, *_):
        raise ConvertError(f"unsupported ONNX op {n.op_type} (node {n.name})")

    def pass_through(self, n, out_name):
        self.values[out_name] = self.values[n.input[0]]

    lower_Identity = lambda self, n, out_name, shape, relu: self.pass_through(n, out_name)  # noqa: E731
    lower_Dropout = lower_Identity

    def shape_only(self, n, out_name, shape, relu):
        # Integer shape arithmetic of a dynamic-batch export: it only feeds a Reshape's target shape,
        # which the lowering takes from the reference run instead.
        for name in n.input[1:] if n.op_type == "Shape" else n.input:
            if name in self.values:
                raise ConvertError(f"{n.op_type} {n.name} consumes an activation; only shape arithmetic is supported")

    def lower_Shape(self, n, out_name, shape, relu):
        pass

    lower_Gather = lower_Unsqueeze = lower_Concat = lower_Cast = shape_only

    def lower_Add(self, n, out_name, shape, relu):
        if n.input[0] not in self.values or n.input[1] not in self.values:
            raise ConvertError(f"Add {n.name}: only the sum of two activations (a residual) is supported")
        a, b = self.values[n.input[0]], self.values[n.input[1]]
        if a.nchw != b.nchw or a.layout != b.layout:
            raise ConvertError(f"Add {n.name}: inputs of different shapes {a.nchw} and {b.nchw} (broadcasting is not supported)")
        q = self.qp(out_name)
        out = self.act_tensor(out_name, self.t.tensors[a.index].shape, q)
        self.op(Builtin.ADD, [a.index, b.index], [out], Options.AddOptions, [(AddOptionsF.fused_activation_function, "u8", Activation.RELU if relu else Activation.NONE)], AddOptionsF.N)
        self.values[out_name] = Value(out, shape, a.layout, q, a.flat_from)

    def lower_Squeeze(self, n, out_name, shape, relu):
        if len(shape) != 1:
            raise ConvertError(f"Squeeze {n.name}: only squeezing [N, C, 1, 1] to [N, C] is supported")
        self._flatten(n, out_name, shape)

    def pad_if_needed(self, v: Value, a: dict, k: tuple, s: tuple, d: tuple, name: str) -> tuple:
        """Maps ONNX explicit pads onto TFLite SAME/VALID, inserting a PAD op when neither matches."""
        t, l, b, r = _pads_hw(a)
        _, h, w = v.nchw
        if (t, l, b, r) == (0, 0, 0, 0):
            return v, Padding.VALID
        if (t, b) == _same_pads(h, k[0], s[0], d[0]) and (l, r) == _same_pads(w, k[1], s[1], d[1]):
            return v, Padding.SAME
        pads = self.const(name + "_pads", np.array([[0, 0], [t, b], [l, r], [0, 0]], np.int32), TensorType.INT32)
        c = v.nchw[0]
        out = self.act_tensor(name + "_padded", [1, h + t + b, w + l + r, c], v.quant)
        self.op(Builtin.PAD, [v.index, pads], [out], Options.PadOptions, [], 0)
        return Value(out, (c, h + t + b, w + l + r), "NHWC", v.quant), Padding.VALID

    def lower_Conv(self, n, out_name, shape, relu):
        a = _attrs(n)
        v = self.values[n.input[0]]
        wt = self.g.inits[n.input[1]].astype(np.float32)
        bias = self.g.inits[n.input[2]].astype(np.float32) if len(n.input) > 2 and n.input[2] else np.zeros(wt.shape[0], np.float32)
        if a.get("group", 1) != 1:
            raise ConvertError(f"Conv {n.name}: groups are not supported")
        k = tuple(wt.shape[2:])
        s = tuple(a.get("strides", [1, 1]))
        d = tuple(a.get("dilations", [1, 1]))
        v, padding = self.pad_if_needed(v, a, k, s, d, n.output[0])
        w_ohwi = np.transpose(wt, (0, 2, 3, 1))
        q = self.qp(out_name)
        if self.int8:
            wq, wqp = weight_qparams(w_ohwi)
            wi = self.const(n.input[1], wq, TensorType.INT8, wqp)
            bscale = (v.quant.scale[0] * wqp.scale).astype(np.float64)
            bq = np.clip(np.round(bias / bscale), -(2**31), 2**31 - 1).astype(np.int32)
            bi = self.const(n.output[0] + "_bias", bq, TensorType.INT32, QParams(bscale.astype(np.float32), np.zeros(len(bq), np.int64), 0))
        else:
            wi = self.const(n.input[1], w_ohwi, TensorType.FLOAT32)
            bi = self.const(n.output[0] + "_bias", bias, TensorType.FLOAT32)
        oc, oh, ow = shape
        out = self.act_tensor(out_name, [1, oh, ow, oc], q)
        opts = [
            (Conv2DOptionsF.padding, "u8", padding),
            (Conv2DOptionsF.stride_w, "i32", s[1]),
            (Conv2DOptionsF.stride_h, "i32", s[0]),
            (Conv2DOptionsF.fused_activation_function, "u8", Activation.RELU if relu else Activation.NONE),
            (Conv2DOptionsF.dilation_w_factor, "i32", d[1]),
            (Conv2DOptionsF.dilation_h_factor, "i32", d[0]),
        ]
        self.op(Builtin.CONV_2D, [v.index, wi, bi], [out], Options.Conv2DOptions, opts, Conv2DOptionsF.N)
        self.values[out_name] = Value(out, shape, "NHWC", q)

    def lower_Relu(self, n, out_name, shape, relu):
        v = self.values[n.input[0]]
        q = self.qp(out_name)
        out = self.act_tensor(out_name, self.t.tensors[v.index].shape, q)
        self.op(Builtin.RELU, [v.index], [out])
        self.values[out_name] = Value(out, shape, v.layout, q, v.flat_from)

    def _pool(self, n, out_name, shape, code):
        a = _attrs(n)
        v = self.values[n.input[0]]
        k = tuple(a["kernel_shape"])
        s = tuple(a.get("strides", [1, 1]))
        if a.get("ceil_mode", 0):
            raise ConvertError(f"{n.op_type} {n.name}: ceil_mode=1 is not supported")
        t, l, b, r = _pads_hw(a)
        _, h, w = v.nchw
        if (t, l, b, r) == (0, 0, 0, 0):
            padding = Padding.VALID
        elif (t, b) == _same_pads(h, k[0], s[0]) and (l, r) == _same_pads(w, k[1], s[1]) and (code == Builtin.MAX_POOL_2D or not a.get("count_include_pad", 0)):
            padding = Padding.SAME
        else:
            raise ConvertError(f"{n.op_type} {n.name}: pads {a.get('pads')} match neither VALID nor TFLite SAME")
        # TFLite's int8 pooling kernels require the output to share the input's scale and zero point.
        oc, oh, ow = shape
        out = self.act_tensor(out_name, [1, oh, ow, oc], v.quant)
        opts = [
            (Pool2DOptionsF.padding, "u8", padding),
            (Pool2DOptionsF.stride_w, "i32", s[1]),
            (Pool2DOptionsF.stride_h, "i32", s[0]),
            (Pool2DOptionsF.filter_width, "i32", k[1]),
            (Pool2DOptionsF.filter_height, "i32", k[0]),
        ]
        self.op(code, [v.index], [out], Options.Pool2DOptions, opts, Pool2DOptionsF.N)
        self.values[out_name] = Value(out, shape, "NHWC", v.quant)

    def lower_MaxPool(self, n, out_name, shape, relu):
        self._pool(n, out_name, shape, Builtin.MAX_POOL_2D)

    def lower_AveragePool(self, n, out_name, shape, relu):
        self._pool(n, out_name, shape, Builtin.AVERAGE_POOL_2D)

    def _mean_hw(self, n, out_name, shape):
        v = self.values[n.input[0]]
        axes = self.const(n.output[0] + "_axes", np.array([1, 2], np.int32), TensorType.INT32)
        q = self.qp(out_name)
        c = v.nchw[0]
        # keep_dims=false gives [1, C] directly; the Flatten that usually follows becomes a no-op.
        out = self.act_tensor(out_name, [1, c], q)
        self.op(Builtin.MEAN, [v.index, axes], [out], Options.ReducerOptions, [(ReducerOptionsF.keep_dims, "bool", False)], ReducerOptionsF.N)
        self.values[out_name] = Value(out, shape, "flat", q)

    def lower_GlobalAveragePool(self, n, out_name, shape, relu):
        self._mean_hw(n, out_name, shape)

    def lower_ReduceMean(self, n, out_name, shape, relu):
        a = _attrs(n)
        axes = a.get("axes") or (self.g.inits[n.input[1]].tolist() if len(n.input) > 1 else None)
        if sorted(axes or []) != [2, 3]:
            raise ConvertError(f"ReduceMean {n.name}: only the spatial mean (axes 2,3) is supported, got {axes}")
        self._mean_hw(n, out_name, shape)

    def _flatten(self, n, out_name, shape):
        v = self.values[n.input[0]]
        if v.layout == "flat" or all(d == 1 for d in v.nchw[1:]):
            # [1,C,1,1] (or already flat): NHWC and NCHW orders agree, reshape only if the rank changes.
            if v.layout == "flat":
                self.values[out_name] = Value(v.index, shape, "flat", v.quant, v.flat_from)
                return
            flat_from = None
        else:
            flat_from = v.nchw
        size = int(np.prod(v.nchw))
        out = self.act_tensor(out_name, [1, size], v.quant)
        new_shape = self.const(n.output[0] + "_shape", np.array([1, size], np.int32), TensorType.INT32)
        self.op(Builtin.RESHAPE, [v.index, new_shape], [out], Options.ReshapeOptions, [(ReshapeOptionsF.new_shape, "i32vec", [1, size])], ReshapeOptionsF.N)
        self.values[out_name] = Value(out, (size,), "flat", v.quant, flat_from)

    def lower_Flatten(self, n, out_name, shape, relu):
        if _attrs(n).get("axis", 1) != 1:
            raise ConvertError(f"Flatten {n.name}: only axis=1 is supported")
        self._flatten(n, out_name, shape)

    def lower_Reshape(self, n, out_name, shape, relu):
        if len(shape) != 1:
            raise ConvertError(f"Reshape {n.name}: only flattening to [N, K] is supported, got {shape}")
        self._flatten(n, out_name, shape)

    def lower_Gemm(self, n, out_name, shape, relu):
        a = _attrs(n)
        v = self.values[n.input[0]]
        if a.get("transA", 0):
            raise ConvertError(f"Gemm {n.name}: transA is not supported")
        wt = self.g.inits[n.input[1]].astype(np.float32)
        wt = wt if a.get("transB", 0) else wt.T  # -> [out, in]
        wt = wt * a.get("alpha", 1.0)
        bias = self.g.inits[n.input[2]].astype(np.float32) * a.get("beta", 1.0) if len(n.input) > 2 and n.input[2] else np.zeros(wt.shape[0], np.float32)
        bias = np.broadcast_to(bias.reshape(-1), (wt.shape[0],)).copy()
        if v.flat_from is not None:
            # Columns were ordered (c, h, w) by ONNX; our flattened activations are (h, w, c).
            c, h, w = v.flat_from
            wt = wt.reshape(-1, c, h, w).transpose(0, 2, 3, 1).reshape(wt.shape[0], -1)
        q = self.qp(out_name)
        if self.int8:
            if self.fc_per_channel:
                wq, wqp = weight_qparams(wt)
            else:
                s = max(float(np.abs(wt).max()) / 127.0, 1e-8)
                wq = np.clip(np.round(wt / s), -127, 127).astype(np.int8)
                wqp = QParams.per_tensor(s, 0)
            wi = self.const(n.input[1], wq, TensorType.INT8, wqp)
            wscale = np.broadcast_to(wqp.scale, (wt.shape[0],))
            bscale = (v.quant.scale[0] * wscale).astype(np.float64)
            bq = np.clip(np.round(bias / bscale), -(2**31), 2**31 - 1).astype(np.int32)
            bqp = QParams(bscale.astype(np.float32), np.zeros(len(bq), np.int64), 0) if self.fc_per_channel else QParams.per_tensor(float(bscale[0]), 0)
            bi = self.const(n.output[0] + "_bias", bq, TensorType.INT32, bqp)
        else:
            wi = self.const(n.input[1], np.ascontiguousarray(wt), TensorType.FLOAT32)
            bi = self.const(n.output[0] + "_bias", bias, TensorType.FLOAT32)
        out = self.act_tensor(out_name, [1, wt.shape[0]], q)
        opts = [(FullyConnectedOptionsF.fused_activation_function, "u8", Activation.RELU if relu else Activation.NONE)]
        self.op(Builtin.FULLY_CONNECTED, [v.index, wi, bi], [out], Options.FullyConnectedOptions, opts, FullyConnectedOptionsF.N)
        self.values[out_name] = Value(out, shape, "flat", q)


def qdq_onnx(g: OnnxGraph, low: Lowering) -> onnx.ModelProto:
    """The same int8 model as a QDQ ONNX (same scales, zero points and integer weights), so
    onnxruntime can check the TFLite int8 arithmetic with an independent implementation."""
    H = onnx.helper
    inits: list = []
    nodes: list = []
    out_raw = g.output_name + "__float"

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr, name))
        return name

    def qdq(name: str, final: str) -> str:
        v = low.values.get(name)
        if v is None or v.quant is None:
            return name
        s = const(name + "__s", np.array(v.quant.scale[0], np.float32))
        z = const(name + "__z", np.array(v.quant.zero_point[0], np.int8))
        nodes.append(H.make_node("QuantizeLinear", [name if name != g.output_name else out_raw, s, z], [name + "__q"]))
        nodes.append(H.make_node("DequantizeLinear", [name + "__q", s, z], [final]))
        return final

    cur = {g.input_name: qdq(g.input_name, g.input_name + "__dq")}
    for n in g.nodes:
        a = _attrs(n)
        ins = [cur.get(x, x) for x in n.input]
        if n.op_type in ("Conv", "Gemm"):
            w = g.inits[n.input[1]].astype(np.float32)
            axis = 0 if n.op_type == "Conv" or a.get("transB", 0) else 1
            wm = np.moveaxis(w, axis, 0)
            if n.op_type == "Gemm" and not low.fc_per_channel:
                s = max(float(np.abs(w).max()) / 127.0, 1e-8)
                wq_m, wscale = np.clip(np.round(wm / s), -127, 127).astype(np.int8), np.full(wm.shape[0], s, np.float32)
            else:
                wq_m, wqp = weight_qparams(wm)
                wscale = wqp.scale
            wq = np.ascontiguousarray(np.moveaxis(wq_m, 0, axis))
            sn = const(n.input[1] + "__ws", wscale.astype(np.float32))
            zn = const(n.input[1] + "__wz", np.zeros(len(wscale), np.int8))
            nodes.append(H.make_node("DequantizeLinear", [const(n.input[1] + "__wq", wq), sn, zn], [n.input[1] + "__wdq"], axis=axis))
            ins[1] = n.input[1] + "__wdq"
            if len(n.input) > 2 and n.input[2]:
                bscale = (low.values[n.input[0]].quant.scale[0] * wscale).astype(np.float32)
                bq = np.clip(np.round(g.inits[n.input[2]].reshape(-1) / bscale.astype(np.float64)), -(2**31), 2**31 - 1).astype(np.int32)
                bs = const(n.input[2] + "__bs", bscale)
                bz = const(n.input[2] + "__bz", np.zeros(len(bq), np.int32))
                nodes.append(H.make_node("DequantizeLinear", [const(n.input[2] + "__bq", bq), bs, bz], [n.input[2] + "__bdq"], axis=0))
                ins[2] = n.input[2] + "__bdq"
        outs = [out_raw if o == g.output_name else o for o in n.output]
        new = H.make_node(n.op_type, ins, outs, name=n.name)
        new.attribute.extend(n.attribute)
        nodes.append(new)
        for o in n.output:
            cur[o] = qdq(o, g.output_name if o == g.output_name else o + "__dq")
    for name, arr in g.inits.items():
        if any(name in n.input for n in g.nodes if n.op_type not in ("Conv", "Gemm")):
            const(name, arr)
    c, h, w = g.input_shape[1:]
    graph = H.make_graph(
        nodes, "qdq", [H.make_tensor_value_info(g.input_name, onnx.TensorProto.FLOAT, ["batch", c, h, w])],
        [H.make_tensor_value_info(g.output_name, onnx.TensorProto.FLOAT, ["batch", int(np.prod(low.values[g.output_name].nchw))])], inits,
    )
    model = H.make_model(graph, opset_imports=[H.make_opsetid("", 13)], producer_name="edgetune-tflite-convert")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def convert(onnx_path: str, int8: bool, ranges: Optional[dict] = None, fc_per_channel: bool = True, qdq_path: Optional[str] = None, version_overrides: Optional[dict] = None) -> tuple:
    """Returns (tflite bytes, summary dict); with `qdq_path` (int8 only) also writes the QDQ ONNX twin."""
    g = load_onnx(onnx_path)
    c, h, w = g.input_shape[1:]
    sample_env = run_reference(g, np.zeros((1, c, h, w), np.float32))
    low = Lowering(g, int8, ranges, fc_per_channel)
    graph = low.run(sample_env)
    if qdq_path:
        if not int8:
            raise ConvertError("--qdq-onnx needs --int8")
        onnx.save(qdq_onnx(g, low), qdq_path)
    codes_by_name = {v: k for k, v in BUILTIN_NAMES.items()}
    for name, ver in (version_overrides or {}).items():
        if name not in codes_by_name:
            raise ConvertError(f"--op-version: unknown op {name}")
        for op in graph.ops:
            if op.code == codes_by_name[name]:
                op.version = ver
    for op in graph.ops:
        ver = op.resolved_version()
        if not op.version and ver > TFJS_TFLITE_MAX_VERSION[op.code]:
            raise ConvertError(f"{BUILTIN_NAMES[op.code]} v{ver} is above what tfjs-tflite accepts (v{TFJS_TFLITE_MAX_VERSION[op.code]})")
    data = serialize(graph, description=f"edgetune {'int8' if int8 else 'fp32'} from {os.path.basename(onnx_path)}")
    ops = []
    for op in graph.ops:
        key = f"{BUILTIN_NAMES[op.code]}/v{op.resolved_version()}"
        if key not in ops:
            ops.append(key)
    out_dim = graph.tensors[graph.outputs[0]].shape[-1]
    return data, {"ops": ops, "input": [1, h, w, c], "output_dim": out_dim, "tensors": len(graph.tensors)}


def _sha256(path_or_bytes) -> str:
    if isinstance(path_or_bytes, (bytes, bytearray)):
        return hashlib.sha256(path_or_bytes).hexdigest()
    with open(path_or_bytes, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


# Fashion-MNIST normalisation and licence of our own encoders: used only for a 1x28x28 input when no --manifest is given.
DEFAULT_INPUT_SPEC = {"range": [0, 1], "mean": [0.2860], "std": [0.3530]}
DEFAULT_LICENSE = "MIT"
FMNIST_CHW = [1, 28, 28]


def require_manifest_unless_fmnist(g: OnnxGraph, what: str) -> None:
    """Refuses to fall back on our Fashion-MNIST defaults for a model whose input is not 1x28x28."""
    chw = list(g.input_shape[1:])
    if chw != FMNIST_CHW:
        shown = "x".join(str(d) for d in chw)
        raise ConvertError(
            f"input '{g.input_name}' is {shown} (CxHxW), not the 1x28x28 Fashion-MNIST shape of our encoders: "
            f"{what} would use Fashion-MNIST mean/std and our MIT licence, which are not this model's. "
            "Pass --manifest SRC.json with this model's input (range, mean, std) and license "
            "(`edgetune import MODEL.onnx` writes one)"
        )


def build_manifest(tfl: bytes, out_path: str, model_id: str, int8: bool, src_manifest: Optional[dict], onnx_path: str, summary: dict, calib_note: str) -> dict:
    h, w, c = summary["input"][1:]
    src_in = (src_manifest or {}).get("input", {})
    src_out = (src_manifest or {}).get("output", {})
    m = {
        "schema": "edgetune.manifest/1",
        "id": model_id,
        "format": "tflite",
        "file": os.path.basename(out_path),
        "bytes": len(tfl),
        "sha256": _sha256(tfl),
        "input": {
            "name": src_in.get("name", "input"),
            "shape": [None, h, w, c],
            "layout": "NHWC",
            "channels": c,
            "height": h,
            "width": w,
            "range": src_in.get("range", DEFAULT_INPUT_SPEC["range"]),
            "mean": src_in.get("mean", DEFAULT_INPUT_SPEC["mean"] * c),
            "std": src_in.get("std", DEFAULT_INPUT_SPEC["std"] * c),
        },
        "output": {"name": src_out.get("name", "embedding"), "dim": summary["output_dim"], "normalized": bool(src_out.get("normalized", False))},
        "dtype": "int8" if int8 else "fp32",
        "quantization": "tflite-full-int8 (per-tensor asymmetric int8 activations, per-channel symmetric int8 weights, int32 bias, float32 in/out)" if int8 else "none",
        "license": src_manifest["license"] if src_manifest else DEFAULT_LICENSE,
        "source": {"file": os.path.basename(onnx_path), "sha256": _sha256(onnx_path), "calibration": calib_note, "ops": summary["ops"]},
    }
    if src_manifest and "ssl" in src_manifest:
        m["ssl"] = src_manifest["ssl"]
    return m


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("onnx", help="fp32 ONNX model (NCHW input, one output)")
    p.add_argument("--out", required=True, help="output .tflite path; the manifest goes next to it as .json")
    p.add_argument("--int8", action="store_true", help="full-int8 (QUANTIZE ... DEQUANTIZE inside, float32 in/out)")
    p.add_argument("--ranges", help="activation ranges JSON from the ONNX quantizer (tensor name -> range)")
    p.add_argument("--calib-images", help="IDX3 image file for calibration when no ranges JSON is given")
    p.add_argument("--calib-count", type=int, default=512)
    p.add_argument("--save-ranges", help="write the ranges calibrated here as JSON (readable by --ranges)")
    p.add_argument("--manifest", help="manifest of the source ONNX (input normalisation, output, ssl, license are copied)")
    p.add_argument("--id", help="manifest id (default: output file name without extension)")
    p.add_argument("--fc-per-tensor", action="store_true", help="per-tensor instead of per-channel FULLY_CONNECTED weights")
    p.add_argument("--manifest-out", help="manifest path (default: OUT with .json)")
    p.add_argument("--metrics-from", help="manifest whose quality metrics this model inherits (its int8 ONNX twin); recorded as metrics.measuredOn")
    p.add_argument("--metric", action="append", default=[], metavar="KEY=NUMBER", help="add a measured metric, e.g. cosineVsOnnxInt8Min=0.99995")
    p.add_argument("--no-manifest", action="store_true")
    p.add_argument("--qdq-onnx", help="also write the same int8 model as QDQ ONNX here (for cross-runtime checks)")
    p.add_argument("--op-version", action="append", default=[], metavar="OP=N", help="testing only: force an operator code's version, e.g. MEAN=99")
    args = p.parse_args(argv)

    src_manifest = None
    if args.manifest:
        with open(args.manifest) as f:
            src_manifest = json.load(f)
        if not isinstance(src_manifest.get("license"), str) or not src_manifest["license"]:
            raise ConvertError(f"{args.manifest} has no license: say the model's licence there (an SPDX id); it is not assumed")
    else:
        # Without a source manifest, the manifest and image calibration fall back on our Fashion-MNIST defaults.
        uses = [w for w, on in (("the manifest", not args.no_manifest), ("calibration from --calib-images", args.int8 and args.calib_images)) if on]
        if uses:
            require_manifest_unless_fmnist(load_onnx(args.onnx), " and ".join(uses))
    ranges = None
    calib_note = "none (fp32)"
    if args.int8:
        if args.ranges:
            ranges = load_ranges(args.ranges)
            calib_note = f"ranges from {os.path.basename(args.ranges)}"
            if args.calib_images:
                # Tensors the ranges file lacks (if any) get ranges calibrated here.
                g = load_onnx(args.onnx)
                spec = (src_manifest or {}).get("input", DEFAULT_INPUT_SPEC)
                own = calibrate(g, preprocess(read_idx_images(args.calib_images, args.calib_count), spec))
                missing = sorted(set(own) - set(ranges))
                ranges = {**own, **ranges}
                if missing:
                    calib_note += f"; {len(missing)} tensors calibrated here ({', '.join(missing[:4])})"
        elif args.calib_images:
            g = load_onnx(args.onnx)
            spec = (src_manifest or {}).get("input", DEFAULT_INPUT_SPEC)
            imgs = read_idx_images(args.calib_images, args.calib_count)
            ranges = calibrate(g, preprocess(imgs, spec))
            calib_note = f"min/max over the first {len(imgs)} images of {os.path.basename(args.calib_images)}"
            if args.save_ranges:
                with open(args.save_ranges, "w") as f:
                    json.dump({"tensors": {k: [lo, hi] for k, (lo, hi) in ranges.items()}}, f, indent=1)
        else:
            raise ConvertError("--int8 needs --ranges or --calib-images")
    try:
        overrides = {k: int(v) for k, v in (o.split("=", 1) for o in args.op_version)}
        data, summary = convert(args.onnx, args.int8, ranges, not args.fc_per_tensor, args.qdq_onnx, overrides)
    except ConvertError as e:
        print(f"convert.py: {e}", file=sys.stderr)
        return 2
    with open(args.out, "wb") as f:
        f.write(data)
    if not args.no_manifest:
        model_id = args.id or os.path.splitext(os.path.basename(args.out))[0]
        m = build_manifest(data, args.out, model_id, args.int8, src_manifest, args.onnx, summary, calib_note)
        metrics = {}
        if args.metrics_from:
            twin = json.load(open(args.metrics_from))
            metrics = {**twin.get("metrics", {}), "measuredOn": twin["id"]}
        for kv in args.metric:
            k, v = kv.split("=", 1)
            metrics[k] = float(v)
        if metrics:
            m["metrics"] = metrics
        with open(args.manifest_out or os.path.splitext(args.out)[0] + ".json", "w") as f:
            json.dump(m, f, indent=2)
            f.write("\n")
    print(json.dumps({"out": args.out, "bytes": len(data), **summary}))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except ConvertError as e:
        print(f"convert.py: {e}", file=sys.stderr)
        sys.exit(2)
