"""Part-of-speech tags at the bottom of the stack: UPOS, XPOS, and ``xpos2``, a second XPOS
tag set with its own classifier, for a corpus whose POS column follows other conventions
than the treebank's (the CoNLL-2000 chunking corpus beside UD EWT, say). It reads the
corpus's XPOS column and predicts ``xpos2``."""
from __future__ import annotations

from . import Task, register
from .tagger import Tagger

for name, field, labels in [("upos", "upos", "upos"), ("xpos", "xpos", "xpos"), ("xpos2", "xpos", "xpos2")]:
    register(Task(name, depth=1, layer="pos", kind="token", field=field, head=Tagger, labels=labels,
                  target=labels, sample=None if name == "xpos2" else ("train.conllu", "dev.conllu")))
