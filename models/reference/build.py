"""Builds the reference encoders (architecture-faithful, seeded random weights) as hub-style ONNX files.

Usage: /usr/bin/python3 models/reference/build.py OUT_DIR [--only NAME ...] [--depth N]

- dinov2-s14:       ViT-S/14 like DINOv2-small: pixel_values [B,3,224,224] -> last_hidden_state [B,257,384], pooler_output [B,384]
- mobilenetv3-small: torchvision MobileNetV3-small, classifier removed, dynamic H/W:
                     pixel_values [B,3,H,W] -> last_hidden_state [B,576,h,w], pooler_output [B,576]
- vit-ti16:         ViT-Ti/16: pixel_values [B,3,224,224] -> last_hidden_state [B,197,192], pooler_output [B,192]

Weights are random (seeded, so every run writes the same bytes): these models test the
plumbing at real size and shape, not accuracy. --depth overrides the transformer depth (tests
keep the real 12 unless told otherwise).
"""
import argparse
import os
import sys

import torch
from torch import nn


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        x = (attn @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(x)


class LayerScale(nn.Module):
    def __init__(self, dim, init):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((dim,), init))

    def forward(self, x):
        return x * self.gamma


class Block(nn.Module):
    def __init__(self, dim, heads, layer_scale):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim, heads)
        self.ls1 = LayerScale(dim, layer_scale) if layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 4), nn.GELU(), nn.Linear(dim * 4, dim))
        self.ls2 = LayerScale(dim, layer_scale) if layer_scale else nn.Identity()

    def forward(self, x):
        x = x + self.ls1(self.attn(self.norm1(x)))
        return x + self.ls2(self.mlp(self.norm2(x)))


class ViT(nn.Module):
    """A plain ViT with a CLS token; DINOv2 adds LayerScale. Outputs (last_hidden_state, pooler_output) like the hub models."""

    def __init__(self, size, patch, dim, depth, heads, layer_scale):
        super().__init__()
        self.patch_embed = nn.Conv2d(3, dim, patch, patch)
        tokens = (size // patch) ** 2 + 1
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, tokens, dim))
        self.blocks = nn.ModuleList([Block(dim, heads, layer_scale) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.normal_(m.bias, std=0.02)
        nn.init.normal_(self.cls_token, std=1e-2)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)

    def forward(self, pixel_values):
        x = self.patch_embed(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return x, x[:, 0]


class MobileNetFeatures(nn.Module):
    """torchvision MobileNetV3-small without its classifier: feature map and its global average."""

    def __init__(self):
        super().__init__()
        import torchvision

        self.features = torchvision.models.mobilenet_v3_small(weights=None).features

    def forward(self, pixel_values):
        x = self.features(pixel_values)
        return x, x.mean(dim=(2, 3))


def build(name, depth):
    torch.manual_seed({'dinov2-s14': 14, 'mobilenetv3-small': 3, 'vit-ti16': 16}[name])
    if name == 'dinov2-s14':
        return ViT(224, 14, 384, depth or 12, 6, 0.5), {0: 'batch'}
    if name == 'vit-ti16':
        return ViT(224, 16, 192, depth or 12, 3, None), {0: 'batch'}
    if name == 'mobilenetv3-small':
        m = MobileNetFeatures()
        # Briefly fitted: BatchNorm statistics from forward passes over smooth random images, so
        # every layer sees unit-scale activations (with default statistics the random network
        # collapses: every image gets the same embedding).
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.momentum = None
                mod.reset_running_stats()
        # Residual branches start small, as in trained networks (and zero-init-residual training):
        # with unit-scale branches the random BatchNorm network is chaotic, ±1 grey level of input
        # noise moves its embedding to cosine 0.997 and no 8-bit rounding can stay near fp32.
        for blk in m.features[1:12]:
            if getattr(blk, 'use_res_connect', False):
                last = blk.block[-1][1]
                last.weight.data.mul_(0.15)
        m.train()
        with torch.no_grad():
            for k in range(16):
                # Photo-like statistics: flat regions with edges, gradients and mild noise, ImageNet-normalised.
                grid = [4, 8, 16, 32][k % 4]
                low = torch.rand(16, 3, grid, grid)
                img = nn.functional.interpolate(low, size=224, mode='nearest' if k % 2 else 'bilinear')
                yy, xx = torch.meshgrid(torch.arange(224.0), torch.arange(224.0), indexing='ij')
                freq = 0.05 + 0.4 * torch.rand(16, 1, 1, 1)
                texture = 0.08 * torch.sin(freq * xx) * torch.cos(freq * yy)
                img = (img * torch.rand(16, 1, 1, 1) + torch.rand(16, 1, 1, 1) * 0.3 + texture + 0.02 * torch.randn(16, 3, 224, 224)).clamp(0, 1)
                mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
                std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
                m((img - mean) / std)
        return m, {0: 'batch', 2: 'height', 3: 'width'}
    raise SystemExit(f'unknown model {name}')


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out')
    ap.add_argument('--only', nargs='*', default=['dinov2-s14', 'mobilenetv3-small', 'vit-ti16'])
    ap.add_argument('--depth', type=int, default=0, help='transformer depth override (ViTs only)')
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    for name in args.only:
        model, axes = build(name, args.depth)
        model.eval()
        path = os.path.join(args.out, f'{name}.onnx')
        dummy = torch.rand(1, 3, 224, 224)
        with torch.no_grad():
            torch.onnx.export(
                model, dummy, path, opset_version=17, do_constant_folding=True,
                input_names=['pixel_values'], output_names=['last_hidden_state', 'pooler_output'],
                dynamic_axes={'pixel_values': axes, 'last_hidden_state': {0: 'batch'}, 'pooler_output': {0: 'batch'}},
            )
        params = sum(p.numel() for p in model.parameters())
        print(f'{name}: {params / 1e6:.2f}M parameters -> {path} ({os.path.getsize(path) / 1e6:.1f} MB)', file=sys.stderr)


if __name__ == '__main__':
    main()
