"""Pretrains the encoder with one SSL method (or a reference) on torch.distributed; resumable, seeded.

Launch: torchrun --nproc_per_node=1 models/pipeline/train.py --method simclr --budget-min 9
Trains on the unlabeled Fashion-MNIST train images (only --method supervised reads labels).
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data.distributed import DistributedSampler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from augment import augment, random_erase  # noqa: E402
from data import MEAN, STD, load_split  # noqa: E402
from model import build_encoder, count_params  # noqa: E402

METHODS = ["simclr", "byol", "simsiam", "vicreg", "barlow", "dae", "supervised", "random"]
FAMILY = {"simclr": "contrastive", "byol": "non-contrastive", "simsiam": "non-contrastive",
          "vicreg": "covariance", "barlow": "covariance", "dae": "autoassociative",
          "supervised": "reference", "random": "reference"}
HERE = os.path.dirname(os.path.abspath(__file__))


def mlp(dims, last_bn=False):
    layers = []
    for i in range(len(dims) - 1):
        last = i == len(dims) - 2
        layers.append(nn.Linear(dims[i], dims[i + 1], bias=last and not last_bn))
        if not last:
            layers += [nn.BatchNorm1d(dims[i + 1]), nn.ReLU(inplace=True)]
        elif last_bn:
            layers.append(nn.BatchNorm1d(dims[i + 1], affine=False))
    return nn.Sequential(*layers)


def off_diagonal(m):
    n = m.shape[0]
    return m.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


class Decoder(nn.Module):
    """Embedding -> 28x28 image, for the denoising autoencoder."""

    def __init__(self, dim):
        super().__init__()
        self.fc = nn.Linear(dim, 64 * 7 * 7)
        self.net = nn.Sequential(
            nn.ReLU(inplace=True),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.BatchNorm2d(32), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(32, 16, 4, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.Conv2d(16, 1, 3, padding=1),
        )

    def forward(self, z):
        return self.net(self.fc(z).view(-1, 64, 7, 7))


class Net(nn.Module):
    """Encoder plus the method's heads; forward() returns the loss so DDP sees the whole graph."""

    def __init__(self, method, width, dim, temperature):
        super().__init__()
        self.method = method
        self.temperature = temperature
        self.encoder = build_encoder(width, dim)
        if method == "simclr":
            self.projector = mlp([dim, 512, 128])
        elif method == "byol":
            self.projector = mlp([dim, 512, 128])
            self.predictor = mlp([128, 512, 128])
        elif method == "simsiam":
            self.projector = mlp([dim, 512, 256], last_bn=True)
            self.predictor = mlp([256, 128, 256])
        elif method in ("vicreg", "barlow"):
            self.projector = mlp([dim, 1024, 1024])
        elif method == "dae":
            self.decoder = Decoder(dim)
        elif method == "supervised":
            self.head = nn.Linear(dim, 10)

    def forward(self, x1, x2=None, target=None, y=None, target_net=None):
        m = self.method
        if m == "supervised":
            return F.cross_entropy(self.head(self.encoder(x1)), y)
        if m == "dae":
            return F.mse_loss(self.decoder(self.encoder(x1)), target)
        z1, z2 = self.projector(self.encoder(x1)), self.projector(self.encoder(x2))
        if m == "simclr":
            return nt_xent(z1, z2, self.temperature)
        if m == "vicreg":
            return vicreg(z1, z2)
        if m == "barlow":
            return barlow(z1, z2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        if m == "simsiam":
            t1, t2 = z1.detach(), z2.detach()
        else:
            with torch.no_grad():
                t1 = target_net.projector(target_net.encoder(x1))
                t2 = target_net.projector(target_net.encoder(x2))
        return 0.5 * (neg_cos(p1, t2) + neg_cos(p2, t1)) + (2.0 if m == "byol" else 0.0)


def neg_cos(p, z):
    return -F.cosine_similarity(p, z, dim=-1).mean()


def nt_xent(z1, z2, t):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    sim = z @ z.t() / t
    sim.fill_diagonal_(float("-inf"))
    target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(sim, target)


def vicreg(z1, z2, sim_w=25.0, var_w=25.0, cov_w=1.0):
    n, d = z1.shape
    inv = F.mse_loss(z1, z2)
    z1 = z1 - z1.mean(0)
    z2 = z2 - z2.mean(0)
    std1 = torch.sqrt(z1.var(0) + 1e-4)
    std2 = torch.sqrt(z2.var(0) + 1e-4)
    var = F.relu(1 - std1).mean() / 2 + F.relu(1 - std2).mean() / 2
    c1 = (z1.t() @ z1) / (n - 1)
    c2 = (z2.t() @ z2) / (n - 1)
    cov = off_diagonal(c1).pow(2).sum() / d + off_diagonal(c2).pow(2).sum() / d
    return sim_w * inv + var_w * var + cov_w * cov


def barlow(z1, z2, lam=5e-3):
    n = z1.shape[0]
    z1 = (z1 - z1.mean(0)) / (z1.std(0) + 1e-5)
    z2 = (z2 - z2.mean(0)) / (z2.std(0) + 1e-5)
    c = z1.t() @ z2 / n
    on = (torch.diagonal(c) - 1).pow(2).sum()
    off = off_diagonal(c).pow(2).sum()
    return (on + lam * off) / 50.0


def save_atomic(obj, path):
    tmp = path + ".tmp"
    torch.save(obj, tmp)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", choices=METHODS, required=True)
    ap.add_argument("--run", help="run name (default: method)")
    ap.add_argument("--runs-dir", default=os.path.join(HERE, "runs"))
    ap.add_argument("--steps", type=int, help="total optimizer steps (fixes the schedule; what reproduce.sh passes)")
    ap.add_argument("--budget-min", type=float, default=10.0,
                    help="without --steps: trained wall-clock budget; the LR schedule runs on elapsed time")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=1e-5)
    ap.add_argument("--warmup-steps", type=int, default=100,
                    help="fixed (not a fraction of --steps) so a budget run and its --steps rerun share one schedule")
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--ema", type=float, default=0.99, help="BYOL target EMA start (cosine to 1)")
    ap.add_argument("--width", type=int, default=32)
    ap.add_argument("--dim", type=int, default=256)
    ap.add_argument("--aug", default="strong")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--limit", type=int, default=0, help="use only the first N train images (smoke tests)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every-sec", type=float, default=120.0)
    ap.add_argument("--snapshots", type=int, default=6, help="encoder snapshots kept for the learning curve")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if "RANK" not in os.environ:  # allow plain `python train.py` as a 1-process group
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=os.environ.get("MASTER_PORT", "29512"))
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    run = args.run or args.method
    out = os.path.join(args.runs_dir, run)
    os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, "checkpoint.pt")
    log_path = os.path.join(out, "log.jsonl")

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    images, labels = load_split("train")
    if args.limit:
        images, labels = images[: args.limit], labels[: args.limit]
    x_all = torch.from_numpy(images.copy()).unsqueeze(1)  # uint8 [N,1,28,28]
    y_all = torch.from_numpy(labels.astype(np.int64))
    n_train = x_all.shape[0]

    net = Net(args.method, args.width, args.dim, args.temperature)
    target_net = None
    if args.method == "byol":
        target_net = Net(args.method, args.width, args.dim, args.temperature)
        target_net.load_state_dict(net.state_dict())
        for p in target_net.parameters():
            p.requires_grad_(False)
    config = dict(method=args.method, family=FAMILY[args.method], width=args.width, dim=args.dim,
                  batch=args.batch, lr=args.lr, warmup_steps=args.warmup_steps, wd=args.wd, temperature=args.temperature, ema=args.ema,
                  aug=args.aug, seed=args.seed, limit=args.limit, world=world, steps=args.steps,
                  budget_min=None if args.steps else args.budget_min,
                  params=count_params(net.encoder), mean=MEAN, std=STD)

    def write_encoder(path, extra):
        if rank == 0:
            save_atomic({"config": config, "encoder": net.encoder.state_dict(), **extra}, path)

    if args.method == "random":
        write_encoder(os.path.join(out, "encoder.pt"), {"step": 0, "train_seconds": 0.0})
        if rank == 0:
            print(json.dumps({"run": run, "method": "random", "params": config["params"]}))
        dist.destroy_process_group()
        return

    ddp = DDP(net)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=args.wd)
    sampler = DistributedSampler(range(n_train), num_replicas=world, rank=rank, shuffle=True,
                                 seed=args.seed, drop_last=True)
    per_epoch = len(sampler) // args.batch
    if per_epoch < 1:
        raise SystemExit(f"--batch {args.batch} is larger than the {len(sampler)} images per process")

    step, train_seconds, total, snaps = 0, 0.0, args.steps, []
    if os.path.exists(ckpt_path):
        ck = torch.load(ckpt_path)
        if ck["config"] != config:
            raise SystemExit(f"{ckpt_path} was written with a different config; use another --run or delete it")
        net.load_state_dict(ck["net"])
        opt.load_state_dict(ck["opt"])
        if target_net is not None:
            target_net.load_state_dict(ck["target"])
        step, train_seconds, snaps = ck["step"], ck["train_seconds"], ck["snaps"]
        if rank == 0:
            print(f"resumed {run} at step {step} ({train_seconds:.0f}s trained)", flush=True)

    def checkpoint():
        if rank == 0:
            save_atomic({"config": config, "net": net.state_dict(), "opt": opt.state_dict(),
                         "target": target_net.state_dict() if target_net is not None else None,
                         "step": step, "train_seconds": train_seconds, "snaps": snaps}, ckpt_path)

    budget_s = None if args.steps else args.budget_min * 60
    last_ckpt = time.time()
    net.train()
    logf = open(log_path, "a") if rank == 0 else None

    def progress():
        # Budget runs schedule LR (and the BYOL EMA) on trained wall-clock, so each method gets the
        # same time even when other jobs steal the cores; --steps runs schedule on steps.
        return step / total if total else train_seconds / budget_s

    while progress() < 1.0:
        epoch, pos = divmod(step, per_epoch)
        sampler.set_epoch(epoch)
        idx = torch.tensor(list(iter(sampler)))[: per_epoch * args.batch].view(per_epoch, args.batch)[pos]
        t0 = time.time()
        # One generator per (seed, rank, step): the augmentations do not depend on where a run resumed.
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + rank * 7919 + step)
        xb = x_all[idx]
        p = progress()
        warm = min(args.warmup_steps, max(1, total // 5)) if total else args.warmup_steps
        lr = args.lr * min(1.0, (step + 1) / warm) * 0.5 * (1 + math.cos(math.pi * p))
        for group in opt.param_groups:
            group["lr"] = lr
        if args.method == "supervised":
            loss = ddp(augment(xb, g, "light"), y=y_all[idx])
        elif args.method == "dae":
            clean = augment(xb, g, "light")
            raw = clean * STD + MEAN
            noisy = (raw + 0.2 * torch.randn(raw.shape, generator=g)).clamp(0, 1)
            noisy = random_erase(noisy, g, 0.5, (0.05, 0.2))
            loss = ddp((noisy - MEAN) / STD, target=clean)
        else:
            loss = ddp(augment(xb, g, args.aug), augment(xb, g, args.aug), target_net=target_net)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if target_net is not None:
            tau = 1 - (1 - args.ema) * (math.cos(math.pi * p) + 1) / 2
            with torch.no_grad():
                for pt, po in zip(target_net.parameters(), net.parameters()):
                    pt.mul_(tau).add_(po.detach(), alpha=1 - tau)
                for bt, bo in zip(target_net.buffers(), net.buffers()):
                    bt.copy_(bo)
        step += 1
        dt = time.time() - t0
        # Ranks agree on elapsed time (max), so all of them stop at the same step.
        dt_t = torch.tensor([dt], dtype=torch.float64)
        dist.all_reduce(dt_t, op=dist.ReduceOp.MAX)
        train_seconds += float(dt_t.item())
        if not math.isfinite(loss.item()):
            raise SystemExit(f"{run}: loss is {loss.item()} at step {step}")
        done = progress() >= 1.0
        if logf and (step % 20 == 0 or done):
            rec = {"step": step, "epoch": round(step / per_epoch, 3), "loss": round(loss.item(), 5), "lr": lr,
                   "train_seconds": round(train_seconds, 1)}
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
        if int(progress() * args.snapshots) > len(snaps) or done:
            snaps.append(step)
            write_encoder(os.path.join(out, f"encoder-step{step:06d}.pt"),
                          {"step": step, "train_seconds": train_seconds, "progress": min(1.0, progress())})
        if step % per_epoch == 0 or time.time() - last_ckpt > args.ckpt_every_sec or done:
            checkpoint()
            last_ckpt = time.time()
    write_encoder(os.path.join(out, "encoder.pt"), {"step": step, "train_seconds": train_seconds})
    if rank == 0:
        print(json.dumps({"run": run, "method": args.method, "steps": step, "train_seconds": round(train_seconds, 1),
                          "epochs": round(step / per_epoch, 2), "params": config["params"]}), flush=True)
        if logf:
            logf.close()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
