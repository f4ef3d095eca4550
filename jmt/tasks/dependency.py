"""Dependency parsing by head selection with a learned root, plus a label classifier (depth 3)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.batch import TokenBatch
from ..data.conllu import DEPREL, HEAD
from ..data.types import Sentence
from ..data.vocab import IGNORE, Vocabularies
from ..metrics import attachment_scores, punct_mask
from ..decode import decode as decode_tree
from ..decode import eisner_batch, eisner_torch, is_tree_list
from ..model.layers import linear, uniform_
from . import Task, register
from .head import Head

if TYPE_CHECKING:
    from ..config import ModelConfig

NEG = -1e9  # score of an impossible head (self, padding); finite so softmax stays NaN-free
PAIR_ROWS = 256  # words per block of the biaffine label scorer when predicting (5 MB each with 50 labels)


def on_device(scores: torch.Tensor) -> bool:
    """Whether trees are decoded where the scores are (a GPU) rather than by numpy."""
    return scores.device.type != "cpu"


@dataclass
class DepScores:
    arcs: torch.Tensor  # [B, T, T+1] score of word t taking head j; j = 0 is the root
    candidates: torch.Tensor  # [B, T+1, 2H] root vector r, then h_1..h_T
    h: torch.Tensor  # [B, T, 2H]


class Biaffine(nn.Module):
    """Biaffine scores of every (dependent, head) pair, one map per output channel.

    s[b, o, t, j] = d_t^T U_o e_j + w_o . d_t + v_o . e_j + c_o, where d = dependents and
    e = heads (Dozat and Manning 2017). ``head_only_bias`` keeps only v . e_j, which is
    all an arc scorer needs (the other terms are the same for every head of t).
    """

    def __init__(self, dim: int, channels: int = 1, head_only_bias: bool = False):
        super().__init__()
        self.U = nn.Parameter(torch.zeros(channels, dim, dim))
        self.head_bias = nn.Parameter(torch.zeros(channels, dim))
        self.head_only_bias = head_only_bias
        self.low_U: torch.Tensor | None = None  # U for prediction in bf16 (DependencyHead.set_precision)
        if not head_only_bias:
            self.dep_bias = nn.Parameter(torch.zeros(channels, dim))
            self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, d: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """All pairs: d [B, T, D], e [B, S, D] -> [B, C, T, S]."""
        scores = torch.einsum("btd,cde,bse->bcts", d, self.U, e)
        scores = scores + torch.einsum("bse,ce->bcs", e, self.head_bias).unsqueeze(2)
        if not self.head_only_bias:
            scores = scores + torch.einsum("btd,cd->bct", d, self.dep_bias).unsqueeze(3)
            scores = scores + self.bias.view(1, -1, 1, 1)
        return scores

    def pairs(self, d: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        """Aligned pairs only: d, e [B, T, D] -> [B, T, C] (label scores for chosen heads).

        d U comes first as one matrix product, [N, D] x [D, C * D], then each word's C x D
        block meets its head: about half the time of the three-way einsum on a CPU. This is
        the training path; without gradients :meth:`pairs_by_head` does less work.
        """
        B, T, D = d.shape
        C = self.U.shape[0]
        weight = self.U.permute(1, 0, 2).reshape(D, C * D)
        flat_d, flat_e = d.reshape(-1, D), e.reshape(-1, D)
        scores = torch.bmm((flat_d @ weight).view(-1, C, D), flat_e.unsqueeze(-1)).view(B, T, C)
        scores = scores + e @ self.head_bias.T
        if not self.head_only_bias:
            scores = scores + d @ self.dep_bias.T + self.bias
        return scores

    def pairs_by_head(self, d: torch.Tensor, e: torch.Tensor, head_of: torch.Tensor) -> torch.Tensor:
        """What :meth:`pairs` gives for ``d`` [N, D] and ``e[head_of]``, with ``e`` [M, D] the
        distinct heads: [N, C]. Prediction only.

        Here each head's C x D block U e comes first, [m, D] x [D, C * D], and is shared by
        all its dependents. A sentence has about half as many distinct heads as words, so
        this is about half the multiply-adds of ``pairs``. It runs over blocks of
        ``PAIR_ROWS`` dependents, with the distinct heads of each block. Within a block the
        dependents are grouped by head, [m, k, D] with k the most dependents of one head,
        so that one batched product meets each head's block with its own dependents.
        """
        D, C = d.shape[-1], self.U.shape[0]
        U = self.low_U if self.low_U is not None else self.U
        weight = U.permute(2, 0, 1).reshape(D, C * D)  # e @ weight: row c * D + i is (U_c e)_i
        flat_d, flat_e = d.to(U.dtype), e.to(U.dtype)
        scores = flat_d.new_empty(len(flat_d), C)
        for s in range(0, len(flat_d), PAIR_ROWS):
            heads, which = torch.unique(head_of[s : s + PAIR_ROWS], return_inverse=True)
            per_head = (flat_e[heads] @ weight).view(-1, C, D)  # [m, C, D]
            order = torch.argsort(which, stable=True)  # the block's dependents, grouped by head
            group = which[order]
            counts = torch.bincount(which, minlength=len(heads))
            place = torch.arange(len(order), device=d.device) - (counts.cumsum(0) - counts)[group]  # within group
            grouped = flat_d.new_zeros(len(heads), int(counts.max()), D)
            grouped[group, place] = flat_d[s : s + PAIR_ROWS][order]
            by_group = torch.bmm(grouped, per_head.transpose(1, 2))  # [m, k, C]
            scores[s + order] = by_group[group, place]
        scores = scores.to(d.dtype)
        scores = scores + (e @ self.head_bias.T)[head_of]
        if not self.head_only_bias:
            scores = scores + d @ self.dep_bias.T + self.bias
        return scores


class DependencyHead(Head):
    """Head selection with a learned root vector, then a label for each (word, head).

    ``dep_scorer = "bilinear"`` (the paper): m(t, j) = h_t . (W_d h_j); the label classifier
    reads [h_t ; h_head] through a ReLU layer. ``"biaffine"`` (Dozat and Manning 2017):
    ReLU MLPs project each word as a dependent and as a head, and biaffine maps score arcs
    and labels. p(head = j | t) is a softmax over j != t, root included. The label scorer
    reads the gold head in training and the decoded head at test time.
    """

    fields = ("heads", "deprels")  # what decode() fills in

    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int, decoder: str = "greedy+eisner"):
        super().__init__()
        self.decoder = decoder
        self.labels = vocabs.labels["deprel"].itos
        self.dropout = nn.Dropout(cfg.dropout)
        self.scorer = cfg.dep_scorer
        self.root = nn.Parameter(torch.zeros(in_dim))
        # Unlabeled trees (the PTB sample's .dp files) have no label set: heads only.
        self.labeled = self.has_labels = bool(self.labels)
        if self.scorer == "biaffine":
            a, r = cfg.dep_arc_dim, cfg.dep_label_hidden
            self.root.data.uniform_(-0.1, 0.1)  # the MLPs see the root: it needs a direction
            self.arc_dep, self.arc_head = linear(in_dim, a), linear(in_dim, a)
            self.arc_biaffine = Biaffine(a, head_only_bias=True)
            if self.labeled:
                self.rel_dep, self.rel_head = linear(in_dim, r), linear(in_dim, r)
                self.rel_biaffine = Biaffine(r, channels=len(self.labels))
        else:
            self.W_d = nn.Parameter(torch.zeros(in_dim, in_dim))
            if self.labeled:
                self.label_hidden = linear(2 * in_dim, cfg.dep_label_hidden)
                self.label_out = linear(cfg.dep_label_hidden, len(self.labels), zero=True)
        if self.labeled:
            self.label_vectors = nn.Parameter(uniform_(torch.empty(len(self.labels), cfg.label_dim)))

    def set_precision(self, dtype: torch.dtype) -> None:
        """Predict with a copy of the label scorer's biaffine tensor (the head's largest
        product) in ``dtype``; see :meth:`JointManyTask.set_precision`."""
        if self.labeled and self.scorer == "biaffine":
            U = self.rel_biaffine.U.detach()
            self.rel_biaffine.low_U = None if dtype == torch.float32 else U.to(dtype)

    def forward(self, h: torch.Tensor, batch: TokenBatch) -> DepScores:
        h = self.dropout(h)
        B, T, _ = h.shape
        cand = torch.cat([self.root.expand(B, 1, -1), h], dim=1)  # [B, T+1, 2H]
        if self.scorer == "biaffine":
            dep = self.dropout(F.relu(self.arc_dep(h)))  # [B, T, A]
            head = self.dropout(F.relu(self.arc_head(cand)))  # [B, T+1, A]
            arcs = self.arc_biaffine(dep, head).squeeze(1)  # [B, T, T+1]
        else:
            arcs = h @ self.W_d @ cand.transpose(1, 2)  # [B, T, T+1]
        cand_mask = torch.cat([batch.mask.new_ones(B, 1), batch.mask], dim=1)  # [B, T+1]
        pos = torch.arange(T, device=h.device)
        self_loop = pos.unsqueeze(1) + 1 == torch.arange(T + 1, device=h.device)  # [T, T+1], j = t + 1
        invalid = ~cand_mask.unsqueeze(1) | self_loop.unsqueeze(0)
        return DepScores(arcs.masked_fill(invalid, NEG), cand, h)

    def label_logits(self, scores: DepScores, heads: torch.Tensor) -> torch.Tensor:
        """Label scores of each word for the given heads [B, T] (0 = root) -> [B, T, L]."""
        if self.scorer == "biaffine" and not torch.is_grad_enabled():
            return self._label_logits_heads_first(scores, heads)
        idx = heads.clamp(min=0).unsqueeze(-1).expand(-1, -1, scores.h.shape[-1])
        head_h = scores.candidates.gather(1, idx)  # [B, T, 2H]
        if self.scorer == "biaffine":
            dep = self.dropout(F.relu(self.rel_dep(scores.h)))
            head = self.dropout(F.relu(self.rel_head(head_h)))
            return self.rel_biaffine.pairs(dep, head)  # [B, T, L]
        return self.label_out(F.relu(self.label_hidden(torch.cat([scores.h, head_h], dim=-1))))

    def _label_logits_heads_first(self, scores: DepScores, heads: torch.Tensor) -> torch.Tensor:
        """:meth:`label_logits` of the biaffine scorer without gradients: each distinct head is
        projected and multiplied by the label tensor once (:meth:`Biaffine.pairs_by_head`)."""
        B, T, _ = scores.h.shape
        rows = heads.clamp(min=0) + (T + 1) * torch.arange(B, device=heads.device).unsqueeze(1)  # into [B * (T+1)]
        distinct, head_of = torch.unique(rows.flatten(), return_inverse=True)
        head = self.dropout(F.relu(self.rel_head(scores.candidates.flatten(0, 1)[distinct])))  # [M, R]
        dep = self.dropout(F.relu(self.rel_dep(scores.h))).flatten(0, 1)  # [B * T, R]
        return self.rel_biaffine.pairs_by_head(dep, head, head_of).view(B, T, -1)

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

    def decode(self, scores: DepScores, batch: TokenBatch, others: dict | None = None) -> list[dict[str, list]]:
        logp_t = scores.arcs.log_softmax(-1)  # [B, T, T+1]; self-loops and padding sit at about -1e9
        # Greedy heads of the whole batch at once: the same argmax the per-sentence decoder
        # takes, so a greedy output that is already a tree needs no per-sentence work.
        greedy_heads = logp_t.argmax(-1).tolist() if self.decoder.startswith("greedy") else None
        lengths = batch.lengths.tolist()
        T = batch.word_ids.shape[1]
        trees: list[list[int] | None] = [None] * len(lengths)
        for b, n in enumerate(lengths):
            if greedy_heads is not None and is_tree_list(greedy_heads[b][:n]):
                trees[b] = greedy_heads[b][:n]
        was_tree = [tree is not None for tree in trees]
        todo = [b for b, tree in enumerate(trees) if tree is None]
        if todo and self.decoder in ("greedy+eisner", "eisner") and on_device(logp_t):
            # On a GPU the whole batch's Eisner runs there: the same trees, no copy of the scores.
            found = eisner_torch(logp_t[todo], [lengths[b] for b in todo])
            for b, heads in zip(todo, found):
                trees[b], was_tree[b] = heads.tolist(), self.decoder == "eisner"
        elif todo:
            logp = logp_t.float().cpu().numpy()
            matrices = []
            for b in todo:
                n = lengths[b]
                matrix = np.zeros((n + 1, n + 1))  # row 0 (the root) is ignored by the decoders
                matrix[1:] = logp[b, :n, : n + 1]
                matrices.append(matrix)
            if self.decoder in ("greedy+eisner", "eisner"):
                # Decoded together: one Eisner run pads them to the longest and shares its
                # numpy calls. An Eisner output is a tree; a repair means greedy's was not.
                found, ok = eisner_batch(matrices), [self.decoder == "eisner"] * len(todo)
            else:
                found, ok = zip(*(decode_tree(m, self.decoder) for m in matrices))
            for b, heads, tree_ok in zip(todo, found, ok):
                trees[b], was_tree[b] = heads.tolist(), tree_ok
        padded = [tree + [0] * (T - len(tree)) for tree in trees]  # one tensor for the label scorer below
        out = [{"heads": tree, "greedy_was_tree": ok} for tree, ok in zip(trees, was_tree)]
        if not self.labeled:
            for b, n in enumerate(lengths):
                out[b]["deprels"] = ["_"] * n
            return out
        heads = torch.tensor(padded, dtype=torch.long, device=scores.h.device)
        labels = self.label_logits(scores, heads).argmax(-1).tolist()
        for b, n in enumerate(lengths):
            out[b]["deprels"] = [self.labels[i] for i in labels[b][:n]]
        return out

    def join(self, whole: dict, piece: dict, offset: int) -> None:
        """Append a long sentence's later piece (from word ``offset``), parsed on its own: its
        root word hangs from the first piece's root with the relation ``dep`` (or becomes a
        second root where the greedy decoder left the first piece without one)."""
        root = whole["heads"].index(0) + 1 if 0 in whole["heads"] else 0
        whole["heads"] = whole["heads"] + [h + offset if h else root for h in piece["heads"]]
        whole["deprels"] = whole["deprels"] + [("dep" if h == 0 and root else rel)
                                               for h, rel in zip(piece["heads"], piece["deprels"])]
        if "greedy_was_tree" in piece:
            whole["greedy_was_tree"] = whole.get("greedy_was_tree", True) and piece["greedy_was_tree"]

    def evaluate(self, gold: list[Sentence], pred: list[dict]) -> dict:
        scores = attachment_scores(
            [s.heads for s in gold], [s.deprels for s in gold],
            [p["heads"] for p in pred], [p["deprels"] for p in pred],
            [punct_mask(s.upos, s.deprels, s.words, s.xpos) for s in gold])
        scores["greedy_not_tree"] = sum(not p.get("greedy_was_tree", True) for p in pred)
        return scores


@dataclass(frozen=True)
class TreeTask(Task):
    """Dependency trees: HEAD and DEPREL in CoNLL-U, ``token.head`` and ``token.dep_`` in spaCy."""

    def predicted(self, pred: dict) -> bool:
        return "heads" in pred

    def conllu(self, pred: dict, columns: dict[int, list], misc: dict[str, list]) -> None:
        columns[HEAD], columns[DEPREL] = pred["heads"], pred["deprels"]

    def json(self, pred: dict, record: dict) -> None:
        record["heads"], record["deprels"] = pred["heads"], pred["deprels"]

    def set_doc(self, doc, words: list[int], spaces: list[int], pred: dict) -> None:
        """A root is its own head with label ROOT, as spaCy has it; ``pred["head_tokens"]`` (set
        for multiword tokens) gives the token of each head word. Whitespace tokens attach to
        the token before them (or else the first) with label ``dep``."""
        head_tokens = pred.get("head_tokens", words)
        targets, labels = [], []
        for i, head, rel in zip(words, pred["heads"], pred["deprels"]):
            target = i if head == 0 else head_tokens[head - 1]
            targets.append(target)
            labels.append("ROOT" if target == i and (head != 0 or rel in ("root", "_")) else rel)
        for i in spaces:
            before = [w for w in words if w < i]
            target = before[-1] if before else (words[0] if words else min(spaces))
            targets.append(target)
            labels.append("ROOT" if target == i else "dep")
        doc.heads(words + spaces, targets)
        doc.tokens("DEP", words + spaces, labels)

    def spacy_score(self, examples, **kwargs) -> dict:
        from spacy.scorer import Scorer

        return Scorer.score_deps(examples, "dep", getter=lambda token, attr: token.dep_.lower(),
                                 ignore_labels=("p", "punct"), **kwargs)


register(TreeTask("dep", depth=3, layer="dep", kind="token", field="heads", head=DependencyHead, labels="deprel",
                  label_field="deprels", target="deprels", primary="las", selects=True,
                  hf_columns=(("heads", ("head", "heads")), ("deprels", ("deprel", "deprels"))),
                  sample=("train.conllu", "dev.conllu"),
                  batch_size="dep_batch_size", spacy_assigns=("token.head", "token.dep", "token.is_sent_start"),
                  spacy_weights=(("dep_uas", 0.1), ("dep_las", 0.3), ("dep_las_per_type", None))))
