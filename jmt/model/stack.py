"""The Joint Many-Task stack: one BiLSTM layer per task depth, heads on top of each.

Layer d reads, per word, ``[h^{d-1}_t ; x_t ; sum of label embeddings below]``: the
vertical connection, the shortcut connection and the label embeddings, each a switch in
:class:`~jmt.config.ModelConfig`. Token heads (tagging, parsing) read their layer's states;
pair heads (relatedness, entailment) read them max-pooled over each sentence.
"""
from __future__ import annotations

import copy

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..config import STITCHED, ModelConfig
from ..data.batch import PairBatch, TokenBatch
from ..data.vocab import Vocabularies
from ..tasks import TASKS, build_head, layer_names
from .embeddings import WordRepresentation
from .layers import BiLSTM, masked_max
from .stitch import CrossStitch, level_mix, orthogonality


def copy_name(names: dict[int, str], depth: int, below: int) -> str:
    """The soft-sharing copy of layer ``below`` that the tasks at ``depth`` read (``names``:
    each depth's layer name)."""
    return f"{names[depth]}_{names[below]}"


def sentence_features(states: torch.Tensor, mask: torch.Tensor, pairs: int) -> torch.Tensor:
    """[|u - v| ; u * v] of the sentence vectors u (first ``pairs`` rows) and v (the rest):
    each the unit-length mean of its words' ``states`` ([2P, T, D], mask [2P, T]) -> [P, 2D]."""
    m = mask.unsqueeze(-1).to(states.dtype)
    mean = torch.nn.functional.normalize((states * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)
    u, v = mean[:pairs], mean[pairs:]
    return torch.cat([(u - v).abs(), u * v], dim=-1)


@dataclass
class StackOutput:
    hidden: dict[int, torch.Tensor] = field(default_factory=dict)  # depth -> [B, T, 2H]
    encoder: torch.Tensor | None = None  # [B, T, L, D], the encoder's states, when the model has one
    penalties: dict[str, torch.Tensor] = field(default_factory=dict)  # training terms the forward pass gives (sluice)
    scores: dict[str, Any] = field(default_factory=dict)  # task -> its head's scores


class JointManyTask(nn.Module):
    def __init__(self, cfg: ModelConfig, vocabs: Vocabularies, tasks: list[str],
                 vectors: dict[str, np.ndarray] | None = None, decoder: str = "greedy+eisner"):
        super().__init__()
        if not tasks:
            raise ValueError("a model needs at least one task")
        self.cfg = cfg
        self.tasks = sorted(tasks, key=lambda t: (TASKS[t].depth, t))
        # The layers: one per depth of a task that trains the stack. A detached task (cfg.detached)
        # reads the highest of them at or below its own depth, through a reader of its own.
        self.depths = sorted({TASKS[t].depth for t in self.tasks if t not in cfg.detached})
        if not self.depths:
            raise ValueError("a model needs a task that is not detached")
        reader_depth = {t: max((d for d in self.depths if d <= TASKS[t].depth), default=None)
                        for t in cfg.detached if t in self.tasks}
        if None in reader_depth.values():
            lost = next(t for t, d in reader_depth.items() if d is None)
            raise ValueError(f"the detached task {lost} has no layer at or below its depth to read")
        self.layer_names = layer_names()
        self.layer_depths = {name: depth for depth, name in self.layer_names.items()}
        # Layers that token tasks read get the word representation through embed_dropout; the
        # sentence-pair layers above them through the vertical dropout.
        self.token_top = max(t.depth for t in TASKS.values() if t.kind == "token")
        self.embed = WordRepresentation(cfg, vocabs, vectors)
        self.encoder = None  # the pretrained encoder (attach_encoder), when cfg.encoder names one
        self.embed_dropout = nn.Dropout(cfg.embed_dropout)
        self.dropout = nn.Dropout(cfg.dropout)
        state_dim = 2 * cfg.hidden
        self.layers = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        stitched = cfg.sharing in STITCHED
        for i, depth in enumerate(self.depths):
            if not stitched:
                self.layers[self.layer_names[depth]] = BiLSTM(self._input_dim(i), cfg.hidden)
            for task in self.tasks:
                # Without growing depth every task sits on the top layer.
                if reader_depth.get(task, TASKS[task].depth if cfg.growing_depth else self.depths[-1]) == depth:
                    self.heads[task] = build_head(task, cfg=cfg, vocabs=vocabs, in_dim=state_dim)
                    self.heads[task].depth = depth
                    if hasattr(self.heads[task], "decoder"):  # a tree decoder: the model's choice
                        self.heads[task].decoder = decoder
        # A detached task (cfg.detached) reads its depth's layer through a BiLSTM, given what a
        # layer above would be given (that layer's states, the words, the label embeddings from
        # below), none of which it trains: a reader of its own, readers.<task>, or with
        # cfg.shared_reader the one reader of that layer, readers.<layer>.
        self.reader_of = {task: self.layer_names[head.depth] if cfg.shared_reader else task
                          for task, head in self.heads.items() if task in cfg.detached}
        self.reader_tasks: dict[str, list[str]] = {}  # each reader's tasks
        for task, key in self.reader_of.items():
            self.reader_tasks.setdefault(key, []).append(task)
        self.readers = nn.ModuleDict({key: BiLSTM(self._stacked_dim(self.heads[tasks[0]].depth), cfg.hidden)
                                      for key, tasks in self.reader_tasks.items()})
        # Soft sharing: the tasks at each depth keep their own copy of every layer below,
        # starting equal to it and tied to it by an L2 penalty during training (see
        # soft_sharing_penalty). "copies" holds them under "<layer>_<layer below>" (dep_pos).
        self.copies = nn.ModuleDict()
        if cfg.sharing == "soft":
            for depth in self.depths:
                for below in self.depths:
                    if below < depth and any(h.depth == depth for h in self.heads.values()):
                        self.copies[copy_name(self.layer_names, depth, below)] = copy.deepcopy(self.layers[self.layer_names[below]])
        # Cross-stitch and sluice sharing (jmt.model.stitch): the tasks at each depth own a
        # column of layers up to their depth, columns.<column>.<level>; after each level the
        # columns that reach it are mixed by stitches.<level>.alpha; with sluice's beta, each
        # column's heads read betas.<column> over its levels.
        self.columns = nn.ModuleDict()
        self.stitches = nn.ModuleDict()
        self.betas = nn.ParameterDict()
        if stitched:
            parts = cfg.subspaces if cfg.sharing == "sluice" else 1
            for top in self.depths:
                self.columns[self.layer_names[top]] = nn.ModuleDict(
                    {self.layer_names[d]: BiLSTM(self._input_dim(i), cfg.hidden) for i, d in enumerate(self.depths) if d <= top})
                if cfg.sharing == "sluice" and cfg.beta_layers:
                    levels = sum(d <= top for d in self.depths)
                    self.betas[self.layer_names[top]] = nn.Parameter(torch.eye(levels)[-1])  # its own level
            for depth in self.depths:
                reach = sum(d >= depth for d in self.depths)
                self.stitches[self.layer_names[depth]] = CrossStitch(reach, parts, cfg.alpha_init)

    def attach_encoder(self, encoder) -> None:
        """Give the model its pretrained encoder (:class:`jmt.model.encoder.Encoder`). A frozen
        encoder stays outside the model's weights; a trainable one joins them as ``encoder_net``
        (saved with the model, trained at ``train.encoder_lr``)."""
        self.encoder = encoder
        if self.cfg.encoder_trainable:
            self.encoder_net = encoder.net
            encoder.net.train(self.training)
        else:
            encoder.net.requires_grad_(False)

    def encoder_states(self, batch: TokenBatch) -> torch.Tensor | None:
        """[B, T, L, D]: the batch's cached encoder states, or the encoder run on its words."""
        if not self.cfg.encoder:
            return None
        if batch.encoder is not None:
            return batch.encoder
        if self.encoder is None:
            raise RuntimeError("the model's encoder is not attached (jmt.io.load_model attaches it)")
        return self.encoder.states(batch.forms, batch.word_ids.shape[1])

    def set_precision(self, dtype: torch.dtype) -> None:
        """Predict with the LSTM weights and the dependency label scorer's tensor in ``dtype``:
        ``torch.bfloat16`` runs the model's two largest matrix products on a CPU's bf16 units,
        with slightly different predictions; everything else, and every output, stays
        float32. The layers keep copies of the weights as they are now, used only without
        gradients, so training is unaffected; ``torch.float32`` drops the copies."""
        for module in self.modules():
            if module is not self and hasattr(module, "set_precision"):
                module.set_precision(dtype)

    def own_prefixes(self, tasks: Collection[str]) -> tuple[str, ...]:
        """The parameter-name prefixes of ``tasks``' heads and of the readers that only
        ``tasks`` read (a shared reader that another task reads too is not theirs alone)."""
        return (*(f"heads.{task}." for task in tasks),
                *(f"readers.{key}." for key, readers in self.reader_tasks.items() if set(readers) <= set(tasks)))

    def shared_with(self, tasks: Collection[str]) -> dict[str, list[str]]:
        """The shared readers that ``tasks`` read and other tasks read too, with those tasks."""
        return {key: others for key, readers in self.reader_tasks.items()
                if set(readers) & set(tasks) and (others := [t for t in readers if t not in tasks])}

    def parameter_depths(self) -> dict[str, int]:
        """The depth of every parameter by name: 0 for the word representation (and a
        trainable encoder), a layer's own depth, a soft-sharing copy's reader's depth, a
        head's depth. Freezing, learning rates and the regularization terms go by it."""
        depths = {}
        for prefix, module, depth in [("embed", self.embed, 0),
                                      *(("encoder_net", m, 0) for m in [getattr(self, "encoder_net", None)] if m),
                                      *((f"layers.{name}", m, self.layer_depths[name]) for name, m in self.layers.items()),
                                      *((f"copies.{key}", m, self.layer_depths[key.split("_")[0]])
                                        for key, m in self.copies.items()),
                                      *((f"columns.{column}.{level}", m, self.layer_depths[level])
                                        for column, levels in self.columns.items() for level, m in levels.items()),
                                      *((f"stitches.{level}", m, self.layer_depths[level]) for level, m in self.stitches.items()),
                                      *((f"heads.{task}", m, m.depth) for task, m in self.heads.items()),
                                      *((f"readers.{key}", m, self.heads[self.reader_tasks[key][0]].depth)
                                        for key, m in self.readers.items())]:
            for name, _ in module.named_parameters():
                depths[f"{prefix}.{name}"] = depth
        for column in self.betas:
            depths[f"betas.{column}"] = self.layer_depths[column]  # as its heads
        return depths

    def columns_at(self, level: str) -> list[str]:
        """Stitched: the columns that reach ``level``, in the order of alpha's rows."""
        return [c for c, levels in self.columns.items() if level in levels]

    def own_layer(self, depth: int) -> nn.Module:
        """The layer of the tasks at ``depth`` (their column's top level, when stitched)."""
        name = self.layer_names[depth]
        return self.columns[name][name] if self.columns else self.layers[name]

    def layer(self, depth: int, upto: int) -> BiLSTM:
        """The layer at ``depth`` as the tasks at depth ``upto`` see it (their copy, if soft)."""
        key = copy_name(self.layer_names, upto, depth)
        return self.copies[key] if key in self.copies else self.layers[self.layer_names[depth]]

    def soft_sharing_penalty(self, upto: int) -> torch.Tensor:
        """sum over the layers below ``upto`` of ||copy - shared layer||^2 (0 with hard sharing)."""
        total = next(self.parameters()).new_zeros(())
        for depth in self.depths:
            key = copy_name(self.layer_names, upto, depth)
            if key in self.copies:
                for a, b in zip(self.copies[key].parameters(), self.layers[self.layer_names[depth]].parameters()):
                    total = total + (a - b).pow(2).sum()
        return total

    def _input_dim(self, i: int) -> int:
        """The input size of the layer at ``self.depths[i]``."""
        return self.embed.out_dim if i == 0 else self._stacked_dim(self.depths[i])

    def _stacked_dim(self, depth: int) -> int:
        """The size of what a layer over another reads (:meth:`_layer_input`): the states
        below, the words, and the label embeddings of the heads below ``depth``."""
        cfg = self.cfg
        dim = 2 * cfg.hidden if cfg.vertical else 0
        if cfg.shortcut or not cfg.vertical:
            dim += self.embed.out_dim
        if cfg.label_embeddings and self._label_sources_below(depth):
            dim += cfg.label_dim
        return dim

    def _label_sources_below(self, depth: int) -> list[str]:
        """Token heads below ``depth`` that feed label embeddings upward (built before it)."""
        return [t for t, h in self.heads.items()
                if h.depth < depth and h.kind == "token" and h.has_labels and t not in self.cfg.detached]

    def forward(self, batch: TokenBatch, upto: int, tasks: Collection[str] | None = None) -> StackOutput:
        """Run the layers up to depth ``upto`` and the token heads on them: all of them, or
        with ``tasks`` those asked for and those whose label embeddings feed a layer above."""
        cfg = self.cfg
        out = StackOutput(encoder=self.encoder_states(batch))
        x = self.embed(batch, out.encoder)  # [B, T, Dx]
        below: dict[str | None, torch.Tensor] = {}  # the states the next level reads (per column, when stitched)
        levels: dict[str, list[torch.Tensor]] = {}  # stitched: each column's states so far
        labels: torch.Tensor | None = None  # [B, T, label_dim], sum over the heads below
        read: dict[str, torch.Tensor] = {}  # the detached tasks' readers' states
        for depth in self.depths:
            if depth > upto:
                break
            if self.columns:
                h = self._stitched_level(depth, below, levels, x, labels, batch, out)
            else:
                h = self.layer(depth, upto)(self._layer_input(depth, below.get(None), x, labels), batch.lengths)
                below[None] = h  # [B, T, 2H]
            out.hidden[depth] = h
            feeds_above = cfg.label_embeddings and depth < upto
            labels_in = labels  # what this layer read from the heads below
            for task, head in self.heads.items():
                if head.depth != depth or head.kind != "token":
                    continue
                detached = task in cfg.detached  # reads the layer, trains nothing below, feeds nothing above
                # a task not asked for still runs when the layers above need its label embedding
                if tasks is not None and task not in tasks and (detached or not feeds_above):
                    continue
                if detached:
                    key = self.reader_of[task]
                    if key not in read:  # a shared reader runs once for all its tasks
                        above = self._layer_input(depth + 1, h.detach(), x.detach(),
                                                  None if labels_in is None else labels_in.detach())
                        read[key] = self.readers[key](above, batch.lengths)
                    scores = head(read[key], batch)
                else:
                    scores = head(h, batch)
                out.scores[task] = scores
                emb = head.label_embedding(scores) if feeds_above and not detached else None
                if emb is not None:
                    labels = emb if labels is None else labels + emb
        return out

    def _layer_input(self, depth: int, below: torch.Tensor | None, x: torch.Tensor,
                     labels: torch.Tensor | None) -> torch.Tensor:
        """A layer's input: the states below (vertical), the words (shortcut), the label embeddings."""
        cfg = self.cfg
        drop_in = self.embed_dropout if depth <= self.token_top else self.dropout
        parts = []
        if below is not None and cfg.vertical:
            parts.append(self.dropout(below))
        if below is None or cfg.shortcut or not cfg.vertical:
            parts.append(drop_in(x))
        if labels is not None and cfg.label_embeddings:
            parts.append(drop_in(labels))
        return torch.cat(parts, dim=-1)

    def _stitched_level(self, depth: int, below: dict, levels: dict, x: torch.Tensor, labels: torch.Tensor | None,
                        batch: TokenBatch, out: StackOutput) -> torch.Tensor:
        """One level of every column that reaches it, mixed by the level's alpha; returns what
        the heads at this depth read (their column's state, or its beta mixture of levels)."""
        level = self.layer_names[depth]
        columns = self.columns_at(level)
        raw = [self.columns[c][level](self._layer_input(depth, below.get(c), x, labels), batch.lengths)
               for c in columns]
        stitch = self.stitches[level]
        if self.training and stitch.subspaces > 1:
            penalty = sum(orthogonality(h, batch.mask, stitch.subspaces) for h in raw)
            out.penalties["orthogonality"] = out.penalties.get("orthogonality", 0) + penalty
        for column, h in zip(columns, stitch(raw)):
            below[column] = h
            levels.setdefault(column, []).append(h)
        if level in self.betas:
            return level_mix(levels[level], self.betas[level])
        return below[level]

    def forward_pairs(self, batch: PairBatch, upto: int) -> StackOutput:
        """Encode premises and hypotheses together, then run the pair heads up to ``upto``."""
        out = self.forward(batch.tokens, upto)
        B = batch.size
        below: dict[str, torch.Tensor] = {}
        if self.cfg.encoder_sentence:
            below["sentences"] = sentence_features(out.encoder[:, :, -1], batch.tokens.mask, B)
        for task, head in self.heads.items():
            if head.kind != "pair" or head.depth > upto:
                continue
            pooled = masked_max(out.hidden[head.depth], batch.tokens.mask)  # [2B, 2H]
            scores = head(pooled[:B], pooled[B:], below)
            out.scores[task] = scores
            emb = head.label_embedding(scores)
            if emb is not None:
                below[task] = emb
        return out
