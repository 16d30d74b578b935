"""Batched cut-and-paste views for RGB SSL: an object with alpha over a random background, camera-like photometrics.

Two views of one sample share the object but (usually) not the background, position, scale or lighting,
so the invariance the SSL loss rewards is "same object, whatever is behind it" — the failure the camera
benchmark measured (the background dominated whole-frame embeddings). Everything runs on torch tensors
from an explicit torch.Generator, so a resumed run draws the same views as an uninterrupted one.
"""
import math

import torch
import torch.nn.functional as F

from rgb_data import MEAN, STD

_MEAN = torch.tensor(MEAN).view(1, 3, 1, 1)
_STD = torch.tensor(STD).view(1, 3, 1, 1)

PRESETS = {
    "camera": dict(obj_scale=(0.35, 1.15), rot=25.0, squash=0.2, bg_scale=(0.2, 1.0), distractor_p=0.35,
                   flat_bg_p=0.12, same_bg_p=0.2, bright=0.25, contrast=0.35, sat=(0.2, 1.5), cast=0.12,
                   gray_p=0.1, gradient=0.35, blur_p=0.4, blur_sigma=(0.4, 2.0), noise_p=0.5, noise_std=0.07),
}
# "deployed": the camera views plus the inputs the background-reference protocol hands the encoder at run time.
# Per view, with probability crop_p the object is framed as a tight square crop around it (its longer side
# tight_scale of the frame, little shift, no distractor: the background residue a bgref crop keeps), and with
# probability mask_p the same framing with everything outside a blocky, dilated, sometimes incomplete object
# mask set to mid-grey after the photometrics (what a masked background reference feeds the encoder); half of
# the masked views instead keep the object's bounding box and fill the rest with the normalisation mean (what the
# SDK's `pad` crop policy letterboxes a non-square changed box with).
PRESETS["deployed"] = dict(PRESETS["camera"], crop_p=0.3, mask_p=0.3, tight_scale=(0.68, 0.95), tight_shift=0.08,
                           mask_block=4, mask_drop=(0.0, 0.25), mask_grey=128 / 255, mask_box_p=0.5)


def _u(g, n, lo, hi):
    return torch.rand(n, generator=g) * (hi - lo) + lo


def _affine(sx, sy, th, tx, ty):
    """theta for affine_grid: output coords u -> input coords p = S^-1 R(-th) (u - t)."""
    c, s = torch.cos(th), torch.sin(th)
    a11, a12 = c / sx, s / sx
    a21, a22 = -s / sy, c / sy
    return torch.stack([torch.stack([a11, a12, -(a11 * tx + a12 * ty)], 1),
                        torch.stack([a21, a22, -(a21 * tx + a22 * ty)], 1)], 1)


def _paste(canvas, objs, idx, g, scale, size, p, tight=None):
    """Alpha-composites objs[idx] (uint8 [N,S,S,4]) onto canvas [n,3,size,size] at random pose; returns (canvas, alpha).
    Where `tight` (bool [n]) is set, the object is framed as a tight crop (p["tight_scale"], p["tight_shift"])."""
    n = len(idx)
    o = objs[idx].permute(0, 3, 1, 2).float() / 255.0
    o = torch.cat([o[:, :3] * o[:, 3:], o[:, 3:]], 1)  # premultiplied: no dark fringes when resampled
    f = torch.exp(_u(g, n, math.log(scale[0]), math.log(scale[1])))
    sq = torch.exp(_u(g, n, -p["squash"], p["squash"]))
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    sx, sy = f * sq * flip, f / sq
    th = _u(g, n, -p["rot"], p["rot"]) * math.pi / 180
    room = (1 - f.clamp(max=1.0) * 0.8).clamp(min=0.05)
    if tight is not None:
        # Drawn only for presets that frame tight crops, so the "camera" preset's random stream is unchanged.
        ft = torch.exp(_u(g, n, math.log(p["tight_scale"][0]), math.log(p["tight_scale"][1])))
        f = torch.where(tight, ft, f)
        sx, sy = f * sq * flip, f / sq
        room = torch.where(tight, torch.full_like(room, p["tight_shift"]), room)
    tx, ty = (torch.rand(n, generator=g) * 2 - 1) * room, (torch.rand(n, generator=g) * 2 - 1) * room
    grid = F.affine_grid(_affine(sx, sy, th, tx, ty), [n, 4, size, size], align_corners=False)
    w = F.grid_sample(o, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    a = w[:, 3:]
    return canvas * (1 - a) + w[:, :3], a


def _background(bgs, g, n, size, p, bg_idx=None):
    if bg_idx is None:
        bg_idx = torch.randint(len(bgs), (n,), generator=g)
    b = bgs[bg_idx].permute(0, 3, 1, 2).float() / 255.0
    area = _u(g, n, *p["bg_scale"])
    logr = _u(g, n, math.log(3 / 4), math.log(4 / 3))
    ar = torch.exp(logr)
    sx, sy = torch.sqrt(area * ar).clamp(max=1.0), torch.sqrt(area / ar).clamp(max=1.0)
    tx, ty = (torch.rand(n, generator=g) * 2 - 1) * (1 - sx), (torch.rand(n, generator=g) * 2 - 1) * (1 - sy)
    flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
    z = torch.zeros(n)
    theta = torch.stack([torch.stack([sx * flip, z, tx], 1), torch.stack([z, sy, ty], 1)], 1)
    grid = F.affine_grid(theta, [n, 3, size, size], align_corners=False)
    x = F.grid_sample(b, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    flat = (torch.rand(n, generator=g) < p["flat_bg_p"]).view(n, 1, 1, 1)
    colour = torch.rand(n, 3, 1, 1, generator=g).expand_as(x)
    return torch.where(flat, colour, x), bg_idx


def _gaussian_blur(x, g, p):
    n = x.shape[0]
    on = torch.rand(n, generator=g) < p["blur_p"]
    if not bool(on.any()):
        return x
    sigma = _u(g, n, *p["blur_sigma"])
    k = 7
    r = torch.arange(k).float() - k // 2
    ker = torch.exp(-(r.view(1, -1) ** 2) / (2 * sigma.view(-1, 1) ** 2))
    ker = ker / ker.sum(1, keepdim=True)
    ker = torch.where(on.view(-1, 1), ker, (r == 0).float().view(1, -1).expand_as(ker))
    kk = ker.repeat_interleave(3, 0)  # one kernel per (sample, channel)
    y = x.reshape(1, n * 3, *x.shape[2:])
    y = F.conv2d(F.pad(y, (k // 2, k // 2, 0, 0), mode="reflect"), kk.view(n * 3, 1, 1, k), groups=n * 3)
    y = F.conv2d(F.pad(y, (0, 0, k // 2, k // 2), mode="reflect"), kk.view(n * 3, 1, k, 1), groups=n * 3)
    return y.view_as(x)


def photometric(x, g, p):
    """Lighting and sensor effects on [n,3,H,W] in [0,1]: exposure, contrast, saturation, white balance, a light
    gradient across the frame, greyscale, blur, noise."""
    n, _, h, w = x.shape
    x = x * (1 + _u(g, n, -p["bright"], p["bright"]).view(n, 1, 1, 1))
    m = x.mean((1, 2, 3), keepdim=True)
    x = (x - m) * _u(g, n, 1 - p["contrast"], 1 + p["contrast"]).view(n, 1, 1, 1) + m
    gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3])
    x = gray + (x - gray) * _u(g, n, *p["sat"]).view(n, 1, 1, 1)
    x = x * (1 + (torch.rand(n, 3, 1, 1, generator=g) * 2 - 1) * p["cast"])
    gy = torch.linspace(-1, 1, h).view(1, 1, h, 1)
    gx = torch.linspace(-1, 1, w).view(1, 1, 1, w)
    d = torch.rand(n, 2, generator=g) * 2 - 1
    x = x * (1 + p["gradient"] * 0.5 * (d[:, 0].view(n, 1, 1, 1) * gx + d[:, 1].view(n, 1, 1, 1) * gy))
    x = x.clamp(0, 1)
    to_gray = (torch.rand(n, generator=g) < p["gray_p"]).view(n, 1, 1, 1)
    gray = (0.299 * x[:, 0:1] + 0.587 * x[:, 1:2] + 0.114 * x[:, 2:3]).expand_as(x)
    x = torch.where(to_gray, gray, x)
    x = _gaussian_blur(x, g, p)
    on = (torch.rand(n, generator=g) < p["noise_p"]).float().view(n, 1, 1, 1)
    std = _u(g, n, 0, p["noise_std"]).view(n, 1, 1, 1)
    return (x + on * std * torch.randn(x.shape, generator=g)).clamp(0, 1)


def _block_mask(alpha, g, p):
    """The changed-region mask a background reference finds: alpha [n,1,H,W] -> blocks of mask_block px that hold
    object pixels, a random share (mask_drop) of them missed, dilated by one block, back at pixel resolution."""
    n, _, h, w = alpha.shape
    b = p["mask_block"]
    on = (F.max_pool2d(alpha, b, b, ceil_mode=True) > 0.1).float()
    drop = _u(g, n, *p["mask_drop"]).view(n, 1, 1, 1)
    on = on * (torch.rand(on.shape, generator=g) >= drop).float()
    on = F.max_pool2d(on, 3, 1, 1)
    return F.interpolate(on, scale_factor=b, mode="nearest")[:, :, :h, :w] > 0


def _box_mask(alpha, margin=2):
    """The object's axis-aligned bounding box (alpha > 0.1, grown by `margin` px) as a bool mask [n,1,H,W]."""
    on = alpha[:, 0] > 0.1
    rows, cols = on.any(2), on.any(1)  # [n,H], [n,W]
    rows = F.max_pool1d(rows.float().unsqueeze(1), 2 * margin + 1, 1, margin).squeeze(1) > 0
    cols = F.max_pool1d(cols.float().unsqueeze(1), 2 * margin + 1, 1, margin).squeeze(1) > 0

    def fill(m):  # the span between the first and last set index
        i = torch.arange(m.shape[1]).expand_as(m)
        lo = torch.where(m, i, m.shape[1]).min(1, keepdim=True).values
        hi = torch.where(m, i, -1).max(1, keepdim=True).values
        return (i >= lo) & (i <= hi)
    return (fill(rows).unsqueeze(2) & fill(cols).unsqueeze(1)).unsqueeze(1)


def normalise(x01):
    """[n,3,H,W] in [0,1] -> the manifest's per-channel normalisation."""
    return (x01 - _MEAN) / _STD


def views(objs, bgs, idx, g, size=96, preset="camera"):
    """Two normalised views [n,3,size,size] of the objects objs[idx] (uint8 [N,S,S,4]) on backgrounds bgs (uint8 [M,B,B,3])."""
    p = PRESETS[preset]
    n = len(idx)
    out = []
    first_bg = None
    for v in range(2):
        same = None
        if v == 1:
            keep = torch.rand(n, generator=g) < p["same_bg_p"]
            same = torch.where(keep, first_bg, torch.randint(len(bgs), (n,), generator=g))
        x, bi = _background(bgs, g, n, size, p, same)
        if v == 0:
            first_bg = bi
        # A smaller second object behind the main one: clutter that the embedding should also ignore.
        d = torch.randint(len(objs), (n,), generator=g)
        xd, _ = _paste(x, objs, d, g, (0.2, 0.5), size, p)
        use = (torch.rand(n, generator=g) < p["distractor_p"]).view(n, 1, 1, 1)
        tight = mask = None
        if "crop_p" in p:
            r = torch.rand(n, generator=g)
            tight = r < p["crop_p"] + p["mask_p"]
            mask = r < p["mask_p"]
            use = use & ~tight.view(n, 1, 1, 1)  # a background-reference crop holds the one new object
        x = torch.where(use, xd, x)
        x, a = _paste(x, objs, idx, g, p["obj_scale"], size, p, tight)
        x = photometric(x, g, p)
        if mask is not None:
            boxed = (torch.rand(n, generator=g) < p["mask_box_p"]).view(n, 1, 1, 1)
            region = torch.where(boxed, _box_mask(a), _block_mask(a, g, p))
            fill = torch.where(boxed, _MEAN.expand(n, 3, 1, 1), torch.full((n, 3, 1, 1), p["mask_grey"]))
            x = torch.where(region | ~mask.view(n, 1, 1, 1), x, fill.expand_as(x))
        out.append(normalise(x))
    return out[0], out[1]


def pool_views(n, size, seed, pool_dir=None):
    """n normalised first views from the pretraining pool (calibration and export checks; never bench images)."""
    import os

    import numpy as np
    pool_dir = pool_dir or os.path.join(os.path.dirname(os.path.abspath(__file__)), "runs-rgb", "pool")
    objs = torch.from_numpy(np.load(os.path.join(pool_dir, "objects.npy"), mmap_mode="r")[:])
    bgs = torch.from_numpy(np.load(os.path.join(pool_dir, "backgrounds.npy"), mmap_mode="r")[:])
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(objs), (n,), generator=g)
    out = []
    for b in range(0, n, 128):
        out.append(views(objs, bgs, idx[b:b + 128], g, size=size)[0])
    return torch.cat(out)
