"""Part-of-speech tags at the bottom of the stack: UPOS, XPOS, and ``xpos2``, a second XPOS
tag set with its own classifier, for a corpus whose POS column follows other conventions
than the treebank's (the CoNLL-2000 chunking corpus beside UD EWT, say). ``xpos2`` reads the
corpus's XPOS column, predicts ``xpos2``, and fills CoNLL-U's XPOS column and spaCy's
``token.tag_`` only where the model has no ``xpos``; spaCy gets it as ``token._.jmt_xpos2``.

A word's UPOS and XPOS are chosen together, from the pairs of tags that the XPOS training
sentences give their words (``PROPN NNP``, never ``PROPN VBZ``): the pair with the largest sum
of the two log-probabilities (results/experiments.md, row 73). Where a word's best UPOS and
best XPOS already make such a pair, they stay. A model saved without the pairs decodes each
tag alone (``scripts/add_tag_pairs.py`` gives it them)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

from ..data.batch import TokenBatch
from ..data.conllu import UPOS, XPOS
from ..data.vocab import Vocabularies
from . import Task, register
from .tagger import Tagger

if TYPE_CHECKING:
    from ..config import ModelConfig

SAMPLE = ("train.conllu", "dev.conllu")
PAIRS = "pos.upos_xpos"  # the vocabularies' table of "UPOS<tab>XPOS" pairs seen in training


class TagPairs:
    """The UPOS-XPOS pairs a model may predict, as indices into its two label sets. Built
    from the vocabularies, not saved with the weights (a model loads on the meta device and
    gets only saved tensors), so the indices are plain tensors, copied once to each device."""

    def __init__(self, vocabs: Vocabularies):
        upos, xpos = vocabs.labels.get("upos"), vocabs.labels.get("xpos")
        pairs = [entry.split("\t") for entry in vocabs.tables.get(PAIRS, [])] if upos and xpos else []
        pairs = [(upos.stoi[u], xpos.stoi[x]) for u, x in pairs if u in upos.stoi and x in xpos.stoi]
        index = torch.tensor(pairs, dtype=torch.long, device="cpu").reshape(-1, 2)
        allowed = torch.zeros((len(upos), len(xpos)) if pairs else (0, 0), dtype=torch.bool, device="cpu")
        allowed[index[:, 0], index[:, 1]] = True
        self.tensors = {torch.device("cpu"): (index, allowed)}

    def __bool__(self) -> bool:
        return len(self.tensors[torch.device("cpu")][0]) > 0

    def best(self, scores: dict) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The UPOS and XPOS ids ([B, T] each) of the best allowed pair, from the two heads'
        logits in ``scores`` (a softmax's log differs from its logits by one number per word,
        so the logits rank the pairs as the log-probabilities do); None without both. Only
        the words whose two best tags make no allowed pair (under 1 %) are scored over the pairs."""
        if not self or "upos" not in scores or "xpos" not in scores:
            return None
        device = scores["upos"].device
        if device not in self.tensors:
            self.tensors[device] = tuple(t.to(device) for t in self.tensors[torch.device("cpu")])
        index, allowed = self.tensors[device]
        upos, xpos = scores["upos"].argmax(-1), scores["xpos"].argmax(-1)
        wrong = ~allowed[upos, xpos]
        if wrong.any():
            u, x = index.unbind(1)
            joint = scores["upos"][wrong].float()[:, u] + scores["xpos"][wrong].float()[:, x]  # [words, pairs]
            best = joint.argmax(-1)
            upos, xpos = upos.masked_scatter(wrong, u[best]), xpos.masked_scatter(wrong, x[best])
        return upos, xpos


class PosTagger(Tagger):
    """UPOS or XPOS: a tag per word, decoded together with the other tag set's where the
    model has both and the pairs (:class:`TagPairs`)."""

    def __init__(self, task: str, cfg: ModelConfig, vocabs: Vocabularies, in_dim: int):
        super().__init__(task, cfg, vocabs, in_dim)
        self.pairs = TagPairs(vocabs)
        self.reads = ("xpos" if task == "upos" else "upos",) if self.pairs else ()

    def decode(self, logits: torch.Tensor, batch: TokenBatch, scores: dict | None = None) -> list[dict[str, list]]:
        best = self.pairs.best(scores) if scores is not None else None
        if best is None:
            return super().decode(logits, batch, scores)
        ids = best[0 if self.field == "upos" else 1].tolist()
        return [{self.field: [self.labels[i] for i in ids[b][:n]]} for b, n in enumerate(batch.lengths.tolist())]


@dataclass(frozen=True)
class XposTask(Task):
    def tables(self, sentences: list) -> dict[str, list[str]]:
        """The UPOS-XPOS pairs of the training sentences that have both columns."""
        pairs = {(u, x) for s in sentences if s.upos is not None and s.xpos is not None for u, x in zip(s.upos, s.xpos)}
        return {PAIRS: sorted(f"{u}\t{x}" for u, x in pairs)} if pairs else {}


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


register(Task("upos", depth=1, layer="pos", kind="token", field="upos", head=PosTagger, labels="upos", target="upos",
              hf_columns=(("upos", ("upos",)),),
              sample=SAMPLE, conllu_column=UPOS, spacy_attr="POS", spacy_space="SPACE", spacy_assigns=("token.pos",),
              spacy_weights=(("pos_acc", 0.2),)))
register(XposTask("xpos", depth=1, layer="pos", kind="token", field="xpos", head=PosTagger, labels="xpos", target="xpos",
              hf_columns=(("xpos", ("xpos", "pos_tags")),),
              sample=SAMPLE, conllu_column=XPOS, spacy_attr="TAG", spacy_space="_SP", spacy_assigns=("token.tag",),
              spacy_weights=(("tag_acc", 0.2),)))
register(SecondTagSet("xpos2", depth=1, layer="pos", kind="token", field="xpos", head=Tagger, labels="xpos2",
                      hf_columns=(("xpos", ("xpos", "pos_tags")),),
                      target="xpos2", spacy_assigns=("token.tag", "token._.jmt_xpos2")))
