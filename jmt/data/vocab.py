"""Vocabularies (words, character n-grams, label sets) and sentence encoding."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

import numpy as np

PAD, UNK = "<pad>", "<unk>"
IGNORE = -100  # target id that no loss counts (padding, labels unseen in training)
NGRAM_CACHE_SIZE = 100_000  # word forms whose n-gram ids are kept: about 250 bytes each, 25 MB in all


def char_ngrams(word: str, n_min: int, n_max: int) -> list[str]:
    """Distinct character n-grams of ``word`` with boundary markers, case kept."""
    marked = f"<{word}>"
    seen = dict.fromkeys(
        marked[i : i + n] for n in range(n_min, n_max + 1) for i in range(len(marked) - n + 1)
    )
    return list(seen)


@dataclass
class Vocab:
    """An ordered string <-> id map; ``itos`` is what is saved."""

    itos: list[str]
    stoi: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        self.stoi = {s: i for i, s in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def __getitem__(self, s: str) -> int:
        return self.stoi[s]

    def get(self, s: str, default: int | None = None) -> int | None:
        return self.stoi.get(s, default)


@dataclass
class EncodedWords:
    word_ids: np.ndarray  # [T] ids in the trained word table; 1 = UNK
    pre_ids: np.ndarray  # [T] ids in the frozen pretrained table; 0 = none
    ngram_ids: list[list[int]]  # per word, distinct known n-gram ids


class Vocabularies:
    """Everything that maps strings to ids for one model.

    Words are looked up lowercased. ``words`` (with counts, for word dropout) are trained;
    ``pretrained`` holds extra words that only have a frozen pretrained vector, so a word
    unseen in training still gets its vector. ``labels`` maps a label set name (``upos``,
    ``xpos``, ``chunk``, ``deprel``) to its labels. ``tables`` holds string tables that a
    task learns from its training data besides labels (:meth:`jmt.tasks.Task.tables`).
    """

    def __init__(self, words: list[str], word_counts: list[int], ngrams: list[str],
                 pretrained: list[str], labels: dict[str, list[str]], ngram_range: tuple[int, int],
                 tables: dict[str, list[str]] | None = None):
        self.words = Vocab(words)
        self.word_counts = word_counts
        self.ngrams = Vocab(ngrams)
        self.pretrained = Vocab(pretrained)
        self.labels = {name: Vocab(items) for name, items in labels.items()}
        self.ngram_range = ngram_range
        self.tables = dict(tables or {})
        self._ngram_cache: dict[str, list[int]] = {}

    @classmethod
    def build(cls, sentences: Iterable[list[str]], labels: dict[str, Iterable[str]],
              ngram_range: tuple[int, int], min_word_count: int = 1, min_ngram_count: int = 1,
              pretrained: Iterable[str] = (), tables: dict[str, list[str]] | None = None) -> "Vocabularies":
        counts: Counter[str] = Counter()
        raw: Counter[str] = Counter()
        for words in sentences:
            raw.update(words)
        for word, c in raw.items():
            counts[word.lower()] += c
        ngram_counts: Counter[str] = Counter()
        for word, c in raw.items():
            for g in char_ngrams(word, *ngram_range):
                ngram_counts[g] += c
        kept = sorted((w for w, c in counts.items() if c >= min_word_count), key=lambda w: (-counts[w], w))
        known = set(kept)
        ngrams = sorted(g for g, c in ngram_counts.items() if c >= min_ngram_count)
        return cls(
            words=[PAD, UNK] + kept,
            word_counts=[0, 0] + [counts[w] for w in kept],
            ngrams=[PAD] + ngrams,
            pretrained=[PAD] + [w for w in pretrained if w not in known],
            labels={name: sorted(set(items)) for name, items in labels.items()},
            ngram_range=ngram_range,
            tables=tables,
        )

    def word_ngram_ids_uncached(self, word: str) -> list[int]:
        stoi = self.ngrams.stoi
        return [stoi[g] for g in char_ngrams(word, *self.ngram_range) if g in stoi]

    def word_ngram_ids(self, word: str) -> list[int]:
        ids = self._ngram_cache.get(word)
        if ids is None:
            ids = self.word_ngram_ids_uncached(word)
            if len(self._ngram_cache) < NGRAM_CACHE_SIZE:  # bounded on endless streams
                self._ngram_cache[word] = ids
        return ids

    def encode(self, words: list[str]) -> EncodedWords:
        lower = [w.lower() for w in words]
        word_ids = np.fromiter((self.words.stoi.get(w, 1) for w in lower), dtype=np.int64, count=len(words))
        pre_ids = np.fromiter((self.pretrained.stoi.get(w, 0) for w in lower), dtype=np.int64, count=len(words))
        return EncodedWords(word_ids, pre_ids, [self.word_ngram_ids(w) for w in words])

    def encode_labels(self, name: str, labels: list[str]) -> np.ndarray:
        stoi = self.labels[name].stoi
        # A label unseen in training cannot be predicted: no loss; evaluation counts it wrong.
        return np.fromiter((stoi.get(lab, IGNORE) for lab in labels), dtype=np.int64, count=len(labels))

    def to_json(self) -> dict:
        return {
            "words": self.words.itos,
            "word_counts": self.word_counts,
            "ngrams": self.ngrams.itos,
            "pretrained": self.pretrained.itos,
            "labels": {k: v.itos for k, v in self.labels.items()},
            "ngram_range": list(self.ngram_range),
            **({"tables": self.tables} if self.tables else {}),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Vocabularies":
        return cls(data["words"], data["word_counts"], data["ngrams"], data["pretrained"],
                   data["labels"], tuple(data["ngram_range"]), data.get("tables"))
