"""The tasks, one file each, registered here by name.

A task file declares a :class:`Task`: where the task sits in the stack (``depth`` and the
name of that depth's layer), what it learns from (an example field, a label set), how it
is scored, and its head: a :class:`jmt.tasks.head.Head`, which implements ``forward``
(scores), ``loss``, ``decode`` (its scores, the batch, and every head's scores in that batch,
for a head whose decoding reads another task's: the lemmatizer reads the UPOS tags, UPOS and
XPOS read each other's; such a head names those tasks in ``reads``, so that they run with it),
``evaluate`` and ``label_embedding``; losses are summed over the batch, as in the paper, so
the fixed L2 and successive-regularization weights keep their meaning whatever the batch
size. Config checks, corpus readers, the trainer, the CLI and plots ask this registry
instead of naming tasks.

Adding a task: write ``jmt/tasks/<name>.py`` with its head and a ``register(Task(...))``,
and import it at the bottom of this file. Weights are named by layer and task, so models
saved before keep loading.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import nn


@dataclass(frozen=True)
class Task:
    """A task and everything about it that is not its network (that is ``head``).

    The methods below serve token tasks whose labels are one string per word (a tag in a
    CoNLL-U column, a spaCy token attribute); a task that is more (trees, spans, pairs)
    subclasses Task in its own file and overrides them."""

    name: str
    depth: int  # 1 = the bottom BiLSTM layer; tasks at one depth share its layer
    layer: str  # that layer's name: its weights are layers.<layer>.*
    kind: str  # "token": one sentence's hidden states; "pair": two pooled sentences
    field: str  # the Sentence or Pair field it learns from; a corpus without it is refused
    head: Any  # the head's class: head(task_name, cfg=, vocabs=, in_dim=)
    labels: str | None = None  # token tasks with labels: the label set in the vocabularies
    label_field: str | None = None  # the Sentence field holding those labels (default: field)
    target: str | None = None  # the batch target and the predicted field they go to
    primary: str = "accuracy"  # the score that selects the model and is plotted
    lower_is_better: bool = False
    selects: bool = False  # select_metric "auto": this task's primary alone picks the epoch when it is trained
    sample: tuple[str, str] | None = None  # train and dev files in corpora/sample
    # The [train] key that sizes its batches; its "tokens" twin caps them and its "lr_scale"
    # twin scales their steps (dep_batch_size, dep_batch_tokens, dep_batch_lr_scale).
    batch_size: str = "batch_size"
    requires: tuple[str, ...] = ()  # tasks that must be trained with it (unless fine-tuning a model)
    requires_why: str = ""
    # CoNLL-U: the column read and written (a treebank where it is "_" throughout leaves the task out)
    conllu_column: int | None = None
    # spaCy: the token attribute set from the labels ("POS", "TAG", "MORPH", "LEMMA"), the value
    # whitespace tokens get, what the component assigns, and its score weights
    spacy_attr: str | None = None
    spacy_space: str | None = ""  # None: whitespace tokens keep theirs
    spacy_assigns: tuple[str, ...] = ()
    spacy_weights: tuple[tuple[str, float | None], ...] = ()
    # a least-squares line from its scores to the gold ones, fitted on dev after training
    # (jmt.calibrate; the head has set_calibration and clip)
    calibrated: bool = False
    # a pair task whose corpora may hold pairs without a gold label (NLI's "-"): they are
    # skipped and counted, not an error
    skips_no_gold: bool = False
    # Hugging Face datasets: (example field, the dataset column names tried in order) for each
    # field the task reads; `columns` in jmt.data.hf.read_hf overrides them
    hf_columns: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def sentence_labels(self) -> str | None:
        return self.label_field or (self.field if self.labels else None)

    def labels_of(self, sentence) -> list[str] | None:
        """The labels the head learns for one sentence (None where it has none)."""
        return getattr(sentence, self.sentence_labels)

    def tables(self, sentences: list) -> dict[str, list[str]]:
        """String tables learned from the training sentences besides the labels (a lexicon,
        say), saved with the vocabularies; the head finds them in ``vocabs.tables``."""
        return {}

    def swappable(self, pair) -> bool:
        """A pair task: whether an (encoded) pair's gold stays true with its two sentences
        exchanged; ``train.swap_pairs`` adds those reversed pairs as training data."""
        return True

    def predicted(self, pred: dict) -> bool:
        return self.target is not None and self.target in pred

    def conllu(self, pred: dict, columns: dict[int, list], misc: dict[str, list]) -> None:
        """Put the predictions into CoNLL-U ``columns`` (by index) or ``misc`` (by key)."""
        if self.conllu_column is not None:
            columns[self.conllu_column] = pred[self.target]

    def json(self, pred: dict, record: dict) -> None:
        """Put the predictions into a JSON-lines record."""
        record[self.target] = pred[self.target]

    def tsv_columns(self) -> list[str]:
        """A pair task's columns in ``jmt pair``'s TSV output."""
        return [self.name]

    def tsv(self, pred: dict | None) -> list[str]:
        """A pair task's values in those columns (``pred`` None: a model without the task)."""
        return [str(pred[self.name]) if pred else "_"]

    def set_doc(self, doc, words: list[int], spaces: list[int], pred: dict) -> None:
        """Set the predictions of one sentence on a spaCy Doc, through ``doc``
        (:class:`jmt.spacy_component.DocAnnotations`): ``words`` are the token of each word,
        ``spaces`` the sentence's whitespace tokens."""
        if self.spacy_attr is not None:
            doc.tokens(self.spacy_attr, words, pred[self.target])
            if self.spacy_space is not None:
                doc.tokens(self.spacy_attr, spaces, [self.spacy_space] * len(spaces))

    def spacy_score(self, examples, **kwargs) -> dict:
        """spaCy's scores of this task on ``examples`` (keys as in ``spacy_weights``)."""
        if self.spacy_attr is None:
            return {}
        from spacy.scorer import Scorer

        return Scorer.score_token_attr(examples, self.spacy_attr.lower(), getter=lambda token, attr: str(getattr(token, attr + "_", getattr(token, attr))), **kwargs)


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is registered twice")
    layer_at = {t.depth: t.layer for t in TASKS.values()}
    if layer_at.get(task.depth, task.layer) != task.layer:
        raise ValueError(f"task {task.name!r}: depth {task.depth} is layer {layer_at[task.depth]!r}, not {task.layer!r}")
    TASKS[task.name] = task
    return task


def get(name: str) -> Task:
    if name not in TASKS:
        raise KeyError(f"unknown task {name!r}; tasks are {', '.join(TASKS)}")
    return TASKS[name]


def names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(name for name, task in TASKS.items() if kind is None or task.kind == kind)


def layer_names() -> dict[int, str]:
    """Each depth's layer name (``{1: "pos", 2: "chunk", ...}``)."""
    return dict(sorted({task.depth: task.layer for task in TASKS.values()}.items()))


def build_head(task: str, **kwargs) -> nn.Module:
    """The task's head, told what the registry knows: ``task``, ``depth``, ``kind``, ``primary``."""
    spec = get(task)
    head = spec.head(task, **kwargs)
    head.task, head.depth, head.kind, head.primary = task, spec.depth, spec.kind, spec.primary
    return head


# Importing the task files registers them, bottom of the stack first.
from . import pos, feats, lemma, chunk, dependency, relatedness, entailment  # noqa: E402,F401
