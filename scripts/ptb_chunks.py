"""Chunks from Penn Treebank trees, in CoNLL-2000's conventions and file format.

    python scripts/ptb_chunks.py TREEBANK_DIR OUT.txt

TREEBANK_DIR holds bracketed ``.mrg`` files (the PTB sample's ``treebank/combined``);
OUT.txt gets one ``word POS chunk`` line per word and a blank line after each sentence,
as CoNLL-2000's ``train.txt``. CoNLL-2000 was made from WSJ sections 15-18 and 20 by
Sabine Buchholz's ``chunklink`` script; this follows the conventions its paper describes
(Tjong Kim Sang and Buchholz 2000, section 2):

- a chunk holds the words of one constituent that no smaller chunk-making constituent
  holds: NP, VP, PP, ADVP, ADJP, SBAR, PRT, CONJP, INTJ, LST, UCP (WHNP counts as NP,
  WHADVP as ADVP, WHADJP as ADJP, WHPP as PP);
- QP, NX and NAC are part of the chunk around them; an ADJP, ADVP or UCP before the head
  of an NP is part of the NP, and an ADVP before the head of an ADJP, or before the main
  verb of a VP, part of that;
- the verbs of one verb group are one VP chunk across nested VPs and subjectless clauses
  (``may not want to sell``), but not into a clause with a function tag (``S-CLR``); an
  adverb after the verbs is in no chunk (``[was] n't [a law]``);
- a possessive is split before its marker (``[the company] ['s shares]``), always;
- the words of S, SINV, PRN and other clauses that no chunk holds are outside (``O``), as
  are punctuation at a chunk's edges (an opening quote excepted: ``[NP `` control]``) and
  a chunk of coordinators or punctuation alone.

Empty elements (``-NONE-``) are removed first; of a label such as ``ADVP|PRT`` the first
counts; a bracket word must be written ``-LRB-`` as the treebank writes it. The POS
column is the treebank's own (CoNLL-2000's came from a tagger). The trees of CoNLL-2000's
own sections are not at hand, so the check is indirect: scored as gold against the shipped
``en-accurate`` model (``jmt evaluate en-accurate --test chunk=OUT.txt``), these chunks of
the PTB sample get 95.86 F1, where CoNLL-2000 test gets 95.47 (``results/experiments.md``
row 79): the model finds them no less consistent than CoNLL-2000's own.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CHUNK_TYPES = {"NP", "VP", "PP", "ADVP", "ADJP", "SBAR", "PRT", "CONJP", "INTJ", "LST", "UCP"}
WH = {"WHNP": "NP", "WHADVP": "ADVP", "WHADJP": "ADJP", "WHPP": "PP"}
TRANSPARENT = {"QP", "NX", "NAC"}  # part of the chunk around them
PUNCT = {",", ".", ":", "``", "''", "-LRB-", "-RRB-"}  # `#` is the pound sign, in the NP as `$` is
ADVERBS = {"RB", "RBR", "RBS"}
VERBAL = {"MD", "TO", "VB", "VBD", "VBG", "VBN", "VBP", "VBZ"}
EDGE_ONLY = PUNCT | {"CC"}  # a chunk of these alone is no chunk
BRACKET_TAG = {"-LRB-": "(", "-RRB-": ")"}  # CoNLL-2000's POS for brackets


@dataclass(eq=False)
class Node:
    label: str
    children: list[Node] = field(default_factory=list)
    word: str | None = None  # set on a preterminal: label is its POS
    parent: Node | None = None

    @property
    def is_word(self) -> bool:
        return self.word is not None

    @property
    def kind(self) -> str:
        """The phrase label without function tags or indices (``NP-SBJ-1`` -> ``NP``)."""
        if self.is_word:
            return self.label
        base = re.split(r"[-=|]", self.label)[0] or self.label
        return WH.get(base, base)


def read_trees(text: str, where: str) -> Iterator[Node]:
    tokens = re.findall(r"\(|\)|[^\s()]+", text)
    stack: list[Node] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "(":
            label = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1] not in "()" else ""
            i += 2 if label else 1
            if i + 1 < len(tokens) and tokens[i] not in "()" and tokens[i + 1] == ")":
                node = Node(label, word=tokens[i])  # (TAG word)
                i += 2
                if not stack:
                    raise SystemExit(f"{where}: a word outside any tree")
                stack[-1].children.append(node)
                continue
            stack.append(Node(label))
            continue
        if tok == ")":
            if not stack:
                raise SystemExit(f"{where}: unbalanced ')'")
            node = stack.pop()
            if stack:
                stack[-1].children.append(node)
            else:
                yield node
            i += 1
            continue
        raise SystemExit(f"{where}: unexpected {tok!r}")
    if stack:
        raise SystemExit(f"{where}: a tree is not closed")


def prune(node: Node) -> Node | None:
    """Drop empty elements and the phrases left empty; link parents."""
    if node.is_word:
        return None if node.label == "-NONE-" else node
    node.children = [c for c in (prune(c) for c in node.children) if c is not None]
    for c in node.children:
        c.parent = node
    return node if node.children else None


def leaves(node: Node) -> list[Node]:
    return [node] if node.is_word else [w for c in node.children for w in leaves(c)]


def precedes_head(node: Node) -> bool:
    """Whether a word (not punctuation) follows ``node`` in its parent, or a QP, NX or NAC,
    or (in a VP) a VP: then ``node`` modifies what comes before the head."""
    siblings = node.parent.children
    for later in siblings[siblings.index(node) + 1:]:
        if later.is_word:
            if later.label not in PUNCT:
                return True
        elif later.kind in TRANSPARENT or (node.parent.kind == "VP" and later.kind == "VP"):
            return True
    return False


def after_verb_group(node: Node) -> bool:
    """Whether a verb or a VP follows ``node`` in its VP."""
    siblings = node.parent.children
    return any(later.label in VERBAL if later.is_word else later.kind == "VP"
               for later in siblings[siblings.index(node) + 1:])


def merge_root(node: Node) -> Node:
    """One verb group across nested VPs (coordinated ones too: ``can [vary] ... and [go]``)
    and subjectless complement clauses (``S``, not ``S-CLR`` or ``S-PRP``)."""
    while node.kind == "VP" and node.parent is not None:
        up = node.parent
        if up.kind == "VP":
            node = up
        elif up.label == "S" and len(up.children) == 1 and up.parent is not None and up.parent.kind == "VP":
            node = up.parent
        else:
            break
    return node


def owner(node: Node) -> Node | None:
    """The constituent whose chunk holds ``node`` (a word or a phrase), or None for ``O``."""
    up = node.parent
    if up is None:
        return None
    if node.is_word and node.label == "POS" and up.kind == "NP" and up.parent is not None \
            and up.parent.kind == "NP":
        return owner(up)  # the marker begins the chunk of what it modifies (chunk_tags splits)
    kind = up.kind
    if node.is_word and node.label in ADVERBS and kind == "VP" and not after_verb_group(node):
        return None  # an adverb after the verbs (`was n't a law`) is in no chunk
    if kind in TRANSPARENT:
        return owner(up)
    if kind in CHUNK_TYPES:
        if kind in {"ADJP", "ADVP", "UCP"} and up.parent is not None and precedes_head(up) and not any(
                c.kind == "NP" for c in up.children):
            host = up.parent.kind if up.parent.kind not in TRANSPARENT else "NP"
            if host == "NP" or (host in {"ADJP", "VP"} and kind == "ADVP"):
                return owner(up)
        return merge_root(up)
    return None  # S, SINV, PRN, FRAG...: outside any chunk


def chunk_tags(tree: Node) -> list[tuple[str, str, str]]:
    words = leaves(tree)
    owners = [owner(w) for w in words]
    tags = ["O"] * len(words)
    i = 0
    while i < len(words):
        if owners[i] is None:
            i += 1
            continue
        j = i
        while j + 1 < len(words) and owners[j + 1] is owners[i] and words[j + 1].label != "POS":
            j += 1
        lo, hi = i, j
        edge = PUNCT | ({"CC"} if owners[i].kind == "VP" else set())  # the "and" of coordinated VPs
        while lo <= hi and words[lo].label in edge - {"``"}:  # an opening quote stays: [NP `` control]
            lo += 1
        while hi >= lo and words[hi].label in edge:
            hi -= 1
        if lo <= hi and not all(w.label in EDGE_ONLY for w in words[lo:hi + 1]):
            kind = owners[i].kind
            for k in range(lo, hi + 1):
                tags[k] = ("B-" if k == lo else "I-") + kind
        i = j + 1
    return [(w.word, BRACKET_TAG.get(w.label, w.label), t) for w, t in zip(words, tags)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("treebank", type=Path, help="a folder of .mrg files")
    ap.add_argument("out", type=Path)
    args = ap.parse_args()
    files = sorted(args.treebank.glob("*.mrg"))
    if not files:
        raise SystemExit(f"{args.treebank}: no .mrg files")
    if args.out.is_dir():
        raise SystemExit(f"{args.out}: is a folder; name the file to write")
    sentences = 0
    tmp = args.out.with_name(args.out.name + ".part")
    try:
        with tmp.open("w", encoding="utf-8") as out:
            for path in files:
                try:
                    text = path.read_text(encoding="utf-8")
                except UnicodeDecodeError as e:
                    raise SystemExit(f"{path}: not UTF-8 (byte {e.start})") from None
                for tree in read_trees(text, str(path)):
                    tree = prune(tree)
                    if tree is None:
                        continue
                    for word, tag, chunk in chunk_tags(tree):
                        out.write(f"{word} {tag} {chunk}\n")
                    out.write("\n")
                    sentences += 1
        if not sentences:
            raise SystemExit(f"{args.treebank}: no trees in its .mrg files")
        tmp.replace(args.out)
    except BaseException:
        tmp.unlink(missing_ok=True)  # OUT is written whole or not at all
        raise
    print(f"{sentences} sentences from {len(files)} files -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
