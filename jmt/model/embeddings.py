"""Word representation x_t = [w_t ; c_t] (spec, depth 0)."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.batch import TokenBatch
from ..data.vocab import Vocabularies

UNK_ID = 1
EMBED_INIT = 1.0  # uniform bound of the embeddings without pretrained vectors (std ~0.58)


class WordRepresentation(nn.Module):
    """Word embedding of the lowercased word plus the mean of its character n-gram embeddings.

    The trained word table covers the training vocabulary (initialised from pretrained
    vectors where they have the word). Words seen only in the pretrained vectors use a
    frozen table, so they are not UNK at test time. During training a word is replaced by
    UNK with probability alpha / (count + alpha) (word dropout).
    """

    def __init__(self, cfg: ModelConfig, vocabs: Vocabularies, vectors: dict[str, np.ndarray] | None = None):
        super().__init__()
        self.alpha = cfg.word_dropout_alpha
        self.words = nn.Embedding(len(vocabs.words), cfg.word_dim, padding_idx=0)
        self.ngrams = nn.EmbeddingBag(len(vocabs.ngrams), cfg.char_dim, mode="mean", padding_idx=0)
        with torch.no_grad():
            # Not the +-sqrt(6/(rows+cols)) of the other weights: over a large table that
            # bound is tiny and the LSTMs would start from near-zero inputs.
            self.words.weight.uniform_(-EMBED_INIT, EMBED_INIT)
            self.ngrams.weight.uniform_(-EMBED_INIT, EMBED_INIT)
            self.words.weight[0].zero_()
            self.ngrams.weight[0].zero_()
        self.register_buffer("word_counts", torch.tensor(vocabs.word_counts, dtype=torch.float))
        self.register_buffer("pretrained", torch.zeros(len(vocabs.pretrained), cfg.word_dim))
        if vectors:
            self._load_vectors(vocabs, vectors)
        self.out_dim = cfg.word_dim + cfg.char_dim

    def _load_vectors(self, vocabs: Vocabularies, vectors: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for i, word in enumerate(vocabs.words.itos):
                if word in vectors:
                    self.words.weight[i] = torch.from_numpy(vectors[word])
            for i, word in enumerate(vocabs.pretrained.itos[1:], 1):
                self.pretrained[i] = torch.from_numpy(vectors[word])

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        word_ids, pre_ids = batch.word_ids, batch.pre_ids  # [B, T]
        if self.training and self.alpha > 0:
            counts = self.word_counts[word_ids]
            drop = torch.rand_like(counts) < self.alpha / (counts + self.alpha)
            word_ids = word_ids.masked_fill(drop, UNK_ID)
            pre_ids = pre_ids.masked_fill(drop, 0)
        w = self.words(word_ids)  # [B, T, Dw]
        use_pre = (word_ids == UNK_ID) & (pre_ids > 0)
        w = torch.where(use_pre.unsqueeze(-1), self.pretrained[pre_ids], w)
        B, T = word_ids.shape
        c = self.ngrams(batch.ngram_ids, batch.ngram_offsets).view(B, T, -1)  # [B, T, Dc]
        return torch.cat([w, c], dim=-1)  # [B, T, Dw + Dc]
