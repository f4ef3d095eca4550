"""Readers for sentence-pair corpora: SICK (TSV) and SNLI/MultiNLI (JSON lines).

Raw sentences are tokenized with spaCy's rule-based English tokenizer.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .types import ENTAILMENT_LABELS, DataError, Pair

SICK_COLUMNS = ("pair_ID", "sentence_A", "sentence_B", "relatedness_score", "entailment_judgment")
NO_GOLD = (None, "", "-")


@dataclass
class PairReadStats:
    """Counts filled in by a reader while it is iterated (final once it is exhausted)."""

    read: int = 0
    skipped: int = 0  # items without a gold label


@lru_cache(maxsize=1)
def _tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def tokenize(text: str) -> list[str]:
    """Split raw English text into tokens (spaCy rule-based tokenizer, whitespace dropped)."""
    return [token.text for token in _tokenizer()(text.strip()) if not token.is_space]


def read_sick(path: str | Path) -> Iterator[Pair]:
    """Stream the pairs of a SICK TSV file.

    The header row names the columns; ``sentence_A`` and ``sentence_B`` are required,
    ``pair_ID``, ``relatedness_score`` and ``entailment_judgment`` are read when present.
    """
    path = str(path)
    with open(path, encoding="utf-8-sig") as lines:
        yield from sick_pairs(path, lines)


def sick_pairs(path: str, lines: Iterable[str]) -> Iterator[Pair]:
    """The pairs of SICK lines, the header row first; ``path`` names them in errors."""
    lines = iter(lines)
    header = next(lines, "").rstrip("\r\n").split("\t")
    index = {name.strip(): i for i, name in enumerate(header)}
    if "sentence_A" not in index or "sentence_B" not in index:
        raise DataError(path, 1, f"expected a header row with the columns {', '.join(SICK_COLUMNS)}")
    for number, line in enumerate(lines, start=2):
        line = line.rstrip("\r\n")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(header):
            raise DataError(path, number, f"expected {len(header)} tab-separated columns as in the header, got {len(fields)}")
        record = {name: fields[i].strip() for name, i in index.items()}
        yield Pair(
            premise=sentence_tokens(path, number, "sentence_A", record["sentence_A"]),
            hypothesis=sentence_tokens(path, number, "sentence_B", record["sentence_B"]),
            relatedness=parse_score(path, number, record.get("relatedness_score")),
            entailment=parse_label(path, number, record.get("entailment_judgment")),
            pair_id=record.get("pair_ID"),
            source=f"{path}:{number}",
        )


def read_nli_jsonl(path: str | Path, stats: PairReadStats | None = None) -> Iterator[Pair]:
    """Stream the pairs of an SNLI/MultiNLI JSON-lines file.

    Fields: ``sentence1``/``sentence2``/``gold_label`` or ``premise``/``hypothesis``/``label``
    (string labels). A sentence may be a string or an already tokenized list. Items whose
    gold label is missing or ``-`` are skipped and counted in ``stats.skipped``.
    """
    path = str(path)
    stats = stats if stats is not None else PairReadStats()
    with open(path, encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(path, number, f"invalid JSON, expected one object per line ({err.msg})") from None
            if not isinstance(item, dict):
                raise DataError(path, number, "expected a JSON object")
            label = _first(item, "gold_label", "label")
            if label in NO_GOLD:
                stats.skipped += 1
                continue
            if not isinstance(label, str):
                raise DataError(path, number, f"expected a string label, got {label!r}")
            stats.read += 1
            pair_id = _first(item, "pairID", "pair_id", "id")
            yield Pair(
                premise=sentence_tokens(path, number, "sentence1/premise", _first(item, "sentence1", "premise")),
                hypothesis=sentence_tokens(path, number, "sentence2/hypothesis", _first(item, "sentence2", "hypothesis")),
                entailment=parse_label(path, number, label),
                pair_id=None if pair_id is None else str(pair_id),
                source=f"{path}:{number}",
            )


def _first(item: dict[str, Any], *keys: str) -> Any:
    return next((item[key] for key in keys if key in item), None)


def sentence_tokens(path: str, line: int | None, name: str, sentence: Any) -> list[str]:
    """A raw sentence is tokenized; a list of strings is taken as tokens."""
    if isinstance(sentence, str):
        tokens = tokenize(sentence)
    elif isinstance(sentence, list) and all(isinstance(token, str) for token in sentence):
        tokens = list(sentence)
    else:
        raise DataError(path, line, f"expected {name} as a string or a list of tokens, got {sentence!r}")
    if not tokens:
        raise DataError(path, line, f"expected a non-empty {name}")
    return tokens


def parse_score(path: str, line: int | None, value: Any) -> float | None:
    if value is None:
        return None
    try:
        score = float(value)
    except (TypeError, ValueError):
        raise DataError(path, line, f"expected a relatedness score (a number from 1 to 5), got {value!r}") from None
    if not 1.0 <= score <= 5.0:
        raise DataError(path, line, f"expected a relatedness score from 1 to 5, got {value!r}")
    return score


def parse_label(path: str, line: int | None, value: str | None) -> str | None:
    if value is None:
        return None
    label = value.strip().upper()
    if label not in ENTAILMENT_LABELS:
        raise DataError(path, line, f"expected an entailment label among {', '.join(ENTAILMENT_LABELS)}, got {value!r}")
    return label
