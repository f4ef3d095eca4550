"""What every task's head is: the methods the stack, the trainer and the predictor call.

A head turns the hidden states of its layer (a token task: ``[B, T, 2H]``; a pair task:
the two pooled sentences) into scores, and the scores into a loss, a label embedding for
the layers above, predictions and a score against gold. :func:`jmt.tasks.build_head`
makes one and sets what the registry knows about it (``task``, ``depth``, ``kind``,
``primary``).
"""
from __future__ import annotations

from torch import nn


class Head(nn.Module):
    """The contract of a task's head; each task file subclasses it."""

    # set by build_head from the task's registration
    task: str
    depth: int
    kind: str  # "token" or "pair"
    primary: str  # the score that selects the model
    fields: tuple[str, ...] = ()  # what decode() fills in per sentence (token tasks)
    has_labels = True  # feeds a label embedding to the layers above
    reads: tuple[str, ...] = ()  # the tasks whose scores decode() reads besides its own

    def forward(self, *inputs):
        """Scores from the layer's states (and, for a pair task, the pair tasks below it)."""
        raise NotImplementedError

    def loss(self, scores, batch):
        """The loss summed over the batch (as in the paper: the L2 weights keep their meaning)."""
        raise NotImplementedError

    def label_embedding(self, scores):
        """What the layers above read of this task: the expected label vector, or None."""
        raise NotImplementedError

    def decode(self, scores, batch, others: dict | None = None) -> list[dict]:
        """Predictions per example; ``others`` holds the scores of the tasks in ``reads``."""
        raise NotImplementedError

    def evaluate(self, gold: list, pred: list[dict]) -> dict:
        """Scores of ``pred`` against ``gold``, with ``primary`` among them."""
        raise NotImplementedError

    def join(self, whole: dict, piece: dict, offset: int) -> None:
        """Append to ``whole`` this head's predictions for a long sentence's later piece,
        which starts at word ``offset`` (see :class:`jmt.predict.Predictor`)."""
        for field in self.fields:
            whole[field] = whole[field] + piece[field]
