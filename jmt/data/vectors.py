"""Pretrained word vectors in GloVe or word2vec text format (``.gz`` accepted)."""
from __future__ import annotations

import gzip
from pathlib import Path
from typing import Iterator

import numpy as np

from .types import DataError


def _open(path: Path):
    if not path.exists():
        raise DataError(str(path), None, "file not found")
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def iter_vectors(path: str | Path) -> Iterator[tuple[str, list[str], int]]:
    """Yield ``(word, float strings, line number)``; a word2vec header line is skipped.

    Floats are left as strings so callers parse only the rows they keep.
    """
    path = Path(path)
    dim = None
    with _open(path) as f:
        for lineno, line in enumerate(f, 1):
            parts = line.rstrip("\n").rstrip(" ").split(" ")
            if lineno == 1 and len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
                dim = int(parts[1])  # word2vec header: "count dim"
                continue
            if len(parts) < 2:
                raise DataError(str(path), lineno, "expected a word followed by its vector")
            if dim is None:
                dim = len(parts) - 1
            if len(parts) - 1 != dim:
                raise DataError(str(path), lineno, f"expected {dim} values, got {len(parts) - 1}")
            yield parts[0], parts[1:], lineno


def load_vectors(path: str | Path, wanted: set[str], extra: int) -> tuple[dict[str, np.ndarray], list[str]]:
    """Read the vectors of lowercased ``wanted`` words, plus up to ``extra`` other words.

    Returns ``({word: vector}, extra_words)``, extra words in file order (most frequent
    first for GloVe and word2vec). The first occurrence of a lowercased form wins.
    """
    found: dict[str, np.ndarray] = {}
    extra_words: list[str] = []
    for word, values, lineno in iter_vectors(path):
        word = word.lower()
        if word in found:
            continue
        keep_extra = word not in wanted and len(extra_words) < extra
        if word in wanted or keep_extra:
            try:
                found[word] = np.asarray(values, dtype=np.float32)
            except ValueError:
                raise DataError(str(path), lineno, "expected numbers after the word") from None
            if keep_extra:
                extra_words.append(word)
    if not found:
        raise DataError(str(path), None, "no vectors read")
    return found, extra_words
