#!/usr/bin/python3
"""Exports a small seeded CNN (same op set as the shipped encoders, plus the awkward cases) to fp32 ONNX for converter tests.

  /usr/bin/python3 models/pipeline/tflite/make_test_cnn.py OUT.onnx [--seed 0] [--head gap|flatten]

The weights are random but the BatchNorm statistics are set from Fashion-MNIST-like inputs, so
activations have realistic ranges. Covered: Conv pad 1 stride 1 (TFLite SAME), Conv pad 1 stride 2
on an even size (needs an explicit PAD), Conv without pads (VALID), MaxPool, BatchNorm folding,
GlobalAveragePool + Flatten (head=gap), Flatten of a 4x4 feature map (head=flatten, NCHW->NHWC
column permutation), a residual block with a view() flatten (head=residual), Gemm + ReLU, Gemm;
head=pipeline exports models/pipeline/model.py's encoder instead.
"""

import argparse
import os
import sys

import torch
from torch import nn


class TestCnn(nn.Module):
    def __init__(self, head: str):
        super().__init__()
        self.head = head
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.MaxPool2d(2),  # 14
            nn.Conv2d(16, 32, 3, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(),  # 7
            nn.Conv2d(32, 48, 3), nn.ReLU(),  # 5 (VALID)
        )
        if head == "residual":
            self.block = nn.Sequential(nn.Conv2d(48, 48, 3, padding=1), nn.BatchNorm2d(48), nn.ReLU(), nn.Conv2d(48, 48, 3, padding=1), nn.BatchNorm2d(48))
        if head in ("gap", "residual"):
            self.pool = nn.AdaptiveAvgPool2d(1)
            feat = 48
        else:
            self.pool = nn.MaxPool2d(2, stride=1, padding=0)  # 4 -> flatten of 4x4
            feat = 48 * 4 * 4
        self.fc = nn.Sequential(nn.Linear(feat, 64), nn.ReLU(), nn.Linear(64, 32))

    def forward(self, x):
        x = self.features(x)
        if self.head == "residual":
            # A residual block (Add + ReLU) and a view()-style flatten (Shape/Gather/Concat/Reshape in a dynamic-batch export).
            x = torch.relu(self.block(x) + x)
            x = self.pool(x)
            return self.fc(x.view(x.size(0), -1))
        x = self.pool(x)
        return self.fc(torch.flatten(x, 1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--head", choices=["gap", "flatten", "residual", "pipeline"], default="gap")
    a = p.parse_args()
    torch.manual_seed(a.seed)
    torch.set_num_threads(1)
    if a.head == "pipeline":
        # The shipped encoders' own architecture (models/pipeline/model.py), randomly initialised.
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
        from model import build_encoder

        m = build_encoder()
    else:
        m = TestCnn(a.head)
    # Set BatchNorm running statistics on blob-like inputs so the folded weights are not trivial.
    m.train()
    with torch.no_grad():
        for _ in range(4):
            x = (torch.rand(32, 1, 28, 28) > 0.6).float() * torch.rand(32, 1, 1, 1)
            m((x - 0.286) / 0.353)
    m.eval()
    torch.onnx.export(
        m, torch.zeros(1, 1, 28, 28), a.out, input_names=["input"], output_names=["embedding"],
        dynamic_axes={"input": {0: "batch"}, "embedding": {0: "batch"}}, opset_version=13, do_constant_folding=True,
    )
    print(a.out)


if __name__ == "__main__":
    main()
