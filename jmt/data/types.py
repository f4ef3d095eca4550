"""Typed examples shared by every reader, the trainer and the predictor."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class DataError(ValueError):
    """Malformed input. ``str(err)`` reads ``path:line: what was expected``."""

    def __init__(self, path: str, line: int | None, message: str):
        self.path, self.line, self.message = str(path), line, message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


@dataclass
class ConlluExtras:
    """What a CoNLL-U sentence carries besides the word rows, kept for writing it back.

    ``rows[i]`` are the ten original columns of word ``i + 1``. ``before[i]`` are raw lines
    (multiword ranges ``3-4``, empty nodes ``8.1``) that stood before word ``i + 1``;
    ``before[len(rows)]`` holds lines after the last word.
    """

    comments: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    before: dict[int, list[str]] = field(default_factory=dict)


@dataclass
class Sentence:
    """One tokenized sentence; an annotation is ``None`` when the corpus lacks it.

    ``heads`` are 1-based with 0 for the root; ``chunks`` are IOB tags (``B-NP``).
    ``source`` is ``path:line`` of the sentence's first line, for error messages.
    """

    words: list[str]
    upos: list[str] | None = None
    xpos: list[str] | None = None
    heads: list[int] | None = None
    deprels: list[str] | None = None
    chunks: list[str] | None = None
    source: str | None = None
    conllu: ConlluExtras | None = None

    def __len__(self) -> int:
        return len(self.words)


class TokenLabels(NamedTuple):
    """Where a token task's labels come from and go: the gold :class:`Sentence` field, the
    label set they are encoded with, and the name of the batch target and predicted field."""

    field: str
    label_set: str
    target: str


# Every labelled token task. "xpos2" reads a corpus's XPOS column again, learns it as a tag set
# of its own and predicts it as "xpos2" (dep's heads are numbers, not labels: see TokenBatch).
TOKEN_LABELS = {
    "upos": TokenLabels("upos", "upos", "upos"),
    "xpos": TokenLabels("xpos", "xpos", "xpos"),
    "xpos2": TokenLabels("xpos", "xpos2", "xpos2"),
    "chunk": TokenLabels("chunks", "chunk", "chunks"),
    "dep": TokenLabels("deprels", "deprel", "deprels"),
}

ENTAILMENT_LABELS = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")

TOKEN_TASKS = ("upos", "xpos", "xpos2", "chunk", "dep")
PAIR_TASKS = ("relatedness", "entailment")

# the example field each task learns from
TASK_FIELDS = {
    "upos": "upos",
    "xpos": "xpos",
    "xpos2": "xpos",  # the same column, learned as its own tag set
    "chunk": "chunks",
    "dep": "heads",  # deprels may be None: unlabeled parsing
    "relatedness": "relatedness",
    "entailment": "entailment",
}


@dataclass
class Pair:
    """A sentence pair: tokenized premise and hypothesis, relatedness in [1, 5], label."""

    premise: list[str]
    hypothesis: list[str]
    relatedness: float | None = None
    entailment: str | None = None  # one of ENTAILMENT_LABELS
    pair_id: str | None = None
    source: str | None = None
