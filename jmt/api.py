"""The Python API: ``jmt.load(path)`` gives a model that tags sentences and scores pairs."""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable, Sequence

from .config import ConfigError

from .data.types import Pair, Sentence
from .errors import RulesWarning
from .predict import TABLE_DTYPE, Predictor, check_precision


SHIPPED = Path(__file__).resolve().parent / "models"  # the models that come with the package
TOKENIZERS = ("model", "spacy")


def shipped_models() -> list[str]:
    return sorted(p.name for p in SHIPPED.glob("*") if (p / "config.json").is_file())


def model_path(name: str | Path) -> Path:
    """A model directory, or the name of a model shipped with jmt (``"en"``); a directory
    of that name wins."""
    path = Path(name)
    if path.exists():
        return path
    if (SHIPPED / str(name) / "config.json").is_file():
        return SHIPPED / str(name)
    shipped = ", ".join(shipped_models()) or "none"
    raise ConfigError(f"{name}: no such model directory, nor a model shipped with jmt (shipped: {shipped})")


def raw_segmenter(path: Path, config, tokenizer: str | None = None):
    """What splits raw text for the model in ``path``: ``"model"`` its trained segmenter,
    ``"spacy"`` spaCy's English rules. By default the model's segmenter if it has one, else
    the English rules for a model of English (or of an unknown language), with a
    :class:`RulesWarning`; for another language that is an error."""
    from .rawtext import RuleSegmenter
    from .segment import has_segmenter, load_segmenter

    if tokenizer not in (None, *TOKENIZERS):
        raise ConfigError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, not {tokenizer!r}")
    if tokenizer == "spacy":
        return RuleSegmenter()
    if has_segmenter(path):
        return load_segmenter(path)
    lang = config.data.lang
    if tokenizer == "model" or lang not in (None, "en"):
        raise ConfigError(f"{path}: the model has no segmenter for raw text" + (f" in its language ({lang})" if lang else "")
                          + "; give pre-tokenized or CoNLL-U input, or train one (jmt train-segmenter)")
    warnings.warn(f"{path} has no segmenter: raw text is split by spaCy's English rules "
                  "(train one with jmt train-segmenter)", RulesWarning, stacklevel=3)
    return RuleSegmenter()


class JMT:
    """A trained model ready for use. Build it with :func:`load`.

    >>> nlp = jmt.load("models/sample")
    >>> nlp.tag(["The cat sleeps .".split()])[0]["upos"]
    """

    def __init__(self, path: str | Path, batch_size: int | None = None, device: str = "cpu", precision: str = "fp32",
                 tokenizer: str | None = None):
        from .io import load_model

        check_precision(precision)  # a wrong value fails before the model loads
        if tokenizer not in (None, *TOKENIZERS):  # and so does this one, not at the first raw text
            raise ConfigError(f"tokenizer must be one of {', '.join(TOKENIZERS)}, not {tokenizer!r}")
        self.path = model_path(path)
        self.model, self.vocabs, self.config = load_model(self.path, device, table_dtype=TABLE_DTYPE)
        self.predictor = Predictor(self.model, self.vocabs, batch_size, precision=precision)
        self.tokenizer = tokenizer
        self._segmenter = None

    @property
    def segmenter(self):
        """What splits raw text: the model's segmenter, or spaCy's English rules (see :func:`raw_segmenter`)."""
        if self._segmenter is None:
            self._segmenter = raw_segmenter(self.path, self.config, self.tokenizer)
        return self._segmenter

    @property
    def tasks(self) -> list[str]:
        return list(self.model.tasks)

    def tag(self, sentences: str | Sequence[str | Sequence[str]], tasks: str | Iterable[str] | None = None) -> list[dict]:
        """Annotate a raw text, or sentences given as token lists or strings.

        A text (one ``str``) is split into sentences by the model's segmenter: per sentence a
        dict with ``text``, ``tokens`` (``{"text", "start", "end", "words"}``, offsets into
        the text; a multiword token has several words), ``words`` and the predicted fields.
        In a list, each string is one sentence, split into tokens only. Per sentence a dict
        with ``words`` and the predicted ``upos``, ``xpos``, ``chunks``, ``heads`` (0 = root),
        ``deprels``, ``feats`` and ``lemmas`` (those the model has) of ``tasks`` (one name or
        several; default every token task). A word that is empty or only whitespace is a
        ValueError."""
        if isinstance(sentences, str):
            return self._tag_text(sentences, tasks)
        self.predictor.token_tasks(tasks)  # a wrong task fails before any segmenting
        token_lists = [None if isinstance(s, str) else list(s) for s in sentences]
        texts = [s for s in sentences if isinstance(s, str)]
        if texts:  # one pass of the segmenter over all of them
            split = iter(self.segmenter.segment_many(texts, one_sentence=True))
            token_lists = [[w for sent in next(split) for token in sent for w in token.words] if words is None else words
                           for words in token_lists]
        for n, words in enumerate(token_lists):
            for m, word in enumerate(words):
                if not isinstance(word, str) or not word.strip():
                    raise ValueError(f"sentence {n + 1}, word {m + 1}: {word!r} is not a word (a word is a non-empty "
                                     "string with a character other than whitespace)")
        results = self.predictor.tag([Sentence(words) for words in token_lists], tasks)
        return [{"words": words, **r} for words, r in zip(token_lists, results)]

    def _tag_text(self, text: str, tasks: Iterable[str] | None) -> list[dict]:
        from .rawtext import one_line

        sentences = self.segmenter.segment_many([text])[0]
        words = [[w for tok in s for w in tok.words] for s in sentences]
        results = self.predictor.tag([Sentence(w) for w in words], tasks)
        out = []
        for sentence, w, r in zip(sentences, words, results):
            out.append({"text": one_line(text[sentence[0].start : sentence[-1].end]),
                        "tokens": [{"text": text[t.start : t.end], "start": t.start, "end": t.end, "words": t.words}
                                   for t in sentence],
                        "words": w, **r})
        return out

    def pair(self, premises: Sequence[str | Sequence[str]], hypotheses: Sequence[str | Sequence[str]]) -> list[dict]:
        """Relatedness (1-5), entailment label and class probabilities per sentence pair:
        ``premises[i]`` with ``hypotheses[i]``, each a string (split into words here) or a
        list of words. Two strings are one pair (a list of one result)."""
        from .data.pairs import tokenize

        if isinstance(premises, str) and isinstance(hypotheses, str):
            premises, hypotheses = [premises], [hypotheses]
        elif isinstance(premises, str) or isinstance(hypotheses, str):
            raise TypeError("give premises and hypotheses as two strings (one pair) or two lists of the same length")
        if len(premises) != len(hypotheses):
            raise ValueError(f"{len(premises)} premises but {len(hypotheses)} hypotheses")
        toks = lambda s: tokenize(s) if isinstance(s, str) else list(s)  # noqa: E731
        return self.predictor.pair([Pair(toks(p), toks(h)) for p, h in zip(premises, hypotheses)])


def load(path: str | Path, batch_size: int | None = None, device: str = "cpu", precision: str = "fp32",
         tokenizer: str | None = None) -> JMT:
    """Load a model directory written by ``jmt train``, or a model shipped with jmt by its
    name (``"en"``), onto ``device`` (``cpu``, ``cuda``,
    ``cuda:N`` or ``auto``: a GPU when torch sees one). ``precision="bf16"`` predicts with the
    LSTMs and the label scorer in bfloat16: faster on CPUs with bf16 units (AMX or
    AVX512-BF16), several times slower on CPUs without them, with slightly different predictions; ``precision="auto"`` uses it
    only where it is faster (see :class:`jmt.predict.Predictor`). ``tokenizer`` chooses
    what splits raw text: ``"model"`` (its segmenter), ``"spacy"`` (spaCy's English rules),
    or by default the segmenter where the model has one (see :func:`raw_segmenter`)."""
    return JMT(path, batch_size, device, precision, tokenizer)
