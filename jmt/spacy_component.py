"""A spaCy pipeline component that runs a jmt model: ``nlp.add_pipe("jmt", config={"model": PATH})``.

The component is registered as the spaCy factory ``"jmt"`` (also through the ``spacy_factories``
entry point, so an installed jmt needs no import). Per token it sets, for the tasks the model
has (and the ``tasks`` config, default all):

- ``token.tag_`` (xpos), ``token.pos_`` (upos),
- ``token._.jmt_xpos2`` (xpos2, a second XPOS tag set such as the CoNLL-2000 POS column's;
  ``token.tag_`` too when the model has no xpos),
- ``token.morph`` (feats) and ``token.lemma_`` (lemma),
- ``token.head`` / ``token.dep_`` (dep); sentence boundaries follow from the roots,
- ``doc.spans["chunks"]`` (chunk), one span per IOB2 chunk, labelled with the chunk type.

Each task sets its own (:meth:`jmt.tasks.Task.set_doc`) and scores its own
(:meth:`jmt.tasks.Task.spacy_score`); the factory's ``assigns`` and score weights are theirs.

A Doc whose sentence boundaries are already set (e.g. by the ``sentencizer``) is tagged sentence
by sentence; otherwise the whole Doc is one sentence. Whitespace tokens are not shown to the
model: they get tag ``_SP``, pos ``SPACE`` and, when heads are set, attach to the preceding
(or else following) token with the label ``dep``.

``"precision": "bf16"`` in the config runs the model's LSTMs and label scorer in bfloat16, and
``"auto"`` does so only on CPUs with bf16 units, where it is faster (see
:class:`jmt.predict.Predictor`). ``"device"`` is ``"cpu"`` by default; ``"cuda"``, ``"cuda:N"``
or ``"auto"`` (a GPU where torch sees one) run the model there.

The model directory is loaded lazily on first use. ``nlp.to_disk`` copies its files into the
pipeline directory and ``spacy.load`` reads them from there, so a saved pipeline does not need
the original model directory.

Sentence pairs (relatedness, entailment) do not fit a Doc. They are exposed two ways:

- ``pair_docs(nlp_or_component, premise_doc, hypothesis_doc)`` -> dict with ``relatedness``
  (1-5) and, if the model has entailment, ``entailment`` and ``probabilities``;
- the Doc method extension ``doc._.jmt_pair(other_doc, component=None)``, which returns the
  same dict. Without ``component`` it uses the jmt component most recently created for
  ``doc.vocab`` (each component registers itself in a weak module-level registry keyed by its
  vocab); pass ``component=nlp.get_pipe("jmt")`` to choose one explicitly.
"""
from __future__ import annotations

import shutil
import weakref
from pathlib import Path
from typing import Iterable, Iterator

import numpy
from spacy.attrs import DEP, HEAD, LEMMA, MORPH, POS, TAG
from spacy.language import Language
from spacy.parts_of_speech import IDS as POS_IDS
from spacy.tokens import Doc, Span, Token
from spacy.util import minibatch, registry

from .tasks import TASKS

MODEL_FILES = ("config.json", "vocab.json", "model.safetensors", "metrics.json", "segmenter.json",
               "segmenter.safetensors")
ATTRS = {"POS": POS, "TAG": TAG, "DEP": DEP, "MORPH": MORPH, "LEMMA": LEMMA}

# id(vocab) -> the latest JMTComponent built on that vocab; the component holds the vocab,
# so an id is never reused while its entry lives.
_REGISTRY: "weakref.WeakValueDictionary[int, JMTComponent]" = weakref.WeakValueDictionary()


@Language.factory(
    "jmt",
    default_config={"model": None, "batch_size": 128, "tasks": None, "precision": "fp32", "device": "cpu"},
    assigns=list(dict.fromkeys(a for task in TASKS.values() for a in task.spacy_assigns)),
    default_score_weights={key: weight for task in TASKS.values() for key, weight in task.spacy_weights},
)
def make_jmt(nlp: Language, name: str, model: str | None, batch_size: int, tasks: list[str] | None,
             precision: str, device: str):
    return JMTComponent(nlp, name, model, batch_size, tasks, precision, device)


class JMTComponent:
    def __init__(self, nlp: Language, name: str = "jmt", model: str | None = None, batch_size: int = 128,
                 tasks: list[str] | None = None, precision: str = "fp32", device: str = "cpu"):
        from .device import resolve_device
        from .predict import check_precision

        check_precision(precision)  # a wrong value fails here, not at the first document
        resolve_device(device)  # so does a device torch does not see
        self.name, self.vocab = name, nlp.vocab
        self.precision, self.device = precision, device
        self.model_path = Path(model) if model is not None else None
        self.batch_size = batch_size
        self.tasks = list(tasks) if tasks is not None else None
        self._jmt = None
        _REGISTRY[id(self.vocab)] = self

    # -- the model ---------------------------------------------------------------------------
    @property
    def jmt(self):
        """The loaded :class:`jmt.api.JMT` (loaded on first use)."""
        if self._jmt is None:
            if self.model_path is None:
                raise ValueError(f"the {self.name!r} component has no model: set config "
                                 "{'model': PATH} or load a saved pipeline")
            from .api import JMT

            self._jmt = JMT(self.model_path, self.batch_size, device=self.device, precision=self.precision)
        return self._jmt

    @property
    def token_tasks(self) -> list[str]:
        return self.jmt.predictor.token_tasks(self.tasks)

    # -- annotation --------------------------------------------------------------------------
    def __call__(self, doc: Doc) -> Doc:
        self.set_annotations([doc], self.predict([doc]))
        return doc

    def pipe(self, docs: Iterable[Doc], batch_size: int | None = None) -> Iterator[Doc]:
        for batch in minibatch(docs, size=batch_size or self.batch_size):
            self.set_annotations(batch, self.predict(batch))
            yield from batch

    @staticmethod
    def _sentences(doc: Doc) -> list[list[int]]:
        """Token indices per sentence, whitespace tokens included."""
        if len(doc) and doc.has_annotation("SENT_START"):
            return [list(range(s.start, s.end)) for s in doc.sents]
        return [list(range(len(doc)))] if len(doc) else []

    def predict(self, docs: list[Doc]) -> list[list[tuple[list[int], list[int], dict]]]:
        """Per doc a list of (sentence token indices, the token of each word the model saw,
        predictions for those words). A token's words are ``token._.jmt_words`` where the
        :class:`JMTTokenizer` set them (a multiword token), else the token itself; whitespace
        tokens are not shown to the model."""
        tasks = self.token_tasks
        layout = []  # (doc number, token indices, token of each word)
        words = []
        for d, doc in enumerate(docs):
            for sent in self._sentences(doc):
                owners = [i for i in sent if not doc[i].is_space for _ in (doc[i]._.jmt_words or (None,))]
                layout.append((d, sent, owners))
                words.append([w for i in sent if not doc[i].is_space for w in (doc[i]._.jmt_words or [doc[i].text])])
        preds = self.jmt.predictor.tag(words, tasks) if words else []
        out: list[list[tuple[list[int], list[int], dict]]] = [[] for _ in docs]
        for (d, sent, owners), pred in zip(layout, preds):
            out[d].append((sent, owners, pred))
        return out

    def set_annotations(self, docs: list[Doc], predictions) -> None:
        from .tasks import TASKS

        tasks = [TASKS[t] for t in self.token_tasks]
        for doc, sents in zip(docs, predictions):
            annotations = DocAnnotations(doc)
            for task in tasks:  # an empty doc too has its (empty) span groups
                if getattr(task, "spans_key", None):
                    annotations.span_groups.setdefault(task.spans_key, [])
            for sent, owners, pred in sents:
                spaces = [i for i in sent if doc[i].is_space]
                if len(owners) != len(set(owners)):  # multiword tokens: each keeps its head word's annotations
                    pred, owners = _head_words(pred, owners)
                for task in tasks:
                    if task.predicted(pred):
                        task.set_doc(annotations, owners, spaces, pred)
            annotations.write()

    # -- evaluation --------------------------------------------------------------------------
    def score(self, examples, **kwargs) -> dict:
        from .tasks import TASKS

        kwargs = {k: v for k, v in kwargs.items() if k not in ("getter", "has_annotation", "attr")}
        scores: dict = {}
        for task in self.token_tasks:
            scores.update(TASKS[task].spacy_score(examples, **kwargs))
        return scores

    # -- serialization -----------------------------------------------------------------------
    def to_disk(self, path, exclude=()) -> None:
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        source = self.jmt.path
        for name in MODEL_FILES:
            if (source / name).is_file() and (source / name).resolve() != (path / name).resolve():
                shutil.copyfile(source / name, path / name)

    def from_disk(self, path, exclude=()) -> "JMTComponent":
        self.model_path, self._jmt = Path(path), None
        self.jmt  # load now, so a broken directory fails at spacy.load
        return self

    # -- sentence pairs ----------------------------------------------------------------------
    def pair(self, premise: Doc, hypothesis: Doc) -> dict:
        words = lambda doc: [t.text for t in doc if not t.is_space]  # noqa: E731
        return self.jmt.pair([words(premise)], [words(hypothesis)])[0]


class DocAnnotations:
    """What the tasks set on one Doc (:meth:`jmt.tasks.Task.set_doc`), written at once: token
    attributes with ``Doc.from_array``, spans into ``doc.spans``, extension attributes."""

    def __init__(self, doc: Doc):
        self.doc = doc
        self.columns: dict[int, numpy.ndarray] = {}
        self.span_groups: dict[str, list[Span]] = {}

    def _column(self, attr: int) -> numpy.ndarray:
        """The doc's values of ``attr``, which the tasks overwrite token by token; a token no
        task sets (a whitespace token's lemma) keeps its own."""
        if attr not in self.columns:
            self.columns[attr] = self.doc.to_array([attr]).reshape(len(self.doc)).astype("uint64")
        return self.columns[attr]

    def tokens(self, attr: str, tokens: list[int], values: list[str]) -> None:
        """``attr`` ("POS", "TAG", "DEP", "MORPH", "LEMMA") of each token in ``tokens``."""
        column = self._column(ATTRS[attr])
        if attr == "POS":
            ids = [POS_IDS.get(value, POS_IDS["X"]) for value in values]
        elif attr == "MORPH":
            morphology = self.doc.vocab.morphology
            ids = [morphology.add("" if value == "_" else value) for value in values]
        else:
            ids = [self.doc.vocab.strings.add(value) for value in values]
        for i, value in zip(tokens, ids):
            column[i] = value

    def heads(self, tokens: list[int], targets: list[int]) -> None:
        column = self._column(HEAD)
        for i, target in zip(tokens, targets):
            column[i] = (target - i) % 2**64  # relative; negative offsets wrap in uint64

    def spans(self, key: str, tokens: list[int], spans: list[dict]) -> None:
        """Spans over a sentence's words (``{"start", "end" (exclusive), "label"}``)."""
        self.span_groups.setdefault(key, []).extend(
            Span(self.doc, tokens[c["start"]], tokens[c["end"] - 1] + 1, label=c["label"]) for c in spans)

    def extension(self, name: str, tokens: list[int], values: list) -> None:
        for i, value in zip(tokens, values):
            setattr(self.doc[i]._, name, value)

    def write(self) -> None:
        if self.columns and len(self.doc):
            attrs = list(self.columns)
            self.doc.from_array(attrs, numpy.stack([self.columns[a] for a in attrs], axis=1))
        for key, spans in self.span_groups.items():
            self.doc.spans[key] = spans


class JMTTokenizer:
    """A spaCy tokenizer from a jmt model's segmenter: ``nlp.tokenizer = JMTTokenizer(nlp.vocab, "en")``.

    ``doc.text`` is the input exactly, whitespace included (a run of whitespace other than
    one space is a whitespace token, as spaCy's own tokenizer makes it), and the sentence
    boundaries are the segmenter's. A multiword token whose words spell it (English
    ``don't`` = ``do`` + ``n't``) becomes one spaCy token per word. One whose words do not
    (French ``du`` = ``de`` + ``le``) stays one token, its words in ``token._.jmt_words``;
    the ``jmt`` component tags the words and gives the token the annotations of its
    syntactic head word (the word attached outside the token).
    """

    def __init__(self, vocab, model: str = "en"):
        from .api import model_path
        from .segment import load_segmenter

        self.vocab, self.model = vocab, str(model)
        self.segmenter = load_segmenter(model_path(model))

    def __call__(self, text: str) -> Doc:
        import io

        from .rawtext import split_blocks

        words, spaces, starts, jmt_words = [], [], [], {}
        offset, blocks = 0, []
        for before, block, _, _ in split_blocks(io.StringIO(text, newline="")):
            offset += len(before)
            blocks.append((offset, block))
            offset += len(block)

        def gap(space: str) -> None:  # whitespace after the last word (or at the start)
            if not space:
                return
            if words and not spaces[-1] and space[0] == " ":
                spaces[-1], space = True, space[1:]
            if space:
                words.append(space), spaces.append(False), starts.append(False)

        gap(text[: blocks[0][0]] if blocks else text)
        for (offset, block), sentences in zip(blocks, self.segmenter.segment_many([b for _, b in blocks], adjacent=True)):
            tokens = [t for sentence in sentences for t in sentence]
            firsts = {id(sentence[0]) for sentence in sentences}
            for k, token in enumerate(tokens):
                form = block[token.start : token.end]
                pieces = token.words if "".join(token.words) == form else [form]
                if len(pieces) == 1 and len(token.words) > 1:
                    jmt_words[len(words)] = token.words
                for n, piece in enumerate(pieces):
                    words.append(piece), spaces.append(False), starts.append(n == 0 and id(token) in firsts)
                gap(block[token.end : tokens[k + 1].start] if k + 1 < len(tokens) else block[token.end :])
        if words:
            first_word = next((i for i, w in enumerate(words) if not w.isspace()), 0)
            starts[0], starts[first_word] = True, first_word == 0  # leading whitespace joins the first sentence
        doc = Doc(self.vocab, words=words, spaces=spaces, sent_starts=starts or None)
        for i, ws in jmt_words.items():
            doc[i]._.jmt_words = ws
        return doc

    def to_disk(self, path, exclude=()) -> None:  # the model is named in the pipeline's config
        pass

    def from_disk(self, path, exclude=()) -> "JMTTokenizer":
        return self

    def to_bytes(self, exclude=()) -> bytes:
        return b""

    def from_bytes(self, data, exclude=()) -> "JMTTokenizer":
        return self


@registry.tokenizers("jmt.Tokenizer.v1")
def create_tokenizer(model: str = "en"):
    """``[nlp.tokenizer] @tokenizers = "jmt.Tokenizer.v1"``, ``model = "en"`` in a pipeline config."""
    return lambda nlp: JMTTokenizer(nlp.vocab, model)


def _head_words(pred: dict, owners: list[int]) -> tuple[dict, list[int]]:
    """The predictions of one word per token where tokens hold several words: the word
    attached outside its token (its syntactic head), else the first. Heads still name
    words; ``head_tokens`` gives the token of each word."""
    heads = pred.get("heads")

    def outside(k: int) -> bool:
        return heads is not None and (heads[k] == 0 or owners[heads[k] - 1] != owners[k])

    keep: dict[int, int] = {}
    for k, owner in enumerate(owners):
        if owner not in keep or (outside(k) and not outside(keep[owner])):
            keep[owner] = k
    chosen = sorted(keep.values())
    out = {field: [values[k] for k in chosen] if isinstance(values, list) and len(values) == len(owners) else values
           for field, values in pred.items()}
    out["head_tokens"] = owners
    return out, [owners[k] for k in chosen]


def _find_component(nlp_or_component) -> JMTComponent:
    if isinstance(nlp_or_component, JMTComponent):
        return nlp_or_component
    if isinstance(nlp_or_component, Language):
        for _, proc in nlp_or_component.pipeline:
            if isinstance(proc, JMTComponent):
                return proc
        raise ValueError("the pipeline has no jmt component")
    raise TypeError(f"expected a spaCy Language or a JMTComponent, not {type(nlp_or_component).__name__}")


def pair_docs(nlp_or_component, premise_doc: Doc, hypothesis_doc: Doc) -> dict:
    """Relatedness (1-5), entailment label and class probabilities for one sentence pair."""
    return _find_component(nlp_or_component).pair(premise_doc, hypothesis_doc)


def _doc_jmt_pair(doc: Doc, other: Doc, component=None) -> dict:
    if component is None:
        component = _REGISTRY.get(id(doc.vocab))
        if component is None:
            raise ValueError("no jmt component was created for this Doc's vocab; pass component=")
    return pair_docs(component, doc, other)


Doc.set_extension("jmt_pair", method=_doc_jmt_pair, force=True)
Token.set_extension("jmt_xpos2", default=None, force=True)
Token.set_extension("jmt_words", default=None, force=True)
