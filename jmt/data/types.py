"""Typed examples shared by every reader, the trainer and the predictor."""
from __future__ import annotations

from dataclasses import dataclass, field


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

    ``heads`` are 1-based with 0 for the root; ``chunks`` are IOB tags (``B-NP``); ``feats``
    are UD FEATS strings (``Number=Sing|Person=3``, ``_`` for none).
    ``source`` is ``path:line`` of the sentence's first line, for error messages.
    """

    words: list[str]
    upos: list[str] | None = None
    xpos: list[str] | None = None
    heads: list[int] | None = None
    deprels: list[str] | None = None
    chunks: list[str] | None = None
    lemmas: list[str] | None = None
    feats: list[str] | None = None  # UD FEATS strings, "_" for none
    source: str | None = None
    conllu: ConlluExtras | None = None

    def __len__(self) -> int:
        return len(self.words)


ENTAILMENT_LABELS = ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")

@dataclass
class Pair:
    """A sentence pair: tokenized premise and hypothesis, relatedness in [1, 5], label."""

    premise: list[str]
    hypothesis: list[str]
    relatedness: float | None = None
    entailment: str | None = None  # one of ENTAILMENT_LABELS
    pair_id: str | None = None
    source: str | None = None
