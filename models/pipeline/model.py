"""The phone-sized CNN encoder shared by every method (architecture only; simple ops for ONNX and TFLite export)."""
import torch
from torch import nn


def conv_bn_relu(cin, cout, k=3):
    # bias=False: the BatchNorm shift becomes the conv bias when BN is folded at export.
    return [nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class Encoder(nn.Module):
    """28x28x1 -> `dim`-d embedding.

    Three 3x3 convs with max-pooling after the first two (28 -> 14 -> 7), a 1x1 conv that
    widens to `dim` channels, then global average pooling. The embedding is that pooled output
    (after BN and ReLU), the layer before any SSL projector, which transfers best to a linear
    probe. The 1x1 widening is ~9M MACs instead of ~22M for a 3x3 there: on 2 shared CPU cores
    training steps, not parameters, are the scarce resource.
    Ops: Conv2d (+BN folded at export), ReLU, MaxPool2d, global average pool, Flatten.
    """

    def __init__(self, width=32, dim=256):
        super().__init__()
        w = width
        self.dim = dim
        self.features = nn.Sequential(
            *conv_bn_relu(1, w), nn.MaxPool2d(2),                 # 28 -> 14
            *conv_bn_relu(w, 2 * w), nn.MaxPool2d(2),             # 14 -> 7
            *conv_bn_relu(2 * w, 4 * w), *conv_bn_relu(4 * w, dim, k=1),
        )
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.flatten(self.pool(self.features(x)))


def build_encoder(width=32, dim=256):
    return Encoder(width=width, dim=dim)


def count_params(m):
    return sum(p.numel() for p in m.parameters())
