"""Pretrains the RGB camera encoder with one SSL method on torch.distributed; resumable, seeded, step-scheduled.

Launch (one process; --nproc_per_node=G on a G-GPU/CPU node runs the same script under DDP unchanged):
  models/pipeline/torchrun.sh --nproc_per_node=1 models/pipeline/train_rgb.py --method vicreg --steps 30000
Data: the pretraining pool from rgb_data.py build-pool (openclipart objects over MATE/GNOME wallpapers and
procedural backgrounds); never the bench/camera packages.

Schedule: warmup, constant LR, then linear decay over the last --decay-frac of --steps (warmup-stable-decay).
A run stopped early at constant LR is a usable snapshot, and a later session can resume it with
--resume CKPT and the same or a larger --steps (steps is not part of the checked config for that reason).
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
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data.distributed import DistributedSampler

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rgb_augment import views  # noqa: E402
from rgb_data import MEAN, STD  # noqa: E402
from rgb_model import RGBEncoder, macs  # noqa: E402
from train import FAMILY, barlow, mlp, neg_cos, nt_xent, save_atomic, vicreg  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
METHODS = ["vicreg", "simclr", "byol", "barlow", "random"]


class Net(nn.Module):
    """RGB encoder plus the method's heads; forward() returns the loss so DDP sees the whole graph."""

    def __init__(self, method, arch, temperature):
        super().__init__()
        self.method = method
        self.temperature = temperature
        self.encoder = RGBEncoder(arch)
        d = self.encoder.dim
        if method in ("simclr", "byol"):
            self.projector = mlp([d, 1024, 128])
            if method == "byol":
                self.predictor = mlp([128, 512, 128])
        else:
            self.projector = mlp([d, 1024, 1024])

    def forward(self, x1, x2, target_net=None):
        z1, z2 = self.projector(self.encoder(x1)), self.projector(self.encoder(x2))
        if self.method == "simclr":
            return nt_xent(z1, z2, self.temperature)
        if self.method == "vicreg":
            return vicreg(z1, z2)
        if self.method == "barlow":
            return barlow(z1, z2)
        p1, p2 = self.predictor(z1), self.predictor(z2)
        with torch.no_grad():
            t1 = target_net.projector(target_net.encoder(x1))
            t2 = target_net.projector(target_net.encoder(x2))
        return 0.5 * (neg_cos(p1, t2) + neg_cos(p2, t1)) + 2.0


def lr_at(step, args):
    # Fixed warmup, not a fraction of --steps: a run resumed with a shorter or longer --steps keeps its past schedule.
    warm = max(1, min(args.warmup_steps, args.steps))
    decay_start = int(args.steps * (1 - args.decay_frac))
    f = min(1.0, (step + 1) / warm)
    if step >= decay_start:
        f *= max(0.0, (args.steps - step) / max(1, args.steps - decay_start))
    return args.lr * f


def compact_opt_state(sd):
    """Optimizer moments as bfloat16 (same exponent range as fp32, so exp_avg_sq cannot underflow to 0):
    halves the committed checkpoint; resuming from it is a tiny perturbation of the moments."""
    out = {"param_groups": sd["param_groups"], "state": {}}
    for k, v in sd["state"].items():
        out["state"][k] = {n: (t.to(torch.bfloat16) if torch.is_tensor(t) and t.is_floating_point() and t.ndim > 0 else t)
                           for n, t in v.items()}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--method", choices=METHODS, required=True)
    ap.add_argument("--run", help="run name (default: rgb-METHOD)")
    ap.add_argument("--runs-dir", default=os.path.join(HERE, "runs-rgb"))
    ap.add_argument("--pool", default=os.path.join(HERE, "runs-rgb", "pool"), help="rgb_data.py build-pool output")
    ap.add_argument("--steps", type=int, default=30000, help="schedule length (decay starts at (1-decay-frac)*steps)")
    ap.add_argument("--stop-at", type=int, default=0, help="stop (checkpointed) at this step without finishing the schedule")
    ap.add_argument("--decay-frac", type=float, default=0.2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=1e-5)
    ap.add_argument("--warmup-steps", type=int, default=300)
    ap.add_argument("--temperature", type=float, default=0.2)
    ap.add_argument("--ema", type=float, default=0.99)
    ap.add_argument("--arch", default="cam-s")
    ap.add_argument("--size", type=int, default=96)
    ap.add_argument("--aug", default="camera")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ckpt-every-sec", type=float, default=180.0)
    ap.add_argument("--snapshot-every", type=int, default=500, help="encoder snapshots for the learning curve")
    ap.add_argument("--resume", help="checkpoint to start from when the run directory has none (e.g. the committed one)")
    ap.add_argument("--resume-changes", default="",
                    help="comma-separated config keys that may differ from the --resume checkpoint's (e.g. aug: "
                         "continue the committed state with other views); the run directory's own checkpoint must match")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if "RANK" not in os.environ:
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1",
                          MASTER_PORT=os.environ.get("MASTER_PORT", "29513"))
    dist.init_process_group("gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    run = args.run or f"rgb-{args.method}"
    out = os.path.join(args.runs_dir, run)
    os.makedirs(out, exist_ok=True)
    ckpt_path = os.path.join(out, "checkpoint.pt")
    log_path = os.path.join(out, "log.jsonl")

    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    objs = torch.from_numpy(np.load(os.path.join(args.pool, "objects.npy")))
    bgs = torch.from_numpy(np.load(os.path.join(args.pool, "backgrounds.npy")))
    with open(os.path.join(args.pool, "pool.json")) as f:
        pool_meta = json.load(f)
    n_obj = objs.shape[0]

    net = Net(args.method, args.arch, args.temperature)
    target_net = None
    if args.method == "byol":
        target_net = Net(args.method, args.arch, args.temperature)
        target_net.load_state_dict(net.state_dict())
        for p in target_net.parameters():
            p.requires_grad_(False)
    config = dict(kind="rgb", method=args.method, family=FAMILY[args.method], arch=args.arch, size=args.size,
                  dim=net.encoder.dim, batch=args.batch, lr=args.lr, warmup_steps=args.warmup_steps, wd=args.wd,
                  decay_frac=args.decay_frac, temperature=args.temperature, ema=args.ema, aug=args.aug,
                  seed=args.seed, world=world, params=sum(p.numel() for p in net.encoder.parameters()),
                  macs=macs(RGBEncoder(args.arch), args.size), mean=MEAN, std=STD,
                  pool={"objects": pool_meta["objects"], "backgrounds": pool_meta["backgrounds"],
                        "packages": pool_meta["packages"], "seed": pool_meta["seed"]})

    def write_encoder(path, extra):
        if rank == 0:
            save_atomic({"config": config, "encoder": net.encoder.state_dict(), **extra}, path)

    if args.method == "random":
        write_encoder(os.path.join(out, "encoder.pt"), {"step": 0, "train_seconds": 0.0})
        dist.destroy_process_group()
        return

    ddp = DDP(net)
    opt = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=args.lr, weight_decay=args.wd)
    sampler = DistributedSampler(range(n_obj), num_replicas=world, rank=rank, shuffle=True, seed=args.seed,
                                 drop_last=True)
    per_epoch = len(sampler) // args.batch

    step, train_seconds = 0, 0.0
    src = ckpt_path if os.path.exists(ckpt_path) else args.resume
    if src:
        ck = torch.load(src)
        diff = {k: (ck["config"].get(k), v) for k, v in config.items() if ck["config"].get(k) != v}
        allowed = set(filter(None, args.resume_changes.split(","))) if src == args.resume else set()
        if set(diff) - allowed:
            raise SystemExit(f"{src} was written with a different config {diff}; use another --run")
        if diff and rank == 0:
            print(f"resuming {src} with changed config {diff} (--resume-changes)", flush=True)
        net.load_state_dict(ck["net"])
        opt_sd = ck["opt"]
        for v in opt_sd["state"].values():
            for n_, t in v.items():
                if torch.is_tensor(t) and t.dtype == torch.bfloat16:
                    v[n_] = t.float()
        opt.load_state_dict(opt_sd)
        if target_net is not None:
            target_net.load_state_dict(ck["target"])
        step, train_seconds = ck["step"], ck["train_seconds"]
        if rank == 0:
            print(f"resumed {run} from {src} at step {step} ({train_seconds:.0f}s trained)", flush=True)

    def checkpoint(path=ckpt_path, compact=False):
        if rank == 0:
            sd = opt.state_dict()
            save_atomic({"config": config, "net": net.state_dict(), "opt": compact_opt_state(sd) if compact else sd,
                         "target": target_net.state_dict() if target_net is not None else None,
                         "step": step, "train_seconds": train_seconds, "steps_planned": args.steps}, path)

    last_ckpt = time.time()
    net.train()
    logf = open(log_path, "a") if rank == 0 else None
    end = min(args.steps, args.stop_at) if args.stop_at else args.steps
    if rank == 0:
        print(json.dumps({"run": run, "start_step": step, "end_step": end, "per_epoch": per_epoch,
                          "params": config["params"], "macs": config["macs"]}), flush=True)
    loss_acc, n_acc = 0.0, 0
    while step < end:
        epoch, pos = divmod(step, per_epoch)
        sampler.set_epoch(epoch)
        idx = torch.tensor(list(iter(sampler)))[: per_epoch * args.batch].view(per_epoch, args.batch)[pos]
        t0 = time.time()
        g = torch.Generator().manual_seed(args.seed * 1_000_003 + rank * 7919 + step)
        x1, x2 = views(objs, bgs, idx, g, size=args.size, preset=args.aug)
        lr = lr_at(step, args)
        for group in opt.param_groups:
            group["lr"] = lr
        loss = ddp(x1, x2, target_net=target_net)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if target_net is not None:
            tau = 1 - (1 - args.ema) * (math.cos(math.pi * step / args.steps) + 1) / 2
            with torch.no_grad():
                for pt, po in zip(target_net.parameters(), net.parameters()):
                    pt.mul_(tau).add_(po.detach(), alpha=1 - tau)
                for bt, bo in zip(target_net.buffers(), net.buffers()):
                    bt.copy_(bo)
        step += 1
        dt_t = torch.tensor([time.time() - t0], dtype=torch.float64)
        dist.all_reduce(dt_t, op=dist.ReduceOp.MAX)
        train_seconds += float(dt_t.item())
        if not math.isfinite(loss.item()):
            raise SystemExit(f"{run}: loss is {loss.item()} at step {step}")
        loss_acc += loss.item()
        n_acc += 1
        if logf and (step % 25 == 0 or step == end):
            rec = {"step": step, "epoch": round(step / per_epoch, 3), "loss": round(loss_acc / n_acc, 5), "lr": lr,
                   "train_seconds": round(train_seconds, 1), "wall": round(time.time(), 1)}
            loss_acc, n_acc = 0.0, 0
            logf.write(json.dumps(rec) + "\n")
            logf.flush()
        if step % args.snapshot_every == 0 or step == end:
            write_encoder(os.path.join(out, f"encoder-step{step:06d}.pt"), {"step": step, "train_seconds": train_seconds})
        if step == int(args.steps * (1 - args.decay_frac)):
            # The last constant-LR state: a later session extends the run from here with a larger --steps.
            checkpoint(os.path.join(out, "checkpoint-predecay.pt"), compact=True)
        if time.time() - last_ckpt > args.ckpt_every_sec or step == end:
            checkpoint()
            last_ckpt = time.time()
    checkpoint(os.path.join(out, "checkpoint-compact.pt"), compact=True)
    write_encoder(os.path.join(out, "encoder.pt"), {"step": step, "train_seconds": train_seconds})
    if rank == 0:
        print(json.dumps({"run": run, "method": args.method, "steps": step, "train_seconds": round(train_seconds, 1),
                          "params": config["params"]}), flush=True)
        logf.close()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
