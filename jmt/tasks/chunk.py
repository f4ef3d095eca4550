"""Chunking: IOB2 phrase tags (``B-NP``, ``I-VP``, ``O``) at depth 2, scored by span F1
(CoNLL-2000's column files; a CRF with ``[model] chunk_crf``)."""
from __future__ import annotations

from . import Task, register
from .tagger import SpanTagger

register(Task("chunk", depth=2, layer="chunk", kind="token", field="chunks", head=SpanTagger, labels="chunk",
              target="chunks", primary="f1", sample=("chunk_train.txt", "chunk_dev.txt")))
