"""A small model trained with DistributedDataParallel, launched by torchrun, for comparing backends.

Run by run_torch_ddp.sh once with backend "gloo" (CPU tensors: the reference) and once with backend "nccl"
(every rank on CUDA device 0, with mixccl's libnccl.so.2 preloaded). Besides training, each run checks:
  * that DDP's broadcast of the initial parameters made every rank's copy equal to rank 0's (each rank starts
    from different random parameters on purpose);
  * an explicit all_gather and reduce_scatter_tensor (gloo has no reduce-scatter: emulated there by an all-reduce
    and a slice), with exact small-integer values;
  * a barrier.
Rank 0 writes the loss curve (the mean loss over ranks at every step) and the outcome to --out as JSON; any failed
check raises, so torchrun exits non-zero.
"""
import argparse
import json
import os

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

IN_FEATURES, HIDDEN, BATCH = 16, 32, 8


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--backend", choices=["nccl", "gloo"], required=True)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--out", required=True)
    p.add_argument("--expect-lib", default="", help="nccl: path of the libnccl.so.2 that must be loaded")
    return p.parse_args()


def check_loaded_library(path):
    """The NCCL library this process uses must be mixccl's (preloaded), not one shipped with PyTorch."""
    real = os.path.realpath(path)
    with open("/proc/self/maps") as maps:
        loaded = {line.split()[-1] for line in maps if "libnccl" in line}
    if not any(os.path.realpath(p) == real for p in loaded):
        raise RuntimeError(f"{real} is not loaded (libnccl mapped: {sorted(loaded)}): was LD_PRELOAD set?")


def make_model(rank, device):
    torch.manual_seed(1000 + rank)  # different on every rank: DDP must broadcast rank 0's parameters
    model = torch.nn.Sequential(
        torch.nn.Linear(IN_FEATURES, HIDDEN), torch.nn.Tanh(), torch.nn.Linear(HIDDEN, 1))
    return model.to(device)


def batch(step, rank, device):
    gen = torch.Generator().manual_seed(step * 7919 + rank)
    x = torch.randn(BATCH, IN_FEATURES, generator=gen)
    y = x.sum(dim=1, keepdim=True).sin()
    return x.to(device), y.to(device)


def check_initial_broadcast(ddp, world, device):
    flat = torch.cat([p.detach().reshape(-1) for p in ddp.module.parameters()])
    copies = [torch.empty_like(flat) for _ in range(world)]
    dist.all_gather(copies, flat)
    for r, c in enumerate(copies):
        if not torch.equal(c, copies[0]):
            raise RuntimeError(f"rank {r}'s parameters differ from rank 0's after DDP's initial broadcast")


def check_collectives(backend, rank, world, device):
    # all_gather: rank r contributes [r, r + 1, r + 2].
    mine = torch.arange(3, dtype=torch.float32, device=device) + rank
    got = [torch.empty(3, dtype=torch.float32, device=device) for _ in range(world)]
    dist.all_gather(got, mine)
    for r, t in enumerate(got):
        if t.cpu().tolist() != [float(r), r + 1.0, r + 2.0]:
            raise RuntimeError(f"all_gather: block {r} is {t.cpu().tolist()}")
    # reduce_scatter_tensor: element i of rank r's input is i + r; block `rank` of the sum comes back.
    k = 5
    inp = torch.arange(world * k, dtype=torch.float32, device=device) + rank
    if backend == "nccl":
        out = torch.empty(k, dtype=torch.float32, device=device)
        dist.reduce_scatter_tensor(out, inp, op=dist.ReduceOp.SUM)
    else:
        dist.all_reduce(inp, op=dist.ReduceOp.SUM)
        out = inp[rank * k:(rank + 1) * k]
    want = [float(world * (rank * k + i) + world * (world - 1) // 2) for i in range(k)]
    if out.cpu().tolist() != want:
        raise RuntimeError(f"reduce_scatter_tensor: got {out.cpu().tolist()}, want {want}")
    if backend == "nccl":
        dist.barrier(device_ids=[device.index])
    else:
        dist.barrier()


def main():
    args = parse_args()
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    if args.backend == "nccl":
        torch.cuda.set_device(0)  # every rank on ONE GPU
        device = torch.device("cuda", 0)
        # Plain fp32 arithmetic on the GPU, so that the curve agrees with the CPU reference to fp32 round-off.
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        dist.init_process_group("nccl", device_id=device)
        if args.expect_lib:
            check_loaded_library(args.expect_lib)
    else:
        device = torch.device("cpu")
        dist.init_process_group("gloo")

    ddp = DDP(make_model(rank, device), device_ids=[0] if args.backend == "nccl" else None)
    check_initial_broadcast(ddp, world, device)
    check_collectives(args.backend, rank, world, device)

    opt = torch.optim.SGD(ddp.parameters(), lr=0.05)
    losses = []
    for step in range(args.steps):
        x, y = batch(step, rank, device)
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        loss.backward()  # DDP all-reduces the gradients here
        opt.step()
        mean = loss.detach().clone()
        dist.all_reduce(mean, op=dist.ReduceOp.SUM)
        losses.append(mean.item() / world)

    check_collectives(args.backend, rank, world, device)
    if rank == 0:
        with open(args.out, "w") as f:
            json.dump({"backend": args.backend, "world": world, "losses": losses}, f)
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
