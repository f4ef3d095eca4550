"""Lemmas (the LEMMA column) at depth 2, above the POS layer (results/experiments.md, row
53), by edit-script classification as UDPipe and Stanza do it: each word is tagged with the
rule that rewrites it into its lemma (``cats`` -> ``cat``: lowercase, cut one character from
the end), learned from the pairs in the treebank, so a rule seen on ``cats`` also lemmatizes
``dogs``. A form that training saw with one lemma only takes it from a lexicon. Scored as UD's scorer scores Lemmas on
gold tokens (the lemma right); spaCy gets ``token.lemma_``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..data.batch import TokenBatch
from ..data.conllu import LEMMA
from ..data.vocab import Vocabularies
from . import Task, register
from .tagger import Tagger

if TYPE_CHECKING:
    from ..config import ModelConfig

SAME = "="  # the lemma is the word as it is
LEXICON = "lemma.lexicon"  # the vocabularies' table of forms with one lemma in training


def edit_script(form: str, lemma: str) -> str:
    """The rule that rewrites ``form`` into ``lemma``: ``=``; or ``CASE:CUT_START:CUT_END:N:ADD``
    (CASE ``l`` lowercases the word first, ``k`` keeps it; cut characters from both ends of
    the word, then add ``ADD[:N]`` before and ``ADD[N:]`` after what is left, around the
    longest part the two share); or ``!LEMMA`` where they share nothing."""
    if lemma == form:
        return SAME
    case = "l" if lemma == lemma.lower() else "k"
    word = form.lower() if case == "l" else form
    start, length = _longest_common(word, lemma)
    if length:
        at = lemma.find(word[start:start + length])
        pre, post = lemma[:at], lemma[at + length:]
        script = f"{case}:{start}:{len(word) - start - length}:{len(pre)}:{pre}{post}"
        if apply_script(form, script) == lemma:
            return script
    return "!" + lemma


def apply_script(form: str, script: str) -> str:
    """``form`` rewritten by an :func:`edit_script` rule; a rule that cuts more than the word
    has gives the word itself."""
    if script == SAME:
        return form
    if script.startswith("!"):
        return script[1:]
    case, cut_start, cut_end, n, add = script.split(":", 4)
    word = form.lower() if case == "l" else form
    cut_start, cut_end, n = int(cut_start), int(cut_end), int(n)
    if cut_start + cut_end > len(word):
        return word
    return add[:n] + word[cut_start:len(word) - cut_end] + add[n:]


def _longest_common(word: str, lemma: str) -> tuple[int, int]:
    """(start in ``word``, length) of the longest substring of ``word`` also in ``lemma``."""
    best = (0, 0)
    previous = [0] * (len(lemma) + 1)
    for i in range(1, len(word) + 1):
        current = [0] * (len(lemma) + 1)
        for j in range(1, len(lemma) + 1):
            if word[i - 1] == lemma[j - 1]:
                current[j] = previous[j - 1] + 1
                if current[j] > best[1]:
                    best = (i - current[j], current[j])
        previous = current
    return best


class Lemmatizer(Tagger):
    """A tagger over edit scripts whose output is the lemmas they give; a word that training
    saw with one lemma only takes that lemma (the lexicon, as Stanza's lemmatizer keeps one)."""

    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int):
        super().__init__(task, cfg, vocabs, in_dim)
        self.lexicon = dict(entry.split("\t", 1) for entry in vocabs.tables.get(LEXICON, []))

    def decode(self, logits: torch.Tensor, batch: TokenBatch) -> list[dict[str, list]]:
        ids = self.best_ids(logits, batch)
        lexicon = self.lexicon
        return [{self.field: [lexicon[form] if form in lexicon else apply_script(form, self.labels[i])
                              for form, i in zip(forms, ids[b])]}
                for b, forms in enumerate(batch.forms)]


@dataclass(frozen=True)
class LemmaTask(Task):
    def tables(self, sentences: list) -> dict[str, list[str]]:
        """The lexicon: each word form that the training sentences give one lemma only."""
        seen: dict[str, set[str]] = {}
        for sentence in sentences:
            for form, lemma in zip(sentence.words, sentence.lemmas or ()):
                seen.setdefault(form, set()).add(lemma)
        return {LEXICON: sorted(f"{form}\t{next(iter(lemmas))}" for form, lemmas in seen.items()
                                if len(lemmas) == 1 and "\t" not in form)}

    def labels_of(self, sentence) -> list[str] | None:
        if sentence.lemmas is None:
            return None
        return [edit_script(form, lemma) for form, lemma in zip(sentence.words, sentence.lemmas)]


register(LemmaTask("lemma", depth=2, layer="chunk", kind="token", field="lemmas", head=Lemmatizer, labels="lemma",
                   target="lemmas", sample=("train.conllu", "dev.conllu"), conllu_column=LEMMA, spacy_attr="LEMMA",
                   spacy_space=None, spacy_assigns=("token.lemma",), spacy_weights=(("lemma_acc", 0.1),)))
