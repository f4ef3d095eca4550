"""Scores against values worked out by hand (and scipy where it is installed)."""
from __future__ import annotations

import numpy as np
import pytest

from jmt.data.types import ENTAILMENT_LABELS
from jmt.metrics import (attachment_scores, chunk_scores, classification_scores, punct_mask, relatedness_scores,
                         tag_accuracy)

# ----------------------------------------------------------------------------- tagging


def test_tag_accuracy_counts_tokens_over_all_sentences():
    gold = [["DET", "NOUN", "VERB"], ["PRON", "VERB"]]
    pred = [["DET", "NOUN", "NOUN"], ["PRON", "VERB"]]
    scores = tag_accuracy(gold, pred)
    assert scores["accuracy"] == pytest.approx(80.0)  # 4 of 5 tokens, not the mean of 66.7 and 100
    assert scores["tokens"] == 5


def test_tag_accuracy_rejects_length_mismatch():
    with pytest.raises(ValueError):
        tag_accuracy([["A", "B"]], [["A"]])


# ----------------------------------------------------------------------------- chunking

# Hand-counted as conlleval does: an I- tag after O (or after a different type) starts a chunk.
CHUNK_GOLD = [["B-NP", "I-NP", "B-VP", "O", "B-NP", "I-NP"],  # NP(0-1) VP(2) NP(4-5)
              ["O", "I-NP", "I-NP", "B-VP"],  # NP(1-2): I- after O starts it; VP(3)
              ["B-PP", "B-NP"]]  # PP(0) NP(1)
CHUNK_PRED = [["B-NP", "I-NP", "B-VP", "O", "B-NP", "B-NP"],  # NP(0-1) ok, VP ok, NP(4) NP(5) wrong
              ["O", "B-NP", "I-NP", "I-VP"],  # NP(1-2) ok; I-VP after I-NP starts VP(3): ok
              ["B-PP", "I-ADJP"]]  # PP ok; ADJP(1) wrong
# gold chunks 7, predicted 8, correct 5


def test_chunk_f1_equals_conlleval_by_hand():
    scores = chunk_scores(CHUNK_GOLD, CHUNK_PRED)
    assert scores["precision"] == pytest.approx(100 * 5 / 8)
    assert scores["recall"] == pytest.approx(100 * 5 / 7)
    assert scores["f1"] == pytest.approx(100 * 2 * 5 / (8 + 7))


def test_chunk_scores_per_type():
    per_type = chunk_scores(CHUNK_GOLD, CHUNK_PRED)["per_type"]
    assert per_type["NP"] == pytest.approx({"precision": 50.0, "recall": 50.0, "f1": 50.0, "support": 4})
    assert per_type["VP"] == pytest.approx({"precision": 100.0, "recall": 100.0, "f1": 100.0, "support": 2})
    assert per_type["PP"] == pytest.approx({"precision": 100.0, "recall": 100.0, "f1": 100.0, "support": 1})
    # a type only predicted has no support and scores zero
    if "ADJP" in per_type:
        assert per_type["ADJP"]["f1"] == 0.0 and per_type["ADJP"]["support"] == 0


def test_chunk_i_after_o_is_a_whole_chunk():
    # Under conlleval "O I-NP I-NP" is one NP chunk; predicting it as "O B-NP I-NP" is correct.
    scores = chunk_scores([["O", "I-NP", "I-NP"]], [["O", "B-NP", "I-NP"]])
    assert scores["f1"] == pytest.approx(100.0)


def test_chunk_perfect_and_empty_prediction():
    assert chunk_scores(CHUNK_GOLD, CHUNK_GOLD)["f1"] == pytest.approx(100.0)
    none = [["O"] * len(s) for s in CHUNK_GOLD]
    scores = chunk_scores(CHUNK_GOLD, none)
    assert scores["f1"] == 0.0 and scores["recall"] == 0.0


# ----------------------------------------------------------------------------- attachment

#            word: 1        2       3       4       5 (punct)
GOLD_HEADS = [[2, 0, 4, 2, 2]]
GOLD_RELS = [["nsubj", "root", "det", "obj", "punct"]]
PRED_HEADS = [[2, 0, 2, 2, 4]]  # word 3 head wrong, word 5 (punct) head wrong
PRED_RELS = [["nsubj", "root", "det", "iobj", "punct"]]  # word 4 label wrong
PUNCT = [[False, False, False, False, True]]


def test_attachment_scores_with_and_without_punctuation():
    s = attachment_scores(GOLD_HEADS, GOLD_RELS, PRED_HEADS, PRED_RELS, PUNCT)
    assert s["uas"] == pytest.approx(100 * 3 / 5)
    assert s["las"] == pytest.approx(100 * 2 / 5)
    assert s["uas_nopunct"] == pytest.approx(100 * 3 / 4)
    assert s["las_nopunct"] == pytest.approx(100 * 2 / 4)
    assert s["words"] == 5


def test_attachment_scores_compare_full_labels_with_subtypes():
    s = attachment_scores([[0, 1]], [["root", "nmod:poss"]], [[0, 1]], [["root", "nmod"]], [[False, False]])
    assert s["uas"] == pytest.approx(100.0)
    assert s["las"] == pytest.approx(50.0)


def test_attachment_scores_unlabeled_trees_make_las_equal_uas():
    s = attachment_scores(GOLD_HEADS, [None], PRED_HEADS, PRED_RELS, PUNCT)
    assert s["las"] == s["uas"] == pytest.approx(60.0)
    assert s["las_nopunct"] == s["uas_nopunct"] == pytest.approx(75.0)


def test_attachment_scores_over_several_sentences_count_words():
    s = attachment_scores(GOLD_HEADS + [[0, 1]], GOLD_RELS + [["root", "nmod:poss"]],
                          PRED_HEADS + [[0, 1]], PRED_RELS + [["root", "nmod"]], PUNCT + [[False, False]])
    assert s["uas"] == pytest.approx(100 * 5 / 7)
    assert s["las"] == pytest.approx(100 * 3 / 7)
    assert s["uas_nopunct"] == pytest.approx(100 * 5 / 6)
    assert s["las_nopunct"] == pytest.approx(100 * 3 / 6)


def test_punct_mask_prefers_upos_then_deprel_then_characters():
    assert punct_mask(["NOUN", "PUNCT"], ["punct", "punct"], ["a", "b"]) == [False, True]
    assert punct_mask(None, ["nsubj", "punct", "p"], ["a", ",", "."]) == [False, True, True]
    assert punct_mask(None, None, ["cat", ",", "--", "3", "e.g."]) == [False, True, True, False, False]


# ----------------------------------------------------------------------------- relatedness

GOLD_REL = [4.6, 3.6, 1.1, 4.9, 3.6, 1.1, 2.0, 3.6]  # ties in gold
PRED_REL = [4.0, 3.9, 1.5, 4.1, 3.2, 1.5, 2.5, 3.2]  # ties in predictions


def test_relatedness_mse_by_hand():
    s = relatedness_scores([1.0, 2.0, 5.0], [2.0, 2.0, 3.0])
    assert s["mse"] == pytest.approx((1 + 0 + 4) / 3)
    assert s["pairs"] == 3


def test_pearson_and_spearman_with_ties_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    s = relatedness_scores(GOLD_REL, PRED_REL)
    assert s["pearson"] == pytest.approx(stats.pearsonr(GOLD_REL, PRED_REL)[0], abs=1e-12)
    assert s["spearman"] == pytest.approx(stats.spearmanr(GOLD_REL, PRED_REL)[0], abs=1e-12)
    assert s["mse"] == pytest.approx(float(np.mean((np.array(GOLD_REL) - np.array(PRED_REL)) ** 2)))


def test_spearman_with_ties_by_hand():
    # gold ranks 0, 1.5, 1.5, 3; pred ranks 0, 1, 2, 3 (average ranks for the tie)
    s = relatedness_scores([1, 2, 2, 3], [1, 2, 3, 4])
    expected = np.corrcoef([0, 1.5, 1.5, 3], [0, 1, 2, 3])[0, 1]
    assert s["spearman"] == pytest.approx(expected)


def test_correlations_of_constant_predictions_are_zero_not_nan():
    s = relatedness_scores([1.0, 2.0, 3.0], [2.5, 2.5, 2.5])
    assert s["pearson"] == 0.0 and s["spearman"] == 0.0


# ----------------------------------------------------------------------------- classification


def test_classification_accuracy_and_confusion_matrix():
    gold = ["ENTAILMENT", "NEUTRAL", "CONTRADICTION", "ENTAILMENT"]
    pred = ["ENTAILMENT", "CONTRADICTION", "CONTRADICTION", "NEUTRAL"]
    s = classification_scores(gold, pred, ENTAILMENT_LABELS)
    assert s["accuracy"] == pytest.approx(50.0)
    assert s["pairs"] == 4
    assert s["confusion"]["labels"] == list(ENTAILMENT_LABELS)
    # rows gold, columns predicted, in label order E, N, C
    assert s["confusion"]["matrix"] == [[1, 1, 0],
                                        [0, 0, 1],
                                        [0, 0, 1]]


def test_las_base_compares_the_universal_relation_only():
    scores = attachment_scores([[2, 0]], [["nsubj:pass", "root"]], [[2, 0]], [["nsubj", "root"]], [[False, False]])
    assert scores["las"] == 50.0 and scores["las_base"] == 100.0 and scores["uas"] == 100.0
