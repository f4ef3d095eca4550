"""Lemmas (the LEMMA column) at depth 2, above the POS layer (results/experiments.md, row
53), by edit-script classification as UDPipe and Stanza do it: each word is tagged with the
rule that rewrites it into its lemma (``cats`` -> ``cat``: lowercase, cut one character from
the end), learned from the pairs in the treebank, so a rule seen on ``cats`` also lemmatizes
``dogs``. A word that training saw with one lemma only takes that lemma from a lexicon, as
Stanza's lemmatizer keeps one: first by its form and predicted UPOS (``saw`` VERB -> ``see``,
NOUN -> ``saw``), then by its form alone (rows 54 and 59 of results/experiments.md). Any other
word takes its best script's lemma, unless that is no word the model knows and one of the next
best scripts gives one (row 63). Besides cutting and adding, a script may put a word in title case
(``KENNEDY`` -> ``Kennedy``) or delete a separator (``12,000`` -> ``12000``; row 64). Scored as
UD's scorer scores Lemmas on gold tokens (the lemma right, any lemma where the gold one is
``_``); spaCy gets ``token.lemma_``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..data.batch import TokenBatch
from ..data.conllu import LEMMA
from ..data.types import Sentence
from ..data.vocab import Vocabularies
from ..metrics import tag_accuracy
from . import Task, register
from .pos import TagPairs
from .tagger import Tagger

if TYPE_CHECKING:
    from ..config import ModelConfig

SAME = "="  # the lemma is the word as it is
LEXICON = "lemma.lexicon"  # the vocabularies' table of forms with one lemma in training
POS_LEXICON = "lemma.lexicon_upos"  # and of (form, UPOS) pairs with one lemma
UPOS = "upos"  # the task whose predicted tags key POS_LEXICON
CANDIDATES = 5  # edit scripts tried, best first, for a word the lexicons do not know (Lemmatizer.likely_word)


def edit_script(form: str, lemma: str) -> str:
    """The rule that rewrites ``form`` into ``lemma``: ``=``; or ``CASE:CUT_START:CUT_END:N:ADD``
    (CASE ``l`` lowercases the word first, ``t`` makes it ``Title`` case, ``k`` keeps it, any
    of them followed by ``-C`` when every ``C`` is then deleted (``12,000`` -> ``12000``); cut
    characters from both ends of the word, then add ``ADD[:N]`` before and ``ADD[N:]`` after
    what is left, around the longest part the two share); or ``!LEMMA`` where they share
    nothing. Title case is for a word in other case whose lemma is in it (``KENNEDY`` ->
    ``Kennedy``); deleting, for a lemma that is the word without every ``C`` and nothing
    else."""
    if lemma == form:
        return SAME
    if lemma == lemma.lower():
        case = "l"
    elif lemma == lemma.capitalize() and form != form.capitalize():
        case = "t"
    else:
        case = "k"
    word = _cased(form, case)
    for char in dict.fromkeys(word):
        if not char.isalnum() and char != ":" and char not in lemma and word.replace(char, "") == lemma:
            return f"{case}-{char}:0:0:0:"
    start, length = _longest_common(word, lemma)
    if length:
        at = lemma.find(word[start:start + length])
        pre, post = lemma[:at], lemma[at + length:]
        script = f"{case}:{start}:{len(word) - start - length}:{len(pre)}:{pre}{post}"
        if apply_script(form, script) == lemma:
            return script
    return "!" + lemma


def _cased(form: str, case: str) -> str:
    return form.lower() if case == "l" else form.capitalize() if case == "t" else form


def apply_script(form: str, script: str) -> str:
    """``form`` rewritten by an :func:`edit_script` rule; a rule that cuts more than the word
    has gives the word itself."""
    if script == SAME:
        return form
    if script.startswith("!"):
        return script[1:]
    case, cut_start, cut_end, n, add = script.split(":", 4)
    word = _cased(form, case[0])
    if case[1:2] == "-":
        word = word.replace(case[2:], "")
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
    """A tagger over edit scripts whose output is the lemmas they give, unless the lexicons
    know the word: a (form, predicted UPOS) pair that training saw with one lemma takes it;
    otherwise a form that training saw with one lemma takes it, in the case the edit script
    gave where the two differ only in case and training never gave the form this tag (``Guy``
    seen as a noun, lemma ``guy``, and tagged a name now keeps ``Guy``). A model without UPOS
    or saved before the POS lexicon uses the form lexicon alone. Other words: see
    :meth:`likely_word`."""

    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int):
        super().__init__(task, cfg, vocabs, in_dim)
        self.lexicon = dict(entry.split("\t", 1) for entry in vocabs.tables.get(LEXICON, []))
        self.pos_lexicon = {tuple(entry.split("\t", 2)[:2]): entry.split("\t", 2)[2]
                            for entry in vocabs.tables.get(POS_LEXICON, [])}
        self.upos_labels = vocabs.labels[UPOS].itos if self.pos_lexicon and UPOS in vocabs.labels else None
        self.tag_pairs = TagPairs(vocabs)
        self.reads = (UPOS, "xpos") if self.upos_labels else ()
        self.vocabs = vocabs

    def known(self, word: str) -> bool:
        """Whether the model has a vector for ``word``: trained, or pretrained only."""
        word = word.lower()
        return word in self.vocabs.words.stoi or word in self.vocabs.pretrained.stoi

    def decode(self, logits: torch.Tensor, batch: TokenBatch, scores: dict | None = None) -> list[dict[str, list]]:
        ranked = logits.topk(min(CANDIDATES, logits.shape[-1]), -1).indices.tolist()  # [B, T, k], best first
        upos = scores.get(UPOS) if scores and self.upos_labels else None
        upos_ids = None
        if upos is not None:  # the tags the UPOS head gives, chosen with XPOS where it is
            best = self.tag_pairs.best(scores)
            upos_ids = (upos.argmax(-1) if best is None else best[0]).tolist()
        out = []
        for b, forms in enumerate(batch.forms):
            tags = [self.upos_labels[i] for i in upos_ids[b][:len(forms)]] if upos_ids else [None] * len(forms)
            out.append({self.field: [self.lemma(form, tag, [self.labels[i] for i in best])
                                     for form, tag, best in zip(forms, tags, ranked[b])]})
        return out

    def lemma(self, form: str, upos: str | None, scripts: list[str]) -> str:
        """The lemma of ``form`` tagged ``upos`` (None: no UPOS or no POS lexicon), given its
        edit ``scripts`` best first."""
        if upos is not None and (form, upos) in self.pos_lexicon:
            return self.pos_lexicon[form, upos]
        known = self.lexicon.get(form)
        if known is None:
            return self.likely_word(form, scripts)
        if upos is not None:  # a tag that training never gave this form: its case may differ (NOUN, PROPN)
            predicted = apply_script(form, scripts[0])
            if known.lower() == predicted.lower():
                return predicted
        return known

    def likely_word(self, form: str, scripts: list[str]) -> str:
        """What the best script makes of ``form``, unless that is no word the model knows
        (``recycl`` from ``recycled``) and a runner-up makes one that it does (``recycle``):
        the word vocabulary and the pretrained vectors' words (lowercased) tell. Not for
        lemmas with digits: ``12000`` is no known word, and no runner-up is likelier."""
        best = apply_script(form, scripts[0])
        if best == form or any(char.isdigit() for char in best) or self.known(best):  # numbers are rarely known words
            return best
        for script in scripts[1:]:
            lemma = apply_script(form, script)
            if lemma != form and self.known(lemma):
                return lemma
        return best

    def evaluate(self, gold: list[Sentence], pred: list[dict]) -> dict:
        """Accuracy as UD's scorer counts Lemmas: a word whose gold lemma is ``_`` is right."""
        golds = [getattr(s, self.gold_field) for s in gold]
        return tag_accuracy(golds, [[g if g == "_" else p for g, p in zip(gs, ps)]
                                    for gs, ps in zip(golds, (p[self.field] for p in pred))])


@dataclass(frozen=True)
class LemmaTask(Task):
    def tables(self, sentences: list) -> dict[str, list[str]]:
        """The lexicons: each word form, and each (form, UPOS) pair where the sentences have
        UPOS, that the training sentences give one lemma only."""
        seen: dict[str, set[str]] = {}
        seen_pos: dict[tuple[str, str], set[str]] = {}
        for sentence in sentences:
            for i, (form, lemma) in enumerate(zip(sentence.words, sentence.lemmas or ())):
                seen.setdefault(form, set()).add(lemma)
                if sentence.upos is not None:
                    seen_pos.setdefault((form, sentence.upos[i]), set()).add(lemma)
        tables = {LEXICON: sorted(f"{form}\t{next(iter(lemmas))}" for form, lemmas in seen.items()
                                  if len(lemmas) == 1 and "\t" not in form)}
        if seen_pos:
            tables[POS_LEXICON] = sorted(f"{form}\t{tag}\t{next(iter(lemmas))}" for (form, tag), lemmas in seen_pos.items()
                                         if len(lemmas) == 1 and "\t" not in form)
        return tables

    def labels_of(self, sentence) -> list[str] | None:
        if sentence.lemmas is None:
            return None
        return [edit_script(form, lemma) for form, lemma in zip(sentence.words, sentence.lemmas)]


register(LemmaTask("lemma", depth=2, layer="chunk", kind="token", field="lemmas", head=Lemmatizer, labels="lemma",
                   target="lemmas", sample=("train.conllu", "dev.conllu"), conllu_column=LEMMA, spacy_attr="LEMMA",
                   hf_columns=(("lemmas", ("lemmas", "lemma")),),
                   spacy_space=None, spacy_assigns=("token.lemma",), spacy_weights=(("lemma_acc", 0.1),)))
