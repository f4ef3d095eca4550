"""UD morphological features (the FEATS column, ``Number=Sing|Person=3``) at depth 2, above
the POS layer, whose states and tag embeddings they read (at the POS depth itself they cost
French UPOS almost a point: results/experiments.md, row 53). Each word's whole FEATS string
is one tag, as UDPipe and spaCy's morphologizer predict it, and ``_`` (no features) is a tag
too. Scored as UD's scorer scores UFeats on gold tokens (the
whole string right); spaCy gets ``token.morph``."""
from __future__ import annotations

from ..data.conllu import FEATS
from . import Task, register
from .tagger import Tagger

register(Task("feats", depth=2, layer="chunk", kind="token", field="feats", head=Tagger, labels="feats", target="feats",
              sample=("train.conllu", "dev.conllu"), conllu_column=FEATS, spacy_attr="MORPH", spacy_space="_",
              spacy_assigns=("token.morph",), spacy_weights=(("morph_acc", 0.1),)))
