"""The camera bench's pretrained reference: nsfwjs's MobileNetV2 rebuilt in PyTorch from node_modules, exported to ONNX.

  /usr/bin/python3 bench/camera/mobilenetv2_ref.py [--out bench/camera/.cache/mobilenetv2]
  node --import tsx bench/camera/run.ts --model bench/camera/.cache/mobilenetv2/mobilenetv2-nsfwjs-fp32.json

Reads what `node --import tsx bench/camera/mobilenetv2_dump.ts` writes (run here when missing): the Keras functional
config and the dequantized weights of `node_modules/nsfwjs/dist/models/mobilenet_v2`. Builds the graph layer by layer
(ZeroPadding2D, Conv2D, DepthwiseConv2D, BatchNormalization, ReLU(6), Add, AveragePooling2D, Flatten, Dense), checks it
against tfjs's own outputs (class probabilities and pooled features on 4 seeded inputs), and exports the backbone up to
the global-pooled 1280-d features (`out_relu` + pooling; the 256/128/5 classifier head is dropped) as ONNX opset 13,
BatchNorm folded into the convs, input [N,3,224,224] in [0, 1] as nsfwjs feeds it (bytes / 255).
Two manifests for run.ts: `mobilenetv2-nsfwjs-fp32.json` (that input, as the model is used) and
`mobilenetv2-nsfwjs-pm1-fp32.json` (the same file fed [-1, 1], Keras MobileNetV2's ImageNet preprocessing).
Nothing here is shipped in models/ or fetched.
"""
import argparse
import hashlib
import json
import os
import subprocess

import numpy as np
import onnx
import torch
from torch import nn
from torch.nn import functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FEATURES = "flatten_1"  # the pooled 1280-d backbone output (AveragePooling2D 7x7 over the 7x7 map, flattened)


class KerasGraph(nn.Module):
    """A Keras functional model (the layer types MobileNetV2 uses), channels-last weights moved to NCHW."""

    def __init__(self, topo, weights, upto):
        super().__init__()
        w = {}
        for s in topo["weights"]:
            n = int(np.prod(s["shape"]))
            w[s["name"]] = torch.from_numpy(weights[s["offset"]: s["offset"] + n].reshape(s["shape"]).copy())
        self.layers = []
        self.params = nn.ParameterDict()
        for layer in topo["layers"]:
            name, kind, cfg = layer["name"], layer["class_name"], layer["config"]
            ins = [n[0] for n in layer["inbound_nodes"][0]] if layer["inbound_nodes"] else []
            p = {}
            if kind == "Conv2D":
                p["weight"] = w[f"{name}/kernel"].permute(3, 2, 0, 1)  # kh kw in out -> out in kh kw
            elif kind == "DepthwiseConv2D":
                k = w[f"{name}/depthwise_kernel"]  # kh kw in mult
                assert k.shape[3] == 1
                p["weight"] = k.permute(2, 3, 0, 1)  # -> in 1 kh kw
            elif kind == "BatchNormalization":
                for t in ("gamma", "beta", "moving_mean", "moving_variance"):
                    p[t] = w[f"{name}/{t}"]
            elif kind == "Dense":
                p["weight"] = w[f"{name}/kernel"].t()
            if cfg.get("use_bias"):
                p["bias"] = w[f"{name}/bias"]
            for k, v in p.items():
                self.params[f"{name}__{k}"] = nn.Parameter(v.float(), requires_grad=False)
            self.layers.append((name, kind, cfg, ins))
            if name == upto:
                break
        self.out = upto

    def p(self, name, k):
        key = f"{name}__{k}"
        return self.params[key] if key in self.params else None

    def forward(self, x):
        t = {}
        for name, kind, cfg, ins in self.layers:
            a = t[ins[0]] if ins else x
            if kind == "InputLayer":
                y = x
            elif kind == "ZeroPadding2D":
                (top, bottom), (left, right) = cfg["padding"]
                y = F.pad(a, (left, right, top, bottom))
            elif kind in ("Conv2D", "DepthwiseConv2D"):
                kh, kw = cfg["kernel_size"]
                pad = (kh // 2, kw // 2) if cfg["padding"] == "same" else (0, 0)
                assert cfg["padding"] == "valid" or tuple(cfg["strides"]) == (1, 1)
                groups = a.shape[1] if kind == "DepthwiseConv2D" else 1
                y = F.conv2d(a, self.p(name, "weight"), self.p(name, "bias"), tuple(cfg["strides"]), pad, 1, groups)
                assert cfg["activation"] == "linear"
            elif kind == "BatchNormalization":
                y = F.batch_norm(a, self.p(name, "moving_mean"), self.p(name, "moving_variance"),
                                 self.p(name, "gamma"), self.p(name, "beta"), False, 0.0, cfg["epsilon"])
            elif kind == "ReLU":
                assert cfg["negative_slope"] == 0 and cfg["threshold"] == 0
                y = torch.clamp(a, 0.0, float(cfg["max_value"])) if cfg.get("max_value") is not None else F.relu(a)
            elif kind == "Add":
                y = sum(t[i] for i in ins)
            elif kind == "AveragePooling2D":
                y = F.avg_pool2d(a, tuple(cfg["pool_size"]), tuple(cfg["strides"]))
            elif kind == "Flatten":
                y = a.permute(0, 2, 3, 1).flatten(1)  # channels-last order, as Keras flattens
            elif kind == "Dense":
                y = F.linear(a, self.p(name, "weight"), self.p(name, "bias"))
                y = {"relu": F.relu, "softmax": lambda v: F.softmax(v, 1), "linear": lambda v: v}[cfg["activation"]](y)
            elif kind == "Dropout":
                y = a
            else:
                raise ValueError(f"unsupported layer {kind} ({name})")
            t[name] = y
        return t[self.out]


class Backbone(nn.Module):
    """Convs with BatchNorm folded in, ReLU6 as Clip, then global average pooling: what the ONNX file holds."""

    def __init__(self, g):
        super().__init__()
        self.g = g
        self.folded = {}
        names = [l[0] for l in g.layers]
        kinds = {l[0]: l for l in g.layers}
        for i, (name, kind, cfg, ins) in enumerate(g.layers):
            if kind == "BatchNormalization" and kinds[ins[0]][1] in ("Conv2D", "DepthwiseConv2D"):
                conv = ins[0]
                scale = g.p(name, "gamma") / torch.sqrt(g.p(name, "moving_variance") + cfg["epsilon"])
                wt = g.p(conv, "weight") * scale.view(-1, 1, 1, 1)
                b = g.p(conv, "bias") if g.p(conv, "bias") is not None else torch.zeros_like(scale)
                self.folded[conv] = (wt.detach().clone(), ((b - g.p(name, "moving_mean")) * scale + g.p(name, "beta")).detach().clone())
        self.ws = nn.ParameterDict({k.replace("/", "_"): nn.Parameter(v[0], requires_grad=False) for k, v in self.folded.items()})
        self.bs = nn.ParameterDict({k.replace("/", "_"): nn.Parameter(v[1], requires_grad=False) for k, v in self.folded.items()})
        del names

    def forward(self, x):
        t = {}
        g = self.g
        for name, kind, cfg, ins in g.layers:
            a = t[ins[0]] if ins else x
            if kind == "InputLayer":
                y = x
            elif kind == "ZeroPadding2D":
                (top, bottom), (left, right) = cfg["padding"]
                y = F.pad(a, (left, right, top, bottom))
            elif kind in ("Conv2D", "DepthwiseConv2D"):
                kh, kw = cfg["kernel_size"]
                pad = (kh // 2, kw // 2) if cfg["padding"] == "same" else (0, 0)
                groups = a.shape[1] if kind == "DepthwiseConv2D" else 1
                y = F.conv2d(a, self.ws[name], self.bs[name], tuple(cfg["strides"]), pad, 1, groups)
            elif kind == "BatchNormalization":
                y = a  # folded into the conv before it
            elif kind == "ReLU":
                y = torch.clamp(a, 0.0, float(cfg["max_value"]))
            elif kind == "Add":
                y = sum(t[i] for i in ins)
            elif kind in ("AveragePooling2D", "Flatten"):
                y = a
            else:
                raise ValueError(kind)
            t[name] = y
            if kind == "ReLU" and name == "out_relu":
                return F.adaptive_avg_pool2d(y, 1).flatten(1)
        raise ValueError("no out_relu layer")


def manifest(onnx_path, mid, mean, std, note):
    data = open(onnx_path, "rb").read()
    return {
        "schema": "edgetune.manifest/1", "id": mid, "format": "onnx", "file": os.path.basename(onnx_path),
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
        "input": {"name": "input", "shape": [None, 3, 224, 224], "layout": "NCHW", "channels": 3, "height": 224,
                  "width": 224, "range": [0, 1], "mean": mean, "std": std},
        "output": {"name": "embedding", "dim": 1280, "normalized": False},
        "dtype": "fp32", "quantization": "none", "license": "MIT (nsfwjs, Copyright (c) 2019 Infinite Red, Inc.)",
        "description": f"Reference only, not shipped: nsfwjs MobileNetV2 backbone, global-pooled features; {note}.",
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default=os.path.join(ROOT, "bench", "camera", ".cache", "mobilenetv2"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    if not os.path.exists(os.path.join(args.out, "check.json")):
        subprocess.run(["node", "--import", "tsx", os.path.join(ROOT, "bench", "camera", "mobilenetv2_dump.ts"), args.out],
                       check=True, cwd=ROOT)
    topo = json.load(open(os.path.join(args.out, "topology.json")))
    weights = np.fromfile(os.path.join(args.out, "weights.f32"), dtype="<f4")
    check = json.load(open(os.path.join(args.out, "check.json")))
    x = torch.tensor(check["inputNHWC"], dtype=torch.float32).view(*check["shape"]).permute(0, 3, 1, 2).contiguous()
    last = topo["layers"][-1]["name"]
    with torch.no_grad():
        probs = KerasGraph(topo, weights, last).eval()(x).numpy()
        g = KerasGraph(topo, weights, FEATURES).eval()
        pooled = g(x).numpy()
        bb = Backbone(g).eval()
        folded = bb(x).numpy()
    ref_p, ref_f = np.array(check["probs"]), np.array(check["pooled"])
    rep = {
        "source": topo["source"],
        "params_backbone": int(sum(v.numel() for k, v in g.params.items())),
        "max_prob_diff_vs_tfjs": float(np.abs(probs - ref_p).max()),
        "max_feature_diff_vs_tfjs": float(np.abs(pooled - ref_f).max()),
        "feature_scale": float(np.abs(ref_f).max()),
        "max_folded_diff": float(np.abs(folded - pooled).max()),
        "frozen_layers": [l["name"] for l in topo["layers"] if l["config"].get("trainable") is False][-1:],
    }
    if rep["max_prob_diff_vs_tfjs"] > 1e-4 or rep["max_feature_diff_vs_tfjs"] > 1e-3 * max(1.0, rep["feature_scale"]):
        raise SystemExit(f"rebuild differs from tfjs: {rep}")
    path = os.path.join(args.out, "mobilenetv2-nsfwjs-fp32.onnx")
    torch.onnx.export(bb, torch.zeros(2, 3, 224, 224), path, opset_version=13, input_names=["input"],
                      output_names=["embedding"], dynamic_axes={"input": {0: "N"}, "embedding": {0: "N"}},
                      do_constant_folding=True)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    rep["onnx"] = path
    rep["onnx_bytes"] = os.path.getsize(path)
    rep["ops"] = sorted({n.op_type for n in model.graph.node})
    for mid, mean, std, note in [
        ("mobilenetv2-nsfwjs-fp32", [0, 0, 0], [1, 1, 1], "input in [0, 1], as nsfwjs feeds it"),
        ("mobilenetv2-nsfwjs-pm1-fp32", [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], "input in [-1, 1] (Keras MobileNetV2 preprocessing)"),
    ]:
        with open(os.path.join(args.out, f"{mid}.json"), "w") as f:
            json.dump(manifest(path, mid, mean, std, note), f, indent=1)
    print(json.dumps(rep))


if __name__ == "__main__":
    main()
