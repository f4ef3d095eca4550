"""Part-of-speech tags at the bottom of the stack: UPOS, XPOS, and ``xpos2``, a second XPOS
tag set with its own classifier, for a corpus whose POS column follows other conventions
than the treebank's (the CoNLL-2000 chunking corpus beside UD EWT, say). ``xpos2`` reads the
corpus's XPOS column, predicts ``xpos2``, and fills CoNLL-U's XPOS column and spaCy's
``token.tag_`` only where the model has no ``xpos``; spaCy gets it as ``token._.jmt_xpos2``."""
from __future__ import annotations

from dataclasses import dataclass

from ..data.conllu import UPOS, XPOS
from . import Task, register
from .tagger import Tagger

SAMPLE = ("train.conllu", "dev.conllu")


@dataclass(frozen=True)
class SecondTagSet(Task):
    def conllu(self, pred: dict, columns: dict[int, list], misc: dict[str, list]) -> None:
        columns.setdefault(XPOS, pred[self.target])

    def set_doc(self, doc, words: list[int], spaces: list[int], pred: dict) -> None:
        doc.extension("jmt_xpos2", words, pred[self.target])
        doc.extension("jmt_xpos2", spaces, ["_SP"] * len(spaces))
        if "xpos" not in pred:
            doc.tokens("TAG", words, pred[self.target])
            doc.tokens("TAG", spaces, ["_SP"] * len(spaces))


register(Task("upos", depth=1, layer="pos", kind="token", field="upos", head=Tagger, labels="upos", target="upos",
              hf_columns=(("upos", ("upos",)),),
              sample=SAMPLE, conllu_column=UPOS, spacy_attr="POS", spacy_space="SPACE", spacy_assigns=("token.pos",),
              spacy_weights=(("pos_acc", 0.2),)))
register(Task("xpos", depth=1, layer="pos", kind="token", field="xpos", head=Tagger, labels="xpos", target="xpos",
              hf_columns=(("xpos", ("xpos", "pos_tags")),),
              sample=SAMPLE, conllu_column=XPOS, spacy_attr="TAG", spacy_space="_SP", spacy_assigns=("token.tag",),
              spacy_weights=(("tag_acc", 0.2),)))
register(SecondTagSet("xpos2", depth=1, layer="pos", kind="token", field="xpos", head=Tagger, labels="xpos2",
                      hf_columns=(("xpos", ("xpos", "pos_tags")),),
                      target="xpos2", spacy_assigns=("token.tag", "token._.jmt_xpos2")))
