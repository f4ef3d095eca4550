"""Which device a command computes on: ``--device auto`` (a GPU when torch sees one), ``cpu``, ``cuda``, ``cuda:1``."""
from __future__ import annotations

import torch

from .config import ConfigError


def resolve_device(spec: str | torch.device | None = "auto", local_rank: int | None = None) -> torch.device:
    """The device named by ``spec``; ``local_rank`` picks the GPU of a torchrun process."""
    spec = "auto" if spec is None else str(spec)
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(f"device {spec!r}: expected auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {spec!r}: torch {torch.__version__} sees no CUDA device; use cpu")
        if device.index is None:
            device = torch.device("cuda", local_rank or 0)
        if device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {spec!r}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type != "cpu":
        raise ConfigError(f"device {spec!r}: expected auto, cpu, cuda or cuda:N")
    return device
