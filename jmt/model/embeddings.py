"""Word representation x_t = [w_t ; c_t] (spec, depth 0), with a pretrained encoder [w_t ; c_t ; e_t]."""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..config import ModelConfig
from ..data.batch import TokenBatch
from ..data.vocab import Vocabularies
from .encoder import ScalarMix

UNK_ID = 1
EMBED_INIT = 1.0  # uniform bound of the embeddings without pretrained vectors (std ~0.58)


def _table(cls, rows: int, dim: int, **kwargs) -> nn.Module:
    """An embedding table. Built on the meta device (a saved model being loaded), it skips
    torch's normal init: that op's meta kernel imports torch._dynamo and sympy, about 70 MB
    of resident memory for weights that are replaced anyway. On a real device the init
    stays, so a seed draws the same numbers as before."""
    if torch.empty(0).device.type == "meta":
        return cls(rows, dim, _weight=torch.empty(rows, dim), **kwargs)
    return cls(rows, dim, **kwargs)


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
        self.words = _table(nn.Embedding, len(vocabs.words), cfg.word_dim, padding_idx=0) if cfg.word_embeddings else None
        self.ngrams = (_table(nn.EmbeddingBag, len(vocabs.ngrams), cfg.char_dim, mode="mean", padding_idx=0)
                       if cfg.char_ngrams else None)
        with torch.no_grad():
            # Not the +-sqrt(6/(rows+cols)) of the other weights: over a large table that
            # bound is tiny and the LSTMs would start from near-zero inputs.
            if self.words is not None:
                self.words.weight.uniform_(-EMBED_INIT, EMBED_INIT)
                self.words.weight[0].zero_()
            if self.ngrams is not None:
                self.ngrams.weight.uniform_(-EMBED_INIT, EMBED_INIT)
                self.ngrams.weight[0].zero_()
        self.register_buffer("word_counts", torch.tensor(vocabs.word_counts, dtype=torch.float))
        self.register_buffer("pretrained", torch.zeros(len(vocabs.pretrained) if cfg.word_embeddings else 0, cfg.word_dim))
        if vectors and self.words is not None:
            self._load_vectors(vocabs, vectors)
        # A pretrained encoder's layers, mixed (jmt.model.encoder); its states come with the batch
        # or from the encoder the model runs.
        self.mix = ScalarMix(cfg.encoder_layers) if cfg.encoder else None
        self.out_dim = ((cfg.word_dim if cfg.word_embeddings else 0) + (cfg.char_dim if cfg.char_ngrams else 0)
                        + (cfg.encoder_dim if cfg.encoder else 0))

    def _load_vectors(self, vocabs: Vocabularies, vectors: dict[str, np.ndarray]) -> None:
        with torch.no_grad():
            for i, word in enumerate(vocabs.words.itos):
                if word in vectors:
                    self.words.weight[i] = torch.from_numpy(vectors[word])
            for i, word in enumerate(vocabs.pretrained.itos[1:], 1):
                self.pretrained[i] = torch.from_numpy(vectors[word])

    def forward(self, batch: TokenBatch, encoder_states: torch.Tensor | None = None) -> torch.Tensor:
        """[B, T, Dx]: the word, its n-grams and, with an encoder, the mix of ``encoder_states``
        ([B, T, L, D])."""
        parts = [self._words(batch)] if self.words is not None else []
        if self.ngrams is not None:
            B, T = batch.word_ids.shape
            parts.append(self.ngrams(batch.ngram_ids, batch.ngram_offsets).view(B, T, -1).float())  # [B, T, Dc]
        if self.mix is not None:
            parts.append(self.mix(encoder_states.float()))  # [B, T, D]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=-1)

    def _words(self, batch: TokenBatch) -> torch.Tensor:
        word_ids, pre_ids = batch.word_ids, batch.pre_ids  # [B, T]
        if self.training and self.alpha > 0:
            counts = self.word_counts[word_ids]
            drop = torch.rand_like(counts) < self.alpha / (counts + self.alpha)
            word_ids = word_ids.masked_fill(drop, UNK_ID)
            pre_ids = pre_ids.masked_fill(drop, 0)
        w = self.words(word_ids)  # [B, T, Dw]
        use_pre = (word_ids == UNK_ID) & (pre_ids > 0)
        return torch.where(use_pre.unsqueeze(-1), self.pretrained[pre_ids], w).float()  # [B, T, Dw]


def pretrain_ngrams(embed: WordRepresentation, vocabs: Vocabularies, vectors_path: str, epochs: int,
                    max_words: int = 400_000, batch_size: int = 1024, lr: float = 0.01, seed: int = 1,
                    log=None) -> float:
    """Train the character n-gram table to reproduce pretrained word vectors.

    The paper pre-trained its n-gram embeddings; here the mean n-gram embedding of each
    vector-file word (and of its capitalised form), through a linear map that is then
    thrown away, is fitted to the word's vector by squared error. Unknown words then start
    with n-gram features that carry what the vectors know about similar spellings.
    Only n-grams in the model's table are trained. Returns the last epoch's mean loss.
    """
    from ..data.vectors import iter_vectors

    if embed.ngrams is None:
        return float("nan")
    words, targets = [], []
    for n, (word, values, _) in enumerate(iter_vectors(vectors_path)):
        if n >= max_words:
            break
        ids = vocabs.word_ngram_ids_uncached(word)
        if ids:
            words.append(ids)
            targets.append(values)
            if word.isalpha() and word.lower() == word:
                cased = vocabs.word_ngram_ids_uncached(word.capitalize())
                if cased:
                    words.append(cased)
                    targets.append(values)
    if not words:
        return float("nan")
    device = embed.ngrams.weight.device
    target = torch.from_numpy(np.asarray(targets, dtype=np.float32)).to(device)  # [N, Dw]
    proj = nn.Linear(embed.ngrams.embedding_dim, target.shape[1]).to(device)
    params = list(embed.ngrams.parameters()) + list(proj.parameters())
    optimizer = torch.optim.Adam(params, lr=lr, fused=True)
    generator = torch.Generator().manual_seed(seed)
    mean_loss = float("nan")
    for epoch in range(1, epochs + 1):
        total = 0.0
        for batch in torch.randperm(len(words), generator=generator).split(batch_size):
            ids = [words[i] for i in batch.tolist()]
            flat = torch.tensor([g for w in ids for g in w], dtype=torch.long, device=device)
            offsets = torch.tensor(np.cumsum([0] + [len(w) for w in ids[:-1]]), dtype=torch.long, device=device)
            loss = (proj(embed.ngrams(flat, offsets)) - target[batch.to(device)]).pow(2).sum(-1).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        mean_loss = total / len(words)
        if log:
            log(f"n-gram pre-training epoch {epoch}: {len(words):,} words, squared error per word {mean_loss:.4f}")
    return mean_loss
