"""torch.distributed set-up for `torchrun`: one process per device, DDP, gloo on CPU.

`torchrun --nproc-per-node N -m imagintalk_plugin train ...` sets RANK / WORLD_SIZE /
LOCAL_RANK; without them training runs as one ordinary process. Losses are normalised by the
token count of the whole global batch, so N processes with B/N utterances each compute the
same gradient as one process with B.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from imagintalk_plugin.nn.device import pick_device


@dataclass(frozen=True)
class DistributedContext:
    """Where this process sits in the job."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Whether this process writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1


def setup_distributed(device: str | None = None) -> DistributedContext:
    """Join the process group when launched by torchrun; otherwise a single-process context."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    base = pick_device(device)
    if world <= 1:
        return DistributedContext(device=base)
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if base.type == "cuda":
        torch.cuda.set_device(local_rank)
        base = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if base.type == "cuda" else "gloo")
    return DistributedContext(rank=rank, world_size=world, local_rank=local_rank, device=base)


def teardown_distributed() -> None:
    """Leave the process group, if any, once every process has reached this point.

    The barrier matters: a gloo process that destroys its group while a peer is still
    working (rank 0 writing its probe files) can abort with "terminate called without an
    active exception" when the peer's connection closes under it.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def all_reduce_sum(value: torch.Tensor, ctx: DistributedContext) -> torch.Tensor:
    """Sum of `value` over all processes (a copy; `value` itself is unchanged)."""
    total = value.detach().clone()
    if ctx.distributed:
        dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total


def barrier(ctx: DistributedContext) -> None:
    """Wait for every process (no-op for one)."""
    if ctx.distributed:
        dist.barrier()


def wrap_model(
    model: torch.nn.Module, ctx: DistributedContext, find_unused: bool = False
) -> torch.nn.Module:
    """DDP-wrap `model` in a distributed job; the model itself otherwise."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids, find_unused_parameters=find_unused)
