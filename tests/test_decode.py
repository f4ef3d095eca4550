"""Decoders against brute-force enumeration of all head assignments."""
from __future__ import annotations

import functools

import numpy as np
import pytest

from jmt.decode import (
    DECODERS,
    chu_liu_edmonds,
    decode,
    eisner,
    eisner_batch,
    greedy,
    is_tree,
)


@functools.lru_cache(maxsize=None)
def _all_trees(n: int) -> tuple[np.ndarray, np.ndarray]:
    """All single-root trees over n words as (heads array (T, n), projective mask (T,))."""
    # Every assignment of heads 0..n to n words, one row each (8^7 ~ 2M rows for n = 7).
    grid = np.indices((n + 1,) * n, dtype=np.int8).reshape(n, -1).T
    words = np.arange(1, n + 1, dtype=np.int8)
    keep = (grid == 0).sum(axis=1) == 1
    keep &= ~(grid == words).any(axis=1)
    heads = grid[keep]
    # Acyclic iff following heads n times from every word reaches the root.
    padded = np.concatenate([np.zeros((len(heads), 1), np.int8), heads], axis=1)
    cur = np.broadcast_to(words, heads.shape).copy()
    for _ in range(n):
        cur = np.take_along_axis(padded, cur.astype(np.intp), axis=1)
    heads = heads[(cur == 0).all(axis=1)].astype(np.int64)
    # Projective (root at position 0) iff no two arcs cross.
    lo = np.minimum(heads, np.arange(1, n + 1))
    hi = np.maximum(heads, np.arange(1, n + 1))
    l1, h1 = lo[:, :, None], hi[:, :, None]
    l2, h2 = lo[:, None, :], hi[:, None, :]
    crossing = ((l1 < l2) & (l2 < h1) & (h1 < h2)).any(axis=(1, 2))
    return heads, ~crossing


def _tree_scores(scores: np.ndarray, heads: np.ndarray) -> np.ndarray:
    n = heads.shape[-1]
    return scores[np.arange(1, n + 1), heads].sum(axis=-1)


def _random_scores(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.normal(size=(n + 1, n + 1))


def test_eisner_batch_finds_each_sentences_best_projective_tree():
    # Mixed lengths in one padded run, some arcs forbidden: each against brute force.
    rng = np.random.default_rng(7)
    batch = [_random_scores(rng, n) for n in (5, 1, 7, 3, 6, 2)]
    batch[2][rng.random(batch[2].shape) < 0.2] = -np.inf
    for scores, heads in zip(batch, eisner_batch(batch)):
        trees, projective = _all_trees(len(scores) - 1)
        totals = _tree_scores(scores, trees[projective])
        assert _tree_scores(scores, heads) == pytest.approx(totals.max())
        np.testing.assert_array_equal(heads, trees[projective][np.argmax(totals)])


def test_eisner_batch_equals_one_sentence_at_a_time_on_long_and_tied_scores():
    rng = np.random.default_rng(8)
    batch = [np.round(_random_scores(rng, n)) for n in (40, 3, 25, 60, 1)]  # rounded: many ties
    for scores, heads in zip(batch, eisner_batch(batch)):
        np.testing.assert_array_equal(heads, eisner(scores))
        assert is_tree(heads)
    assert eisner_batch([]) == []


def _as_logp(batch: list[np.ndarray]):
    """The parser's layout of score matrices: [B, T, T+1], word d's head scores in row d-1;
    padding holds the large negative numbers masked scores get."""
    import torch

    T = max(len(m) for m in batch) - 1
    logp = torch.full((len(batch), T, T + 1), -1e9, dtype=torch.float32)
    for b, m in enumerate(batch):
        n = len(m) - 1
        logp[b, :n, : n + 1] = torch.from_numpy(m[1:].astype(np.float32))
    return logp, [len(m) - 1 for m in batch]


@pytest.mark.parametrize("seed", range(4))
def test_eisner_in_torch_gives_the_trees_of_the_numpy_decoder(seed):
    from jmt.decode import eisner_torch

    rng = np.random.default_rng(seed)
    lengths = (40, 3, 25, 1, 12, 2)
    batch = [_random_scores(rng, n) for n in lengths]
    batch += [np.round(_random_scores(rng, n)) for n in lengths]  # rounded: many ties, the first best split wins
    batch = [m.astype(np.float32).astype(np.float64) for m in batch]  # the float32 values the parser gives
    logp, ns = _as_logp(batch)
    for heads, expected in zip(eisner_torch(logp, ns), eisner_batch(batch)):
        np.testing.assert_array_equal(heads, expected)


def test_eisner_in_torch_finds_the_best_projective_tree():
    from jmt.decode import eisner_torch

    rng = np.random.default_rng(11)
    batch = [_random_scores(rng, n).astype(np.float32).astype(np.float64) for n in (6, 4, 7)]
    logp, ns = _as_logp(batch)
    for scores, heads in zip(batch, eisner_torch(logp, ns)):
        trees, projective = _all_trees(len(scores) - 1)
        assert _tree_scores(scores, heads) == pytest.approx(_tree_scores(scores, trees[projective]).max())


@pytest.mark.parametrize("n", range(1, 8))
def test_tree_enumeration_counts(n):
    heads, projective = _all_trees(n)
    # Single-root trees over n labelled words: n^(n-1) (rooted labelled trees, Cayley).
    assert len(heads) == n ** (n - 1)
    # Single-root projective trees: C(3n - 2, n - 1) / n (OEIS A006013).
    known = {1: 1, 2: 2, 3: 7, 4: 30, 5: 143, 6: 728, 7: 3876}
    assert projective.sum() == known[n]


CASES = [(n, seed) for n in range(1, 8) for seed in range(10 if n < 7 else 3)]


@pytest.mark.parametrize("n,seed", CASES)
def test_eisner_and_cle_match_brute_force(n, seed):
    rng = np.random.default_rng(1000 * n + seed)
    scores = _random_scores(rng, n)
    trees, projective = _all_trees(n)
    totals = _tree_scores(scores, trees)

    best_all = np.argmax(totals)
    cle = chu_liu_edmonds(scores)
    assert is_tree(cle)
    assert _tree_scores(scores, cle) == pytest.approx(totals[best_all])
    np.testing.assert_array_equal(cle, trees[best_all])

    proj_trees, proj_totals = trees[projective], totals[projective]
    best_proj = np.argmax(proj_totals)
    eis = eisner(scores)
    assert is_tree(eis)
    assert _tree_scores(scores, eis) == pytest.approx(proj_totals[best_proj])
    np.testing.assert_array_equal(eis, proj_trees[best_proj])


def test_root_heavy_scores_still_single_root():
    # Every word prefers the root: greedy gives many root children, decoders must not.
    rng = np.random.default_rng(7)
    n = 6
    scores = _random_scores(rng, n)
    scores[:, 0] += 10.0
    assert not is_tree(greedy(scores))
    trees, projective = _all_trees(n)
    totals = _tree_scores(scores, trees)
    for fn, pool in ((chu_liu_edmonds, totals), (eisner, totals[projective])):
        heads = fn(scores)
        assert is_tree(heads)
        assert _tree_scores(scores, heads) == pytest.approx(pool.max())


def test_neg_inf_scores():
    # Log-probabilities with forbidden arcs: only 2 <- 1 <- 0 and 3 <- 2 are allowed.
    scores = np.full((4, 4), -np.inf)
    scores[1, 0] = np.log(0.9)
    scores[2, 1] = np.log(0.5)
    scores[3, 2] = np.log(0.5)
    for method in DECODERS:
        heads, _ = decode(scores, method)
        assert heads.tolist() == [0, 1, 2], method


def test_is_tree_hand_made():
    assert is_tree([0])
    assert is_tree(np.array([2, 0, 2]))
    assert is_tree([0, 1, 2, 3])
    assert not is_tree([2, 1, 0])  # cycle 1 <-> 2
    assert not is_tree([2, 3, 1])  # cycle, no root
    assert not is_tree([0, 0, 2])  # two root children
    assert not is_tree([1])  # self-loop
    assert not is_tree([0, 2])  # self-loop
    assert not is_tree([0, 3])  # out of range
    assert not is_tree([0, -1])  # out of range
    assert not is_tree([])


def test_greedy_is_argmax_excluding_self():
    scores = np.array(
        [
            [0.0, 0.0, 0.0],
            [1.0, 9.0, 2.0],  # word 1: self (9) ignored -> head 2
            [5.0, 1.0, 9.0],  # word 2: self (9) ignored -> head 0
        ]
    )
    assert greedy(scores).tolist() == [2, 0]


def test_length_one():
    scores = np.array([[0.0, 0.0], [-3.0, 5.0]])
    for fn in (greedy, eisner, chu_liu_edmonds):
        heads = fn(scores)
        assert heads.dtype.kind == "i" and heads.tolist() == [0]
    for method in DECODERS:
        heads, was_tree = decode(scores, method)
        assert heads.tolist() == [0] and was_tree


def test_greedy_eisner_keeps_greedy_tree():
    rng = np.random.default_rng(3)
    n = 8
    gold = np.array([2, 0, 2, 6, 2, 7, 5, 7])  # non-projective: arcs 6->4 and 5->7 cross
    scores = _random_scores(rng, n)
    scores[np.arange(1, n + 1), gold] += 20.0
    heads, was_tree = decode(scores, "greedy+eisner")
    assert was_tree
    np.testing.assert_array_equal(heads, gold)
    np.testing.assert_array_equal(heads, greedy(scores))


def test_greedy_eisner_repairs_non_tree():
    scores = np.zeros((4, 4))
    scores[1, 2] = scores[2, 1] = 5.0  # greedy makes the cycle 1 <-> 2
    scores[3, 0] = 5.0
    heads, was_tree = decode(scores, "greedy+eisner")
    assert not was_tree
    assert is_tree(heads)
    np.testing.assert_array_equal(heads, eisner(scores))
    heads, was_tree = decode(scores, "greedy")
    assert not was_tree and heads.tolist() == [2, 1, 0]


@pytest.mark.parametrize("method", DECODERS[1:])
def test_decoders_always_return_trees(method):
    rng = np.random.default_rng(11)
    for n in (1, 2, 5, 13, 40):
        for _ in range(5):
            scores = rng.normal(size=(n + 1, n + 1)) * rng.uniform(0.1, 10)
            heads, _ = decode(scores, method)
            assert heads.shape == (n,) and heads.dtype.kind == "i"
            assert is_tree(heads)


def test_cle_beats_or_ties_eisner_and_handles_long_sentences():
    rng = np.random.default_rng(5)
    n = 150
    scores = rng.normal(size=(n + 1, n + 1))
    cle, eis = chu_liu_edmonds(scores), eisner(scores)
    assert is_tree(cle) and is_tree(eis)
    assert _tree_scores(scores, cle) >= _tree_scores(scores, eis) - 1e-9


def test_unknown_method():
    with pytest.raises(ValueError, match="greedy\\+eisner"):
        decode(np.zeros((3, 3)), "viterbi")
    assert DECODERS == ("greedy", "greedy+eisner", "eisner", "chu-liu-edmonds")
