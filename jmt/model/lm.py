"""A language-modelling objective on the bottom BiLSTM layer (Rei 2017, "Semi-supervised
multitask learning for sequence labeling").

The bottom layer reads only the word representations, so its forward state at word t has
seen words 1..t and its backward state words t..n. The forward half then learns to predict
word t+1 and the backward half word t-1, from the sentences the tasks train on anyway:
every batch of every task also teaches the shared bottom layer about the words around each
word, without any data beyond the task corpora. Only training uses it; prediction never
runs it.

The targets are the ids of the trained word table (most frequent first): the ``vocab``
most frequent, every rarer word as UNK, and padding's id 0 for "no word" beyond either end
of the sentence.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.batch import TokenBatch
from .embeddings import UNK_ID
from .layers import linear


class NeighbourWordLM(nn.Module):
    """Two small softmax classifiers over the bottom layer's states [B, T, 2H]: the forward
    half predicts the next word, the backward half the previous one, each through a tanh
    hidden layer of ``hidden`` units."""

    def __init__(self, state_dim: int, vocab: int, hidden: int):
        super().__init__()
        self.vocab, self.half = vocab, state_dim // 2
        self.next_word = nn.Sequential(linear(self.half, hidden), nn.Tanh(), linear(hidden, vocab, zero=True))
        self.prev_word = nn.Sequential(linear(self.half, hidden), nn.Tanh(), linear(hidden, vocab, zero=True))

    def loss(self, h: torch.Tensor, batch: TokenBatch) -> torch.Tensor:
        """Negative log-likelihood of both neighbours of every word, summed over the batch."""
        ids = batch.word_ids.masked_fill(batch.word_ids >= self.vocab, UNK_ID)  # [B, T]; padding stays 0
        following = F.pad(ids[:, 1:], (0, 1))  # after the last word: padding, "no word"
        preceding = F.pad(ids[:, :-1], (1, 0))  # before the first word: "no word"
        mask = batch.mask
        states = h[mask]  # [N, 2H], the words of the batch
        return (F.cross_entropy(self.next_word(states[:, :self.half]), following[mask], reduction="sum")
                + F.cross_entropy(self.prev_word(states[:, self.half:]), preceding[mask], reduction="sum"))
