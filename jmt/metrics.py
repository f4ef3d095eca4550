"""Scores, computed the way the official scripts do.

Accuracies, F1 and attachment scores are percentages; correlations are in [-1, 1].
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PUNCT_UPOS = {"PUNCT"}
PUNCT_DEPRELS = {"punct", "p"}
PUNCT_XPOS = {"``", "''", ",", ".", ":", "-LRB-", "-RRB-", "HYPH", "NFP"}  # PTB punctuation tags


def _pct(num: float, den: float) -> float:
    return 100.0 * num / den if den else 0.0


def tag_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict[str, float]:
    correct = total = 0
    for g, p in zip(gold, pred, strict=True):
        correct += sum(a == b for a, b in zip(g, p, strict=True))
        total += len(g)
    return {"accuracy": _pct(correct, total), "tokens": total}


def chunk_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Chunk F1 in seqeval's default mode, which reproduces conlleval, overall and per type."""
    gold, pred = [list(s) for s in gold], [list(s) for s in pred]
    # seqeval pulls in scikit-learn (about 140 MB of memory): imported only when scoring chunks.
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    report = classification_report(gold, pred, output_dict=True, zero_division=0)
    per_type = {k: {"precision": 100 * v["precision"], "recall": 100 * v["recall"],
                    "f1": 100 * v["f1-score"], "support": int(v["support"])}
                for k, v in report.items() if not k.endswith("avg")}
    return {"f1": 100 * f1_score(gold, pred, zero_division=0),
            "precision": 100 * precision_score(gold, pred, zero_division=0),
            "recall": 100 * recall_score(gold, pred, zero_division=0), "per_type": per_type}


def attachment_scores(gold_heads, gold_rels, pred_heads, pred_rels, punct) -> dict[str, float]:
    """UAS and LAS over all words (CoNLL 2018) and without punctuation (the paper, spaCy).

    ``punct`` holds one boolean list per sentence marking the punctuation words (gold).
    ``las`` compares full labels, subtypes included (as spaCy's scorer does); ``las_base``
    compares the universal relation only (as the CoNLL 2018 evaluation script does).
    """
    n = n_np = uas = las = las_base = uas_np = las_np = 0
    for gh, gr, ph, pr, pu in zip(gold_heads, gold_rels, pred_heads, pred_rels, punct, strict=True):
        for i in range(len(gh)):
            head_ok = gh[i] == ph[i]
            label_ok = head_ok and (gr is None or gr[i] == pr[i])
            n += 1
            uas += head_ok
            las += label_ok
            las_base += head_ok and (gr is None or gr[i].split(":")[0] == pr[i].split(":")[0])
            if not pu[i]:
                n_np += 1
                uas_np += head_ok
                las_np += label_ok
    return {"uas": _pct(uas, n), "las": _pct(las, n), "uas_nopunct": _pct(uas_np, n_np),
            "las_nopunct": _pct(las_np, n_np), "las_base": _pct(las_base, n), "words": n}


def punct_mask(upos, deprels, words, xpos=None) -> list[bool]:
    """Punctuation by gold UPOS, else gold relation, else PTB tag, else the word itself."""
    if upos is not None:
        return [u in PUNCT_UPOS for u in upos]
    if deprels is not None:
        return [r in PUNCT_DEPRELS for r in deprels]
    if xpos is not None:
        return [x in PUNCT_XPOS for x in xpos]
    return [not any(ch.isalnum() for ch in w) for w in words]


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties averaged (as Spearman's rho needs)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x))
    sorted_x = x[order]
    start = 0
    for end in range(1, len(x) + 1):
        if end == len(x) or sorted_x[end] != sorted_x[start]:
            ranks[order[start:end]] = (start + end - 1) / 2.0
            start = end
    return ranks


def pearson(x, y) -> float:
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 2 or x.std() == 0 or y.std() == 0:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def relatedness_scores(gold: Sequence[float], pred: Sequence[float]) -> dict[str, float]:
    g, p = np.asarray(gold, float), np.asarray(pred, float)
    return {"pearson": pearson(g, p), "spearman": pearson(_ranks(g), _ranks(p)),
            "mse": float(np.mean((g - p) ** 2)), "pairs": len(g)}


def classification_scores(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> dict:
    """Accuracy and the confusion matrix (rows gold, columns predicted, in ``labels`` order)."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        matrix[index[g]][index[p]] += 1
    correct = sum(matrix[i][i] for i in range(len(labels)))
    return {"accuracy": _pct(correct, len(gold)), "confusion": {"labels": list(labels), "matrix": matrix},
            "pairs": len(gold)}
