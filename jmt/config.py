"""Typed configuration: model, training, and the tasks' corpora.

Every dataclass is built with :func:`from_dict`, which rejects unknown keys by name, and
saved with :func:`to_dict`, so a model directory's ``config.json`` holds the full resolved
configuration, defaults included.
"""
from __future__ import annotations

import dataclasses
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(ValueError):
    """A configuration value or key that cannot be used."""


DEP_SCORERS = ("bilinear", "biaffine")
ENCODER_POOLINGS = ("mean", "first")
SHARINGS = ("hard", "soft", "cross-stitch", "sluice")
STITCHED = ("cross-stitch", "sluice")  # sharings with a column of layers per depth
SCHEDULES = ("jmt", "joint", "uncertainty")
TASK_ORDERS = ("bottom-up", "random")


@dataclass
class ModelConfig:
    word_dim: int = 100  # set to the vectors' size when pretrained vectors are given
    char_dim: int = 100  # character n-gram embeddings, n = char_ngram_min..char_ngram_max
    char_ngram_min: int = 2
    char_ngram_max: int = 4
    hidden: int = 100  # per direction of every BiLSTM layer
    label_dim: int = 100
    head_hidden: int = 100  # ReLU / maxout hidden layer of every classifier
    maxout_pieces: int = 2
    dep_label_hidden: int = 100
    # "bilinear": the paper's head selection h_t . W h_j with a ReLU label classifier.
    # "biaffine": Dozat and Manning (2017): MLP projections of dependent and head, biaffine
    # arc scores (dep_arc_dim each) and biaffine label scores (dep_label_hidden each).
    dep_scorer: str = "bilinear"
    dep_arc_dim: int = 200
    # Chunk tags from a linear-chain CRF (tag transitions learned, Viterbi decoding) instead
    # of an independent softmax per word.
    chunk_crf: bool = False
    shortcut: bool = True  # x_t fed to every layer, not only the first
    vertical: bool = True  # each layer reads the hidden states of the layer below
    label_embeddings: bool = True  # y_t = sum_j p(j | h_t) l(j) fed to the layers above
    char_ngrams: bool = True  # the character n-gram half of the word representation
    word_embeddings: bool = True  # the word table (with the pretrained vectors); off: n-grams and/or an encoder only
    # False: every task reads the top layer of the stack instead of its own depth (the
    # paper's "all tasks on one top layer" ablation).
    growing_depth: bool = True
    # "hard": one stack shared by all tasks (the paper). "soft": the tasks at each depth keep
    # their own copy of the layers below, tied to the shared ones by an L2 penalty
    # (train.soft_sharing_weight); the word representation stays shared. "cross-stitch"
    # (Misra et al. 2016): each depth's tasks get a column of their own layers up to their
    # depth, and after each level a learned matrix alpha mixes the columns' states.
    # "sluice" (Ruder et al. 2019): alpha mixes ``subspaces`` parts of each column's states,
    # an orthogonality penalty keeps a column's parts apart (train.orthogonality_weight), and
    # with ``beta_layers`` each head reads a learned mixture of its column's levels (beta).
    sharing: str = "hard"
    alpha_init: float = 0.9  # alpha's diagonal at the start; the rest of each row shares 1 - alpha_init
    subspaces: int = 2  # sluice: parts per column state
    beta_layers: bool = True  # sluice: heads read a mixture over their column's levels, starting at their own
    dropout: float = 0.2  # vertical connections and the classifiers
    embed_dropout: float = 0.4  # word representations and label embeddings, relatedness classifier
    word_dropout_alpha: float = 0.25  # UNK replacement probability alpha / (count + alpha)
    min_word_count: int = 1
    min_ngram_count: int = 1
    max_pretrained_words: int = 100_000  # frozen rows kept for words unseen in training
    # A pretrained transformer under the stack (jmt.model.encoder): a Hugging Face name or a
    # folder. Each word gets a learned scalar mix of its layers, pooled over the word's pieces
    # (encoder_pooling "mean" or "first"), beside the word and n-gram embeddings. Frozen unless
    # encoder_trainable (train.encoder_lr); needs the encoders extra (transformers).
    encoder: str | None = None
    encoder_pooling: str = "mean"
    encoder_trainable: bool = False
    # The pair heads (relatedness, entailment) also read the encoder's sentence vectors: the
    # mean of the words' last-layer states, unit length (as sentence-transformers pool them),
    # as [|u - v| ; u * v] beside the pooled BiLSTM states.
    encoder_sentence: bool = False
    # Filled in from the encoder when training starts; a saved model checks them on load.
    encoder_sha256: str = ""
    encoder_layers: int = 0
    encoder_dim: int = 0
    # Token tasks whose heads read their layer without training it or feeding their labels to
    # the layers above: every other task's output is what it would be without them.
    # `jmt train --init-from MODEL` with a task MODEL lacks adds it so (results/experiments.md, row 66).
    detached: list[str] = field(default_factory=list)
    # Detached tasks that read the same layer read it through one BiLSTM, readers.<layer>,
    # instead of a reader each, readers.<task>: one pass instead of two for feats and lemma.
    shared_reader: bool = False


@dataclass
class TrainConfig:
    epochs: int = 10
    seed: int = 1
    optimizer: str = "sgd"  # "sgd" (the paper) or "adam"
    lr: float = 1.0  # eps of the schedule lr_k = eps / (1 + rho (k - 1)), for Adam too
    lr_decay: float = 0.3  # rho
    clip: float = 3.0  # gradient-norm clip min(clip, depth)
    batch_size: int = 25
    dep_batch_size: int = 15
    # Token budgets: a training batch also stops at this many padded tokens (its examples
    # times the longest, a pair counting its longer sentence); 0 = by count alone. With a
    # larger batch size, long sentences then come in smaller batches and short ones in larger.
    batch_tokens: int = 0
    dep_batch_tokens: int = 0
    # Learning-rate factors for the steps of the passes that each batch size sizes: larger
    # batches take fewer steps an epoch, and a factor above 1 (about the square root of the
    # batch ratio, for Adam) gives some of that distance back. On the CPU recipe, 1.65 with
    # dependency batches of 800 tokens levelled dev LAS but cost chunking (results/experiments.md row 71).
    batch_lr_scale: float = 1.0
    dep_batch_lr_scale: float = 1.0
    eval_batch_size: int = 128  # dev scoring during training; the same batches as jmt.predict.BATCH_SIZE
    # Learning-rate factor for the layers below the task being trained (the word
    # representation counts as the bottom task's own). 1.0 is the paper.
    # Adam turns the small gradients a higher task sends down into full-size steps, so
    # lower tasks forget; a factor like 0.1 keeps them (measured in results/real_data.md).
    lower_lr_scale: float = 1.0
    successive_regularization: bool = True
    # "jmt": task-ordered passes (the paper). "joint": every step trains one task, drawn
    # with probability proportional to (its number of batches) ** (1 / joint_temperature),
    # all layers at once, no successive regularization. "uncertainty": joint, each task's
    # loss weighted by a learned homoscedastic uncertainty, exp(-s) L + s (Kendall et al. 2018).
    schedule: str = "jmt"
    joint_temperature: float = 1.0  # 1: proportional to corpus size; larger: more uniform
    task_order: str = "bottom-up"  # or "random": the passes of each epoch in a random order
    soft_sharing_weight: float = 1e-3  # L2 tie between a task's layer copies and the shared layers
    orthogonality_weight: float = 1e-3  # sluice: the squared overlap of each column's subspaces
    sr_delta: float = 1e-3  # non-classifier parameters of the layers below
    sr_delta_classifier: float = 1e-2  # classifier parameters of lower tasks
    l2_lstm: float = 1e-6
    l2_classifier: float = 1e-5
    select_metric: str = "auto"  # "task.metric" on dev, e.g. "dep.las"; auto: dep.las or the mean; last: the last epoch
    decoder: str = "greedy+eisner"
    # Also train on sentence pairs with premise and hypothesis exchanged where the gold
    # stays true: every pair for relatedness, NEUTRAL and CONTRADICTION for entailment.
    swap_pairs: bool = False
    # Epochs of fitting the character n-gram table to the pretrained vectors before
    # training (only with vectors; 0 = off). See jmt.model.embeddings.pretrain_ngrams.
    ngram_pretrain_epochs: int = 2
    holdout_seed: int = 13  # split of "holdout:FRACTION" dev sets
    progress: bool = True
    # "bf16": each step's forward pass and losses under autocast to bfloat16 (mixed precision;
    # the weights and the optimizer stay float32). For GPUs with bf16 units (A100, H100);
    # CPUs without them emulate it, several times slower. "fp32": none.
    precision: str = "fp32"
    # torch.compile the word representation and the task heads for training: a backend name
    # ("inductor", usually), "" = off. Meant for GPUs, where the heads' many small operations
    # cost a kernel launch each; on the 2-core CPU it made steps slower (results/experiments.md
    # row 72). The BiLSTMs stay as they are (cuDNN on a GPU).
    compile: str = ""
    # Also keep every epoch's model in OUT_DIR/epoch<N> (for comparing runs at equal epochs).
    keep_epoch_models: bool = False
    # After the last epoch, average the weights of the last N epochs (0 = off) and keep the
    # average as the model unless it scores below the selected epoch by select_metric on dev
    # (a cheap ensemble of one run's end: results/experiments.md rows 31-32).
    average_last: int = 0
    # After training, fit the relatedness scale and shift by least squares on the dev pairs
    # (the expected score of a model trained with dropout runs high; results/experiments.md).
    calibrate: bool = True
    # Fine-tuning: start from the weights and vocabularies of this model directory instead
    # of a new model, and train only the tasks given (see freeze_below).
    init_from: str | None = None
    # Parameters below this depth keep their values: the word representation is depth 0,
    # each task's layer and head its depth (jmt.tasks). 0 trains everything. Fine-tuning
    # relatedness and entailment with freeze_below = 4 leaves every lower task's output as
    # it was.
    freeze_below: int = 0
    # Also train a segmenter for raw text (jmt.segment) on the CoNLL-U corpus of a token
    # task (upos, xpos, dep), its dev corpus choosing the epoch, into the model directory.
    segmenter: bool = False
    segmenter_epochs: int = 80
    encoder_lr: float = 5e-5  # of a trainable encoder (model.encoder_trainable), on the same schedule as lr


@dataclass
class DataConfig:
    """Corpora by task. A dev entry may be ``holdout:0.1`` to hold out part of train.

    A task may train on several corpora: a list of paths, each read on its own and trained
    in its own pass (e.g. XPOS from a treebank and from the chunking corpus's POS column);
    its hold-out then comes from the first of them."""

    train: dict[str, str | list[str]] = field(default_factory=dict)
    dev: dict[str, str] = field(default_factory=dict)
    vectors: str | None = None
    # The corpora's language (ISO 639 code, e.g. "en"); when absent, read from UD file names
    # such as en_ewt-ud-train.conllu. Raw text for a model without a segmenter is split by
    # spaCy's English rules only where the language is English (or unknown).
    lang: str | None = None


def segmenter_corpus(data: DataConfig) -> tuple[str, str | None] | None:
    """The CoNLL-U training file (and its dev file, if any) that a segmenter learns from:
    the first one given for a token task."""
    from .tasks import TASKS

    for task in data.train:
        if task not in TASKS or TASKS[task].kind != "token":
            continue
        for path in corpus_paths(data.train[task]):
            if str(path).endswith(".conllu"):
                dev = data.dev.get(task)
                return str(path), dev if dev and str(dev).endswith(".conllu") else None
    return None


def guess_language(paths: Iterable[str]) -> str | None:
    """The language code of UD treebank file names (``fr_sequoia-ud-train.conllu``: fr)."""
    import re

    for path in paths:
        match = re.match(r"([a-z]{2,3})_[a-z0-9]+-ud-", Path(str(path)).name)
        if match:
            return match.group(1)
    return None


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)

    def validate(self) -> None:
        from .tasks import TASKS

        unknown = sorted(set(self.data.train) - set(TASKS))
        if unknown:
            raise ConfigError(f"unknown task {unknown[0]!r}; tasks are {', '.join(TASKS)}")
        for name in self.model.detached:
            if name not in TASKS or TASKS[name].kind != "token":
                raise ConfigError(f"model.detached: {name!r} is not a token task; token tasks are "
                                  + ", ".join(t for t, spec in TASKS.items() if spec.kind == "token"))
            stack = [t for t in self.data.train if t not in self.model.detached]  # the tasks that train the layers
            if self.train.init_from is None and name in self.data.train and not any(
                    TASKS[t].depth <= TASKS[name].depth for t in stack):
                raise ConfigError(f"model.detached: {name} reads a layer at or below its depth ({TASKS[name].depth}) "
                                  "that another task trains, and none does")
        if self.train.segmenter and segmenter_corpus(self.data) is None:
            raise ConfigError("train.segmenter needs a CoNLL-U (.conllu) training corpus for a token task "
                              "(upos, xpos, dep)")
        extra = sorted(set(self.data.dev) - set(self.data.train))
        if extra:
            raise ConfigError(f"dev set given for {extra[0]!r}, which has no training corpus")
        if self.train.optimizer not in ("sgd", "adam"):
            raise ConfigError(f"optimizer must be 'sgd' or 'adam', not {self.train.optimizer!r}")
        if self.train.precision not in ("fp32", "bf16"):
            raise ConfigError(f"train.precision must be 'fp32' or 'bf16', not {self.train.precision!r}")
        for key in ("batch_size", "dep_batch_size", "batch_tokens", "dep_batch_tokens"):
            if getattr(self.train, key) < (0 if key.endswith("tokens") else 1):
                raise ConfigError(f"{key} must be at least {0 if key.endswith('tokens') else 1}, "
                                  f"not {getattr(self.train, key)}")
        if self.train.compile:
            import torch

            backends = torch.compiler.list_backends(exclude_tags=())
            if self.train.compile not in backends:
                raise ConfigError(f"train.compile must be '' (off) or a torch.compile backend such as 'inductor', "
                                  f"not {self.train.compile!r}")
        for key in ("batch_lr_scale", "dep_batch_lr_scale"):
            if not getattr(self.train, key) > 0:
                raise ConfigError(f"{key} must be above 0, not {getattr(self.train, key)}")
        self.check_ranges()
        from .decode import DECODERS

        if self.train.schedule not in SCHEDULES:
            raise ConfigError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.train.schedule!r}")
        if self.train.task_order not in TASK_ORDERS:
            raise ConfigError(f"task_order must be one of {', '.join(TASK_ORDERS)}, not {self.train.task_order!r}")
        if self.train.joint_temperature <= 0:
            raise ConfigError("joint_temperature must be positive")
        if self.model.sharing not in SHARINGS:
            raise ConfigError(f"sharing must be one of {', '.join(SHARINGS)}, not {self.model.sharing!r}")
        if self.model.sharing in STITCHED:
            if not self.model.growing_depth:
                raise ConfigError(f"sharing {self.model.sharing!r} needs growing_depth: a column per depth")
            if not 0 < self.model.alpha_init <= 1:
                raise ConfigError(f"alpha_init must be in (0, 1], not {self.model.alpha_init}")
            parts = self.model.subspaces if self.model.sharing == "sluice" else 1
            if parts < 1 or (2 * self.model.hidden) % parts:
                raise ConfigError(f"subspaces must divide the layer states (2 x hidden = {2 * self.model.hidden}); "
                                  f"got {parts}")
        if self.model.dep_scorer not in DEP_SCORERS:
            raise ConfigError(f"dep_scorer must be one of {', '.join(DEP_SCORERS)}, not {self.model.dep_scorer!r}")

        if self.train.decoder not in DECODERS:
            raise ConfigError(f"decoder must be one of {', '.join(DECODERS)}, not {self.train.decoder!r}")
        metric = self.train.select_metric
        if metric not in ("auto", "last") and (metric.count(".") != 1 or metric.split(".")[0] not in self.data.train):
            raise ConfigError(f"select_metric must be 'auto', 'last' or TASK.METRIC for a trained task "
                              f"(e.g. dep.las), not {metric!r}")
        if metric not in ("auto", "last") and self.data.train and metric.split(".")[0] not in self.data.dev:
            raise ConfigError(f"select_metric {metric!r} needs a dev set for {metric.split('.')[0]!r}")
        if self.train.average_last < 0:
            raise ConfigError(f"average_last must be 0 (off) or a number of epochs, not {self.train.average_last}")
        top = max(task.depth for task in TASKS.values())
        if not 0 <= self.train.freeze_below <= top:
            raise ConfigError(f"freeze_below must be a depth from 0 to {top}, "
                              f"not {self.train.freeze_below}")
        if self.train.init_from is not None and self.data.vectors:
            raise ConfigError("vectors cannot be given with init_from: the model's word representation comes from it")
        if self.model.encoder_pooling not in ENCODER_POOLINGS:
            raise ConfigError(f"encoder_pooling must be one of {', '.join(ENCODER_POOLINGS)}, "
                              f"not {self.model.encoder_pooling!r}")
        if not (self.model.word_embeddings or self.model.char_ngrams or self.model.encoder):
            raise ConfigError("the word representation needs word embeddings, character n-grams or an encoder")
        if self.model.encoder_sentence and not self.model.encoder:
            raise ConfigError("encoder_sentence needs an encoder (model.encoder, --encoder)")
        if self.model.encoder_trainable and not self.model.encoder:
            raise ConfigError("encoder_trainable needs an encoder (model.encoder, --encoder)")
        if self.train.encoder_lr <= 0:
            raise ConfigError(f"encoder_lr must be positive, not {self.train.encoder_lr}")
        for name in self.data.train:
            missing = [need for need in TASKS[name].requires if need not in self.data.train]
            if missing and self.train.init_from is None:
                raise ConfigError(f"{name} needs {missing[0]} too ({TASKS[name].requires_why})")

    def check_ranges(self) -> None:
        """Numbers a run cannot train with, named by their key before anything trains (torch
        would fail later, or not at all, and in its own words)."""
        m, t = self.model, self.train
        if t.epochs < 1:
            raise ConfigError(f"train.epochs must be at least 1, not {t.epochs}")
        at_least_one = ("word_dim", "char_dim", "hidden", "label_dim", "head_hidden", "maxout_pieces",
                        "dep_label_hidden", "dep_arc_dim", "char_ngram_min", "min_word_count", "min_ngram_count")
        for key in at_least_one:
            if getattr(m, key) < 1:
                raise ConfigError(f"model.{key} must be at least 1, not {getattr(m, key)}")
        if m.char_ngram_min > m.char_ngram_max:
            raise ConfigError(f"model.char_ngram_min ({m.char_ngram_min}) must not exceed model.char_ngram_max "
                              f"({m.char_ngram_max})")
        for key in ("dropout", "embed_dropout"):
            if not 0 <= getattr(m, key) < 1:
                raise ConfigError(f"model.{key} must be in [0, 1), not {getattr(m, key)}")
        if not m.word_dropout_alpha >= 0:
            raise ConfigError(f"model.word_dropout_alpha must be at least 0, not {m.word_dropout_alpha}")
        for key in ("lr", "clip", "encoder_lr"):
            if not getattr(t, key) > 0:  # NaN fails too
                raise ConfigError(f"train.{key} must be above 0, not {getattr(t, key)}")
        for key in ("lr_decay", "ngram_pretrain_epochs"):
            if not getattr(t, key) >= 0:
                raise ConfigError(f"train.{key} must be at least 0, not {getattr(t, key)}")
        lang = self.data.lang
        if lang is not None and not re.fullmatch(r"[a-z]{2,3}", lang):
            raise ConfigError(f"data.lang must be an ISO 639 language code such as en or fr, not {lang!r}")


# Options that were measured, not adopted, and removed (results/experiments.md, "Removed
# options"): a saved model or checkpoint that has them at these values (off) still loads;
# any other value is an error that says where they went.
RETIRED = {
    "model.locked_dropout": (False, "row 38"),
    "model.lm_vocab": (0, "rows 43 and 45"),
    "model.lm_hidden": (50, "rows 43 and 45"),
    "train.lm_weight": (0.1, "rows 43 and 45"),
    "train.freeze_vectors": (False, "row 46"),
}
# Fitted values that moved from config.json to the weights: an older model's config.json
# still has them, and jmt.io.load_model carries them over; anywhere else they are ignored.
MOVED_TO_WEIGHTS = ("model.relatedness_scale", "model.relatedness_shift")



def from_dict(cls, data: dict[str, Any], where: str = ""):
    """Build dataclass ``cls`` from ``data``; an unknown key is an error naming it."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where or cls.__name__}: expected a table, got {type(data).__name__}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else key
        if path in MOVED_TO_WEIGHTS and key not in names:
            continue
        if path in RETIRED and key not in names:
            off, rows = RETIRED[path]
            if value == off or path in ("model.lm_hidden", "train.lm_weight"):  # these two only matter with lm_vocab
                continue
            raise ConfigError(f"config key {path!r} was removed from jmt: it was measured and not adopted "
                              f"(results/experiments.md, {rows})")
        if key not in names:
            raise ConfigError(f"unknown config key {path!r}; expected one of {', '.join(sorted(names))}")
        hint = hints[key]
        if dataclasses.is_dataclass(hint):
            value = from_dict(hint, value, path)
        else:
            value = _coerce(value, hint, path)
        kwargs[key] = value
    return cls(**kwargs)


def _coerce(value, hint, path):
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, bool, str):
        if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
            raise ConfigError(f"config key {path!r} must be {hint.__name__}, got {value!r}")
    elif hint == (str | None):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"config key {path!r} must be a string, got {value!r}")
    elif hint == list[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"config key {path!r} must be a list of strings, got {value!r}")
    elif hint == dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise ConfigError(f"config key {path!r} must be a table of TASK = \"PATH\", got {value!r}")
    elif hint == dict[str, str | list[str]]:
        if not isinstance(value, dict) or not all(
                isinstance(v, str) or (isinstance(v, list) and v and all(isinstance(x, str) for x in v))
                for v in value.values()):
            raise ConfigError(f"config key {path!r} must be a table of TASK = \"PATH\" or TASK = [\"PATH\", ...], "
                              f"got {value!r}")
    return value


def corpus_paths(value: str | list[str]) -> list[str]:
    """The training corpora of one task: ``data.train`` holds a path or a list of them."""
    return [value] if isinstance(value, str) else list(value)


def to_dict(obj) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def load_config(path: str | Path | None = None, settings: dict[str, Any] | None = None) -> Config:
    """Read a TOML file (tables ``[model]``, ``[train]``, ``[data]``) into a Config, with
    ``settings`` (``{"train.lr": 0.001}``, from the command line) over it."""
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{path}: file not found") from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"{path}: expected UTF-8 text ({err.reason})") from None
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: invalid TOML: {err}") from None
        try:
            from_dict(Config, data).check_ranges()  # a bad number in the file is named with the file
        except ConfigError as err:
            raise ConfigError(f"{path}: {err}") from None
    return from_dict(Config, apply_settings(data, settings or {}))


def apply_settings(data: dict[str, Any], settings: dict[str, Any]) -> dict[str, Any]:
    """``data`` (a config as TOML or JSON gives it) with ``SECTION.KEY`` values set; the
    typed check comes after, in :func:`from_dict`."""
    out = {section: dict(table) if isinstance(table, dict) else table for section, table in data.items()}
    for dotted, value in settings.items():
        section, _, key = dotted.partition(".")
        if section not in ("model", "train", "data") or not key or "." in key:
            raise ConfigError(f"unknown config key {dotted!r}; expected SECTION.KEY with SECTION model, train or data")
        out.setdefault(section, {})[key] = value
    return out


def parse_overrides(values: list[str]) -> dict[str, Any]:
    """``SECTION.KEY=VALUE`` settings from a command line (``jmt train --set``). A value is
    read as a TOML value (``0.001``, ``true``, ``"text"``), or else taken as a string."""
    out: dict[str, Any] = {}
    for item in values:
        name, eq, value = item.partition("=")
        if not eq or "." not in name:
            raise ConfigError(f"--set {item!r}: expected SECTION.KEY=VALUE, e.g. --set train.lr=0.001")
        try:
            out[name.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            out[name.strip()] = value
    return out
