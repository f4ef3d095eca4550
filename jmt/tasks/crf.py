"""A linear-chain CRF over per-word tag scores: whole tag sequences scored and decoded.

score(y) = start[y_1] + sum_t emit[t, y_t] + sum_t trans[y_{t-1}, y_t] + end[y_n]. Training
minimises -log p(y | x) = log Z - score(gold), with Z summed over all sequences by the
forward algorithm; prediction takes the best sequence by Viterbi. Both loop over time and
run every sentence of a padded batch at once.

``allowed`` ([from, to] booleans, with ``allowed_start``) lists the transitions a valid tag
sequence may take; Viterbi keeps to them, so an IOB chunker never starts a chunk with an
``I-`` tag. Training still scores every path: the learned transitions already make the
invalid ones rare, and the constraint only settles the few close calls.
"""
from __future__ import annotations

import torch
from torch import nn


class LinearChainCRF(nn.Module):
    def __init__(self, n_labels: int, allowed: torch.Tensor | None = None, allowed_start: torch.Tensor | None = None):
        super().__init__()
        self.transitions = nn.Parameter(torch.zeros(n_labels, n_labels))  # [from, to]
        self.start = nn.Parameter(torch.zeros(n_labels))
        self.end = nn.Parameter(torch.zeros(n_labels))
        # Plain CPU tensors, not buffers: they follow from the label set, so they are neither
        # saved with the weights nor left unset when a model is built on the meta device to load.
        every = torch.ones(n_labels, n_labels, dtype=torch.bool, device="cpu")
        self.allowed = (every if allowed is None else allowed).to("cpu")
        self.allowed_start = (every[0] if allowed_start is None else allowed_start).to("cpu")

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Sum over the batch of -log p(tags | emissions): [B, T, L], [B, T], [B, T] -> scalar.

        Padding is where ``mask`` is False. A tag id below 0 inside a sentence (a label the
        training data lacked) cannot be scored as a path; it counts as label 0.
        """
        emissions = emissions.float()  # under bf16 autocast too: a path's score sums many terms
        tags = tags.clamp(min=0).masked_fill(~mask, 0)
        lengths = mask.sum(1)
        m = mask.to(emissions.dtype)
        emitted = (emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1) * m).sum(1)
        moved = (self.transitions[tags[:, :-1], tags[:, 1:]] * m[:, 1:]).sum(1)
        last = tags.gather(1, (lengths - 1).unsqueeze(1)).squeeze(1)
        gold = self.start[tags[:, 0]] + emitted + moved + self.end[last]
        return (self.log_partition(emissions, mask) - gold).sum()

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log Z per sentence, by the forward algorithm: [B]."""
        alpha = self.start + emissions[:, 0]  # [B, L]
        for t in range(1, emissions.shape[1]):
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t : t + 1], step, alpha)  # a finished sentence keeps its alpha
        return torch.logsumexp(alpha + self.end, dim=1)

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The best tag sequence of each sentence (Viterbi): [B, T] ids, 0 on padding."""
        B, T, _ = emissions.shape
        barred = torch.finfo(emissions.dtype).min / 4  # far below any path, and no overflow when summed
        transitions = self.transitions.masked_fill(~self.allowed.to(emissions.device), barred)
        score = self.start.masked_fill(~self.allowed_start.to(emissions.device), barred) + emissions[:, 0]
        back = []  # back[t - 1][b, j]: the best tag at t - 1 before tag j at t
        for t in range(1, T):
            best, idx = (score.unsqueeze(2) + transitions).max(dim=1)
            score = torch.where(mask[:, t : t + 1], best + emissions[:, t], score)
            back.append(idx)
        current = (score + self.end).argmax(1)  # the tag of each sentence's last word
        lengths = mask.sum(1)
        tags = torch.zeros(B, T, dtype=torch.long, device=emissions.device)
        for t in range(T - 1, 0, -1):
            inside = t < lengths
            tags[:, t] = torch.where(inside, current, tags[:, t])
            current = torch.where(inside, back[t - 1].gather(1, current.unsqueeze(1)).squeeze(1), current)
        tags[:, 0] = current
        return tags
