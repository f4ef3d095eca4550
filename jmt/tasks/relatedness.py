"""Semantic relatedness of a sentence pair: KL over the scores 1..5 (depth 4)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from ..data.batch import PairBatch
from ..data.types import Pair
from ..data.vocab import Vocabularies
from ..metrics import relatedness_scores
from ..model.layers import Maxout, linear, uniform_
from . import Task, register
from .head import Head

if TYPE_CHECKING:
    from ..config import ModelConfig

N_BINS = 5


def score_distribution(scores: torch.Tensor) -> torch.Tensor:
    """Spread each gold score y over floor(y) and ceil(y) (Tai et al. 2015): [B] -> [B, 5]."""
    y = scores.clamp(1, N_BINS)
    low = y.floor()
    target = torch.zeros(len(y), N_BINS, device=y.device)
    target.scatter_(1, (low - 1).long().unsqueeze(1), (1 - (y - low)).unsqueeze(1))
    high = (low + 1).clamp(max=N_BINS)
    target.scatter_add_(1, (high - 1).long().unsqueeze(1), (y - low).unsqueeze(1))
    return target


class RelatednessHead(Head):
    """Pooled sentences [B, 2H] x 2 -> features [|a - b| ; a * b] -> maxout -> 5 bins."""


    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int):
        super().__init__()
        self.dropout = nn.Dropout(cfg.embed_dropout)
        sentences = 2 * cfg.encoder_dim if cfg.encoder_sentence else 0  # the encoder's sentence features
        self.maxout = Maxout(2 * in_dim + sentences, cfg.head_hidden, cfg.maxout_pieces)
        self.out = linear(cfg.head_hidden, N_BINS, zero=True)
        self.label_vectors = nn.Parameter(uniform_(torch.empty(N_BINS, cfg.label_dim)))
        # a list, not arange: a float arange on the meta device (loading) imports torch._dynamo
        self.register_buffer("bins", torch.tensor([float(k) for k in range(1, N_BINS + 1)]))
        # scores = scale * expected score + shift, fitted on dev pairs after training
        # (jmt.calibrate, as the task is registered calibrated); saved with the weights
        self.register_buffer("calibration", torch.tensor([1.0, 0.0]))

    @property
    def scale(self) -> float:
        return float(self.calibration[0])

    @property
    def shift(self) -> float:
        return float(self.calibration[1])

    def set_calibration(self, scale: float, shift: float) -> None:
        self.calibration = torch.tensor([float(scale), float(shift)], device=self.bins.device)

    @staticmethod
    def clip(scores):
        """Scores kept to the scale's range (a tensor or a numpy array)."""
        return scores.clip(1, N_BINS)

    def forward(self, a: torch.Tensor, b: torch.Tensor, below: dict[str, torch.Tensor]) -> torch.Tensor:
        features = torch.cat([(a - b).abs(), a * b, *([below["sentences"]] if "sentences" in below else [])],
                             dim=-1)  # [B, 4H (+ 2D)], symmetric in a and b
        return self.out(self.maxout(self.dropout(features)))  # [B, 5]

    def label_embedding(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.softmax(-1) @ self.label_vectors  # [B, label_dim]

    def loss(self, logits: torch.Tensor, batch: PairBatch) -> torch.Tensor:
        target = score_distribution(batch.relatedness)
        return F.kl_div(logits.log_softmax(-1), target, reduction="sum")

    def decode(self, logits: torch.Tensor, batch: PairBatch, scores: dict | None = None) -> list[dict]:
        expected = logits.softmax(-1) @ self.bins  # in [1, 5]
        scores = self.clip(self.calibration[0] * expected + self.calibration[1]).tolist()
        return [{"relatedness": s} for s in scores]

    def evaluate(self, gold: list[Pair], pred: list[dict]) -> dict:
        return relatedness_scores([g.relatedness for g in gold], [p["relatedness"] for p in pred])


class RelatednessTask(Task):
    def tsv(self, pred: dict | None) -> list[str]:
        return [f"{pred[self.name]:.4f}" if pred else "_"]


register(RelatednessTask("relatedness", depth=4, layer="relatedness", kind="pair", field="relatedness",
                         head=RelatednessHead, primary="pearson", sample=("pairs_train.tsv", "pairs_dev.tsv"),
                         calibrated=True, hf_columns=(("relatedness", ("relatedness_score",)),)))
