"""Every shared corpus parses with the exact counts of shared/corpora/README.md (skipped without it)."""
from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest

from jmt.data.columns import read_columns
from jmt.data.conllu import read_conllu, write_conllu
from jmt.data.corpus import detect_format, read_corpus
from jmt.data.pairs import read_sick

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="shared corpora not available")

# file: sentences, words, multiword tokens, empty nodes
UD = {
    "ud_english_ewt/en_ewt-ud-train.conllu": (12544, 204577, 2614, 37),
    "ud_english_ewt/en_ewt-ud-dev.conllu": (2001, 25147, 359, 4),
    "ud_english_ewt/en_ewt-ud-test.conllu": (2077, 25094, 354, 2),
    "ud_english_gum/en_gum-ud-train.conllu": (10224, 177410, 3147, 92),
    "ud_english_gum/en_gum-ud-dev.conllu": (1575, 28119, 517, 12),
    "ud_english_gum/en_gum-ud-test.conllu": (1464, 28397, 411, 15),
}
CONLL2000 = {"conll2000/train.txt": (8936, 211727), "conll2000/test.txt": (2012, 47377)}
# file: pairs, ENTAILMENT, NEUTRAL, CONTRADICTION, mean relatedness
SICK = {
    "sick/SICK_train.txt": (4500, 1299, 2536, 665, 3.521),
    "sick/SICK_trial.txt": (500, 144, 282, 74, 3.594),
    "sick/SICK_test_annotated.txt": (4927, 1414, 2793, 720, 3.530),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", UD)
def test_ud_counts(name):
    path = CORPORA / name
    sentences = list(read_conllu(path))
    n_sentences, n_words, n_multiword, n_empty = UD[name]
    assert len(sentences) == n_sentences
    assert sum(len(s) for s in sentences) == n_words
    special = Counter(
        "multiword" if "-" in line.split("\t", 1)[0] else "empty"
        for s in sentences for lines in s.conllu.before.values() for line in lines
    )
    assert special == {"multiword": n_multiword, "empty": n_empty}
    for s in sentences:
        assert s.upos and s.xpos and s.deprels and len(s.heads) == len(s)
        assert s.heads.count(0) == 1
        assert any(c.startswith("# text") for c in s.conllu.comments)
    assert detect_format(path) == "conllu"


@pytest.mark.parametrize("name", ["ud_english_ewt/en_ewt-ud-dev.conllu", "ud_english_gum/en_gum-ud-dev.conllu"])
def test_ud_round_trip(name):
    path = CORPORA / name
    out = io.StringIO()
    for sentence in read_conllu(path):
        write_conllu(sentence, out)
    assert out.getvalue() == path.read_text(encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize("name", CONLL2000)
def test_conll2000_counts(name):
    path = CORPORA / name
    sentences = list(read_columns(path))
    assert (len(sentences), sum(len(s) for s in sentences)) == CONLL2000[name]
    chunks = Counter(tag for s in sentences for tag in s.chunks)
    assert all(tag == "O" or tag[:2] in ("B-", "I-") for tag in chunks)
    assert detect_format(path) == "columns"
    if name.endswith("train.txt"):
        assert chunks["O"] == 27902 and chunks["B-NP"] == 55081


@pytest.mark.parametrize("name", SICK)
def test_sick_counts(name):
    path = CORPORA / name
    pairs = list(read_sick(path))
    n, entailment, neutral, contradiction, mean = SICK[name]
    assert len(pairs) == n
    assert Counter(p.entailment for p in pairs) == {
        "ENTAILMENT": entailment, "NEUTRAL": neutral, "CONTRADICTION": contradiction,
    }
    scores = [p.relatedness for p in pairs]
    assert min(scores) == 1.0 and max(scores) == 5.0
    assert sum(scores) / n == pytest.approx(mean, abs=0.0005)
    assert all(p.premise and p.hypothesis and "" not in p.premise + p.hypothesis for p in pairs)
    assert detect_format(path) == "sick"


def test_ptb_sample_dependencies():
    files = sorted((CORPORA / "ptb_sample" / "dependency_treebank").glob("*.dp"))
    assert len(files) == 199
    sentences = [s for f in files for s in read_corpus(f, "dep")]
    assert len(sentences) == 3914
    assert sum(len(s) for s in sentences) == 94084
    assert all(s.heads.count(0) == 1 and s.deprels is None and s.xpos for s in sentences)
