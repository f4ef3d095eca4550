"""Raw text to sentences, tokens and words, learned from a UD treebank.

A character-level BiLSTM labels every character of the text: inside a token, the last
character of a token, of a token that ends a sentence, of a multiword token (English
``don't`` = ``do`` + ``n't``, French ``du`` = ``de`` + ``le``), or of a multiword token that
ends a sentence. The supervision is in any CoNLL-U training file: the ``# text`` lines, the
token forms, ``SpaceAfter=No`` and the multiword-token ranges. A multiword token is split
into its words as the training data split the same form most often; a form never seen is
split at the longest word ending seen at the end of training multiword tokens (``'s``),
or kept whole. This is the design of UDPipe 1 and Stanza's tokenizers.

Whitespace (and control characters) never belongs to a token. The segmenter is saved in a
model directory as ``segmenter.safetensors`` (weights) and ``segmenter.json`` (characters,
multiword splits, sizes, dev scores).
"""
from __future__ import annotations

import json
import random
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .data.conllu import FORM, MISC, read_conllu, sentence_text
from .data.types import DataError, Sentence

INSIDE, TOKEN, SENTENCE, MWT, MWT_SENTENCE = range(5)  # the label of a token's last character
N_LABELS = 5
FORMAT_VERSION = 1
WEIGHTS, META = "segmenter.safetensors", "segmenter.json"
PIECE = 3000  # characters run at once; a longer text goes in pieces cut at whitespace
BATCH_CHARS = 60_000  # characters per prediction batch
MIN_BATCHES = 10  # training steps per epoch at least
ALWAYS_SPLIT = 0.6  # a form split this often in training is split whatever the network says (chosen on EWT dev)


def is_space(ch: str) -> bool:
    """Whitespace and control characters separate tokens and are never part of one."""
    return ch.isspace() or unicodedata.category(ch) == "Cc"


@lru_cache(maxsize=65536)
def _category(ch: str) -> str:
    return "NL" if ch == "\n" else unicodedata.category(ch)


CATEGORIES = ("<pad>", "NL", "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
              "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn")
CATEGORY_IDS = {c: i for i, c in enumerate(CATEGORIES)}


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
    def __init__(self, n_chars: int, char_dim: int = 32, category_dim: int = 8, hidden: int = 64, layers: int = 2,
                 dropout: float = 0.2):
        super().__init__()
        self.chars = nn.Embedding(n_chars, char_dim, padding_idx=0)
        self.categories = nn.Embedding(len(CATEGORIES), category_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(char_dim + category_dim, hidden, layers, batch_first=True, bidirectional=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.out = nn.Linear(2 * hidden, N_LABELS)

    def forward(self, chars: torch.Tensor, categories: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        x = self.dropout(torch.cat([self.chars(chars), self.categories(categories)], -1))
        if lengths is None:
            h, _ = self.lstm(x)
        else:
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            h, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=chars.shape[1])
        return self.out(self.dropout(h))


class Segmenter:
    """A trained segmenter: :meth:`segment` splits raw text into sentences of tokens."""

    def __init__(self, net: SegmenterNet, chars: list[str], splits: dict[str, list[str]], suffixes: list[str],
                 meta: dict | None = None):
        self.net, self.chars, self.splits, self.suffixes = net.eval(), chars, splits, suffixes
        self.char_ids = {c: i for i, c in enumerate(chars)}
        self.meta = meta or {}
        self.always_split = set(self.meta.get("always_split", ()))

    @property
    def lang(self) -> str | None:
        return self.meta.get("lang")

    # ------------------------------------------------------------------ encoding

    def encode(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        ids, cats = self.char_ids, CATEGORY_IDS
        chars = np.fromiter((ids.get(ch, 1) for ch in text), dtype=np.int64, count=len(text))
        categories = np.fromiter((cats.get(_category(ch), 1) for ch in text), dtype=np.int64, count=len(text))
        return chars, categories

    # ------------------------------------------------------------------ prediction

    @torch.inference_mode()
    def label(self, texts: Sequence[str]) -> list[np.ndarray]:
        """A label per character of each text."""
        pieces: list[tuple[int, int, int]] = []  # (text, start, end)
        for t, text in enumerate(texts):
            start = 0
            while start < len(text):
                end = _cut(text, start, PIECE)
                pieces.append((t, start, end))
                start = end
        out = [np.zeros(len(text), dtype=np.int64) for text in texts]
        order = sorted(range(len(pieces)), key=lambda k: pieces[k][2] - pieces[k][1], reverse=True)
        self.net.eval()
        k = 0
        while k < len(order):
            longest = pieces[order[k]][2] - pieces[order[k]][1]
            size = max(1, BATCH_CHARS // max(longest, 1))
            batch = [pieces[j] for j in order[k : k + size]]
            k += size
            encoded = [self.encode(texts[t][s:e]) for t, s, e in batch]
            lengths = torch.tensor([e - s for _, s, e in batch])
            chars = torch.zeros(len(batch), longest, dtype=torch.long)
            cats = torch.zeros(len(batch), longest, dtype=torch.long)
            for b, (c, g) in enumerate(encoded):
                chars[b, : len(c)] = torch.from_numpy(c)
                cats[b, : len(g)] = torch.from_numpy(g)
            scores = self.net(chars, cats, lengths if len(batch) > 1 else None)
            predicted = scores.argmax(-1).numpy()
            for b, (t, s, e) in enumerate(batch):
                out[t][s:e] = predicted[b, : e - s]
        return out

    def segment(self, text: str) -> list[list[Token]]:
        """The sentences of one block of text (a paragraph): lists of tokens with offsets."""
        return self.segment_many([text])[0]

    def segment_many(self, texts: Sequence[str], one_sentence: bool = False) -> list[list[list[Token]]]:
        """:meth:`segment` for several blocks at once (batched); with ``one_sentence`` each
        block is one sentence whatever the labels say."""
        return [self._decode(text, labels, one_sentence) for text, labels in zip(texts, self.label(texts))]

    def _decode(self, text: str, labels: np.ndarray, one_sentence: bool) -> list[list[Token]]:
        n = len(text)
        if n == 0:
            return []
        space = np.fromiter((is_space(ch) for ch in text), dtype=bool, count=n)
        solid = ~space
        next_space = np.append(space[1:], True)
        ends = solid & ((labels != INSIDE) | next_space)
        prev_end = np.insert(ends[:-1], 0, True)
        prev_space = np.insert(space[:-1], 0, True)
        starts = solid & (prev_end | prev_space)
        sentences: list[list[Token]] = []
        current: list[Token] = []
        for start, end in zip(np.flatnonzero(starts).tolist(), np.flatnonzero(ends).tolist()):
            lab = int(labels[end])
            form = text[start : end + 1]
            words = self.split(form) if lab in (MWT, MWT_SENTENCE) or form.lower() in self.always_split else [form]
            current.append(Token(start, end + 1, words))
            if lab in (SENTENCE, MWT_SENTENCE) and not one_sentence:
                sentences.append(current)
                current = []
        if current:
            sentences.append(current)
        return sentences

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
    return (Path(directory) / META).is_file()


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
        if meta.pop("format_version", None) != FORMAT_VERSION:
            raise ValueError(f"segmenter format version is not {FORMAT_VERSION}")
        chars, splits, suffixes = meta.pop("chars"), meta.pop("splits"), meta.pop("suffixes")
        net = SegmenterNet(len(chars), **meta["sizes"])
        where = directory / WEIGHTS
        net.load_state_dict({k: v.float() for k, v in load_file(str(where)).items()})
    except (OSError, KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as err:
        detail = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise ConfigError(f"{where}: not a valid jmt segmenter ({detail})") from None
    return Segmenter(net, chars, splits, suffixes, meta)


def _cut(text: str, start: int, size: int) -> int:
    """Where a piece of at most ``size`` characters from ``start`` ends: after the last
    whitespace in it, or at ``size`` if it has none."""
    end = start + size
    if end >= len(text):
        return len(text)
    for i in range(end, start + size // 2, -1):
        if is_space(text[i - 1]):
            return i
    return end


# --------------------------------------------------------------------------- training


@dataclass
class SegmenterConfig:
    epochs: int = 20
    window: int = 300  # characters per training window
    batch_size: int = 32
    lr: float = 0.002
    char_dim: int = 32
    category_dim: int = 8
    hidden: int = 64
    layers: int = 2
    dropout: float = 0.2
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
    sizes = {"char_dim": cfg.char_dim, "category_dim": cfg.category_dim, "hidden": cfg.hidden,
             "layers": cfg.layers, "dropout": cfg.dropout}
    net = SegmenterNet(len(chars), **sizes)
    meta = {"lang": lang, "sizes": sizes, "always_split": always, "train": str(Path(train_path).name),
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
            loss = nn.functional.cross_entropy(net(chars, cats).reshape(-1, N_LABELS), gold.reshape(-1))
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
