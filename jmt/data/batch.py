"""Encoded examples and the mini-batches the model reads."""
from __future__ import annotations

import functools
import random
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch

from .types import ENTAILMENT_LABELS, Pair, Sentence
from .vocab import IGNORE, EncodedWords, Vocabularies


@dataclass
class EncodedSentence:
    words: EncodedWords
    targets: dict[str, np.ndarray]  # each token task's gold ids ("upos", "chunks", "heads", ...): [T]
    forms: list[str] | None = None  # the words themselves, for a pretrained encoder
    encoder: np.ndarray | None = None  # [T, L, D] cached encoder states (jmt.model.encoder.cached_states)

    def __len__(self) -> int:
        return len(self.words.word_ids)


@dataclass
class EncodedPair:
    premise: EncodedSentence
    hypothesis: EncodedSentence
    relatedness: float | None
    entailment: int | None


@functools.cache
def labelled_tasks() -> tuple:
    """Every task with token labels (:class:`jmt.tasks.Task`)."""
    from ..tasks import TASKS

    return tuple(t for t in TASKS.values() if t.labels)


def encode_sentence(vocabs: Vocabularies, sent: Sentence) -> EncodedSentence:
    targets = {}
    for task in labelled_tasks():
        if task.labels in vocabs.labels:
            values = task.labels_of(sent)
            if values is not None:
                targets[task.target] = vocabs.encode_labels(task.labels, values)
    if sent.heads is not None:
        targets["heads"] = np.asarray(sent.heads, dtype=np.int64)
    return EncodedSentence(vocabs.encode(sent.words), targets, sent.words)


def encode_pair(vocabs: Vocabularies, pair: Pair) -> EncodedPair:
    label = ENTAILMENT_LABELS.index(pair.entailment) if pair.entailment is not None else None
    return EncodedPair(encode_sentence(vocabs, Sentence(pair.premise)),
                       encode_sentence(vocabs, Sentence(pair.hypothesis)), pair.relatedness, label)


@dataclass
class TokenBatch:
    """Padded sentences. Ids 0 are padding; targets use IGNORE (-100) where no loss counts."""

    word_ids: torch.Tensor  # [B, T] trained word table, 1 = UNK
    pre_ids: torch.Tensor  # [B, T] frozen pretrained table, 0 = none
    ngram_ids: torch.Tensor  # [N] flat n-gram ids of all B*T positions
    ngram_offsets: torch.Tensor  # [B*T] start of each position's n-grams in ngram_ids
    lengths: torch.Tensor  # [B] on CPU (pack_padded_sequence wants them there)
    mask: torch.Tensor  # [B, T] True on words
    targets: dict[str, torch.Tensor] = field(default_factory=dict)  # [B, T] each
    forms: list[list[str]] | None = None  # the words, which a model's encoder reads
    encoder: torch.Tensor | None = None  # [B, T, L, D] cached encoder states, when every sentence had them

    @property
    def size(self) -> int:
        return self.word_ids.shape[0]

    def to(self, device) -> "TokenBatch":
        move = lambda t: t.to(device)  # noqa: E731
        return TokenBatch(move(self.word_ids), move(self.pre_ids), move(self.ngram_ids),
                          move(self.ngram_offsets), self.lengths, move(self.mask),
                          {k: move(v) for k, v in self.targets.items()}, self.forms,
                          None if self.encoder is None else move(self.encoder))


@dataclass
class PairBatch:
    tokens: TokenBatch  # 2B sentences: the B premises, then the B hypotheses
    relatedness: torch.Tensor | None  # [B] gold scores in [1, 5]
    entailment: torch.Tensor | None  # [B] gold class ids

    @property
    def size(self) -> int:
        return self.tokens.size // 2

    def to(self, device) -> "PairBatch":
        return PairBatch(self.tokens.to(device),
                         None if self.relatedness is None else self.relatedness.to(device),
                         None if self.entailment is None else self.entailment.to(device))


def collate_sentences(items: Sequence[EncodedSentence]) -> TokenBatch:
    lengths = [len(s) for s in items]
    B, T = len(items), max(lengths)
    word_ids = np.zeros((B, T), dtype=np.int64)
    pre_ids = np.zeros((B, T), dtype=np.int64)
    flat: list[int] = []
    offsets = np.zeros(B * T, dtype=np.int64)
    for b, s in enumerate(items):
        n = lengths[b]
        word_ids[b, :n] = s.words.word_ids
        pre_ids[b, :n] = s.words.pre_ids
        for t, ids in enumerate(s.words.ngram_ids):
            offsets[b * T + t] = len(flat)
            flat.extend(ids)
        offsets[b * T + n : (b + 1) * T] = len(flat)  # padding: empty bags
    targets = {}
    for name in sorted({name for s in items for name in s.targets}):
        arr = np.full((B, T), IGNORE, dtype=np.int64)
        for b, s in enumerate(items):
            if name in s.targets:
                arr[b, : lengths[b]] = s.targets[name]
        targets[name] = torch.from_numpy(arr)
    length_t = torch.tensor(lengths, dtype=torch.long)
    mask = torch.arange(T)[None, :] < length_t[:, None]
    encoder = None
    if items and all(s.encoder is not None for s in items):
        states = np.zeros((B, T) + items[0].encoder.shape[1:], dtype=np.float32)
        for b, s in enumerate(items):
            states[b, : lengths[b]] = s.encoder
        encoder = torch.from_numpy(states)
    forms = [s.forms for s in items] if all(s.forms is not None for s in items) else None
    return TokenBatch(torch.from_numpy(word_ids), torch.from_numpy(pre_ids),
                      torch.tensor(flat, dtype=torch.long), torch.from_numpy(offsets),
                      length_t, mask, targets, forms, encoder)


def collate_pairs(items: Sequence[EncodedPair]) -> PairBatch:
    tokens = collate_sentences([p.premise for p in items] + [p.hypothesis for p in items])
    rel = [p.relatedness for p in items]
    ent = [p.entailment for p in items]
    return PairBatch(
        tokens,
        None if any(r is None for r in rel) else torch.tensor(rel, dtype=torch.float),
        None if any(e is None for e in ent) else torch.tensor(ent, dtype=torch.long),
    )


def example_length(item) -> int:
    if isinstance(item, EncodedPair):
        return max(len(item.premise), len(item.hypothesis))
    return len(item)


def batch_indices(items: Sequence, batch_size: int, shuffle: bool, rng: random.Random | None = None,
                  bucket: int = 50, max_tokens: int | None = None) -> Iterator[list[int]]:
    """Index lists of at most ``batch_size`` examples of similar length and, with
    ``max_tokens``, at most that many padded tokens (examples times the longest): long
    sentences come in smaller batches, so memory and the work of a step do not depend on how
    long the longest sentence of a corpus is.

    Unshuffled batches (prediction) are sorted by length. Shuffled training batches sort
    within windows of ``bucket`` batches, so padding stays small while batch order and
    membership still vary between epochs.
    """
    order = list(range(len(items)))
    if not shuffle:
        order.sort(key=lambda i: example_length(items[i]))
        yield from _cut(order, items, batch_size, max_tokens)
        return
    rng = rng or random.Random()
    rng.shuffle(order)
    window = batch_size * bucket
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda i: example_length(items[i]))
        batches.extend(_cut(chunk, items, batch_size, max_tokens))
    rng.shuffle(batches)
    yield from batches


def _cut(ordered: list[int], items: Sequence, batch_size: int, max_tokens: int | None) -> Iterator[list[int]]:
    """Consecutive batches of indices sorted by length."""
    batch: list[int] = []
    for i in ordered:
        longest = example_length(items[i])  # sorted: the newcomer is the longest
        if batch and (len(batch) == batch_size or (max_tokens and (len(batch) + 1) * longest > max_tokens)):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch
