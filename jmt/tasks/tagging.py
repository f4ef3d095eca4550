"""Sequence tagging heads: UPOS, XPOS and a second XPOS tag set (depth 1), IOB chunking (depth 2)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TASK_DEPTH, ModelConfig
from ..data.batch import TokenBatch
from ..data.types import TOKEN_LABELS, Sentence
from ..data.vocab import IGNORE, Vocabularies
from ..metrics import chunk_scores, tag_accuracy
from ..model.layers import linear, uniform_
from . import register
from .crf import LinearChainCRF

TAGGING = ("upos", "xpos", "xpos2", "chunk")  # the tasks of TOKEN_LABELS this head serves


def repair_iob(tags: list[str]) -> list[str]:
    """Turn an ``I-X`` that does not continue an ``X`` chunk into ``B-X`` (valid IOB2)."""
    out, prev = [], "O"
    for tag in tags:
        if tag.startswith("I-") and prev[2:] != tag[2:]:
            tag = "B-" + tag[2:]
        out.append(tag)
        prev = tag
    return out


def iob_transitions(labels: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Which IOB2 tags may follow which ([from, to]), and which may open a sentence: ``I-X``
    only continues a ``B-X`` or ``I-X``."""
    def continues(prev: str, tag: str) -> bool:
        return not tag.startswith("I-") or (prev[:2] in ("B-", "I-") and prev[2:] == tag[2:])

    allowed = torch.tensor([[continues(prev, tag) for tag in labels] for prev in labels], device="cpu")
    return allowed, torch.tensor([not tag.startswith("I-") for tag in labels], device="cpu")


@register(*TAGGING)
class Tagger(nn.Module):
    """ReLU hidden layer + softmax over tags: [B, T, 2H] -> logits [B, T, L]. With
    ``chunk_crf`` the chunk logits are a CRF's emission scores (the label embedding stays
    their softmax), decoded to valid IOB2 sequences."""

    kind = "token"
    has_labels = True  # feeds a label embedding upward

    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int):
        super().__init__()
        self.task, self.depth = task, TASK_DEPTH[task]
        self.gold_field, self.label_set, self.field = TOKEN_LABELS[task]  # field: batch target and prediction
        self.fields = (self.field,)  # what decode() fills in
        self.primary = "f1" if task == "chunk" else "accuracy"
        self.labels = vocabs.labels[self.label_set].itos
        self.dropout = nn.Dropout(cfg.dropout)
        self.hidden = linear(in_dim, cfg.head_hidden)
        self.out = linear(cfg.head_hidden, len(self.labels), zero=True)
        self.label_vectors = nn.Parameter(uniform_(torch.empty(len(self.labels), cfg.label_dim)))
        self.crf = LinearChainCRF(len(self.labels), *iob_transitions(self.labels)) if task == "chunk" and cfg.chunk_crf else None

    def forward(self, h: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        return self.out(F.relu(self.hidden(self.dropout(h))))  # [B, T, L]

    def label_embedding(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.softmax(-1) @ self.label_vectors  # [B, T, label_dim]

    def loss(self, logits: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        gold = batch.targets[self.field]
        if self.crf is not None:
            return self.crf.nll(logits, gold, batch.mask)
        return F.cross_entropy(logits.flatten(0, 1), gold.flatten(), ignore_index=IGNORE, reduction="sum")

    def decode(self, logits: torch.Tensor, batch: TokenBatch) -> list[dict[str, list]]:
        ids = (logits.argmax(-1) if self.crf is None else self.crf.decode(logits, batch.mask)).tolist()
        out = []
        for b, n in enumerate(batch.lengths.tolist()):
            tags = [self.labels[i] for i in ids[b][:n]]
            out.append({self.field: repair_iob(tags) if self.task == "chunk" else tags})
        return out

    def evaluate(self, gold: list[Sentence], pred: list[dict]) -> dict:
        gold_tags = [getattr(s, self.gold_field) for s in gold]
        pred_tags = [p[self.field] for p in pred]
        if self.task == "chunk":
            return chunk_scores(gold_tags, pred_tags)
        return tag_accuracy(gold_tags, pred_tags)
