"""Building blocks shared by the stack and the task heads."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def uniform_(weight: torch.Tensor) -> torch.Tensor:
    """The paper's init: uniform in +-sqrt(6 / (rows + cols))."""
    bound = math.sqrt(6.0 / (weight.shape[0] + weight.shape[-1]))
    with torch.no_grad():
        return weight.uniform_(-bound, bound)


def linear(in_dim: int, out_dim: int, zero: bool = False) -> nn.Linear:
    """A Linear layer with the paper's init; ``zero`` for softmax layers (zero weights)."""
    layer = nn.Linear(in_dim, out_dim)
    nn.init.zeros_(layer.weight) if zero else uniform_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class BiLSTM(nn.Module):
    """One bidirectional LSTM layer over padded sentences: [B, T, D] -> [B, T, 2H]."""

    def __init__(self, input_dim: int, hidden: int):
        super().__init__()
        self.lstm = nn.LSTM(input_dim, hidden, batch_first=True, bidirectional=True)
        for name, p in self.lstm.named_parameters():
            if name.startswith("weight"):
                for gate in p.data.chunk(4, 0):  # i, f, g, o blocks
                    uniform_(gate)
            else:
                nn.init.zeros_(p)
                if name.startswith("bias_ih"):
                    p.data[hidden : 2 * hidden] = 1.0  # forget gate
        self.low: dict[str, torch.Tensor] | None = None  # weights for prediction in bf16 (set_precision)

    def set_precision(self, dtype: torch.dtype) -> None:
        """Predict with a copy of the current weights in ``dtype`` (float32: the weights
        themselves); see :meth:`JointManyTask.set_precision`."""
        self.low = None if dtype == torch.float32 else {
            name: p.detach().to(dtype) for name, p in self.lstm.named_parameters()}

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if self.low is not None and not torch.is_grad_enabled():
            return self._two_passes(x, lengths, self.low).to(x.dtype)
        packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out  # [B, T, 2H]

    def _two_passes(self, x: torch.Tensor, lengths: torch.Tensor, weights: dict[str, torch.Tensor]) -> torch.Tensor:
        """The same BiLSTM without packing, with ``weights`` by the LSTM's parameter names (and
        in their dtype): one pass per direction over the padded batch.

        torch sends a packed batch through its generic LSTM code, step by step; a padded one
        in bfloat16 goes to oneDNN's LSTM, which on a CPU with bf16 matrix units (AMX or AVX512-BF16) is
        several times faster. Padding follows the words, so the forward pass reads the padded
        batch as it is, and the backward pass reads each sentence reversed within its length.
        Outputs on padding are zero, as from a packed run.
        """
        x = x.to(weights["weight_ih_l0"].dtype)
        B, T, _ = x.shape
        hidden = self.lstm.hidden_size
        steps = torch.arange(T, device=x.device)
        n = lengths.to(x.device).unsqueeze(1)  # [B, 1]
        reverse = torch.where(steps < n, n - 1 - steps, steps)  # [B, T], its own inverse
        rows = (reverse + T * torch.arange(B, device=x.device).unsqueeze(1)).flatten()  # into [B * T] rows
        start = x.new_zeros(1, B, hidden)

        def reversed_words(y: torch.Tensor) -> torch.Tensor:
            return y.reshape(B * T, -1).index_select(0, rows).view(B, T, -1)

        def one_way(inputs: torch.Tensor, suffix: str = "") -> torch.Tensor:
            params = [weights[f"{name}_l0{suffix}"] for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            # torch.lstm(input, (h0, c0), params, has_biases, layers, dropout, train, bidirectional, batch_first)
            return torch.lstm(inputs, (start, start), params, True, 1, 0.0, False, False, True)[0]

        forward = one_way(x)
        backward = reversed_words(one_way(reversed_words(x), "_reverse"))
        return torch.cat([forward, backward], dim=-1).masked_fill((steps >= n).unsqueeze(-1), 0)  # [B, T, 2H]


class Maxout(nn.Module):
    """Maxout units: [.., in] -> [.., out], the max over ``pieces`` linear pieces."""

    def __init__(self, in_dim: int, out_dim: int, pieces: int):
        super().__init__()
        self.out_dim, self.pieces = out_dim, pieces
        self.proj = linear(in_dim, out_dim * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.proj(x)
        return y.view(*y.shape[:-1], self.out_dim, self.pieces).max(dim=-1).values


def masked_max(h: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Element-wise max over time of the words only: [B, T, D], [B, T] -> [B, D]."""
    return h.masked_fill(~mask.unsqueeze(-1), float("-inf")).max(dim=1).values
