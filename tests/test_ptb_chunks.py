"""Chunks from treebank trees in CoNLL-2000's conventions (scripts/ptb_chunks.py)."""
from __future__ import annotations

import runpy
import sys

import pytest

from conftest import REPO

SCRIPT = REPO / "scripts" / "ptb_chunks.py"
ptb = runpy.run_path(str(SCRIPT))

# WSJ 0001's first sentence, whose chunks CoNLL-2000's documentation gives
VINKEN = """( (S (NP-SBJ (NP (NNP Pierre) (NNP Vinken) ) (, ,) (ADJP (NP (CD 61) (NNS years) ) (JJ old) ) (, ,) )
    (VP (MD will) (VP (VB join) (NP (DT the) (NN board) ) (PP-CLR (IN as) (NP (DT a) (JJ nonexecutive) (NN director) ))
    (NP-TMP (NNP Nov.) (CD 29) ))) (. .) ))"""


def chunks(tree_text: str) -> list[str]:
    """The sentence as bracketed chunks: ``[NP Pierre Vinken] , ...``."""
    tree = ptb["prune"](next(ptb["read_trees"](tree_text, "test")))
    out, open_kind = [], None
    for word, _, tag in ptb["chunk_tags"](tree):
        if open_kind and not tag.startswith("I-"):
            out[-1] += "]"
            open_kind = None
        if tag.startswith("B-"):
            open_kind = tag[2:]
            out.append(f"[{open_kind} {word}")
        elif tag.startswith("I-"):
            out[-1] += f" {word}"
        else:
            out.append(word)
    if open_kind:
        out[-1] += "]"
    return out


def test_the_first_wsj_sentence_gets_the_chunks_conll2000_gives_it():
    assert chunks(VINKEN) == ["[NP Pierre Vinken]", ",", "[NP 61 years]", "[ADJP old]", ",", "[VP will join]",
                              "[NP the board]", "[PP as]", "[NP a nonexecutive director]", "[NP Nov. 29]", "."]


@pytest.mark.parametrize("tree, expected", [
    # one verb group across nested VPs and a clause whose subject is empty
    (("( (S (NP-SBJ-1 (NNP Mr.) (NNP Icahn)) (VP (MD may) (RB not) (VP (VB want) (S (NP-SBJ (-NONE- *-1))"
     " (VP (TO to) (VP (VB sell) (NP (PRP it)))))))))"),
     ["[NP Mr. Icahn]", "[VP may not want to sell]", "[NP it]"]),
    # the possessive marker begins the chunk of what it modifies
    ("( (NP (NP (DT the) (NN company) (POS 's)) (NNS shares)))", ["[NP the company]", "[NP 's shares]"]),
    # an ADJP before the noun is part of the NP; an ADVP holding an NP makes two chunks
    (("( (S (NP-SBJ (DT the) (ADJP (RBS most) (JJ volatile)) (NN form)) (VP (VBD rose)"
     " (ADVP-TMP (NP (DT a) (NN year)) (RB earlier)))))"),
     ["[NP the most volatile form]", "[VP rose]", "[NP a year]", "[ADVP earlier]"]),
    # an adverb before the main verb joins the VP; after it, it is its own chunk
    (("( (S (NP-SBJ (PRP It)) (VP (MD could) (ADVP (RB very) (RB well)) (VP (VB shake) (NP (PRP them))"
     " (ADVP (RB hard))))))"), ["[NP It]", "[VP could very well shake]", "[NP them]", "[ADVP hard]"]),
    # an inverted auxiliary belongs to no VP
    ("( (SINV (VBZ Does) (NP-SBJ (PRP it)) (VP (VB matter))))", ["Does", "[NP it]", "[VP matter]"]),
    # a relative pronoun is an NP, a complementizer an SBAR
    (("( (S (NP-SBJ (PRP He)) (VP (VBD said) (SBAR (IN that) (S (NP-SBJ (NP (DT the) (NN form)) (SBAR (WHNP-1"
     " (WDT which)) (S (NP-SBJ (-NONE- *T*-1)) (VP (VBZ is) (ADJP-PRD (JJ new)))))) (VP (VBD sold)))))))"),
     ["[NP He]", "[VP said]", "[SBAR that]", "[NP the form]", "[NP which]", "[VP is]", "[ADJP new]", "[VP sold]"]),
    # an adverb after the verbs is in no chunk; the pound sign is in the NP as the dollar sign is
    ("( (S (NP-SBJ (PRP It)) (VP (VBD was) (RB n't) (NP (QP (# #) (CD 5) (CD million))))))",
     ["[NP It]", "[VP was]", "n't", "[NP # 5 million]"]),
    # an opening quote stays in the chunk it opens
    ("( (S (NP-SBJ (`` ``) (NN control) ('' '')) (VP (VBZ matters))))", ["[NP `` control]", "''", "[VP matters]"]),
    # coordinated verb phrases stay apart, and their "and" is outside
    ("( (S (NP-SBJ (NNS prices)) (VP (VP (VBD rose) (NP (CD 5) (NN %))) (CC and) (VP (VBD fell)))))",
     ["[NP prices]", "[VP rose]", "[NP 5 %]", "and", "[VP fell]"]),
])
def test_chunks_follow_the_conll2000_conventions(tree, expected):
    assert chunks(tree) == expected


def test_empty_elements_and_brackets_are_written_as_conll2000_writes_them(tmp_path, monkeypatch):
    (tmp_path / "wsj_0001.mrg").write_text(
        "( (S (NP-SBJ (-NONE- *)) (VP (VB go) (PRN (-LRB- -LRB-) (NP (NN home)) (-RRB- -RRB-)))))\n")
    out = tmp_path / "chunks.txt"
    monkeypatch.setattr(sys, "argv", ["ptb_chunks.py", str(tmp_path), str(out)])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    assert out.read_text().splitlines() == ["go VB B-VP", "-LRB- ( O", "home NN B-NP", "-RRB- ) O", ""]


@pytest.mark.parametrize("content, message", [
    (b"( (S (NP (NN home))\n", "wsj_0002.mrg: a tree is not closed"),
    (b"( (S (NP (NN caf\xe9))))\n", "wsj_0002.mrg: not UTF-8"),
    (b"\n", "no trees in its .mrg files"),
])
def test_bad_input_is_named_and_the_old_output_stays(tmp_path, monkeypatch, content, message):
    (tmp_path / "wsj_0001.mrg").write_text("( (S (NP (NN home))))\n")
    (tmp_path / "wsj_0002.mrg").write_bytes(content)
    if message.startswith("no trees"):
        (tmp_path / "wsj_0001.mrg").unlink()
    out = tmp_path / "out.txt"
    out.write_text("kept\n")
    monkeypatch.setattr(sys, "argv", ["ptb_chunks.py", str(tmp_path), str(out)])
    with pytest.raises(SystemExit, match=message):
        runpy.run_path(str(SCRIPT), run_name="__main__")
    assert out.read_text() == "kept\n"
    assert not (tmp_path / "out.txt.part").exists()
