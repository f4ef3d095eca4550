"""The spaCy baseline script reads spaCy's parses into jmt's metrics correctly."""
from __future__ import annotations

import importlib.util

import spacy
from spacy.tokens import Doc

from conftest import REPO
from jmt.data.types import Sentence

_spec = importlib.util.spec_from_file_location("spacy_baseline", REPO / "scripts" / "spacy_baseline.py")
baseline = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(baseline)

GOLD = Sentence(words=["She", "saw", "big", "birds", "."], upos=["PRON", "VERB", "ADJ", "NOUN", "PUNCT"],
                xpos=["PRP", "VBD", "JJ", "NNS", "."], heads=[2, 0, 4, 2, 2],
                deprels=["nsubj", "root", "amod", "obj", "punct"])


def _doc(heads, deps):
    """GOLD's words with the given parse (1-based heads, 0 = root) set the way spaCy holds one."""
    abs_heads = [h - 1 if h else i for i, h in enumerate(heads)]
    return Doc(spacy.blank("en").vocab, words=GOLD.words, heads=abs_heads, deps=deps, pos=GOLD.upos, tags=GOLD.xpos)


def test_a_gold_parse_read_from_spacy_scores_full_marks():
    annotation = baseline.doc_annotation(_doc(GOLD.heads, ["nsubj", "ROOT", "amod", "obj", "punct"]))
    assert annotation["heads"] == GOLD.heads
    assert annotation["deprels"] == GOLD.deprels  # spaCy's ROOT is UD's root
    scores = baseline.score([GOLD], [annotation])
    assert (scores["upos"], scores["xpos"], scores["uas"], scores["las"]) == (100, 100, 100, 100)


def test_a_wrong_head_costs_attachment_points_and_punctuation_counts_only_with_it():
    heads = [2, 0, 4, 3, 2]  # the object attached to "big", and labelled nmod
    scores = baseline.score([GOLD], [baseline.doc_annotation(_doc(heads, ["nsubj", "ROOT", "amod", "nmod", "punct"]))])
    assert scores["uas"] == 80 and scores["las"] == 80
    assert scores["uas_nopunct"] == 75  # the punctuation word is right but not counted


def test_each_gold_sentence_stays_one_doc_of_its_own_words():
    sentences = [GOLD, Sentence(words=["Birds", "sing"])]
    annotations = baseline.predict(spacy.blank("en"), sentences)
    assert [len(a["heads"]) for a in annotations] == [5, 2]
