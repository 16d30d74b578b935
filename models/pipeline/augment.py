"""Batched augmentations for 28x28 grayscale, on uint8 tensors, driven by an explicit torch.Generator (resume-safe)."""
import math

import torch
import torch.nn.functional as F

from data import MEAN, STD

# Strength presets; "strong" is what the SSL methods use, "light" the supervised/DAE targets.
PRESETS = {
    "strong": dict(scale=(0.35, 1.0), ratio=(3 / 4, 4 / 3), rot=12.0, flip=0.5, contrast=0.4, bright=0.15,
                   noise_p=0.5, noise_std=0.06, erase_p=0.3, erase_area=(0.02, 0.15)),
    "light": dict(scale=(0.7, 1.0), ratio=(0.9, 1.1), rot=5.0, flip=0.5, contrast=0.0, bright=0.0,
                  noise_p=0.0, noise_std=0.0, erase_p=0.0, erase_area=(0.0, 0.0)),
    "none": None,
}


def _u(g, n, lo, hi):
    return torch.rand(n, generator=g) * (hi - lo) + lo


def augment(x_u8, g, preset="strong"):
    """x_u8: uint8 [N,1,28,28] -> normalised float32 [N,1,28,28].

    Random-resized crop, horizontal flip and a small rotation are one affine warp (one grid_sample
    for the whole batch), then contrast/brightness, Gaussian noise and random erasing.
    """
    x = x_u8.float() / 255.0
    p = PRESETS[preset]
    if p is None:
        return (x - MEAN) / STD
    n = x.shape[0]
    area = _u(g, n, *p["scale"])
    logr = _u(g, n, math.log(p["ratio"][0]), math.log(p["ratio"][1]))
    ar = torch.exp(logr)
    sx = torch.sqrt(area * ar).clamp(max=1.0)
    sy = torch.sqrt(area / ar).clamp(max=1.0)
    tx = (torch.rand(n, generator=g) * 2 - 1) * (1 - sx)
    ty = (torch.rand(n, generator=g) * 2 - 1) * (1 - sy)
    flip = torch.where(torch.rand(n, generator=g) < p["flip"], -1.0, 1.0)
    th = _u(g, n, -p["rot"], p["rot"]) * math.pi / 180
    c, s = torch.cos(th), torch.sin(th)
    # Output grid -> input coordinates: crop scale, then rotation, then flip, then translation.
    theta = torch.stack([
        torch.stack([sx * c * flip, -sy * s, tx], 1),
        torch.stack([sx * s * flip, sy * c, ty], 1),
    ], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    x = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    if p["contrast"] > 0 or p["bright"] > 0:
        cf = _u(g, n, 1 - p["contrast"], 1 + p["contrast"]).view(n, 1, 1, 1)
        bf = _u(g, n, -p["bright"], p["bright"]).view(n, 1, 1, 1)
        x = (x * cf + bf).clamp(0, 1)
    if p["noise_p"] > 0:
        on = (torch.rand(n, generator=g) < p["noise_p"]).float().view(n, 1, 1, 1)
        x = (x + on * p["noise_std"] * torch.randn(x.shape, generator=g)).clamp(0, 1)
    if p["erase_p"] > 0:
        x = random_erase(x, g, p["erase_p"], p["erase_area"])
    return (x - MEAN) / STD


def random_erase(x, g, prob, area_range, fill=0.0):
    """Blanks one random rectangle per image with probability `prob` (x in [0,1] space)."""
    n, _, h, w = x.shape
    area = _u(g, n, *area_range) * h * w
    ar = torch.exp(_u(g, n, math.log(0.5), math.log(2.0)))
    eh = torch.sqrt(area * ar).round().clamp(1, h)
    ew = torch.sqrt(area / ar).round().clamp(1, w)
    y0 = (torch.rand(n, generator=g) * (h - eh + 1)).floor()
    x0 = (torch.rand(n, generator=g) * (w - ew + 1)).floor()
    on = torch.rand(n, generator=g) < prob
    ys = torch.arange(h).view(1, h, 1)
    xs = torch.arange(w).view(1, 1, w)
    m = ((ys >= y0.view(n, 1, 1)) & (ys < (y0 + eh).view(n, 1, 1)) &
         (xs >= x0.view(n, 1, 1)) & (xs < (x0 + ew).view(n, 1, 1)) & on.view(n, 1, 1))
    return torch.where(m.unsqueeze(1), torch.full_like(x, fill), x)
