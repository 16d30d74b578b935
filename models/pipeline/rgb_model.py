"""The RGB camera encoder: plain 3x3 conv + BN + ReLU stages (ops WASM runs well; no depthwise, no HardSwish)."""
import torch
from torch import nn

# Channel widths per stage; each stage halves the resolution with a stride-2 3x3 conv and adds
# `depth - 1` stride-1 3x3 convs. Dense 3x3 convs are what onnxruntime-web's WASM kernels (and
# XNNPACK in TFLite) run fastest per MAC; depthwise+HardSwish ran 14x slower than native here.
ARCHS = {
    # ~27M MACs at 96 px, ~0.4M params.
    "cam-s": dict(widths=(16, 32, 64, 128), depth=(1, 2, 2, 2), dim=256),
    # ~60M MACs at 96 px.
    "cam-m": dict(widths=(24, 48, 96, 192), depth=(1, 2, 2, 2), dim=256),
}


def conv_bn_relu(cin, cout, stride=1, k=3):
    # bias=False: the BatchNorm shift becomes the conv bias when BN is folded at export.
    return [nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class RGBEncoder(nn.Module):
    """[N,3,S,S] normalised RGB -> `dim`-d embedding (global average pool of a final 1x1 widening conv).

    `features` is one flat nn.Sequential of Conv2d/BatchNorm2d/ReLU so export.fold_bn folds it like the
    Fashion-MNIST encoder and quantize.py's Conv->Relu QDQ pattern applies unchanged.
    """

    def __init__(self, arch="cam-s"):
        super().__init__()
        a = ARCHS[arch]
        self.arch = arch
        self.dim = a["dim"]
        layers, cin = [], 3
        for w, d in zip(a["widths"], a["depth"]):
            layers += conv_bn_relu(cin, w, stride=2)
            for _ in range(d - 1):
                layers += conv_bn_relu(w, w)
            cin = w
        layers += conv_bn_relu(cin, a["dim"], k=1)
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x):
        return self.flatten(self.pool(self.features(x)))


def macs(enc, size):
    """Multiply-accumulates of one image at size x size (convs only; the rest is negligible)."""
    total, hooks = [0], []

    def hook(m, _inp, out):
        total[0] += out.numel() // out.shape[0] * m.in_channels // m.groups * m.kernel_size[0] * m.kernel_size[1]

    for m in enc.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(hook))
    with torch.no_grad():
        enc.eval()(torch.zeros(1, 3, size, size))
    for h in hooks:
        h.remove()
    return total[0]
