"""Chunking: IOB2 phrase tags (``B-NP``, ``I-VP``, ``O``) at depth 2, scored by span F1
(CoNLL-2000's column files; a CRF with ``[model] chunk_crf``). CoNLL-U carries the tags in
MISC (``Chunk=B-NP``), JSON lines and spaCy carry the spans (``doc.spans["chunks"]``).

Another span task (named entities, say) is this file with another name, field and label set."""
from __future__ import annotations

from dataclasses import dataclass

from . import Task, register
from .tagger import SpanTagger, iob_spans


@dataclass(frozen=True)
class SpanTask(Task):
    misc_key: str = ""  # CoNLL-U MISC key of the tags
    spans_key: str = ""  # spaCy doc.spans key of the spans

    def conllu(self, pred: dict, columns: dict[int, list], misc: dict[str, list]) -> None:
        misc[self.misc_key] = pred[self.target]

    def json(self, pred: dict, record: dict) -> None:
        record[self.target] = iob_spans(pred[self.target])

    def set_doc(self, doc, words: list[int], spaces: list[int], pred: dict) -> None:
        doc.spans(self.spans_key, words, iob_spans(pred[self.target]))

    def spacy_score(self, examples, **kwargs) -> dict:
        from spacy.scorer import Scorer

        return Scorer.score_spans(examples, self.spans_key, getter=lambda doc, key: doc.spans.get(key, []),
                                  has_annotation=lambda doc: self.spans_key in doc.spans, **kwargs)


register(SpanTask("chunk", depth=2, layer="chunk", kind="token", field="chunks", head=SpanTagger, labels="chunk",
                  target="chunks", primary="f1", sample=("chunk_train.txt", "chunk_dev.txt"), misc_key="Chunk",
                  hf_columns=(("chunks", ("chunk_tags", "chunks")),),
                  spans_key="chunks", spacy_assigns=("doc.spans",),
                  spacy_weights=(("chunks_f", 0.2), ("chunks_p", None), ("chunks_r", None), ("chunks_per_type", None))))
