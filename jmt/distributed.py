"""Multi-process training on PyTorch's distributed engine (torchrun, DistributedDataParallel).

``torchrun --nproc_per_node=N -m jmt train ...`` starts N processes; each finds its rank in
the environment torchrun sets, joins the process group (gloo on CPU, NCCL on GPU) and
trains the same model on its shard of every task pass. DistributedDataParallel averages
the gradients, so every rank takes the same optimizer steps and the parameters, the
successive-regularization snapshots and the task order stay identical everywhere. Only
rank 0 evaluates, saves, writes checkpoints and logs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Distributed:
    rank: int
    world_size: int
    local_rank: int

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        dist.barrier()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_environment(device: str | None = "auto") -> Distributed | None:
    """Join the process group torchrun described in the environment; None when run alone.
    The backend follows ``device``: NCCL for GPUs, gloo for ``cpu`` (also on a GPU machine)."""
    if not launched_by_torchrun():
        return None
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        if str(device or "auto") != "cpu" and torch.cuda.is_available():
            torch.cuda.set_device(local_rank)
            dist.init_process_group("nccl")
        else:
            dist.init_process_group("gloo")
    return Distributed(rank, world, local_rank)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()
