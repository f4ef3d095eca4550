"""The heads of the tagging tasks: a tag per word (:class:`Tagger`), and IOB spans
(:class:`SpanTagger`, with an optional linear-chain CRF) for chunks or any other span task."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..data.batch import TokenBatch
from ..data.types import Sentence
from ..data.vocab import IGNORE, Vocabularies
from ..metrics import chunk_scores, tag_accuracy
from ..model.layers import linear, uniform_
from .crf import LinearChainCRF
from .head import Head

if TYPE_CHECKING:
    from ..config import ModelConfig


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


def iob_spans(tags: list[str]) -> list[dict]:
    """IOB2 tags -> ``[{"start", "end" (exclusive), "label"}]``."""
    spans: list[dict] = []
    for i, tag in enumerate(tags):
        if tag.startswith("B-") or (tag.startswith("I-") and (not spans or spans[-1]["end"] != i
                                                            or spans[-1]["label"] != tag[2:])):
            spans.append({"start": i, "end": i + 1, "label": tag[2:]})
        elif tag.startswith("I-"):
            spans[-1]["end"] = i + 1
    return spans


class Tagger(Head):
    """ReLU hidden layer + softmax over tags: [B, T, 2H] -> logits [B, T, L]."""

    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int):
        super().__init__()
        from . import get

        spec = get(task)
        self.gold_field, self.field = spec.sentence_labels, spec.target  # field: batch target and prediction
        self.fields = (self.field,)  # what decode() fills in
        self.labels = vocabs.labels[spec.labels].itos
        self.dropout = nn.Dropout(cfg.dropout)
        self.hidden = linear(in_dim, cfg.head_hidden)
        self.out = linear(cfg.head_hidden, len(self.labels), zero=True)
        self.label_vectors = nn.Parameter(uniform_(torch.empty(len(self.labels), cfg.label_dim)))

    def forward(self, h: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        return self.out(F.relu(self.hidden(self.dropout(h))))  # [B, T, L]

    def label_embedding(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.softmax(-1) @ self.label_vectors  # [B, T, label_dim]

    def loss(self, logits: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        gold = batch.targets[self.field]
        return F.cross_entropy(logits.flatten(0, 1), gold.flatten(), ignore_index=IGNORE, reduction="sum")

    def best_ids(self, logits: torch.Tensor, batch: TokenBatch) -> list[list[int]]:
        return logits.argmax(-1).tolist()

    def tags(self, tags: list[str]) -> list[str]:
        return tags

    def decode(self, logits: torch.Tensor, batch: TokenBatch, scores: dict | None = None) -> list[dict[str, list]]:
        ids = self.best_ids(logits, batch)
        return [{self.field: self.tags([self.labels[i] for i in ids[b][:n]])}
                for b, n in enumerate(batch.lengths.tolist())]

    def evaluate(self, gold: list[Sentence], pred: list[dict]) -> dict:
        return tag_accuracy([getattr(s, self.gold_field) for s in gold], [p[self.field] for p in pred])


class SpanTagger(Tagger):
    """IOB2 span tags (``B-NP``, ``I-NP``, ``O``), always decoded to valid sequences and scored
    by span F1. With ``chunk_crf`` the logits are a CRF's emission scores (the label embedding
    stays their softmax) and Viterbi decoding only follows allowed transitions."""

    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int):
        super().__init__(task, cfg, vocabs, in_dim)
        self.crf = LinearChainCRF(len(self.labels), *iob_transitions(self.labels)) if cfg.chunk_crf else None

    def loss(self, logits: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        if self.crf is None:
            return super().loss(logits, batch)
        return self.crf.nll(logits, batch.targets[self.field], batch.mask)

    def best_ids(self, logits: torch.Tensor, batch: TokenBatch) -> list[list[int]]:
        return super().best_ids(logits, batch) if self.crf is None else self.crf.decode(logits, batch.mask).tolist()

    def tags(self, tags: list[str]) -> list[str]:
        return repair_iob(tags)

    def evaluate(self, gold: list[Sentence], pred: list[dict]) -> dict:
        return chunk_scores([getattr(s, self.gold_field) for s in gold], [p[self.field] for p in pred])
