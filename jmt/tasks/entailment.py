"""Textual entailment of a premise and hypothesis: 3 classes (depth 5)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..data.batch import PairBatch
from ..data.types import ENTAILMENT_LABELS, Pair
from ..data.vocab import Vocabularies
from ..metrics import classification_scores
from ..model.layers import Maxout, linear
from . import Task, register
from .head import Head

if TYPE_CHECKING:
    from ..config import ModelConfig


class EntailmentHead(Head):
    """Features [a - b ; a * b] (premise first) plus the relatedness label embedding,
    three maxout layers, softmax over ENTAILMENT / NEUTRAL / CONTRADICTION."""


    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int):
        super().__init__()
        self.use_relatedness = cfg.label_embeddings
        feat_dim = (2 * in_dim + (cfg.label_dim if self.use_relatedness else 0)
                    + (2 * cfg.encoder_dim if cfg.encoder_sentence else 0))  # the encoder's sentence features
        self.dropout = nn.Dropout(cfg.dropout)
        dims = [feat_dim] + [cfg.head_hidden] * 3
        self.maxouts = nn.ModuleList(Maxout(i, o, cfg.maxout_pieces) for i, o in zip(dims, dims[1:]))
        self.out = linear(cfg.head_hidden, len(ENTAILMENT_LABELS), zero=True)

    def forward(self, a: torch.Tensor, b: torch.Tensor, below: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [a - b, a * b]  # [B, 2H] each; asymmetric, premise first
        if self.use_relatedness:
            parts.append(below["relatedness"])  # [B, label_dim]
        if "sentences" in below:
            parts.append(below["sentences"])  # [B, 2D]
        x = self.dropout(torch.cat(parts, dim=-1))
        for layer in self.maxouts:
            x = self.dropout(layer(x))
        return self.out(x)  # [B, 3]

    def label_embedding(self, logits: torch.Tensor) -> None:
        return None  # nothing sits above entailment

    def loss(self, logits: torch.Tensor, batch: PairBatch) -> torch.Tensor:
        return F.cross_entropy(logits, batch.entailment, reduction="sum")

    def decode(self, logits: torch.Tensor, batch: PairBatch, scores: dict | None = None) -> list[dict]:
        probs = logits.softmax(-1).tolist()
        return [{"entailment": ENTAILMENT_LABELS[max(range(3), key=p.__getitem__)],
                 "probabilities": dict(zip(ENTAILMENT_LABELS, p))} for p in probs]

    def evaluate(self, gold: list[Pair], pred: list[dict]) -> dict:
        return classification_scores([g.entailment for g in gold], [p["entailment"] for p in pred],
                                     ENTAILMENT_LABELS)


SYMMETRIC = {ENTAILMENT_LABELS.index("NEUTRAL"), ENTAILMENT_LABELS.index("CONTRADICTION")}


class EntailmentTask(Task):
    def tsv_columns(self) -> list[str]:
        return [self.name, *(f"p_{label}" for label in ENTAILMENT_LABELS)]

    def tsv(self, pred: dict | None) -> list[str]:
        if not pred:
            return ["_"] * (1 + len(ENTAILMENT_LABELS))
        return [pred[self.name], *(f"{pred['probabilities'][label]:.4f}" for label in ENTAILMENT_LABELS)]

    def swappable(self, pair) -> bool:
        """That A entails B says nothing about B entailing A: only NEUTRAL and CONTRADICTION
        pairs survive the swap."""
        return pair.entailment in SYMMETRIC


register(EntailmentTask("entailment", depth=5, layer="entailment", kind="pair", field="entailment",
                        head=EntailmentHead, sample=("pairs_train.tsv", "pairs_dev.tsv"), requires=("relatedness",),
                        requires_why="it is fed relatedness's label embedding", skips_no_gold=True,
                        hf_columns=(("entailment", ("entailment_judgment", "gold_label", "label")),)))
