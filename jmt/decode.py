"""Dependency tree decoders over arc score matrices.

Conventions shared by every function here:

* ``scores`` is a float array of shape ``(n + 1, n + 1)`` for a sentence of ``n`` words;
  ``scores[d, h]`` is the score of word ``d`` (1..n) taking head ``h`` (0..n, 0 = root).
  Row 0 and the diagonal are ignored. Scores may be log-probabilities or any real numbers;
  ``-inf`` marks a forbidden arc (it is used only when no tree avoids it).
* Every decoder returns an int array ``heads`` of shape ``(n,)`` with ``heads[d - 1]`` the
  head of word ``d``, values in 0..n.
* A *tree* has exactly one word attached to the root 0, no cycles and no self-loops.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

DECODERS = ("greedy", "greedy+eisner", "eisner", "chu-liu-edmonds")

_NEG_INF = -np.inf


def _check_scores(scores) -> np.ndarray:
    """Return ``scores`` as a float64 square matrix, raising ValueError if it is malformed."""
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] < 2:
        raise ValueError(f"scores must have shape (n+1, n+1) with n >= 1, got {s.shape}")
    return s


def _finite_scores(scores: np.ndarray) -> np.ndarray:
    """Copy of ``scores`` with ``-inf`` replaced by a finite value lower than any tree can offset.

    Only rows 1..n and off-diagonal entries matter. ``nan`` and ``+inf`` are rejected.
    """
    n = scores.shape[0] - 1
    mask = ~np.eye(n + 1, dtype=bool)
    mask[0] = False
    used = scores[mask]
    if np.isnan(used).any() or np.isposinf(used).any():
        raise ValueError("scores must not contain nan or +inf")
    s = scores.copy()
    finite = used[np.isfinite(used)]
    if finite.size == len(used):
        return s
    lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 0.0)
    # One forbidden arc costs more than any difference between trees of allowed arcs.
    s[np.isneginf(s)] = lo - (n + 1) * (hi - lo) - 1.0
    return s


def is_tree(heads) -> bool:
    """True if ``heads`` is a tree: values in 0..n, no self-loops, no cycles, one root child."""
    heads = np.asarray(heads)
    n = len(heads)
    if heads.ndim != 1 or n == 0:
        return False
    if not np.issubdtype(heads.dtype, np.integer):
        if not np.all(np.equal(np.mod(heads, 1), 0)):
            return False
        heads = heads.astype(np.int64)
    if heads.min() < 0 or heads.max() > n:
        return False
    if np.any(heads == np.arange(1, n + 1)):
        return False
    if np.count_nonzero(heads == 0) != 1:
        return False
    return _acyclic(heads.tolist())


def _acyclic(heads: list[int]) -> bool:
    """Every word reaches the root 0 by following heads (plain lists: this runs per sentence)."""
    state = [2] + [0] * len(heads)  # 0 = unvisited, 1 = on current path, 2 = reaches root
    for start in range(1, len(heads) + 1):
        path = []
        node = start
        while state[node] == 0:
            state[node] = 1
            path.append(node)
            node = heads[node - 1]
        if state[node] == 1:  # came back to a node on the current path
            return False
        for v in path:
            state[v] = 2
    return True


def is_tree_list(heads: list[int]) -> bool:
    """:func:`is_tree` for a list of ints already known to be in 0..n without self-loops
    (a greedy decoder's output): one root child and no cycle."""
    return heads.count(0) == 1 and _acyclic(heads)


def greedy(scores) -> np.ndarray:
    """Best head for each word independently (never itself); the result may not be a tree."""
    s = _check_scores(scores).copy()
    np.fill_diagonal(s, _NEG_INF)
    heads = np.argmax(s[1:], axis=1)
    return heads.astype(np.int64)


def eisner(scores) -> np.ndarray:
    """Highest-scoring projective tree with exactly one word attached to the root.

    Eisner's O(n^3) algorithm run over the words 1..n only; the root arc is added at the end by
    choosing the word ``r`` maximising ``scores[r, 0] + left span of r + right span of r``, which
    forces a single root child. Spans of one width are filled at once with numpy.
    """
    return eisner_batch([scores])[0]


def eisner_batch(matrices) -> list[np.ndarray]:
    """:func:`eisner` for several sentences at once, with the same result for each.

    The sentences are padded to the longest and share the numpy calls of each span width,
    so a batch costs about one long sentence's Python overhead. A span inside a sentence
    reads only spans inside it, so the padding (finite scores) never reaches a real span.
    """
    found = [_finite_scores(_check_scores(m)) for m in matrices]
    if not found:
        return []
    lengths = [m.shape[0] - 1 for m in found]
    size = max(lengths) + 1
    arc = np.zeros((len(found), size, size))  # arc[b, h, d] = score of h -> d
    for b, m in enumerate(found):
        arc[b, : len(m), : len(m)] = m.T
    # Tables indexed [b, s, t] for 1 <= s <= t <= n; "R" spans are headed by s, "L" spans by t.
    inc_r, inc_l, com_r, com_l = (np.full(arc.shape, _NEG_INF) for _ in range(4))
    bp_inc = np.zeros(arc.shape, dtype=np.int64)  # split r shared by both incomplete tables
    bp_com_r = np.zeros(arc.shape, dtype=np.int64)
    bp_com_l = np.zeros(arc.shape, dtype=np.int64)
    idx = np.arange(1, size)
    com_r[:, idx, idx] = 0.0
    com_l[:, idx, idx] = 0.0

    def best_split(cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:  # [B, spans, splits] -> best of each
        best = np.argmax(cand, axis=2)
        return best, np.take_along_axis(cand, best[..., None], axis=2)[..., 0]

    for width in range(1, size - 1):
        starts = np.arange(1, size - width)
        ends = starts + width
        st, of, en = starts[:, None], np.arange(width)[None, :], ends[:, None]

        # Incomplete: split s <= r < t, C_R[s, r] + C_L[r+1, t].
        best, base = best_split(com_r[:, st, st + of] + com_l[:, st + of + 1, en])
        inc_r[:, starts, ends] = base + arc[:, starts, ends]
        inc_l[:, starts, ends] = base + arc[:, ends, starts]
        bp_inc[:, starts, ends] = starts + best

        # Complete right-headed: split s < r <= t, I_R[s, r] + C_R[r, t].
        best, com_r[:, starts, ends] = best_split(inc_r[:, st, st + of + 1] + com_r[:, st + of + 1, en])
        bp_com_r[:, starts, ends] = starts + best + 1

        # Complete left-headed: split s <= r < t, C_L[s, r] + I_L[r, t].
        best, com_l[:, starts, ends] = best_split(com_l[:, st, st + of] + inc_l[:, st + of, en])
        bp_com_l[:, starts, ends] = starts + best

    out = []
    for b, n in enumerate(lengths):
        # Single root child r: its left span [1, r] and right span [r, n].
        roots = np.arange(1, n + 1)
        total = arc[b, 0, roots] + com_l[b, 1, roots] + com_r[b, roots, n]
        root = int(roots[np.argmax(total)])
        out.append(_backtrack(n, root, bp_inc[b], bp_com_r[b], bp_com_l[b]))
    return out


def eisner_torch(logp: torch.Tensor, lengths: list[int]) -> list[np.ndarray]:
    """:func:`eisner_batch` on torch tensors, on the device they are on (a GPU, say): ``logp``
    [B, T, T+1] holds each word's head scores (row d-1 for word d, column 0 the root), as the
    parser's log-softmax gives them; sentence b has ``lengths[b]`` words. The tables are
    float64 and every best split is the first of the equal best, as numpy's ``argmax`` takes
    it, so the trees are those of :func:`eisner_batch`; only the backtracking runs on the CPU."""
    import torch

    B, size = len(lengths), max(lengths) + 1
    dev = logp.device
    arc = logp[:, :size - 1, :size].double().transpose(1, 2)  # [B, size, size - 1]: arc[b, h, d - 1]
    arc = torch.cat([arc.new_zeros(B, size, 1), arc], dim=2)  # arc[b, h, d] = score of h -> d
    neg = torch.finfo(torch.float64).min / 4
    arc = torch.nan_to_num(arc, neginf=neg)
    inc_r, inc_l, com_r, com_l = (torch.full((B, size, size), neg, dtype=torch.float64, device=dev) for _ in range(4))
    bp_inc, bp_com_r, bp_com_l = (torch.zeros((B, size, size), dtype=torch.long, device=dev) for _ in range(3))
    idx = torch.arange(1, size, device=dev)
    com_r[:, idx, idx] = 0.0
    com_l[:, idx, idx] = 0.0
    for width in range(1, size - 1):
        starts = torch.arange(1, size - width, device=dev)
        ends = starts + width
        st, of, en = starts[:, None], torch.arange(width, device=dev)[None, :], ends[:, None]
        base, best = (com_r[:, st, st + of] + com_l[:, st + of + 1, en]).max(2)
        inc_r[:, starts, ends] = base + arc[:, starts, ends]
        inc_l[:, starts, ends] = base + arc[:, ends, starts]
        bp_inc[:, starts, ends] = starts + best
        com_r[:, starts, ends], best = (inc_r[:, st, st + of + 1] + com_r[:, st + of + 1, en]).max(2)
        bp_com_r[:, starts, ends] = starts + best + 1
        com_l[:, starts, ends], best = (com_l[:, st, st + of] + inc_l[:, st + of, en]).max(2)
        bp_com_l[:, starts, ends] = starts + best
    ends = torch.tensor(lengths, device=dev)
    roots = torch.arange(1, size, device=dev)
    total = arc[:, 0, 1:] + com_l[:, 1, 1:] + com_r[torch.arange(B, device=dev)[:, None], roots[None, :], ends[:, None]]
    total = total.masked_fill(roots[None, :] > ends[:, None], float("-inf"))
    best_root = (total.argmax(1) + 1).tolist()
    bp_inc, bp_com_r, bp_com_l = (t.cpu().numpy() for t in (bp_inc, bp_com_r, bp_com_l))
    return [_backtrack(n, root, bp_inc[b], bp_com_r[b], bp_com_l[b]) for b, (n, root) in enumerate(zip(lengths, best_root))]


def _backtrack(n: int, root: int, bp_inc: np.ndarray, bp_com_r: np.ndarray, bp_com_l: np.ndarray) -> np.ndarray:
    """The heads of Eisner's best tree from its split points."""
    heads = np.zeros(n, dtype=np.int64)
    # Stack of (kind, s, t) with kind in {"CR", "CL", "IR", "IL"}.
    stack = [("CL", 1, root), ("CR", root, n)]
    while stack:
        kind, a, b = stack.pop()
        if a == b:
            continue
        if kind == "IR" or kind == "IL":
            if kind == "IR":
                heads[b - 1] = a
            else:
                heads[a - 1] = b
            r = bp_inc[a, b]
            stack.append(("CR", a, r))
            stack.append(("CL", r + 1, b))
        elif kind == "CR":
            r = bp_com_r[a, b]
            stack.append(("IR", a, r))
            stack.append(("CR", r, b))
        else:
            r = bp_com_l[a, b]
            stack.append(("CL", a, r))
            stack.append(("IL", r, b))
    return heads


def _find_cycle(parent: np.ndarray) -> list[int] | None:
    """A cycle in the parent array (node 0 is the root, ``parent[0]`` ignored), or None."""
    m = len(parent)
    state = np.zeros(m, dtype=np.int8)  # 0 unvisited, 1 on current path, 2 done
    state[0] = 2
    for start in range(1, m):
        path = []
        node = start
        while state[node] == 0:
            state[node] = 1
            path.append(node)
            node = int(parent[node])
        if state[node] == 1:
            return path[path.index(node):]
        state[path] = 2
    return None


def _max_arborescence(arc: np.ndarray) -> np.ndarray:
    """Chu-Liu/Edmonds maximum spanning arborescence rooted at node 0.

    ``arc[h, d]`` is the weight of h -> d (finite off the diagonal). Returns ``parent`` of
    length m with ``parent[0] = -1``. Recursive contraction, each level O(m^2) in numpy.
    """
    m = arc.shape[0]
    w = arc.copy()
    np.fill_diagonal(w, _NEG_INF)
    w[:, 0] = _NEG_INF
    parent = np.argmax(w, axis=0)
    parent[0] = -1
    cycle = _find_cycle(parent)
    if cycle is None:
        return parent

    in_cycle = np.zeros(m, dtype=bool)
    in_cycle[cycle] = True
    cyc = np.array(cycle)
    rest = np.flatnonzero(~in_cycle)  # contains 0; new node ids 0..len(rest)-1, cycle = last
    k = len(rest)
    new = np.full((k + 1, k + 1), _NEG_INF)
    new[:k, :k] = w[np.ix_(rest, rest)]

    # Entering the cycle at v: gain w[u, v] minus the cycle arc into v it replaces.
    enter = w[np.ix_(rest, cyc)] - w[parent[cyc], cyc][None, :]
    enter_best = np.argmax(enter, axis=1)
    new[:k, k] = enter[np.arange(k), enter_best]
    # Leaving the cycle to u: best cycle node as head.
    leave = w[np.ix_(cyc, rest)]
    leave_best = np.argmax(leave, axis=0)
    new[k, :k] = leave[leave_best, np.arange(k)]

    sub = _max_arborescence(new)

    result = parent.copy()  # cycle nodes keep their cycle parents except the entry point
    for i in range(1, k):
        p = sub[i]
        result[rest[i]] = cyc[leave_best[i]] if p == k else rest[p]
    u = sub[k]  # head (outside the cycle) of the arc entering the cycle
    result[cyc[enter_best[u]]] = rest[u]
    result[0] = -1
    return result


def chu_liu_edmonds(scores) -> np.ndarray:
    """Highest-scoring (possibly non-projective) tree with exactly one word attached to root.

    Runs Chu-Liu/Edmonds with every root arc lowered by a constant ``M`` larger than the spread
    of any two trees' scores. A tree with ``k`` root children then scores ``S - k * M``, so the
    optimum has one root child and, among those, the highest original score ``S``.
    """
    s = _finite_scores(_check_scores(scores))
    n = s.shape[0] - 1
    arc = s.T.copy()
    mask = ~np.eye(n + 1, dtype=bool)
    mask[:, 0] = False
    used = arc[mask]
    spread = float(used.max() - used.min())
    arc[0, 1:] -= (n + 1) * spread + 1.0
    parent = _max_arborescence(arc)
    return parent[1:].astype(np.int64)


def decode(scores, method: str = "greedy+eisner") -> tuple[np.ndarray, bool]:
    """Decode heads with ``method`` (one of ``DECODERS``); returns ``(heads, was_tree)``.

    ``was_tree`` is whether the greedy output was already a tree for "greedy" and
    "greedy+eisner" (the JMT recipe: keep greedy if it is a tree, else repair with Eisner),
    and whether the decoder's output is a tree (always True) for "eisner" and "chu-liu-edmonds".
    """
    if method not in DECODERS:
        raise ValueError(f"unknown decoding method {method!r}; choose one of {', '.join(DECODERS)}")
    if method in ("greedy", "greedy+eisner"):
        heads = greedy(scores)
        ok = is_tree(heads)
        if method == "greedy+eisner" and not ok:
            heads = eisner(scores)
        return heads, ok
    heads = eisner(scores) if method == "eisner" else chu_liu_edmonds(scores)
    return heads, is_tree(heads)
