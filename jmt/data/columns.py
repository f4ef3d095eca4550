"""Reader for one-token-per-line column files (CoNLL-2000 chunking, PTB ``.dp`` files).

Each token line holds whitespace- or tab-separated fields, e.g. ``word POS chunk``;
sentences are separated by blank lines. A ``columns`` mapping says which field is which.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

from .types import DataError, Sentence

DEFAULT_COLUMNS = {"words": 0, "xpos": 1, "chunks": 2}
FIELDS = tuple(f.name for f in dataclasses.fields(Sentence) if f.name not in ("source", "conllu"))


def read_columns(path: str | Path, columns: dict[str, int] | None = None) -> Iterator[Sentence]:
    """Stream the sentences of a column file.

    ``columns`` maps a :class:`Sentence` field (words, upos, xpos, heads, deprels, chunks, ...)
    to a 0-based column index; the default is ``{"words": 0, "xpos": 1, "chunks": 2}``.
    A line with a tab is split on tabs, otherwise on runs of whitespace. Every token line
    must have the same number of fields. ``-DOCSTART-`` lines are skipped.
    """
    columns = dict(DEFAULT_COLUMNS if columns is None else columns)
    unknown = set(columns) - set(FIELDS)
    if unknown or "words" not in columns:
        raise ValueError(f"columns: expected a mapping with 'words' and fields among {FIELDS}, got {columns}")
    path = str(path)
    needed = max(columns.values()) + 1
    width: int | None = None  # field count of the first token line
    block: list[tuple[int, list[str]]] = []

    with open(path, encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if not line:
                if block:
                    yield _sentence(path, block, columns)
                    block = []
                continue
            fields = line.split("\t") if "\t" in line else line.split()
            if fields[0] == "-DOCSTART-":
                continue
            if width is None:
                if len(fields) < needed:
                    names = ", ".join(sorted(columns, key=columns.get))
                    raise DataError(path, number, f"expected at least {needed} columns ({names}), got {len(fields)}")
                width = len(fields)
            elif len(fields) != width:
                raise DataError(path, number, f"expected {width} columns like the first token line, got {len(fields)}")
            block.append((number, fields))
    if block:
        yield _sentence(path, block, columns)


def _sentence(path: str, block: list[tuple[int, list[str]]], columns: dict[str, int]) -> Sentence:
    values = {name: [fields[col] for _, fields in block] for name, col in columns.items()}
    for number, tag in zip((n for n, _ in block), values.get("chunks", [])):
        if tag != "O" and not (len(tag) > 2 and tag[0] in "BIES" and tag[1] == "-"):
            raise DataError(path, number, f"expected a chunk tag like B-NP, I-NP or O, got {tag!r}")
    if "heads" in values:
        values["heads"] = _heads(path, block, columns["heads"])
    return Sentence(**values, source=f"{path}:{block[0][0]}")


def _heads(path: str, block: list[tuple[int, list[str]]], col: int) -> list[int]:
    heads = []
    for number, fields in block:
        try:
            head = int(fields[col])
        except ValueError:
            raise DataError(path, number, f"expected an integer head, got {fields[col]!r}") from None
        if not 0 <= head <= len(block):
            raise DataError(path, number, f"expected a head between 0 and the sentence length {len(block)}, got {head}")
        if head == len(heads) + 1:
            raise DataError(path, number, f"expected a head other than the word itself ({head})")
        heads.append(head)
    return heads
