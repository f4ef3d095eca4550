"""Cross-stitch units (Misra, Shrivastava, Gupta and Hebert, CVPR 2016) and the sluice
network's additions (Ruder, Bingel, Augenstein and Sogaard, AAAI 2019), beside the JMT
hierarchy's hard and soft sharing.

With these sharings each depth's tasks own a column of BiLSTM layers that reaches up to their
depth (the POS column has one level, the parser's three). After each level, the columns that
reach it mix their states linearly: column c's state becomes ``sum_j alpha[c, j] h_j``.
Sluice networks split every state into ``subspaces`` equal parts and mix the parts instead (an
``n m x n m`` alpha), keep a column's parts apart with an orthogonality penalty, and let each
head read a learned mixture (beta) of its column's levels instead of its top level only.
alpha starts near the identity, so each column starts mostly on its own; at exactly the
identity, with beta on the own level, the columns are separate networks.
"""
from __future__ import annotations

import torch
from torch import nn


def initial_alpha(size: int, diagonal: float) -> torch.Tensor:
    """``diagonal`` on the diagonal, the rest of each row sharing ``1 - diagonal``."""
    if size == 1:
        return torch.ones(1, 1)
    alpha = torch.full((size, size), (1 - diagonal) / (size - 1))
    alpha.fill_diagonal_(diagonal)
    return alpha


class CrossStitch(nn.Module):
    """One level's alpha: ``columns`` states [B, T, D] in, as many mixed states out."""

    def __init__(self, columns: int, subspaces: int = 1, diagonal: float = 0.9):
        super().__init__()
        self.columns, self.subspaces = columns, subspaces
        self.alpha = nn.Parameter(initial_alpha(columns * subspaces, diagonal))

    def forward(self, states: list[torch.Tensor]) -> list[torch.Tensor]:
        n, m = self.columns, self.subspaces
        x = torch.stack(states)  # [n, B, T, D]
        _, B, T, D = x.shape
        parts = x.view(n, B, T, m, D // m).permute(0, 3, 1, 2, 4).reshape(n * m, -1)  # row c*m+i: part i of column c
        mixed = (self.alpha @ parts).view(n, m, B, T, D // m).permute(0, 2, 3, 1, 4).reshape(n, B, T, D)
        return list(mixed.unbind(0))


def orthogonality(state: torch.Tensor, mask: torch.Tensor, subspaces: int) -> torch.Tensor:
    """sum over pairs of parts i < j of ||G_i^T G_j||_F^2, G_i the words' part i of ``state``
    ([B, T, D], mask [B, T]): zero when the parts are orthogonal over the batch's words."""
    words = state[mask]  # [N, D]
    parts = words.view(len(words), subspaces, -1).unbind(1)
    total = state.new_zeros(())
    for i in range(subspaces):
        for j in range(i + 1, subspaces):
            total = total + (parts[i].T @ parts[j]).pow(2).sum()
    return total


def level_mix(levels: list[torch.Tensor], beta: torch.Tensor) -> torch.Tensor:
    """sum_l beta[l] levels[l]: what a head reads from its column's levels 1..its depth."""
    return sum(w * h for w, h in zip(beta.unbind(0), levels))
