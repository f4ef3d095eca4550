"""Raw text to sentences, tokens and words, learned from a UD treebank.

A character-level network labels every character of the text: inside a token, the last
character of a token, of a token that ends a sentence, of a multiword token (English
``don't`` = ``do`` + ``n't``, French ``du`` = ``de`` + ``le``), or of a multiword token that
ends a sentence. The network is convolutional (dilated, residual), so that it runs over the
whole text at once, where a BiLSTM of about the same accuracy walked it a character at a
time and took about six times as long (``results/experiments.md`` row 48).

The supervision is in any CoNLL-U training file: the ``# text`` lines, the token forms,
``SpaceAfter=No`` and the multiword-token ranges. A multiword token is split into its
words as the training data split the same form most often; a form never seen is split at
the longest word ending seen at the end of training multiword tokens (``'s``), or kept
whole. A form that training keeps whole with its full stop (``Inc.``, ``a.m.``) is joined
again where the network cuts it there. UDPipe 1 and Stanza's tokenizers label characters
the same way.

Whitespace (and control characters) never belongs to a token. The segmenter is saved in a
model directory as ``segmenter.safetensors`` (weights) and ``segmenter.json`` (characters,
multiword splits, sizes, dev scores).
"""
from __future__ import annotations

import json
import os
import random
import re
import time
import unicodedata
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn

from .data.conllu import FORM, MISC, read_conllu, sentence_text
from .data.types import DataError, Sentence

INSIDE, TOKEN, SENTENCE, MWT, MWT_SENTENCE = range(5)  # the label of a token's last character
N_LABELS = 5
FORMAT_VERSION = 2  # 2: convolutional network (1 was a BiLSTM)
WEIGHTS, META = "segmenter.safetensors", "segmenter.json"
ROW_CHARS = 50_000  # characters (texts and the gaps between them) run through the network at once
# Below this many characters a second torch thread does not make the network faster (EWT
# test text on a 2-core AMD EPYC: 1,000 characters 2.2 ms either way, 20,000 about 31 ms,
# 50,000 168 ms on one thread and 126 on two), so shorter texts run on one, in the caller's thread.
ONE_THREAD_CHARS = 20_000
MIN_BATCHES = 10  # training steps per epoch at least
ALWAYS_SPLIT = 0.6  # a form split this often in training is split whatever the network says (chosen on EWT dev)
WORD_AND_MARK = re.compile(r"[^\W_]+[.,;:!?]")  # "border.", "said,": left to the network (token_lexicon)


def is_space(ch: str) -> bool:
    """Whitespace and control characters separate tokens and are never part of one."""
    return ch.isspace() or unicodedata.category(ch) == "Cc"


SPACE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")  # what is_space is true for (Cc is exactly these two ranges)


@lru_cache(maxsize=65536)
def _category(ch: str) -> str:
    return "NL" if ch == "\n" else unicodedata.category(ch)


CATEGORIES = ("<pad>", "NL", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
              "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn")
CATEGORY_IDS = {c: i for i, c in enumerate(CATEGORIES)}
CATEGORY_TABLE = np.array([CATEGORY_IDS[_category(chr(i))] for i in range(0x10000)], dtype=np.int64)
SPACE_TABLE = np.array([is_space(chr(i)) for i in range(0x10000)], dtype=bool)  # none beyond the basic plane


def code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)


@dataclass
class Token:
    """A surface token: ``text[start:end]``, and its words (more than one for a multiword token)."""

    start: int
    end: int
    words: list[str]


# --------------------------------------------------------------------------- training data


@dataclass
class Example:
    """A stream of training text and one label per character."""

    text: str
    labels: np.ndarray


def surface_tokens(sentence: Sentence) -> list[tuple[str, list[str], bool]]:
    """The tokens of a CoNLL-U sentence as (form, words, space after): a multiword range is
    one token whose words are the rows it spans."""
    extras = sentence.conllu
    rows = extras.rows
    tokens: list[tuple[str, list[str], bool]] = []
    i = 0
    while i < len(rows):
        ranges = [line.split("\t") for line in extras.before.get(i, ()) if "-" in line.split("\t", 1)[0]]
        if ranges:
            cols = ranges[0]
            first, last = (int(x) for x in cols[0].split("-"))
            tokens.append((cols[FORM], [r[FORM] for r in rows[first - 1 : last]], "SpaceAfter=No" not in cols[MISC].split("|")))
            i = last
        else:
            tokens.append((rows[i][FORM], [rows[i][FORM]], "SpaceAfter=No" not in rows[i][MISC].split("|")))
            i += 1
    return tokens


def raw_text(sentence: Sentence) -> str:
    """The ``# text`` of a CoNLL-U sentence, or the text its tokens and SpaceAfter give."""
    text = sentence_text(sentence)
    if text is not None:
        return text
    return "".join(form + (" " if space else "") for form, _, space in surface_tokens(sentence)).rstrip()


def aligned_tokens(sentence: Sentence) -> tuple[str, list[tuple[int, int, list[str]]]] | None:
    """A CoNLL-U sentence's text and its tokens in it as (start, end, words); None where it
    has no token or a form does not match the text."""
    text, tokens, pos = raw_text(sentence), [], 0
    for form, words, _ in surface_tokens(sentence):
        while pos < len(text) and is_space(text[pos]):
            pos += 1
        if not form or not text.startswith(form, pos):
            return None
        tokens.append((pos, pos + len(form), words))
        pos += len(form)
    return (text, tokens) if tokens else None


def starts_paragraph(sentence: Sentence) -> bool:
    return any(c.startswith(("# newpar", "# newdoc")) for c in sentence.conllu.comments)


def treebank_example(path: str | Path, line_breaks: float = 0.0, rng: random.Random | None = None
                     ) -> tuple[Example, Counter, int]:
    """The text of a CoNLL-U file with a label per character, how often each token form
    was split into which words (a plain token: into itself), and the number of sentences
    skipped (their forms do not match their ``# text``).

    Sentences are joined by a space (none where the last token says SpaceAfter=No),
    paragraphs (``# newpar``, ``# newdoc``) by a blank line. ``line_breaks`` is the chance
    that a space becomes a line break, so that text wrapped in lines reads as it does here.
    """
    rng = rng or random.Random(0)
    parts: list[str] = []
    labels: list[np.ndarray] = []
    splits: Counter = Counter()
    skipped = 0
    glue = ""
    for sentence in read_conllu(path):
        aligned = aligned_tokens(sentence)
        if aligned is None:
            skipped += 1
            continue
        text, tokens = aligned
        label = np.zeros(len(text), dtype=np.int64)
        for start, end, words in tokens:
            label[end - 1] = MWT if len(words) > 1 else TOKEN
            splits[(text[start:end].lower(), tuple(w.lower() for w in words))] += 1
        label[tokens[-1][1] - 1] += SENTENCE - TOKEN  # TOKEN -> SENTENCE, MWT -> MWT_SENTENCE
        if parts:
            glue = "\n\n" if starts_paragraph(sentence) else glue
            if glue == " " and rng.random() < line_breaks:
                glue = "\n"
            parts.append(glue)
            labels.append(np.zeros(len(glue), dtype=np.int64))
        if line_breaks:
            text = "".join("\n" if ch == " " and rng.random() < line_breaks else ch for ch in text)
        parts.append(text)
        labels.append(label)
        glue = " " if surface_tokens(sentence)[-1][2] else ""
    if not parts:
        raise DataError(str(path), None, "no sentence with text to learn segmentation from")
    return Example("".join(parts), np.concatenate(labels)), splits, skipped


# --------------------------------------------------------------------------- the network


class SegmenterNet(nn.Module):
    """Character and Unicode-category embeddings, then residual dilated convolutions: each
    character's label sees ``receptive`` characters either side. Convolutions run over the
    whole text at once, where a recurrent network would walk it one character at a time."""

    def __init__(self, n_chars: int, char_dim: int = 32, category_dim: int = 8, channels: int = 32,
                 dilations: Sequence[int] = (1, 2, 4, 8, 16), kernel: int = 3, dropout: float = 0.1):
        super().__init__()
        self.chars = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.categories = nn.Embedding(len(CATEGORIES), category_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.first = nn.Conv1d(char_dim + category_dim, channels, kernel, padding=kernel // 2)
        self.convs = nn.ModuleList(nn.Conv1d(channels, channels, kernel, padding=d * (kernel // 2), dilation=d)
                                   for d in dilations)
        self.out = nn.Conv1d(channels, N_LABELS, 1)
        self.receptive = kernel // 2 * (1 + sum(dilations))  # characters either side that a label sees
        self.reach = kernel // 2 * max(dilations, default=1)  # the widest step of one convolution

    def forward(self, chars: torch.Tensor, categories: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Label scores [B, N_LABELS, T] for character and category ids [B, T]; ``mask``
        [B, 1, T] (1 for text, 0 for the gaps between texts run as one row) keeps texts apart."""
        if self.training:
            x = self.dropout(torch.cat([self.chars(chars), self.categories(categories)], -1)).transpose(1, 2)
        else:  # the same lookups read from transposed tables: [E, T] without copying [T, E] over
            B, T = chars.shape
            x = torch.cat([table.weight.t().contiguous().index_select(1, ids.reshape(-1)).view(-1, B, T)
                           for table, ids in ((self.chars, chars), (self.categories, categories))]).transpose(0, 1)
        h = torch.relu(self.first(x))
        if not self.training:  # the same sums in place: prediction's time is mostly these [C, T] tensors
            for conv in self.convs:
                if mask is not None:
                    h.mul_(mask)
                h.add_(torch.relu_(conv(h)))
            return self.out(h)
        for conv in self.convs:
            if mask is not None:
                h = h * mask
            h = h + self.dropout(torch.relu(conv(h)))
        return self.out(h)


_NETWORK_THREAD: tuple[int, ThreadPoolExecutor] | None = None  # (the process it was started in, the thread)


def network_thread() -> ThreadPoolExecutor:
    """The one thread that runs segmenter networks with several torch threads (see
    :meth:`Segmenter._labels`). It lives on between calls, and so do OpenMP's threads under it
    (a new thread a call would start them anew each time). A forked process starts its own: it
    has none of its parent's threads."""
    global _NETWORK_THREAD
    if _NETWORK_THREAD is None or _NETWORK_THREAD[0] != os.getpid():
        _NETWORK_THREAD = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="jmt-segmenter"))
    return _NETWORK_THREAD[1]


class Segmenter:
    """A trained segmenter: :meth:`segment` splits raw text into sentences of tokens."""

    def __init__(self, net: SegmenterNet, chars: list[str], splits: dict[str, list[str]], suffixes: list[str],
                 meta: dict | None = None):
        self.net, self.chars, self.splits, self.suffixes = net.eval(), chars, splits, suffixes
        self.char_ids = {c: i for i, c in enumerate(chars)}
        self._id_table = np.ones(0x10000, dtype=np.int64)  # <unk> unless the character was seen in training
        for c, i in self.char_ids.items():
            if len(c) == 1 and ord(c) <= 0xFFFF:
                self._id_table[ord(c)] = i
        self.meta = meta or {}
        self.always_split = set(self.meta.get("always_split", ()))
        self.kept_whole = set(self.meta.get("kept_whole", ()))
        self._kept_lower = {form.lower() for form in self.kept_whole}
        splits = self.meta.get("token_splits")
        self.token_splits = None if splits is None else {form: list(cuts) for form, cuts in splits.items()}

    @property
    def lang(self) -> str | None:
        return self.meta.get("lang")

    # ------------------------------------------------------------------ encoding

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """Character ids and Unicode-category ids of a text."""
        points = code_points(text)
        bmp = np.minimum(points, 0xFFFF)
        chars, categories = self._id_table[bmp], CATEGORY_TABLE[bmp]
        for i in np.flatnonzero(points > 0xFFFF).tolist():  # beyond the basic plane: rare, looked up one by one
            chars[i] = self.char_ids.get(text[i], 1)
            categories[i] = CATEGORY_IDS.get(_category(text[i]), 1)
        return chars, categories

    # ------------------------------------------------------------------ prediction

    def _join(self, texts: Sequence[str], adjacent: bool) -> tuple[str, np.ndarray, np.ndarray]:
        """The texts as one string, where each text starts in it, and which characters are
        text. Texts that are ``adjacent`` (pieces of one document, in order) are joined as they
        are, so that each label sees the text around it as training did; others get spaces
        between them that the network zeroes before each convolution: a gap as wide as one
        convolution's reach keeps them apart."""
        gap = 0 if adjacent else self.net.reach
        joined = (" " * gap).join(texts)
        lengths = np.array([len(text) for text in texts], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(lengths + gap)[:-1]]) if len(texts) else lengths
        in_text = np.ones(len(joined), dtype=bool)
        if len(texts) > 1:
            in_text[(starts[1:] - gap)[:, None] + np.arange(gap)] = False
        return joined, starts, in_text

    def _labels(self, joined: str, in_text: np.ndarray) -> np.ndarray:
        """A label per character of a joined text, run through the network in windows of
        ``ROW_CHARS`` that overlap by the receptive field, so that every label is the one a
        single pass would give.

        With more than one torch thread a long text goes through the network in a thread of
        its own (:func:`network_thread`), as the predictor's batches do, and a short one on one
        torch thread: either way the calling thread starts no OpenMP pool, so that a process
        forked later from this one (spaCy's ``nlp.pipe(n_process=2)``) does not hang on a pool
        it inherits without its threads.

        A carriage return before a line feed (Windows line ends) is left out of what the
        network reads: it labels the text as it would with line feeds alone, as training saw."""
        if "\r\n" in joined:
            kept = np.ones(len(joined), dtype=bool)
            kept[[m.start() for m in re.finditer("\r\n", joined)]] = False
            labels = np.zeros(len(joined), dtype=np.int64)  # whitespace's labels are never read
            labels[kept] = self._labels(joined.replace("\r\n", "\n"), in_text[kept])
            return labels
        threads = torch.get_num_threads()
        if threads == 1:
            return self._labels_here(joined, in_text)
        if len(joined) < ONE_THREAD_CHARS:  # here, on one thread: no OpenMP pool, and as fast
            torch.set_num_threads(1)
            try:
                return self._labels_here(joined, in_text)
            finally:
                torch.set_num_threads(threads)
        return network_thread().submit(self._labels_here, joined, in_text).result()

    @torch.inference_mode()
    def _labels_here(self, joined: str, in_text: np.ndarray) -> np.ndarray:
        self.net.eval()
        chars, categories = self.encode(joined)
        chars[~in_text] = 0
        categories[~in_text] = 0
        mask = None if in_text.all() else torch.from_numpy(in_text).to(torch.float32)[None, None]
        chars_t, categories_t = torch.from_numpy(chars), torch.from_numpy(categories)
        margin, out = self.net.receptive, np.zeros(len(joined), dtype=np.int64)
        for start in range(0, len(joined), ROW_CHARS):
            lo, hi = max(0, start - margin), min(len(joined), start + ROW_CHARS + margin)
            scores = self.net(chars_t[None, lo:hi], categories_t[None, lo:hi], None if mask is None else mask[..., lo:hi])
            end = min(len(joined), start + ROW_CHARS)
            out[start:end] = scores[0, :, start - lo : end - lo].numpy().argmax(0)
        return out

    def label(self, texts: Sequence[str], adjacent: bool = False) -> list[np.ndarray]:
        """A label per character of each text (see :meth:`segment_many` for ``adjacent``)."""
        joined, starts, in_text = self._join(texts, adjacent)
        labels = self._labels(joined, in_text)
        return [labels[start : start + len(text)] for start, text in zip(starts.tolist(), texts)]

    def segment(self, text: str) -> list[list[Token]]:
        """The sentences of one block of text (a paragraph): lists of tokens with offsets."""
        return self.segment_many([text])[0]

    def segment_many(self, texts: Sequence[str], one_sentence: bool = False, adjacent: bool = False
                     ) -> list[list[list[Token]]]:
        """:meth:`segment` for several blocks at once (one pass over them all). With
        ``one_sentence`` each block is one sentence whatever the labels say; ``adjacent``
        blocks are consecutive pieces of one text, and the labels near a block's edge see the
        blocks beside it (a token or sentence still never spans two blocks)."""
        if not texts:
            return []
        joined, starts, in_text = self._join(texts, adjacent)
        return self._decode(texts, joined, starts, in_text, self._labels(joined, in_text), one_sentence)

    def decode(self, texts: Sequence[str], labels: Sequence[np.ndarray], one_sentence: bool = False,
               adjacent: bool = False) -> list[list[list[Token]]]:
        """The sentences of tokens that each text's character labels give. A token ends where
        its label says, before whitespace, or at the end of its text; a sentence ends at a
        sentence label or at the end of its text."""
        if not texts:
            return []
        joined, starts, in_text = self._join(texts, adjacent)
        gap = np.zeros(0 if adjacent else self.net.reach, dtype=np.int64)
        joined_labels = np.concatenate([part for lab in labels for part in (lab, gap)][:-1])
        return self._decode(texts, joined, starts, in_text, joined_labels, one_sentence)

    def _decode(self, texts: Sequence[str], joined: str, starts: np.ndarray, in_text: np.ndarray, labels: np.ndarray,
                one_sentence: bool) -> list[list[list[Token]]]:
        """:meth:`decode` on the texts as :meth:`_join` joined them, with the labels of the joined text."""
        out: list[list[list[Token]]] = [[] for _ in texts]
        space = SPACE_TABLE[np.minimum(code_points(joined), 0xFFFF)] | ~in_text
        solid = ~space
        edge = np.zeros(len(joined) + 1, dtype=bool)  # after the last character of each text
        edge[starts + np.array([len(text) for text in texts], dtype=np.int64)] = True
        ends = solid & ((labels != INSIDE) | np.append(space[1:], True) | edge[1:])
        begins = solid & np.insert(ends[:-1] | space[:-1], 0, True)
        first, last = np.flatnonzero(begins), np.flatnonzero(ends)
        owner = np.searchsorted(starts, first, side="right") - 1  # the text each token is in
        split, always, ends_sentence = (MWT, MWT_SENTENCE), self.always_split, (SENTENCE, MWT_SENTENCE)
        text_starts = starts.tolist()
        current: list[Token] = []
        t = -1
        for begin, end, lab, k in zip(first.tolist(), (last + 1).tolist(), labels[last].tolist(), owner.tolist()):
            if k != t:
                if current:
                    out[t].append(current)
                current, t, base = [], k, text_starts[k]
            form = joined[begin:end]
            if current and current[-1].end == begin - base and len(current[-1].words) == 1 \
                    and self.keeps_whole(joined[current[-1].start + base : end]):  # "Inc" + "." -> "Inc."
                whole = joined[current[-1].start + base : end]
                current[-1] = Token(current[-1].start, end - base, self.split(whole) if whole.lower() in always else [whole])
            elif lab in split or form.lower() in always:
                current.append(Token(begin - base, end - base, self.split(form)))
            else:
                for cut_begin, cut_end in self.pieces(form):  # "alot" -> "a" "lot", "too." -> "too" "."
                    piece = form[cut_begin:cut_end]
                    current.append(Token(begin - base + cut_begin, begin - base + cut_end,
                                         self.split(piece) if piece.lower() in always else [piece]))
            if lab in ends_sentence and not one_sentence:
                out[t].append(current)
                current = []
        if current:
            out[t].append(current)
        return out

    def keeps_whole(self, form: str) -> bool:
        """Whether training kept ``form`` as one token: in the case it was written there, with a
        capital first letter (a sentence's first word), or in capitals (``INC.``); so "Sat."
        stays whole and "sat." does not."""
        return (form in self.kept_whole or form[:1].lower() + form[1:] in self.kept_whole
                or (form.isupper() and form.lower() in self._kept_lower))

    def pieces(self, form: str) -> list[tuple[int, int]]:
        """Where a token the network did not split as a multiword token falls into tokens of
        its own, as (start, end) in the form: as training mostly tokenized it
        (``token_splits``: "alot" -> "a" "lot"), or with a final full stop of its own where
        training never kept the form whole with it ("too." -> "too" "."); else the form."""
        if self.token_splits is None:  # a segmenter saved before these tables: as it was
            return [(0, len(form))]
        key = form.lower()
        cuts = self.token_splits.get(key)
        if (cuts is None and len(form) > 1 and form.endswith(".") and form.count(".") == 1
                and not self.keeps_whole(form)):
            cuts = [len(form) - 1]
        bounds = [0, *(cuts or ()), len(form)]
        return list(zip(bounds, bounds[1:]))

    def split(self, form: str) -> list[str]:
        """The words of a multiword token: the training data's most frequent split of the
        form, else the longest known ending split off, else the form alone."""
        key = form.lower()
        words = self.splits.get(key)
        if words is None:
            for suffix in self.suffixes:
                if len(key) > len(suffix) and key.endswith(suffix):
                    words = [key[: -len(suffix)], suffix]
                    break
            else:
                return [form]
        if "".join(words) == key:  # cut the form itself where the words meet: its case stays
            out, pos = [], 0
            for w in words:
                out.append(form[pos : pos + len(w)])
                pos += len(w)
            return out
        if form.isupper() and len(form) > 1:
            return [w.upper() for w in words]
        if form[:1].isupper():
            return [words[0][:1].upper() + words[0][1:], *words[1:]]
        return list(words)

    # ------------------------------------------------------------------ saving

    def save(self, directory: str | Path, weights: bool = True) -> None:
        """Write the weights (unless ``weights`` is false) and the JSON beside them."""
        from .io import save_weights, write_json

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if weights:
            save_weights(directory / WEIGHTS, self.net, {"format": "jmt-segmenter", "version": str(FORMAT_VERSION)})
        write_json(directory / META, {"format_version": FORMAT_VERSION, **self.meta, "chars": self.chars,
                                      "splits": self.splits, "suffixes": self.suffixes})


def has_segmenter(directory: str | Path) -> bool:
    """Whether a model directory has a segmenter; half of one (its weights without its
    ``segmenter.json``) is an error rather than raw text quietly split by other rules."""
    directory = Path(directory)
    if not (directory / META).is_file() and (directory / WEIGHTS).is_file():
        from .config import ConfigError

        raise ConfigError(f"{directory / META}: missing beside {WEIGHTS}; copy both files of the segmenter")
    return (directory / META).is_file()


def load_segmenter(directory: str | Path) -> Segmenter:
    """The segmenter saved in a model directory; a ConfigError naming the file if it is
    missing or damaged. Weights are read with safetensors only."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from .config import ConfigError

    directory = Path(directory)
    where = directory / META
    if not where.is_file():
        raise ConfigError(f"{directory}: the model has no segmenter ({META})")
    try:
        meta = json.loads(where.read_text(encoding="utf-8"))
        version = meta.pop("format_version", None)
        if version == 1:
            raise ConfigError(f"{where}: a segmenter of an older jmt (a BiLSTM, format 1) that this one does not "
                              "read; train it again with `jmt train-segmenter`")
        if version != FORMAT_VERSION:
            newer = isinstance(version, int) and version > FORMAT_VERSION
            raise ValueError(f"segmenter format version {version!r}, this jmt reads {FORMAT_VERSION}"
                             + ("; it was written by a newer jmt: upgrade jmt" if newer else ""))
        chars, splits, suffixes = meta.pop("chars"), meta.pop("splits"), meta.pop("suffixes")
        net = SegmenterNet(len(chars), **meta["sizes"])
        where = directory / WEIGHTS
        net.load_state_dict({k: v.float() for k, v in load_file(str(where)).items()})
    except ConfigError:
        raise
    except (OSError, KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{where}: not a valid jmt segmenter ({detail})") from None
    return Segmenter(net, chars, splits, suffixes, meta)


# --------------------------------------------------------------------------- training


@dataclass
class SegmenterConfig:
    epochs: int = 80  # an epoch of EWT takes seconds; dev still rose after 40 (results/experiments.md row 48)
    window: int = 300  # characters per training window
    batch_size: int = 32
    lr: float = 0.002
    char_dim: int = 32
    category_dim: int = 8
    channels: int = 32
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 32)  # each label sees 64 characters either side
    kernel: int = 3
    dropout: float = 0.1
    min_char_count: int = 2  # rarer characters share one id
    line_breaks: float = 0.03  # chance that a training space is a line break
    seed: int = 1


def train_segmenter(train_path: str | Path, dev_path: str | Path | None, out_dir: str | Path,
                    cfg: SegmenterConfig | None = None, lang: str | None = None,
                    log: Callable[[str], None] = print) -> dict:
    """Train a segmenter on a CoNLL-U file, pick the epoch that segments ``dev_path`` best
    (the last epoch without dev), save it into ``out_dir`` and return its dev scores."""
    cfg = cfg or SegmenterConfig()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    train, counts, skipped = treebank_example(train_path, cfg.line_breaks, rng)
    if skipped:
        log(f"segmenter: skipped {skipped} training sentences whose forms do not match their text")
    char_counts = Counter(train.text)
    chars = ["<pad>", "<unk>", *sorted(c for c, n in char_counts.items() if n >= cfg.min_char_count)]
    splits, suffixes, always = split_table(counts)
    sizes = {"char_dim": cfg.char_dim, "category_dim": cfg.category_dim, "channels": cfg.channels,
             "dilations": list(cfg.dilations), "kernel": cfg.kernel, "dropout": cfg.dropout}
    net = SegmenterNet(len(chars), **sizes)
    token_splits, whole = token_lexicon(train_path)
    meta = {"lang": lang, "sizes": sizes, "always_split": always, "kept_whole": whole, "token_splits": token_splits,
            "train": str(Path(train_path).name),
            "dev": str(Path(dev_path).name) if dev_path else None}
    segmenter = Segmenter(net, chars, splits, suffixes, meta)
    chars_all, cats_all = segmenter.encode(train.text)
    labels_all = train.labels
    dev = list(read_conllu(dev_path)) if dev_path else None
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    best, history = -1.0, []
    n = len(train.text)
    windows = max(n // cfg.window, MIN_BATCHES * cfg.batch_size)  # a small treebank is seen more often
    for epoch in range(1, cfg.epochs + 1):
        begun = time.perf_counter()
        net.train()
        offsets = [rng.randrange(0, max(1, n - cfg.window)) for _ in range(windows)]
        total = 0.0
        for b in range(0, windows, cfg.batch_size):
            idx = np.array(offsets[b : b + cfg.batch_size])[:, None] + np.arange(min(cfg.window, n))
            chars = torch.from_numpy(chars_all[idx])
            cats = torch.from_numpy(cats_all[idx])
            gold = torch.from_numpy(labels_all[idx])
            loss = nn.functional.cross_entropy(net(chars, cats), gold)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            optimizer.step()
            total += loss.item() * len(idx)
        record = {"epoch": epoch, "loss": round(total / windows, 4), "seconds": round(time.perf_counter() - begun, 1)}
        if dev is not None:
            record.update(score_segmentation(segmenter, dev))
            score = (record["tokens"] + record["words"] + record["sentences"]) / 3
        else:
            score = epoch
        history.append(record)
        log("segmenter " + "  ".join(f"{k} {v:.2f}" if k in ("tokens", "words", "sentences") else f"{k} {v}"
                                     for k, v in record.items()))
        if score > best:  # saved at once: a run that stops keeps its best epoch
            best = score
            segmenter.meta["dev_scores"] = {k: v for k, v in record.items() if k not in ("loss", "seconds")}
            segmenter.meta["history"] = history
            segmenter.save(out_dir)
        else:
            segmenter.meta["history"] = history
            segmenter.save(out_dir, weights=False)
    return segmenter.meta["dev_scores"]


def relearn_tables(directory: str | Path, train_path: str | Path, dev_path: str | Path | None = None) -> dict | None:
    """Learn a saved segmenter's tables (:func:`split_table`, :func:`token_lexicon`) again from
    a CoNLL-U file, its network unchanged; return its dev scores with them, if ``dev_path``."""
    segmenter = load_segmenter(directory)
    _, counts, _ = treebank_example(train_path)
    segmenter.splits, segmenter.suffixes, always = split_table(counts)
    token_splits, whole = token_lexicon(train_path)
    segmenter.meta.update(always_split=always, kept_whole=whole, token_splits=token_splits,
                          train=Path(train_path).name)
    segmenter = Segmenter(segmenter.net, segmenter.chars, segmenter.splits, segmenter.suffixes, segmenter.meta)
    scores = None
    if dev_path is not None:
        scores = score_segmentation(segmenter, list(read_conllu(dev_path)))
        segmenter.meta["dev_scores"] = {**segmenter.meta.get("dev_scores", {}), **scores}  # the epoch stays
    segmenter.save(directory, weights=False)
    return scores


def split_table(counts: Counter) -> tuple[dict[str, list[str]], list[str], list[str]]:
    """From the token counts of :func:`treebank_example`: the most frequent split of each
    multiword form; the word endings that training multiword tokens end with (longest
    first), for forms never seen; and the forms split ``ALWAYS_SPLIT`` of the time or more
    (at least 3 times), which are split whatever the network says."""
    best: dict[str, tuple[int, tuple[str, ...]]] = {}
    endings: Counter = Counter()
    split, total = Counter(), Counter()
    for (form, words), n in counts.items():
        total[form] += n
        if len(words) < 2:
            continue
        split[form] += n
        if form not in best or n > best[form][0]:
            best[form] = (n, words)
        if len(words) == 2 and "".join(words) == form:
            endings[words[1]] += n
    suffixes = sorted((s for s, n in endings.items() if n >= 5 and not s.isalnum() or n >= 20), key=len, reverse=True)
    always = sorted(f for f, n in split.items() if n >= 3 and n >= ALWAYS_SPLIT * total[f])
    return {form: list(words) for form, (_, words) in sorted(best.items())}, suffixes, always


def token_lexicon(path: str | Path) -> tuple[dict[str, list[int]], list[str]]:
    """How a CoNLL-U file tokenizes text that has no space in it, for the segmenter to follow
    where its network goes another way: (1) ``token_splits``, forms that the file cuts into
    tokens ``ALWAYS_SPLIT`` of the times it writes them or more, with the cuts ("alot" ->
    [1], "a/c" -> [1, 2]); (2) ``kept_whole``, forms with a character that is not a letter or
    digit that it keeps as one token as often ("Inc.", "a.m.", "e-mail"), joined again where
    the network cuts them, in each case the file writes them (:meth:`Segmenter.keeps_whole`).
    A form is a run of up to three tokens with no space between them, counted lowercased.
    Forms of a word and one closing mark ("border.", "said,") are left to the network and to
    the full-stop rule of :meth:`Segmenter.pieces`, which keeps the table small."""
    seen: dict[str, Counter] = {}
    written: dict[str, set[str]] = {}  # a form kept whole, as the file writes it ("Sat.", "Inc.")
    for sentence in read_conllu(path):
        aligned = aligned_tokens(sentence)
        if aligned is None:
            continue
        text, tokens = aligned
        for i, (start, _, _) in enumerate(tokens):
            for j in range(i, min(i + 3, len(tokens))):
                if j > i and tokens[j][0] != tokens[j - 1][1]:
                    break
                cuts = tuple(tokens[k][1] - start for k in range(i, j))
                form = text[start : tokens[j][1]]
                seen.setdefault(form.lower(), Counter())[cuts] += 1
                if not cuts:
                    written.setdefault(form.lower(), set()).add(form)
    splits, whole = {}, []
    for form, counts in seen.items():
        cuts, n = counts.most_common(1)[0]
        if n < ALWAYS_SPLIT * sum(counts.values()):
            continue
        if cuts and not WORD_AND_MARK.fullmatch(form):
            splits[form] = list(cuts)
        elif not cuts and len(form) > 1 and not form.isalnum():
            whole.extend(written[form])
    return dict(sorted(splits.items())), sorted(whole)


# --------------------------------------------------------------------------- scoring


def gold_blocks(sentences: Iterable[Sentence]) -> list[tuple[str, list[tuple[int, int, tuple[str, ...]]], list[tuple[int, int]]]]:
    """Paragraphs of gold sentences as (text, tokens as (start, end, words), sentences as
    (start, end)): the sentences of a paragraph joined by a space, a sentence whose forms do
    not match its text left out."""
    blocks: list = []
    text, tokens, spans = "", [], []
    for sentence in sentences:
        if text and starts_paragraph(sentence):
            blocks.append((text, tokens, spans))
            text, tokens, spans = "", [], []
        aligned = aligned_tokens(sentence)
        if aligned is None:
            continue
        raw, toks = aligned
        offset = len(text) + (1 if text else 0)
        text = text + (" " if text else "") + raw
        tokens.extend((offset + start, offset + end, tuple(words)) for start, end, words in toks)
        spans.append((offset + toks[0][0], offset + toks[-1][1]))
    if text:
        blocks.append((text, tokens, spans))
    return blocks


def score_segmentation(segmenter: Segmenter, gold: Sequence[Sentence]) -> dict[str, float]:
    """Token, word and sentence F1 (spans of characters must match exactly), a quick
    measure for choosing an epoch; the reported scores come from UD's own scorer."""
    blocks = gold_blocks(gold)
    predicted = segmenter.segment_many([text for text, _, _ in blocks])
    counts = Counter()
    for (text, tokens, spans), sentences in zip(blocks, predicted):
        gold_tokens = {(s, e): words for s, e, words in tokens}
        sys_tokens = {(t.start, t.end): tuple(t.words) for sent in sentences for t in sent}
        sys_spans = {(sent[0].start, sent[-1].end) for sent in sentences}
        counts["gold_tokens"] += len(gold_tokens)
        counts["sys_tokens"] += len(sys_tokens)
        counts["ok_tokens"] += len(gold_tokens.keys() & sys_tokens.keys())
        counts["gold_words"] += sum(len(w) for w in gold_tokens.values())
        counts["sys_words"] += sum(len(w) for w in sys_tokens.values())
        counts["ok_words"] += sum(len(w) for k, w in sys_tokens.items() if gold_tokens.get(k) == w)
        counts["gold_sentences"] += len(spans)
        counts["sys_sentences"] += len(sys_spans)
        counts["ok_sentences"] += len(set(spans) & sys_spans)

    def f1(name: str) -> float:
        ok, g, s = counts[f"ok_{name}"], counts[f"gold_{name}"], counts[f"sys_{name}"]
        return 200.0 * ok / (g + s) if g + s else 0.0

    return {"tokens": f1("tokens"), "words": f1("words"), "sentences": f1("sentences")}
