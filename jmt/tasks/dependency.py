"""Dependency parsing by head selection with a learned root, plus a label classifier (depth 3)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import TASK_DEPTH, ModelConfig
from ..data.batch import TokenBatch
from ..data.types import Sentence
from ..data.vocab import IGNORE, Vocabularies
from ..metrics import attachment_scores, punct_mask
from ..decode import decode as decode_tree
from ..model.layers import linear, uniform_
from . import register

NEG = -1e9  # score of an impossible head (self, padding); finite so softmax stays NaN-free


@dataclass
class DepScores:
    arcs: torch.Tensor  # [B, T, T+1] score of word t taking head j; j = 0 is the root
    candidates: torch.Tensor  # [B, T+1, 2H] root vector r, then h_1..h_T
    h: torch.Tensor  # [B, T, 2H]


@register("dep")
class DependencyHead(nn.Module):
    """m(t, j) = h_t . (W_d h_j); p(head = j | t) is a softmax over j != t, root included.

    The label classifier reads [h_t ; h_head] through a ReLU layer: the gold head in
    training, the decoded head at test time.
    """

    kind = "token"
    primary = "las"
    fields = ("heads", "deprels")  # what decode() fills in

    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int, decoder: str = "greedy+eisner"):
        super().__init__()
        self.task, self.depth = task, TASK_DEPTH[task]
        self.decoder = decoder
        self.labels = vocabs.labels["deprel"].itos
        self.dropout = nn.Dropout(cfg.dropout)
        self.W_d = nn.Parameter(torch.zeros(in_dim, in_dim))
        self.root = nn.Parameter(torch.zeros(in_dim))
        # Unlabeled trees (the PTB sample's .dp files) have no label set: heads only.
        self.labeled = self.has_labels = bool(self.labels)
        if self.labeled:
            self.label_hidden = linear(2 * in_dim, cfg.dep_label_hidden)
            self.label_out = linear(cfg.dep_label_hidden, len(self.labels), zero=True)
            self.label_vectors = nn.Parameter(uniform_(torch.empty(len(self.labels), cfg.label_dim)))

    def forward(self, h: torch.Tensor, batch: TokenBatch) -> DepScores:
        h = self.dropout(h)
        B, T, _ = h.shape
        cand = torch.cat([self.root.expand(B, 1, -1), h], dim=1)  # [B, T+1, 2H]
        arcs = h @ self.W_d @ cand.transpose(1, 2)  # [B, T, T+1]
        cand_mask = torch.cat([batch.mask.new_ones(B, 1), batch.mask], dim=1)  # [B, T+1]
        pos = torch.arange(T, device=h.device)
        self_loop = pos.unsqueeze(1) + 1 == torch.arange(T + 1, device=h.device)  # [T, T+1], j = t + 1
        invalid = ~cand_mask.unsqueeze(1) | self_loop.unsqueeze(0)
        return DepScores(arcs.masked_fill(invalid, NEG), cand, h)

    def label_logits(self, scores: DepScores, heads: torch.Tensor) -> torch.Tensor:
        """Label scores of each word for the given heads [B, T] (0 = root) -> [B, T, L]."""
        idx = heads.clamp(min=0).unsqueeze(-1).expand(-1, -1, scores.h.shape[-1])
        head_h = scores.candidates.gather(1, idx)  # [B, T, 2H]
        return self.label_out(F.relu(self.label_hidden(torch.cat([scores.h, head_h], dim=-1))))

    def label_embedding(self, scores: DepScores) -> torch.Tensor | None:
        if not self.labeled:
            return None
        heads = scores.arcs.argmax(-1)  # greedy heads: no gold at test time
        return self.label_logits(scores, heads).softmax(-1) @ self.label_vectors  # [B, T, label_dim]

    def loss(self, scores: DepScores, batch: TokenBatch) -> torch.Tensor:
        gold = batch.targets["heads"]  # [B, T], IGNORE on padding
        arc_loss = F.cross_entropy(scores.arcs.flatten(0, 1), gold.flatten(), ignore_index=IGNORE, reduction="sum")
        if not self.labeled or "deprels" not in batch.targets:
            return arc_loss
        logits = self.label_logits(scores, gold)
        rel_loss = F.cross_entropy(logits.flatten(0, 1), batch.targets["deprels"].flatten(), ignore_index=IGNORE,
                                   reduction="sum")
        return arc_loss + rel_loss

    def decode(self, scores: DepScores, batch: TokenBatch) -> list[dict[str, list]]:
        logp = scores.arcs.log_softmax(-1).cpu().numpy()  # [B, T, T+1]
        lengths = batch.lengths.tolist()
        heads = torch.zeros(batch.word_ids.shape, dtype=torch.long)
        out = []
        for b, n in enumerate(lengths):
            matrix = np.zeros((n + 1, n + 1))  # row 0 (the root) is ignored by the decoders
            matrix[1:] = logp[b, :n, : n + 1]
            tree, was_tree = decode_tree(matrix, self.decoder)
            heads[b, :n] = torch.from_numpy(tree)
            out.append({"heads": tree.tolist(), "greedy_was_tree": was_tree})
        if not self.labeled:
            for b, n in enumerate(lengths):
                out[b]["deprels"] = ["_"] * n
            return out
        labels = self.label_logits(scores, heads.to(scores.h.device)).argmax(-1).tolist()
        for b, n in enumerate(lengths):
            out[b]["deprels"] = [self.labels[i] for i in labels[b][:n]]
        return out

    def evaluate(self, gold: list[Sentence], pred: list[dict]) -> dict:
        scores = attachment_scores(
            [s.heads for s in gold], [s.deprels for s in gold],
            [p["heads"] for p in pred], [p["deprels"] for p in pred],
            [punct_mask(s.upos, s.deprels, s.words, s.xpos) for s in gold])
        scores["greedy_not_tree"] = sum(not p.get("greedy_was_tree", True) for p in pred)
        return scores
