"""UD morphological features (the FEATS column, ``Number=Sing|Person=3``) at depth 2, above
the POS layer, whose states and tag embeddings they read (at the POS depth itself they cost
French UPOS almost a point: results/experiments.md, row 53). Each word's whole FEATS string
is one tag, as UDPipe and spaCy's morphologizer predict it, and ``_`` (no features) is a tag
too. Scored as UD's scorer scores UFeats on gold tokens: the word's universal features right,
those of UD's list of universal features (a treebank's own, such as EWT's ``ExtPos`` or
``NumForm``, are predicted and written but not scored); spaCy gets ``token.morph``."""
from __future__ import annotations

from ..data.conllu import FEATS
from ..data.types import Sentence
from ..metrics import tag_accuracy
from . import Task, register
from .tagger import Tagger

# The universal features, as UD's scorer (udeval) lists them for UFeats.
UNIVERSAL_FEATURES = frozenset({
    "PronType", "NumType", "Poss", "Reflex", "Foreign", "Abbr", "Gender", "Animacy", "Number", "Case", "Definite",
    "Degree", "VerbForm", "Mood", "Tense", "Aspect", "Voice", "Evident", "Polarity", "Person", "Polite"})


def universal(feats: str) -> str:
    """A FEATS string with only its universal features, sorted (``_`` counts as none)."""
    return "|".join(sorted(f for f in feats.split("|") if f.split("=", 1)[0] in UNIVERSAL_FEATURES))


class FeatsTagger(Tagger):
    """A tag per word, the whole FEATS string; scored on its universal features (UFeats)."""

    def evaluate(self, gold: list[Sentence], pred: list[dict]) -> dict:
        return tag_accuracy([[universal(f) for f in getattr(s, self.gold_field)] for s in gold],
                            [[universal(f) for f in p[self.field]] for p in pred])


register(Task("feats", depth=2, layer="chunk", kind="token", field="feats", head=FeatsTagger, labels="feats", target="feats",
              sample=("train.conllu", "dev.conllu"), conllu_column=FEATS, spacy_attr="MORPH", spacy_space="_",
              hf_columns=(("feats", ("feats",)),),
              spacy_assigns=("token.morph",), spacy_weights=(("morph_acc", 0.1),)))
