"""The tasks, one file each, registered here by name.

A task file declares a :class:`Task`: where the task sits in the stack (``depth`` and the
name of that depth's layer), what it learns from (an example field, a label set), how it
is scored, and its head. A head implements ``forward`` (scores), ``loss``, ``decode``,
``evaluate`` and ``label_embedding``; losses are summed over the batch, as in the paper, so
the fixed L2 and successive-regularization weights keep their meaning whatever the batch
size. Config checks, corpus readers, the trainer, the CLI and plots ask this registry
instead of naming tasks.

Adding a task: write ``jmt/tasks/<name>.py`` with its head and a ``register(Task(...))``,
and import it at the bottom of this file. Weights are named by layer and task, so models
saved before keep loading.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import nn


@dataclass(frozen=True)
class Task:
    name: str
    depth: int  # 1 = the bottom BiLSTM layer; tasks at one depth share its layer
    layer: str  # that layer's name: its weights are layers.<layer>.*
    kind: str  # "token": one sentence's hidden states; "pair": two pooled sentences
    field: str  # the Sentence or Pair field it learns from; a corpus without it is refused
    head: Any  # the head's class: head(task_name, cfg=, vocabs=, in_dim=, **head_options)
    labels: str | None = None  # token tasks with labels: the label set in the vocabularies
    label_field: str | None = None  # the Sentence field holding those labels (default: field)
    target: str | None = None  # the batch target and the predicted field they go to
    primary: str = "accuracy"  # the score that selects the model and is plotted
    lower_is_better: bool = False
    sample: tuple[str, str] | None = None  # train and dev files in corpora/sample
    batch_size: str = "batch_size"  # the [train] key that sizes its batches
    requires: tuple[str, ...] = ()  # tasks that must be trained with it (unless fine-tuning a model)
    requires_why: str = ""

    @property
    def sentence_labels(self) -> str | None:
        return self.label_field or (self.field if self.labels else None)


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is registered twice")
    layer_at = {t.depth: t.layer for t in TASKS.values()}
    if layer_at.get(task.depth, task.layer) != task.layer:
        raise ValueError(f"task {task.name!r}: depth {task.depth} is layer {layer_at[task.depth]!r}, not {task.layer!r}")
    TASKS[task.name] = task
    return task


def get(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; tasks are {', '.join(TASKS)}")
    return TASKS[name]


def names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(name for name, task in TASKS.items() if kind is None or task.kind == kind)


def depths() -> dict[str, int]:
    return {name: task.depth for name, task in TASKS.items()}


def layer_names() -> dict[int, str]:
    """Each depth's layer name (``{1: "pos", 2: "chunk", ...}``)."""
    return dict(sorted({task.depth: task.layer for task in TASKS.values()}.items()))


def build_head(task: str, **kwargs) -> nn.Module:
    """The task's head, told what the registry knows: ``task``, ``depth``, ``kind``, ``primary``."""
    spec = get(task)
    head = spec.head(task, **kwargs)
    head.task, head.depth, head.kind, head.primary = task, spec.depth, spec.kind, spec.primary
    return head


# Importing the task files registers them, bottom of the stack first.
from . import pos, chunk, dependency, relatedness, entailment  # noqa: E402,F401
