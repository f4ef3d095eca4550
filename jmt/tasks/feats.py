"""UD morphological features (the FEATS column, ``Number=Sing|Person=3``) at the POS depth:
each word's whole FEATS string is one tag, as UDPipe and spaCy's morphologizer predict it,
and ``_`` (no features) is a tag too. Scored as UD's scorer scores UFeats on gold tokens (the
whole string right); spaCy gets ``token.morph``."""
from __future__ import annotations

from ..data.conllu import FEATS
from . import Task, register
from .tagger import Tagger

register(Task("feats", depth=1, layer="pos", kind="token", field="feats", head=Tagger, labels="feats", target="feats",
              sample=("train.conllu", "dev.conllu"), conllu_column=FEATS, spacy_attr="MORPH", spacy_space="_",
              spacy_assigns=("token.morph",), spacy_weights=(("morph_acc", 0.1),)))
