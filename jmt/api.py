"""The Python API: ``jmt.load(path)`` gives a model that tags sentences and scores pairs."""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from .data.types import Pair, Sentence
from .predict import TABLE_DTYPE, Predictor, check_precision


class JMT:
    """A trained model ready for use. Build it with :func:`load`.

    >>> nlp = jmt.load("models/sample")
    >>> nlp.tag(["The cat sleeps .".split()])[0]["upos"]
    """

    def __init__(self, path: str | Path, batch_size: int = 128, device: str = "cpu", precision: str = "fp32"):
        from .io import load_model

        check_precision(precision)  # a wrong value fails before the model loads
        self.path = Path(path)
        self.model, self.vocabs, self.config = load_model(path, device, table_dtype=TABLE_DTYPE)
        self.predictor = Predictor(self.model, self.vocabs, batch_size, precision=precision)

    @property
    def tasks(self) -> list[str]:
        return list(self.model.tasks)

    def tag(self, sentences: Sequence[str | Sequence[str]], tasks: Iterable[str] | None = None) -> list[dict]:
        """Annotate sentences, given as token lists or as raw strings (tokenized with spaCy's
        rule-based English tokenizer). Per sentence a dict with ``words`` and the predicted
        ``upos``, ``xpos``, ``chunks``, ``heads`` (0 = root) and ``deprels`` of ``tasks``."""
        from .data.pairs import tokenize

        token_lists = [tokenize(s) if isinstance(s, str) else list(s) for s in sentences]
        results = self.predictor.tag([Sentence(words) for words in token_lists], tasks)
        return [{"words": words, **r} for words, r in zip(token_lists, results)]

    def pair(self, premises: Sequence[str | Sequence[str]], hypotheses: Sequence[str | Sequence[str]]) -> list[dict]:
        """Relatedness (1-5), entailment label and class probabilities per sentence pair."""
        from .data.pairs import tokenize

        if len(premises) != len(hypotheses):
            raise ValueError(f"{len(premises)} premises but {len(hypotheses)} hypotheses")
        toks = lambda s: tokenize(s) if isinstance(s, str) else list(s)  # noqa: E731
        return self.predictor.pair([Pair(toks(p), toks(h)) for p, h in zip(premises, hypotheses)])


def load(path: str | Path, batch_size: int = 128, device: str = "cpu", precision: str = "fp32") -> JMT:
    """Load a model directory written by ``jmt train``, onto ``device`` (``cpu``, ``cuda``,
    ``cuda:N`` or ``auto``: a GPU when torch sees one). ``precision="bf16"`` predicts with the
    LSTMs and the label scorer in bfloat16: faster on CPUs with AMX, several times slower on
    CPUs without bf16 units, with slightly different predictions; ``precision="auto"`` uses it
    only where it is faster (see :class:`jmt.predict.Predictor`)."""
    return JMT(path, batch_size, device, precision)
