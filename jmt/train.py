"""Training: the paper's task-ordered schedule with successive regularization, and the joint ones.

A schedule (:meth:`Trainer.units`) yields what to train next; one loop
(:meth:`Trainer.run_unit`) takes the steps, logs them and, after a pass of the task-ordered
schedule, snapshots the parameters for successive regularization. In that schedule each
epoch trains the tasks bottom-up, one pass over each task's own corpus with its own loss;
tasks at the same depth that read the same corpus (``upos`` and ``xpos`` from one treebank)
train in one pass with their losses summed. The joint schedules mix every pass's batches in
one unit. A step's loss is the sum of named parts (:meth:`PassLoss.terms`). After every epoch all tasks are
scored on their dev sets and the best epoch (by ``train.select_metric``) is saved. With
``train.average_last = N`` the weights of the last N epochs are then averaged, and the
average replaces the saved model unless it scores lower on dev.
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Collection, Iterator

import numpy as np
import torch
from torch import nn
from torch.utils.data.distributed import DistributedSampler

from .calibrate import MIN_PAIRS, calibrate, calibrated_tasks  # at import: a run's last step must not read newer code
from .checkpoint import (CHECKPOINT, RECORD, data_record, load_checkpoint, rng_states, save_checkpoint, set_rng_states,
                         training_record, write_record)
from .config import (Config, ConfigError, ModelConfig, corpus_paths, from_dict,
                     to_dict)
from .data.batch import (EncodedPair, EncodedSentence, batch_indices, collate_pairs, collate_sentences,
                         encode_pair, encode_sentence)
from .data.conllu import COLUMN_NAMES, conllu_column_is_empty
from .data.corpus import check_trees, read_corpus, require_annotation
from .data.types import Pair
from .data.vectors import load_vectors
from .data.vocab import Vocab, Vocabularies
from .device import resolve_device
from .distributed import Distributed
from .errors import TrainingError
from .io import average_weights, load_metrics, load_model, save_model, save_weights, upgrade_v1, write_json
from .model import JointManyTask
from .model.embeddings import pretrain_ngrams
from .predict import Predictor
from .tasks import TASKS

HOLDOUT = "holdout:"

# Steps between reads of a NonFiniteGuard: one host-device wait per this many steps.
CHECK_EVERY = 100
LAST_EPOCHS = "last_epochs"  # OUT/last_epochs/epoch<N>.safetensors: the weights train.average_last averages


@dataclass
class Corpora:
    train: dict[str, list]  # task -> Sentences or Pairs, all its corpora together
    dev: dict[str, list]
    train_paths: dict[str, list[str]]  # task -> its training corpora
    files: dict[str, list]  # training corpus -> its examples (less any held-out part)


def load_corpora(cfg: Config, log: Callable[[str], None] = lambda message: None) -> Corpora:
    """Read every task's train and dev corpus; a file shared by tasks is read once.

    A task asked of CoNLL-U treebanks whose column for it is ``_`` throughout (many UD
    treebanks have no XPOS, some no FEATS) is left out of the model, with a line to ``log``,
    rather than an error."""
    cache: dict[str, list] = {}

    def read(path: str, task: str) -> list:
        if path not in cache:
            cache[path] = read_corpus(path, task)
        else:
            require_annotation(cache[path], task, path)
        return cache[path]

    paths = {task: corpus_paths(value) for task, value in cfg.data.train.items()}
    for task in list(paths):
        column = TASKS[task].conllu_column
        if column is not None and all(str(p).endswith(".conllu") and conllu_column_is_empty(p, column)
                                      for p in paths[task]):
            log(f"{task} left out: the {COLUMN_NAMES[column]} column of {', '.join(map(str, paths[task]))} "
                "is '_' throughout")
            del paths[task]
    for task, task_paths in paths.items():
        for path in task_paths:
            read(path, task)
            if TASKS[task].field == "heads":
                check_trees(cache[path], path)
    # A held-out part of a file is held out from every task that trains on that file.
    splits: dict[str, tuple[list, list, str]] = {}
    dev = {}
    for task, spec in cfg.data.dev.items():
        if task not in paths:
            continue
        if spec.startswith(HOLDOUT):
            # With several corpora the first is the task's own, held out from; the others (extra
            # or machine-labelled data, say) train whole and stay out of its dev score.
            path = paths[task][0]
            if len(paths[task]) > 1:
                log(f"dev {task}={spec}: held out from {path} only, the first of its {len(paths[task])} corpora")
            if path in splits and splits[path][2] != spec:
                raise ConfigError(f"{path}: tasks trained on it ask for different hold-outs "
                                  f"({splits[path][2]} and {spec})")
            if path not in splits:
                splits[path] = (*holdout_split(cache[path], spec, cfg.train.holdout_seed), spec)
            dev[task] = splits[path][1]
        else:
            dev[task] = read(spec, task)
    files = {path: splits[path][0] if path in splits else cache[path] for task_paths in paths.values()
             for path in task_paths}
    train = {task: [ex for path in task_paths for ex in files[path]] for task, task_paths in paths.items()}
    return Corpora(train, dev, paths, files)


def holdout_split(examples: list, spec: str, seed: int) -> tuple[list, list]:
    """``holdout:0.1`` keeps a random 10 % of the training examples apart as dev."""
    try:
        fraction = float(spec[len(HOLDOUT):])
    except ValueError:
        raise ConfigError(f"bad dev spec {spec!r}; expected holdout:FRACTION, e.g. holdout:0.1") from None
    if not 0 < fraction < 1:
        raise ConfigError(f"bad dev spec {spec!r}; the fraction must be between 0 and 1")
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    n_dev = max(1, round(fraction * len(examples)))
    if n_dev >= len(examples):
        raise ConfigError(f"{spec} of {len(examples)} examples leaves nothing to train on")
    dev_idx = set(order[:n_dev])
    return ([e for i, e in enumerate(examples) if i not in dev_idx],
            [e for i, e in enumerate(examples) if i in dev_idx])


def training_sentences(corpora: Corpora) -> Iterator[list[str]]:
    """The words of every training sentence, pair sentences included, per task that reads it."""
    for examples in corpora.train.values():
        for ex in examples:
            if isinstance(ex, Pair):
                yield ex.premise
                yield ex.hypothesis
            else:
                yield ex.words


def build_vocabs(cfg: Config, corpora: Corpora, pretrained_words: list[str]) -> Vocabularies:
    labels = {TASKS[task].labels: [lab for s in corpora.train[task] for lab in (TASKS[task].labels_of(s) or [])]
              for task in corpora.train if TASKS[task].labels}
    tables = {name: table for task in corpora.train for name, table in TASKS[task].tables(corpora.train[task]).items()}
    m = cfg.model
    return Vocabularies.build(training_sentences(corpora), labels, (m.char_ngram_min, m.char_ngram_max), m.min_word_count,
                              m.min_ngram_count, pretrained_words, tables)


@dataclass
class Pass:
    """One pass of an epoch: the tasks trained together on one corpus."""

    tasks: list[str]
    depth: int
    examples: list  # encoded
    batch_size: int
    pairs: bool
    max_tokens: int = 0  # padded tokens per batch; 0 = no limit
    lr_scale: float = 1.0  # its steps' learning-rate factor

    @property
    def lengths(self) -> list[int]:
        """Words per example (both sentences of a pair), for throughput logs."""
        if not hasattr(self, "_lengths") or len(self._lengths) != len(self.examples):
            self._lengths = [len(e.premise.words.word_ids) + len(e.hypothesis.words.word_ids) if self.pairs
                             else len(e.words.word_ids) for e in self.examples]
        return self._lengths

    @property
    def name(self) -> str:
        return "+".join(self.tasks)


def make_passes(cfg: Config, corpora: Corpora, vocabs: Vocabularies,
                depths: dict[str, int] | None = None) -> list[Pass]:
    """One pass per (depth, corpus), bottom-up; ``depths``: each task's layer (default its own).
    The tasks at one depth that train on one corpus share its pass; a task with several
    corpora has a pass on each."""
    own = {name: task.depth for name, task in TASKS.items()}
    depths = depths or own
    groups: dict[tuple[int, str], list[str]] = {}
    for task in sorted(corpora.train, key=lambda t: (depths[t], own[t], t)):
        for path in corpora.train_paths[task]:
            groups.setdefault((depths[task], path), []).append(task)
    passes = []
    for (depth, path), tasks in groups.items():
        examples = corpora.files[path]
        pairs = isinstance(examples[0], Pair)
        encode = encode_pair if pairs else encode_sentence
        encoded = [encode(vocabs, ex) for ex in examples]
        if pairs and cfg.train.swap_pairs:
            encoded += swapped_pairs(encoded, tasks)
        own_size = sorted({TASKS[t].batch_size for t in tasks} - {"batch_size"})  # dep_batch_size, say
        key = own_size[0] if own_size else "batch_size"
        tokens = getattr(cfg.train, key.removesuffix("size") + "tokens")  # dep_batch_tokens, say
        lr_scale = getattr(cfg.train, key.removesuffix("size") + "lr_scale")  # dep_batch_lr_scale
        passes.append(Pass(tasks, depth, encoded, getattr(cfg.train, key), pairs, tokens, lr_scale))
    return passes


@dataclass
class Unit:
    """Training steps that a schedule yields together: one pass of the task-ordered schedule
    (``depth`` its depth; a snapshot and a checkpoint follow it) or an epoch of a joint one
    (``depth`` None)."""

    name: str
    steps: list[tuple[Pass, list[int]]]  # one optimizer step per (pass, example indices)
    depth: int | None
    after_pass: int  # the position in the epoch's pass order once it is done (for checkpoints)


class LossMeter:
    """Each task's summed loss and examples, and each pass's batches, words and seconds."""

    def __init__(self):
        self.loss: dict[str, float] = {}
        self.examples: dict[str, int] = {}
        self.passes: dict[str, list] = {}  # name -> [batches, words, seconds, Pass]

    def add(self, p: Pass, idx: list[int], losses: dict[str, torch.Tensor], seconds: float) -> None:
        for task, value in losses.items():
            # Summed where the loss is (a GPU's memory): reading it each step would make the
            # host wait for the device every step.
            self.loss[task] = self.loss.get(task, 0.0) + value.detach()
            self.examples[task] = self.examples.get(task, 0) + len(idx)
        record = self.passes.setdefault(p.name, [0, 0, 0.0, p])
        record[0] += 1
        record[1] += sum(p.lengths[k] for k in idx)
        record[2] += seconds

    def per_example(self) -> dict[str, float]:
        return {task: float(total) / max(1, self.examples[task]) for task, total in self.loss.items()}

    def lines(self, epoch: int) -> list[str]:
        per = self.per_example()
        return [f"epoch {epoch} {name}: {batches} batches, {words / max(seconds, 1e-9):,.0f} words/s, loss per "
                + ("pair " if p.pairs else "sentence ") + ", ".join(f"{t} {per[t]:.4f}" for t in p.tasks if t in per)
                for name, (batches, words, seconds, p) in sorted(self.passes.items(), key=lambda kv: kv[1][3].depth)]


class NonFiniteGuard:
    """Non-finite losses and gradient norms noticed on the device, for a trainer that does not
    read them back every step (on a GPU, that read makes the host wait for the device). From
    the first bad step on, the optimizer skips every update (fused Adam's ``found_inf``, the
    flag ``torch.amp.GradScaler`` uses), so the parameters stay as they were before it, and
    :meth:`first_bad` reads the flag once for many steps."""

    def __init__(self, device: torch.device):
        self.bad = torch.zeros((), device=device)  # 1.0 from the first bad step on
        self.step = torch.zeros((), dtype=torch.long, device=device)
        self.norm_bad = torch.zeros((), dtype=torch.bool, device=device)  # the loss was finite, the norm not
        self.value = torch.zeros((), device=device)

    def update(self, step: int, loss: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
        """Record this step's values; returns the flag for the optimizer's ``found_inf``."""
        loss, norm = loss.detach().float(), norm.detach().float()
        loss_bad = ~torch.isfinite(loss)
        now = loss_bad | ~torch.isfinite(norm)
        first = now & (self.bad == 0)
        self.step = torch.where(first, step, self.step)
        self.norm_bad = torch.where(first, ~loss_bad, self.norm_bad)
        self.value = torch.where(first, torch.where(loss_bad, loss, norm), self.value)
        self.bad = torch.maximum(self.bad, now.float())
        return self.bad

    def first_bad(self) -> tuple[int, str, float] | None:
        """(step, "loss" or "gradient norm", its value) of the first bad step, or None."""
        if not self.bad.item():
            return None
        return int(self.step), "gradient norm" if self.norm_bad.item() else "loss", self.value.item()


def attach_states(encoder, sentences: list[EncodedSentence], log) -> None:
    """Give each sentence its frozen encoder's states, from the disk cache (one file per corpus)."""
    from .model.encoder import cached_states

    unique = list({id(s): s for s in sentences}.values())
    for sent, states in zip(unique, cached_states(encoder, [s.forms for s in unique], log=log)):
        sent.encoder = states


def swapped_pairs(encoded: list[EncodedPair], tasks: list[str]) -> list[EncodedPair]:
    """Extra training pairs with premise and hypothesis exchanged, where every task's gold
    stays true (``Task.swappable``: relatedness is symmetric; entailment keeps NEUTRAL and
    CONTRADICTION only)."""
    return [EncodedPair(e.hypothesis, e.premise, e.relatedness, e.entailment) for e in encoded
            if all(TASKS[task].swappable(e) for task in tasks)]


class Regularizer:
    """The L2 terms of the task losses.

    ``lambda * ||W||^2`` on the parameters of the task's own layer and heads, and the
    successive regularization ``delta * ||theta - theta'||^2`` on every parameter below
    the task, where ``theta'`` is the snapshot taken after the previous pass (so, for the
    bottom task, after the top task of the previous epoch).
    """

    def __init__(self, model: JointManyTask, cfg: Config):
        self.model, self.t = model, cfg.train
        self.param_depths = model.parameter_depths()
        self.anchor: dict[str, torch.Tensor] = {}  # empty until the first pass: nothing to keep yet
        # Which parameters each term covers, with their weights: decided once per pass kind,
        # not by matching names at every step.
        self._below: dict[int, list[tuple[str, torch.nn.Parameter, float]]] = {}
        self._own: dict[tuple[int, tuple[str, ...]], list[tuple[torch.nn.Parameter, float]]] = {}

    def zero(self) -> torch.Tensor:
        return next(self.model.parameters()).new_zeros(())

    def snapshot(self) -> None:
        self.anchor = {n: p.detach().clone() for n, p in self.model.named_parameters()}

    def successive(self, depth: int) -> torch.Tensor:
        if depth not in self._below:
            self._below[depth] = [
                (name, p, self.t.sr_delta_classifier if name.startswith("heads.") else self.t.sr_delta)
                for name, p in self.model.named_parameters() if self.param_depths[name] < depth]
        total = self.zero()
        for name, p, delta in self._below[depth]:
            if name in self.anchor:
                total = total + delta * (p - self.anchor[name]).pow(2).sum()
        return total

    def l2(self, depth: int, tasks: list[str]) -> torch.Tensor:
        key = (depth, tuple(tasks))
        if key not in self._own:
            weights = {id(p): self.t.l2_lstm for name, p in self.model.own_layer(depth).named_parameters() if "weight" in name}
            weights.update((id(p), self.t.l2_classifier) for task in tasks for p in self.model.heads[task].parameters())
            # in the model's parameter order, so that the sum is the same number run after run
            self._own[key] = [(p, weights[id(p)]) for p in self.model.parameters() if id(p) in weights]
        total = self.zero()
        for p, weight in self._own[key]:
            total = total + weight * p.pow(2).sum()
        return total


class PassLoss(nn.Module):
    """One training step's loss for a pass: the task losses plus their L2 and successive terms.

    Everything that touches parameters happens in ``forward``, so that the module can be
    wrapped in DistributedDataParallel, which synchronises the gradients of what its
    forward used.
    """

    def __init__(self, model: JointManyTask, regularizer: Regularizer, successive: bool, uncertainty: bool = False):
        super().__init__()
        self.model, self.regularizer, self.successive = model, regularizer, successive
        # s_t = log sigma_t^2 of each task, learned (Kendall, Gal and Cipolla 2018)
        self.log_vars = nn.ParameterDict({t: nn.Parameter(torch.zeros(())) for t in model.tasks}) if uncertainty \
            else None

    def forward(self, batch, depth: int, tasks: list[str], pairs: bool):
        """(total loss, each task's loss): the sum of :meth:`terms`."""
        losses, terms = self.terms(batch, depth, tasks, pairs)
        return sum(terms.values()), losses

    def terms(self, batch, depth: int, tasks: list[str], pairs: bool) -> tuple[dict, dict[str, torch.Tensor]]:
        """Each task's loss, and the named parts of the total: ``tasks`` (their sum, or
        weighted by learned uncertainty), ``l2`` (the task's own layer and heads),
        ``soft_sharing`` (copies against shared layers) and ``successive`` (the parameters
        below against their snapshot), the last two only where they apply."""
        out = self.model.forward_pairs(batch, depth) if pairs else self.model(batch, depth)
        losses = {task: self.model.heads[task].loss(out.scores[task], batch) for task in tasks}
        if self.log_vars is None:
            task_loss = sum(losses.values())
        else:
            task_loss = sum(torch.exp(-self.log_vars[t]) * value + self.log_vars[t] for t, value in losses.items())
        terms = {"tasks": task_loss, "l2": self.regularizer.l2(depth, tasks)}
        if self.model.copies:
            terms["soft_sharing"] = self.regularizer.t.soft_sharing_weight * self.model.soft_sharing_penalty(depth)
        if "orthogonality" in out.penalties:
            terms["orthogonality"] = self.regularizer.t.orthogonality_weight * out.penalties["orthogonality"]
        if self.successive:
            terms["successive"] = self.regularizer.successive(depth)
        return losses, terms


def select_score(dev: dict[str, dict], metric: str, model: JointManyTask) -> float | None:
    """The model selection score: ``task.metric`` or, for ``auto``, the primary score of a
    task that the registry says selects (the parser's LAS) or else the mean of the tasks'
    primary scores; None (every epoch replaces the saved model) for ``last`` or without dev sets."""
    if not dev or metric == "last":
        return None
    if metric == "auto":
        chosen = [task for task in dev if TASKS[task].selects]
        if chosen:
            return dev[chosen[0]][model.heads[chosen[0]].primary]
        values = []
        for task, scores in dev.items():
            value = scores[model.heads[task].primary]
            values.append(100 * value if model.heads[task].primary == "pearson" else value)
        return float(np.mean(values))
    task, _, key = metric.partition(".")
    if task not in dev or key not in dev[task] or not isinstance(dev[task][key], float):  # counts are ints
        raise ConfigError(f"select_metric {metric!r}: no such dev score; have "
                          + ", ".join(f"{t}.{k}" for t, s in dev.items() for k in s if isinstance(s[k], float)))
    value = float(dev[task][key])  # a NumPy scalar would make "selected" a NumPy bool, which JSON refuses
    return -value if key == "mse" else value


def new_model(cfg: Config, corpora: Corpora, device: torch.device, load_encoder: Callable,
              pretrain: bool = True, log: Callable[[str], None] = lambda message: None):
    """A new model for ``cfg`` and its corpora: the pretrained vectors (their size sets
    ``word_dim``), the encoder (its identity goes into the settings), the vocabularies, the
    network, and, with ``pretrain``, the character n-grams fitted to the vectors. Returns the
    model, the vocabularies and the resolved configuration (a validated copy)."""
    vectors, extra, model_cfg = None, [], cfg.model
    if cfg.data.vectors:
        wanted = {w.lower() for words in training_sentences(corpora) for w in words}
        vectors, extra = load_vectors(cfg.data.vectors, wanted, cfg.model.max_pretrained_words)
        model_cfg = dataclasses.replace(model_cfg, word_dim=len(next(iter(vectors.values()))))
    encoder = load_encoder(model_cfg) if model_cfg.encoder else None
    if encoder is not None:
        model_cfg = dataclasses.replace(model_cfg, encoder_sha256=encoder.sha256,
                                        encoder_layers=encoder.layers, encoder_dim=encoder.dim)
    cfg = dataclasses.replace(cfg, model=model_cfg)
    cfg.validate()
    vocabs = build_vocabs(cfg, corpora, extra)
    model = JointManyTask(cfg.model, vocabs, list(corpora.train), vectors, cfg.train.decoder)
    model.to(device)
    if encoder is not None:
        model.attach_encoder(encoder)
    if cfg.data.vectors and cfg.train.ngram_pretrain_epochs > 0 and pretrain:
        pretrain_ngrams(model.embed, vocabs, cfg.data.vectors, cfg.train.ngram_pretrain_epochs,
                        seed=cfg.train.seed, log=log)
    return model, vocabs, cfg


def add_tasks(model: JointManyTask, vocabs: Vocabularies, model_cfg: ModelConfig, tasks: list[str],
              corpora: Corpora, source: str, decoder: str) -> tuple[JointManyTask, ModelConfig]:
    """``model`` with new ``tasks``, detached (``model.detached``): each a head that reads the
    model's highest layer at or below its depth (a model without chunks gives feats the POS
    layer) and changes nothing else, so the model's own outputs stay as they were. Their
    labels and tables join ``vocabs``; every old weight is kept."""
    for task in tasks:
        spec = TASKS[task]
        if spec.kind != "token":
            raise ConfigError(f"{source}: the model has no {task!r} task, and only token tasks can be added "
                              f"to a trained model; it has {', '.join(model.tasks)}")
        if not any(depth <= spec.depth for depth in model.depths):
            raise ConfigError(f"{source}: {task} would read a layer at or below depth {spec.depth} ({spec.layer}), "
                              f"and the model has none; it has {', '.join(model.tasks)}")
    for task in tasks:
        spec = TASKS[task]
        if spec.labels:
            vocabs.labels[spec.labels] = Vocab(sorted({lab for s in corpora.train[task] for lab in spec.labels_of(s) or []}))
        vocabs.tables.update(spec.tables(corpora.train[task]))
    model_cfg = dataclasses.replace(model_cfg, detached=sorted({*model_cfg.detached, *tasks}))
    grown = JointManyTask(model_cfg, vocabs, [*model.tasks, *tasks], decoder=decoder).to(next(model.parameters()).device)
    missing, unexpected = grown.load_state_dict(model.state_dict(), strict=False)
    new = grown.own_prefixes(tasks)
    assert not unexpected and all(key.startswith(new) for key in missing), (missing, unexpected)
    if model.encoder is not None:
        grown.attach_encoder(model.encoder)
    return grown, model_cfg


def base_record(source: Path, name: str | Path, trained: Collection[str]) -> dict:
    """The record of the model that detached tasks were added to (``source``, given as
    ``name``): its epoch, and the dev scores of its tasks other than ``trained``, with those
    of its own base when tasks were added to it before."""
    metrics = load_metrics(source)
    earlier = metrics.get("base", {})
    dev = {task: scores for task, scores in {**earlier.get("dev", {}), **metrics.get("dev", {})}.items()
           if task not in trained}
    averaged = {"averaged_epochs": metrics["averaged_epochs"]} if "averaged_epochs" in metrics else {}
    return {"model": Path(name).name, "epoch": metrics.get("epoch"), **averaged, "dev": dev}


def detached_alone(cfg: Config) -> bool:
    """Whether a fine-tuning run trains detached tasks only: then it changes no other output."""
    return cfg.train.init_from is not None and set(cfg.data.train) <= set(cfg.model.detached)


def make_optimizer(model: JointManyTask, loss_module: PassLoss, cfg: Config,
                   added: Collection[str] = ()) -> torch.optim.Optimizer:
    """Adam or SGD over one parameter group per depth (a schedule scales each group's rate),
    a trainable encoder's own group at ``encoder_lr``, and the uncertainty weights; the
    parameters below ``freeze_below`` are left out and frozen. Tasks ``added`` to a trained
    model always train their heads. A fine-tuning run that trains detached tasks alone trains
    nothing but their heads and readers, so every other output stays as it was."""
    by_depth: dict[int, list[torch.nn.Parameter]] = {}
    encoder_params = []
    depths = model.parameter_depths()

    alone = detached_alone(cfg)
    own = model.own_prefixes(cfg.data.train if alone else added)
    for name, param in model.named_parameters():
        depth = depths[name]
        if not name.startswith(own) and (alone or depth < cfg.train.freeze_below):
            param.requires_grad_(False)  # out of the optimizer, so Adam cannot move it either
        elif name.startswith("encoder_net."):
            encoder_params.append(param)
        else:
            by_depth.setdefault(depth, []).append(param)
    if not by_depth:
        raise ConfigError(f"freeze_below {cfg.train.freeze_below} leaves no parameter to train")
    groups = [{"params": ps, "depth": d} for d, ps in sorted(by_depth.items())]
    if encoder_params:  # a trainable encoder: the word representation's depth, its own rate
        groups.append({"params": encoder_params, "depth": 0, "scale": cfg.train.encoder_lr / cfg.train.lr})
    if loss_module.log_vars is not None:
        groups.append({"params": list(loss_module.log_vars.parameters()), "depth": -1})
    if cfg.train.optimizer == "adam":
        # The fused kernel updates the ~8M embedding parameters about 3x faster than
        # the default multi-tensor path on a CPU (measured: 25 ms -> 8 ms per step).
        return torch.optim.Adam(groups, lr=cfg.train.lr, fused=True)
    return torch.optim.SGD(groups, lr=cfg.train.lr)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class Trainer:
    def __init__(self, cfg: Config, out_dir: str | Path, log: Callable[[str], None] | None = None,
                 resume: bool = False, dist: Distributed | None = None, device: str | torch.device | None = "cpu"):
        """``resume``: continue from ``out_dir/resume.safetensors`` when :meth:`train` runs.
        ``dist``: this process's place in a multi-process run (see :mod:`jmt.distributed`).
        ``device``: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (under torchrun, ``cuda`` is the rank's own GPU)."""
        cfg.validate()
        if not cfg.data.train:
            raise ConfigError("no training corpus given (use --train TASK=PATH)")
        self.started = time.perf_counter()
        self.cfg, self.out_dir, self.resume = cfg, Path(out_dir), resume
        self.log = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        if dist is not None and not dist.is_main:
            self.log = lambda msg: None  # one log, from rank 0
        self.device = resolve_device(device, dist.local_rank if dist is not None else None)
        seed_everything(cfg.train.seed)
        self.corpora = load_corpora(cfg, self.log)
        self.added: list[str] = []  # tasks that this run adds to the model it starts from (init_from)
        self.source: Path | None = None  # that model's directory
        self.fresh_log = self.checkpointed = False  # set by train(): see there
        self.earlier_record: dict | None = None
        # What the data decide (the vectors' size, the encoder's identity, a fine-tuned model's
        # own settings) goes into a resolved copy of the configuration, checked again; neither
        # it nor the caller's configuration changes after that.
        if cfg.train.init_from is not None:
            self.model, self.vocabs, model_cfg = self.load_initial(cfg)
            self.cfg = cfg = dataclasses.replace(cfg, model=model_cfg)
            cfg.validate()
        else:
            self.model, self.vocabs, cfg = new_model(cfg, self.corpora, self.device, self.load_encoder,
                                                     pretrain=not resume, log=self.log)
            self.cfg = cfg
        self.regularizer = Regularizer(self.model, cfg)
        self.passes = make_passes(cfg, self.corpora, self.vocabs, {t: h.depth for t, h in self.model.heads.items()})
        frozen_encoder = self.model.encoder is not None and not cfg.model.encoder_trainable
        if frozen_encoder:
            for p in self.passes:
                sentences = [s for e in p.examples for s in ((e.premise, e.hypothesis) if p.pairs else (e,))]
                attach_states(self.model.encoder, sentences, self.log)
        joint = cfg.train.schedule != "jmt"
        self.loss_module = PassLoss(self.model, self.regularizer, cfg.train.successive_regularization and not joint,
                                    uncertainty=cfg.train.schedule == "uncertainty").to(self.device)
        self.optimizer = make_optimizer(self.model, self.loss_module, cfg, self.added)
        if cfg.train.compile:  # the instances' forward, so that the saved weights keep their names
            for module in (self.model.embed, *self.model.heads.values()):
                module.forward = torch.compile(module.forward, backend=cfg.train.compile, dynamic=True)
        # On a GPU, non-finite values are caught on the device (NonFiniteGuard), which fused
        # Adam's skipped updates make possible; elsewhere each step checks them itself.
        self.deferred_checks = self.device.type == "cuda" and self.optimizer.defaults.get("fused") is True
        self.guard: NonFiniteGuard | None = None
        if cfg.train.precision == "bf16" and self.device.type == "cpu":
            from .predict import cpu_has_bf16_units

            if not cpu_has_bf16_units():
                self.log("warning: train.precision bf16 on a CPU without bf16 units (AMX or AVX512-BF16) is "
                         "emulated and several times slower than fp32")
        self.epoch_lr = cfg.train.lr
        self.rng = random.Random(cfg.train.seed)
        self.predictor = Predictor(self.model, self.vocabs, cfg.train.eval_batch_size, cache=frozen_encoder)
        self.data_files = data_record(cfg.data.train, cfg.data.dev, cfg.data.vectors)
        self.dist = dist
        self.step = self.loss_module
        if dist is not None:
            from torch.nn.parallel import DistributedDataParallel

            # Passes use only the layers up to their task: the others get no gradient.
            self.step = DistributedDataParallel(self.step, find_unused_parameters=True, broadcast_buffers=False,
                                                device_ids=[self.device.index] if self.device.type == "cuda" else None)
            torch.manual_seed(cfg.train.seed + 1000 * dist.rank)  # own dropout masks per rank
        self.wall_before = 0.0  # seconds spent by the runs this one resumes
        self.resumed_order: list[int] | None = None  # pass order of the epoch a checkpoint stopped in

    def load_encoder(self, m: ModelConfig):
        """The pretrained encoder ``m.encoder`` names; a resumed run checks that it is the one
        it started with (``m.encoder_sha256``)."""
        from .model.encoder import Encoder, load_encoder

        if m.encoder_sha256:
            encoder = load_encoder(m.encoder, m.encoder_sha256, m.encoder_pooling, str(self.out_dir), self.device)
        else:
            encoder = Encoder(m.encoder, m.encoder_pooling, self.device)
        self.log(f"encoder {m.encoder}: {encoder.layers} layers of {encoder.dim}, {m.encoder_pooling} of each word's "
                 f"pieces, {'trained' if m.encoder_trainable else 'frozen'}; weights sha256 {encoder.sha256[:12]}")
        return encoder

    def load_initial(self, cfg: Config) -> tuple[JointManyTask, Vocabularies, ModelConfig]:
        """The model, vocabularies and model settings of ``cfg.train.init_from``, to fine-tune:
        its settings replace ``cfg.model``; a token task it lacks is added, detached (``add_tasks``)."""
        from .api import model_path

        self.source = model_path(cfg.train.init_from)
        model, vocabs, saved = load_model(self.source, self.device)
        # read now: fine-tuned in place (-o the same folder), the source's record is rewritten
        self.base = base_record(self.source, cfg.train.init_from, set(cfg.data.train))
        # Model settings come from the model; one set otherwise and differently is a mistake.
        default, given, have = to_dict(ModelConfig()), to_dict(cfg.model), to_dict(saved.model)
        self.added = sorted(set(self.corpora.train) - set(model.heads), key=lambda t: (TASKS[t].depth, t))
        have["detached"] = sorted({*have["detached"], *self.added})  # what this run makes of it (a resumed run's config has it)
        # Tasks added to a model without detached tasks may share one reader (shared_reader).
        first_added = bool(self.added) and not saved.model.detached
        clash = [k for k in given if given[k] != default[k] and given[k] != have[k]
                 and k != "word_dim" and not (k == "shared_reader" and first_added)]
        if clash:
            raise ConfigError(f"model setting {clash[0]} = {given[clash[0]]!r} given, but the model in "
                              f"{cfg.train.init_from} has {have[clash[0]]!r}; a fine-tuned model keeps its own settings")
        if first_added:
            saved.model = dataclasses.replace(saved.model, shared_reader=cfg.model.shared_reader)
        if self.added:
            model, saved.model = add_tasks(model, vocabs, saved.model, self.added, self.corpora,
                                           cfg.train.init_from, cfg.train.decoder)
        changes = not detached_alone(dataclasses.replace(cfg, model=saved.model))
        for task in calibrated_tasks(model.heads):
            if changes and cfg.train.freeze_below <= TASKS[task].depth:
                # The old calibration line fitted the old scores; train ends by fitting a new one.
                model.heads[task].set_calibration(1.0, 0.0)
                if task not in cfg.data.dev:
                    self.log(f"{task}: the calibration line of {cfg.train.init_from} fitted the scores this run "
                             f"changes; with no {task} dev set it is not fitted again (afterwards: jmt calibrate "
                             "MODEL PAIRS)")
        return model, vocabs, saved.model

    def lr(self, epoch: int) -> float:
        return self.cfg.train.lr / (1 + self.cfg.train.lr_decay * (epoch - 1))

    def pass_batches(self, p: Pass) -> list[list[int]]:
        """This epoch's shuffled batches of a pass (this rank's share of them)."""
        batches = list(batch_indices(p.examples, p.batch_size, shuffle=True, rng=self.rng,
                                     max_tokens=p.max_tokens or None))
        if self.dist is not None:
            # The same shuffled batches on every rank (same seed); each takes its own share,
            # padded by the sampler to an equal number of steps.
            sampler = DistributedSampler(batches, num_replicas=self.dist.world_size, rank=self.dist.rank,
                                         shuffle=False)
            batches = [batches[i] for i in sampler]
        return batches

    def units(self, epoch: int, order: list[int], start: int) -> Iterator[Unit]:
        """What to train in an epoch, in order. The task-ordered schedule ("jmt"): one unit per
        pass, from pass ``start`` of ``order`` on, the layers below the pass's depth at
        ``lower_lr_scale``. The joint schedules: one unit of every pass's batches, each step
        one batch of one pass drawn with probability proportional to (its number of batches)
        ** (1 / joint_temperature), every layer at the full rate."""
        t = self.cfg.train
        if t.schedule == "jmt":
            for k in range(start, len(order)):
                p = self.passes[order[k]]
                yield Unit(p.name, [(p, idx) for idx in self.pass_batches(p)], p.depth, after_pass=k + 1)
            return
        queues = [self.pass_batches(p) for p in self.passes]
        weights = [len(q) ** (1 / t.joint_temperature) for q in queues]
        steps = []
        for _ in range(sum(len(q) for q in queues)):
            i = self.rng.choices(range(len(self.passes)), weights)[0]
            if not queues[i]:
                queues[i] = self.pass_batches(self.passes[i])
            steps.append((self.passes[i], queues[i].pop()))
        yield Unit(t.schedule, steps, None, after_pass=len(order))

    def run_unit(self, unit: Unit, epoch: int) -> dict[str, float]:
        """The training loop: set the learning rates, take the unit's steps, log what they did;
        after a pass of the task-ordered schedule, snapshot the parameters for successive
        regularization. Returns each task's loss per example."""
        t = self.cfg.train
        self.model.train()
        bottom = self.model.depths[0]
        for group in self.optimizer.param_groups:
            # A pass trains the layers below its depth at lower_lr_scale, except the word
            # representation (depth 0) in the bottom pass, whose own layer it is.
            below = unit.depth is not None and group["depth"] < unit.depth and not (group["depth"] == 0
                                                                                      and unit.depth == bottom)
            group["lr"] = self.epoch_lr * group.get("scale", 1.0) * (t.lower_lr_scale if below else 1.0)
        unit_lrs, scale = [group["lr"] for group in self.optimizer.param_groups], 1.0
        meter = LossMeter()
        self.guard = NonFiniteGuard(self.device) if self.deferred_checks else None
        with progress_bar(f"epoch {epoch} {unit.name}", len(unit.steps), t.progress and self.is_main) as advance:
            for n, (p, idx) in enumerate(unit.steps, 1):
                if p.lr_scale != scale:  # [train] batch_lr_scale, dep_batch_lr_scale
                    scale = p.lr_scale
                    for group, lr in zip(self.optimizer.param_groups, unit_lrs):
                        group["lr"] = lr * scale
                start = time.perf_counter()
                losses = self.train_step(p, idx, epoch, n, len(unit.steps))
                meter.add(p, idx, losses, time.perf_counter() - start)
                advance(lambda: f"loss per example {sum(v.item() for v in losses.values()) / len(idx):.3f}")
                if n % CHECK_EVERY == 0 or n == len(unit.steps):
                    self.check_guard(unit, epoch)
        if unit.depth is not None:
            self.regularizer.snapshot()
        for line in meter.lines(epoch):
            self.log(line)
        if unit.depth is None:
            weights = ""
            if self.loss_module.log_vars is not None:
                weights = "; task weights exp(-s) " + ", ".join(
                    f"{task} {math.exp(-v.item()):.3g}" for task, v in self.loss_module.log_vars.items())
            self.log(f"epoch {epoch} {unit.name}: {len(unit.steps)} steps" + weights)
        return meter.per_example()

    def train_pass(self, p: Pass, epoch: int) -> dict[str, float]:
        """One pass on its own, as the task-ordered schedule trains it (for tests and tools)."""
        return self.run_unit(Unit(p.name, [(p, idx) for idx in self.pass_batches(p)], p.depth, 0), epoch)

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One whole epoch of the schedule, without dev scores or checkpoints."""
        self.epoch_lr = self.lr(epoch)
        losses: dict[str, float] = {}
        for unit in self.units(epoch, self.epoch_order(), 0):
            losses.update(self.run_unit(unit, epoch))
        return losses

    @property
    def is_main(self) -> bool:
        return self.dist is None or self.dist.is_main

    def train_step(self, p: Pass, idx: list[int], epoch: int, step: int, steps: int) -> dict[str, torch.Tensor]:
        """One optimizer step on one batch of pass ``p``; returns the task losses."""
        batch = (collate_pairs if p.pairs else collate_sentences)([p.examples[i] for i in idx]).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.cfg.train.precision == "bf16"):
            loss, losses = self.step(batch, p.depth, p.tasks, p.pairs)
        # Alone, stop before backward; with several ranks a bad loss on one shows up in the
        # averaged gradient norm on all of them, so every rank stops together.
        if self.guard is None and self.dist is None and not torch.isfinite(loss):
            raise self.non_finite("loss", loss.item(), p, epoch, step, steps)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), min(self.cfg.train.clip, float(p.depth)))
        if self.guard is None:
            if not torch.isfinite(norm):
                raise self.non_finite("gradient norm", norm.item(), p, epoch, step, steps)
            self.optimizer.step()
        else:  # the device skips the update; check_guard stops the pass a few steps later
            self.optimizer.found_inf = self.guard.update(step, loss, norm)
            self.optimizer.step()
            del self.optimizer.found_inf
        return losses

    def check_guard(self, unit: Unit, epoch: int) -> None:
        """Stop with the first bad step's error if the guard saw one (no update ran since)."""
        bad = self.guard.first_bad() if self.guard is not None else None
        if bad is not None:
            step, what, value = bad
            raise self.non_finite(what, value, unit.steps[step - 1][0], epoch, step, len(unit.steps))

    def non_finite(self, what: str, value: float, p: Pass, epoch: int, step: int, steps: int) -> TrainingError:
        saved = (f"the best model so far in {self.out_dir} is intact" if (self.out_dir / "model.safetensors").is_file()
                 else "no model was saved yet")
        return TrainingError(f"epoch {epoch}, task {p.name}, step {step} of {steps}: the {what} is {value} "
                             f"(not finite); training stopped, {saved}. "
                             "A lower --lr or gradient clip (--set train.clip=1) usually helps.")

    def evaluate_dev(self) -> dict[str, dict]:
        # Tasks whose dev set is one corpus (upos, xpos, dep on a treebank) share one run.
        groups: dict[int, list[str]] = {}
        for task, examples in self.corpora.dev.items():
            groups.setdefault(id(examples), []).append(task)
        scores = {}
        for tasks in groups.values():
            scores.update(self.predictor.evaluate_tasks(tasks, self.corpora.dev[tasks[0]]))
        return {task: scores[task] for task in self.corpora.dev}

    def checkpoint_state(self, epoch: int, next_pass: int, epoch_losses: dict, best: float,
                         best_record: dict | None, order: list[int] | None = None) -> dict:
        weights = self.loss_module.log_vars
        return {"config": json.dumps(to_dict(self.cfg)), "epoch": epoch, "next_pass": next_pass,
                "pass_order": list(order or []), "epoch_losses": json.dumps(epoch_losses), "best": best,
                "best_record": json.dumps(best_record), "wall_seconds": self.wall_seconds(),
                "model": self.model.state_dict(), "task_weights": weights.state_dict() if weights is not None else {},
                "optimizer": self.optimizer.state_dict(), "rng": rng_states(self.rng)}

    def epoch_order(self) -> list[int]:
        """The passes of an epoch: bottom-up (the paper), or shuffled with ``task_order = "random"``."""
        order = list(range(len(self.passes)))
        if self.cfg.train.task_order == "random" and self.cfg.train.schedule == "jmt":
            self.rng.shuffle(order)
        return order

    def wall_seconds(self) -> float:
        return self.wall_before + time.perf_counter() - self.started

    def check_select_metric(self) -> None:
        """A ``select_metric`` that names no dev score fails before the first epoch, not after
        it: the task is scored on its first dev example to see which scores it has."""
        task = self.cfg.train.select_metric.partition(".")[0]
        if task in self.corpora.dev and self.corpora.dev[task]:
            scores = self.predictor.evaluate_tasks([task], self.corpora.dev[task][:1])
            select_score(scores, self.cfg.train.select_metric, self.model)

    def check_same_data(self, record: dict) -> None:
        """A resumed run reads the files the run started with (``record``, its
        ``training.json``, has their SHA-256): another vocabulary or other examples would not
        continue it."""
        before = {f["path"]: f["sha256"] for f in record.get("data", [])}
        for now in self.data_files:
            if now["path"] in before and before[now["path"]] != now["sha256"]:
                raise ConfigError(f"{now['path']}: changed since the run started (SHA-256 {before[now['path']][:12]} "
                                  f"then, {now['sha256'][:12]} now); resume with the files it started with")

    def restore(self, state: dict) -> tuple[int, int, dict, float, dict | None]:
        """Load a checkpoint into the model, optimizer and random states; returns the position."""
        # through Config and back: settings added to jmt since the checkpoint take their defaults
        saved_cfg = to_dict(from_dict(Config, json.loads(state["config"])))
        saved_cfg["train"]["epochs"] = self.cfg.train.epochs  # resuming may extend the run
        saved_cfg["train"]["average_last"] = self.cfg.train.average_last  # or average a different end of it
        if saved_cfg != to_dict(self.cfg):
            raise ConfigError(f"{self.out_dir / CHECKPOINT}: the checkpoint was written with another configuration; "
                              "resume with the same one (jmt train --resume DIR reads it from the checkpoint)")
        self.model.load_state_dict(upgrade_v1(state["model"]))  # a checkpoint of an older jmt too
        if self.loss_module.log_vars is not None:
            self.loss_module.log_vars.load_state_dict(state["task_weights"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.resumed_order = state.get("pass_order") or None
        set_rng_states(state["rng"], self.rng)
        self.regularizer.snapshot()  # checkpoints are taken right after a pass's snapshot
        self.wall_before = state["wall_seconds"]
        return (state["epoch"], state["next_pass"], json.loads(state["epoch_losses"]), state["best"],
                json.loads(state["best_record"]))

    def end_epoch(self, epoch: int, lr: float, losses: dict, best: float, best_record: dict | None,
                  train_seconds: float, start: float) -> tuple[float, dict | None]:
        """Score the dev sets, save the model if it is the best so far, log the epoch."""
        dev = self.evaluate_dev()
        score = select_score(dev, self.cfg.train.select_metric, self.model)
        improved = score is None or score > best
        record = {"epoch": epoch, "lr": lr, "train_loss": losses, "dev": dev, "select_score": score,
                  "train_seconds": round(train_seconds, 1),
                  "seconds": round(time.perf_counter() - start, 1), "selected": improved}
        if self.device.type == "cuda":  # the epoch's training and dev scoring
            record["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated(self.device) / 2**20)
        if self.fresh_log:  # this run's first save: the folder's earlier run gives way to it
            self.clear_earlier_run()
        if improved:
            best, best_record = (score if score is not None else best), record
            save_model(self.out_dir, self.model, self.vocabs, self.cfg, metrics=record)
        if self.cfg.train.keep_epoch_models:
            save_model(self.out_dir / f"epoch{epoch}", self.model, self.vocabs, self.cfg, metrics=record)
        elif self.cfg.train.average_last:
            self.keep_last_weights(epoch)
        write_record(self.out_dir, training_record(self.cfg.train.seed, self.data_files, self.wall_seconds(), epoch,
                                                   self.earlier_record))
        with (self.out_dir / "metrics.jsonl").open("w" if self.fresh_log else "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self.fresh_log = False
        self.log(format_dev_table(epoch, dev, self.model, score, improved))
        return best, best_record

    def train(self) -> dict:
        """Train all epochs; returns the metrics of the selected (best) epoch.

        A checkpoint is written after every task pass of the task-ordered schedules and after
        every epoch's evaluation; with
        ``resume`` the run continues from the last one and ends with the same weights as a
        run that was never stopped.
        """
        cfg = self.cfg
        main = self.dist is None or self.dist.is_main  # only rank 0 writes anything
        log_path = self.out_dir / "metrics.jsonl"
        epoch, next_pass, losses, best, best_record = 1, 0, {}, -math.inf, None
        self.fresh_log, self.checkpointed = False, self.resume  # a resumed run's checkpoint is its own
        self.check_select_metric()
        self.earlier_record = None  # training.json of the run this one resumes
        if self.resume:
            if (self.out_dir / RECORD).is_file():
                self.earlier_record = json.loads((self.out_dir / RECORD).read_text(encoding="utf-8"))
                self.check_same_data(self.earlier_record)
            epoch, next_pass, losses, best, best_record = self.restore(load_checkpoint(self.out_dir))
            if main:
                kept = [line for line in (log_path.read_text(encoding="utf-8").splitlines() if log_path.is_file()
                                          else []) if json.loads(line)["epoch"] < epoch]  # later epochs are redone
                log_path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
            order = self.resumed_order or list(range(len(self.passes)))
            where = f"pass {self.passes[order[next_pass]].name}" if next_pass < len(order) else "its evaluation"
            self.log(f"resuming from {self.out_dir / CHECKPOINT}: " + (f"epoch {epoch}, {where}" if epoch <= cfg.train.epochs
                     else f"all {cfg.train.epochs} epochs are trained"))
        elif main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            self.fresh_log = True  # the first epoch's record replaces a log already there (end_epoch)
        sizes = ", ".join(f"{task} {len(ex)}" for task, ex in self.corpora.train.items())
        ranks = f" on {self.dist.world_size} processes" if self.dist else ""
        ranks += f", on {self.device}"
        trainable = sum(p.numel() for p in self.model.parameters() if p.requires_grad)
        if cfg.train.init_from is not None:
            kept = (f"the model's own {sum(p.numel() for p in self.model.parameters()) - trainable:,} kept"
                    if detached_alone(cfg) else f"those below depth {cfg.train.freeze_below} kept")
            self.log(f"fine-tuning the model in {cfg.train.init_from} ({', '.join(self.model.tasks)}"
                     + (f"; {', '.join(self.added)} added, detached" if self.added else "")
                     + f") on {sizes}{ranks}; {trainable:,} parameters trained, {kept}")
            if detached_alone(cfg):
                for key, others in self.model.shared_with(cfg.data.train).items():
                    self.log(f"readers.{key} is shared with {', '.join(others)}, which this run does not train: "
                             f"it stays as it is (train {', '.join(others)} too to fine-tune it)")
        else:
            self.log(f"training {', '.join(self.model.tasks)} on {sizes}{ranks}; {trainable:,} parameters"
                     + (f", those below depth {cfg.train.freeze_below} kept" if cfg.train.freeze_below else ""))
        undevved = [task for task in self.corpora.train if task not in self.corpora.dev]
        if self.corpora.dev and undevved:
            self.log(f"note: {', '.join(undevved)} {'has' if len(undevved) == 1 else 'have'} no dev set: the saved "
                     f"epoch is chosen on {', '.join(self.corpora.dev)}")
        try:
            while epoch <= cfg.train.epochs:
                start = time.perf_counter()
                if self.device.type == "cuda":
                    torch.cuda.reset_peak_memory_stats(self.device)
                lr = self.epoch_lr = self.lr(epoch)
                order = self.resumed_order if next_pass and self.resumed_order else self.epoch_order()
                for unit in self.units(epoch, order, next_pass):
                    losses.update(self.run_unit(unit, epoch))
                    if main and unit.depth is not None:  # a checkpoint after each pass
                        save_checkpoint(self.out_dir,
                                        self.checkpoint_state(epoch, unit.after_pass, losses, best, best_record, order))
                        self.checkpointed = True
                train_seconds = time.perf_counter() - start
                if main:
                    best, best_record = self.end_epoch(epoch, lr, losses, best, best_record, train_seconds, start)
                if self.dist is not None:
                    self.dist.barrier()  # the others wait while rank 0 evaluates and saves
                epoch, next_pass, losses = epoch + 1, 0, {}
                if main:
                    save_checkpoint(self.out_dir, self.checkpoint_state(epoch, 0, losses, best, best_record))
        except KeyboardInterrupt:
            if self.checkpointed and (self.out_dir / CHECKPOINT).is_file():
                self.log(f"interrupted; the last checkpoint is {self.out_dir / CHECKPOINT}. "
                         f"Continue with: jmt train --resume {self.out_dir}")
            elif main:
                self.log("interrupted before this run's first checkpoint: nothing of it was saved")
            raise
        if main:
            if cfg.train.average_last:
                best_record = self.average_last_epochs(best, best_record)
            best_record = self.calibrate(best_record)
            if self.source is not None and detached_alone(cfg):
                best_record = self.record_base(self.source)
            if cfg.train.segmenter:
                try:
                    self.train_segmenter()
                except KeyboardInterrupt:
                    self.log(f"interrupted while training the segmenter; the model is saved, and the segmenter "
                             f"in {self.out_dir} is unfinished. Train it again with: jmt train --resume {self.out_dir}")
                    raise
            elif self.source is not None:
                self.keep_segmenter(self.source)
        return best_record or {}

    def record_base(self, source: Path) -> dict:
        """A model that got detached tasks added predicts every other task as ``source`` did,
        so its ``metrics.json`` keeps the source's record of them under ``base``: the source's
        name and epoch, and the dev scores of its tasks that this run did not train."""
        path = self.out_dir / "metrics.json"
        record = load_metrics(self.out_dir)
        if record:
            record["base"] = self.base
            write_json(path, record)
        return record

    def clear_earlier_run(self) -> None:
        """Remove what an earlier run left in the output folder that this run would not
        overwrite but would read or ship with its model: its kept epoch models, its weights
        kept for averaging, and its segmenter (unless this run fine-tunes the model in that
        same folder, whose segmenter it keeps). Until this run's first epoch ends, the
        earlier model stays whole."""
        from .segment import META, WEIGHTS

        stale = [p for p in self.out_dir.glob("epoch*") if p.is_dir() and p.name[len("epoch"):].isdigit()]
        stale.append(self.out_dir / LAST_EPOCHS)
        in_place = self.source is not None and self.source.resolve() == self.out_dir.resolve()
        if not in_place:
            stale += [self.out_dir / WEIGHTS, self.out_dir / META]
        for path in stale:
            if path.is_dir():
                shutil.rmtree(path)
            elif path.exists():
                path.unlink()

    def keep_segmenter(self, source: Path) -> None:
        """A fine-tuned model splits raw text as the model it started from did: its segmenter
        is copied along (the tokens a model reads do not change with its weights)."""
        from .segment import META, WEIGHTS, has_segmenter

        if has_segmenter(source) and not (self.out_dir / META).is_file():  # META is copied last
            for name in (WEIGHTS, META):
                shutil.copyfile(source / name, self.out_dir / name)
            self.log(f"the segmenter of {source} copied along")
            theirs = json.loads((source / META).read_text(encoding="utf-8")).get("lang")
            ours = self.cfg.data.lang
            if theirs and ours and theirs != ours:
                self.log(f"warning: that segmenter splits {theirs} text, and this model's language is {ours}: "
                         f"train one for {ours} (jmt train-segmenter)")

    def train_segmenter(self) -> None:
        """Train the raw-text segmenter (:mod:`jmt.segment`) into the model directory."""
        from .config import segmenter_corpus
        from .segment import SegmenterConfig, train_segmenter

        train_path, dev_path = segmenter_corpus(self.cfg.data)
        self.log(f"training the segmenter on {train_path}" + (f", choosing its epoch on {dev_path}" if dev_path else ""))
        scores = train_segmenter(train_path, dev_path, self.out_dir,
                                 SegmenterConfig(epochs=self.cfg.train.segmenter_epochs, seed=self.cfg.train.seed),
                                 lang=self.cfg.data.lang, log=self.log)
        if dev_path:
            self.log(f"segmenter dev F1 (exact spans): tokens {scores['tokens']:.2f}, words {scores['words']:.2f}, "
                     f"sentences {scores['sentences']:.2f}")

    def epoch_weights(self, epoch: int) -> Path:
        """Where an epoch's weights are kept for averaging: its ``--keep-epochs`` model if
        there is one, else ``OUT/last_epochs``."""
        kept = self.out_dir / f"epoch{epoch}" / "model.safetensors"
        return kept if kept.is_file() else self.out_dir / LAST_EPOCHS / f"epoch{epoch}.safetensors"

    def keep_last_weights(self, epoch: int) -> None:
        """Save this epoch's weights for :meth:`average_last_epochs`; drop those it will not need."""
        folder = self.out_dir / LAST_EPOCHS
        folder.mkdir(exist_ok=True)
        save_weights(folder / f"epoch{epoch}.safetensors", self.model)
        for old in folder.glob("epoch*.safetensors"):
            number = old.name[len("epoch"):-len(".safetensors")]
            if number.isdigit() and int(number) <= epoch - self.cfg.train.average_last:
                old.unlink()

    def average_last_epochs(self, best: float, best_record: dict | None) -> dict | None:
        """Average the weights of the last ``train.average_last`` epochs, score the average on
        the dev sets, and save it as the model unless it scores below the selected epoch."""
        last = self.cfg.train.epochs
        epochs = [e for e in range(max(1, last - self.cfg.train.average_last + 1), last + 1)
                  if self.epoch_weights(e).is_file()]
        if len(epochs) < 2:
            self.log(f"not averaged: the weights of fewer than two of the last {self.cfg.train.average_last} "
                     f"epochs are in {self.out_dir}")
            return best_record
        self.model.load_state_dict(average_weights([self.epoch_weights(e) for e in epochs]))
        start = time.perf_counter()
        dev = self.evaluate_dev()
        score = select_score(dev, self.cfg.train.select_metric, self.model)
        kept = score is None or best_record is None or score >= best
        record = {"epoch": last, "averaged_epochs": epochs, "dev": dev, "select_score": score,
                  "seconds": round(time.perf_counter() - start, 1), "selected": kept,
                  "best_single_epoch": {k: best_record[k] for k in ("epoch", "select_score")} if best_record else None}
        span = f"epochs {epochs[0]}-{epochs[-1]}"
        self.log(format_dev_table(last, dev, self.model, score, kept).replace(f"epoch {last} dev", f"{span} averaged, dev", 1))
        if kept:
            save_model(self.out_dir, self.model, self.vocabs, self.cfg, metrics=record)
            self.log(f"saved the average of {span}" + (f" (selected single epoch: {best_record['epoch']}, "
                                                       f"selection score {best:.2f})" if best_record else ""))
        else:
            self.log(f"kept the selected epoch {best_record['epoch']}: the average of {span} scored {score:.2f} "
                     f"against {best:.2f}")
            best_record = {**best_record, "average": record}
            write_json(self.out_dir / "metrics.json", best_record)
        if (self.out_dir / LAST_EPOCHS).is_dir():  # saved above, so they are no longer needed
            for path in (self.out_dir / LAST_EPOCHS).glob("*"):
                path.unlink()
            (self.out_dir / LAST_EPOCHS).rmdir()
        return record if kept else best_record

    def calibrate(self, best_record: dict | None) -> dict | None:
        """Fit the saved model's scale and shift of each calibrated task on its dev pairs."""
        if not (self.cfg.train.calibrate and (self.out_dir / "model.safetensors").is_file()):
            return best_record
        for task in calibrated_tasks(self.corpora.dev):
            dev = self.corpora.dev[task]
            if len(dev) < MIN_PAIRS:
                self.log(f"{task} not calibrated: {len(dev)} dev pairs, fewer than {MIN_PAIRS}")
                continue
            fit = calibrate(self.out_dir, dev, batch_size=self.cfg.train.eval_batch_size, task=task)
            self.log(f"{task} calibrated on {fit['pairs']} dev pairs: score x {fit['scale']:.4f} + {fit['shift']:.4f}, "
                     f"dev MSE {fit['dev_mse_before']:.4f} -> {fit['dev_mse_after']:.4f} (fitted on these pairs)")
            best_record = {**(best_record or {}), "calibration": fit}
        return best_record


def format_dev_table(epoch: int, dev: dict[str, dict], model: JointManyTask, score, improved: bool) -> str:
    if not dev:
        return f"epoch {epoch}: no dev sets"
    rows = [f"epoch {epoch} dev" + (f" (selection score {score:.2f}{', best so far' if improved else ''})" if score is not None else "")]
    for task, scores in dev.items():
        shown = {k: v for k, v in scores.items() if isinstance(v, float)}
        rows.append(f"  {task:<12}" + "  ".join(f"{k} {v:.4f}" if k in ("pearson", "spearman", "mse") else f"{k} {v:.2f}"
                                               for k, v in shown.items()))
    return "\n".join(rows)


class progress_bar:
    """A rich progress bar on stderr when it is a terminal; silent otherwise."""

    def __init__(self, description: str, total: int, enabled: bool):
        self.description, self.total = description, total
        self.enabled = enabled and sys.stderr.isatty()
        self.progress = None

    def __enter__(self):
        if not self.enabled:
            return lambda info=None: None
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                                 console=Console(stderr=True), transient=True)
        self.progress.start()
        task_id = self.progress.add_task(self.description, total=self.total, info="")
        return lambda info=None: self.progress.update(task_id, advance=1, info=info() if info else "")

    def __exit__(self, *exc):
        if self.progress is not None:
            self.progress.stop()
        return False


def train(cfg: Config, out_dir: str | Path, log: Callable[[str], None] | None = None, resume: bool = False,
          dist: Distributed | None = None, device: str | torch.device | None = "cpu") -> dict:
    return Trainer(cfg, out_dir, log, resume=resume, dist=dist, device=device).train()
