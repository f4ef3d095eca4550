"""Task heads, one file per task, each registering itself here by name.

A head declares ``depth`` (its layer in the stack), ``kind`` ("token" heads read the
hidden states of one sentence, "pair" heads read two pooled sentences), and implements
``forward`` (scores), ``loss``, ``decode`` and ``label_embedding``. Losses are summed over
the batch, as in the paper, so the fixed L2 and successive-regularization weights keep
their meaning whatever the batch size.
"""
from __future__ import annotations

from typing import Callable

from torch import nn

HEADS: dict[str, Callable[..., nn.Module]] = {}


def register(*names: str):
    def wrap(builder):
        for name in names:
            HEADS[name] = builder
        return builder

    return wrap


def build_head(task: str, **kwargs) -> nn.Module:
    if task not in HEADS:
        raise KeyError(f"no head registered for task {task!r}; known: {', '.join(HEADS)}")
    return HEADS[task](task, **kwargs)


# Importing the task modules registers their heads.
from . import dependency, entailment, relatedness, tagging  # noqa: E402,F401
