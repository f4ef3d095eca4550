"""Resume checkpoints and the record of how a model was trained.

A checkpoint is written at the end of every task pass to ``OUT_DIR/resume.safetensors``: the
model, the optimizer, the position in the schedule (epoch and next pass), the best score so
far and the random states of Python, NumPy and torch. Its tensors are the safetensors
entries, and everything else (numbers, strings, lists, tuples and dicts, with the places of
the tensors) is JSON in the file's metadata, so reading it runs no pickled code. It is
written to a temporary file and renamed, so a run killed at any moment leaves either the
previous checkpoint or the new one, never half of one.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import random
import sys
from pathlib import Path

import numpy as np
import torch

from .config import ConfigError, corpus_paths

CHECKPOINT = "resume.safetensors"
OLD_CHECKPOINT = "resume.pt"  # the pickled checkpoints of jmt before 2026-12-05, not read
CHECKPOINT_VERSION = 2
STATE_KEY = "jmt_checkpoint"  # the metadata entry that holds the state's JSON
RECORD = "training.json"


def rng_states(trainer_rng: random.Random) -> dict:
    """Every random state training draws from, as plain containers."""
    version, state, gauss = random.getstate()
    t_version, t_state, t_gauss = trainer_rng.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(state), gauss],
        "trainer": [t_version, list(t_state), t_gauss],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
        "torch": torch.get_rng_state(),
        # dropout on a GPU draws from the CUDA generators
        **({"cuda": torch.cuda.get_rng_state_all()} if torch.cuda.is_initialized() else {}),
    }


def set_rng_states(states: dict, trainer_rng: random.Random) -> None:
    version, state, gauss = states["python"]
    random.setstate((version, tuple(state), gauss))
    version, state, gauss = states["trainer"]
    trainer_rng.setstate((version, tuple(state), gauss))
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available() and torch.cuda.device_count() == len(states["cuda"]):
        torch.cuda.set_rng_state_all(states["cuda"])


def _encode(value, tensors: dict[str, torch.Tensor]):
    """``value`` as JSON-ready containers; each tensor goes to ``tensors`` and leaves its key."""
    if isinstance(value, torch.Tensor):
        key = str(len(tensors))
        tensors[key] = value.detach().cpu().contiguous()  # as jmt.io.save_model writes the weights
        return {"tensor": key}
    if isinstance(value, dict):  # keys kept with their types (an optimizer's state is keyed by int)
        return {"dict": [[k, _encode(v, tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise TypeError(f"a checkpoint holds tensors and plain containers, not {type(value).__name__}")


def _decode(value, tensors: dict[str, torch.Tensor]):
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        (kind, inner), = value.items()
        if kind == "tensor":
            return tensors[inner]
        if kind == "tuple":
            return tuple(_decode(v, tensors) for v in inner)
        return {k: _decode(v, tensors) for k, v in inner}
    return value


def save_checkpoint(out_dir: Path, state: dict) -> Path:
    """Write ``state`` atomically to ``out_dir/resume.safetensors``."""
    from safetensors.torch import save_file

    path = out_dir / CHECKPOINT
    tmp = path.with_name(path.name + ".tmp")
    tensors: dict[str, torch.Tensor] = {}
    tree = _encode({"checkpoint_version": CHECKPOINT_VERSION, **state}, tensors)
    save_file(tensors, str(tmp), metadata={STATE_KEY: json.dumps(tree)})
    os.replace(tmp, path)
    return path


def load_checkpoint(out_dir: str | Path) -> dict:
    """Read ``out_dir/resume.safetensors``; anything but a valid checkpoint is one clear error."""
    from safetensors import safe_open

    path = Path(out_dir) / CHECKPOINT
    if not path.is_file():
        if (path.parent / OLD_CHECKPOINT).is_file():
            raise ConfigError(f"{path.parent / OLD_CHECKPOINT}: a checkpoint of an older jmt, which this one does not "
                              "read (it was pickled); train the model again")
        raise ConfigError(f"{path}: no checkpoint to resume from (training writes one after every task pass)")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            tree = json.loads((f.metadata() or {})[STATE_KEY])
            state = _decode(tree, {key: f.get_tensor(key) for key in f.keys()})
    except Exception as err:  # a truncated file, anything not written by save_checkpoint: one line
        raise ConfigError(f"{path}: not a readable jmt checkpoint ({type(err).__name__}: "
                          f"{str(err).splitlines()[0] if str(err) else 'no detail'})") from None
    if not isinstance(state, dict) or "checkpoint_version" not in state:
        raise ConfigError(f"{path}: not a jmt checkpoint")
    if state["checkpoint_version"] != CHECKPOINT_VERSION:
        raise ConfigError(f"{path}: checkpoint version {state['checkpoint_version']!r}; "
                          f"this jmt reads version {CHECKPOINT_VERSION}")
    return state


def file_record(path: str) -> dict:
    """Size and SHA-256 of one data file."""
    p = Path(path)
    digest = hashlib.sha256()
    with p.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return {"path": str(path), "bytes": p.stat().st_size, "sha256": digest.hexdigest()}


def data_record(train: dict[str, str | list[str]], dev: dict[str, str], vectors: str | None) -> list[dict]:
    """Every file training reads, once each, with the tasks and roles it serves."""
    uses: dict[str, list[str]] = {}
    for role, paths in (("train", train), ("dev", dev)):
        for task, value in paths.items():
            for path in corpus_paths(value):
                if not path.startswith("holdout:") and not path.startswith("hf:"):
                    uses.setdefault(path, []).append(f"{role} {task}")
    if vectors:
        uses.setdefault(vectors, []).append("vectors")
    return [{**file_record(path), "used_for": used} for path, used in uses.items()]


def versions() -> dict[str, str]:
    from . import __version__

    return {"jmt": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "numpy": np.__version__}


def training_record(seed: int, data: list[dict], wall_seconds: float, epochs_done: int,
                    earlier: dict | None = None) -> dict:
    """What ``training.json`` says of a run; resumed, the command that started it stays
    ``command`` (from ``earlier``, the record before), and each resuming one is added under
    ``resumed_with``."""
    command, resumed = sys.argv, []
    if earlier and "command" in earlier:
        command, resumed = earlier["command"], [*earlier.get("resumed_with", []), sys.argv]
    return {"seed": seed, "versions": versions(), "command": command,
            **({"resumed_with": resumed} if resumed else {}), "data": data,
            "wall_seconds": round(wall_seconds, 1), "epochs_done": epochs_done}


def write_record(out_dir: Path, record: dict) -> None:
    tmp = out_dir / (RECORD + ".tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / RECORD)
