"""Bad input, tried systematically.

Property-based tests feed every reader arbitrary bytes and mutated valid files: the only
outcomes allowed are parsed examples or a DataError naming the file (and the line, where
there is one). Then the table of malformed cases from the README, one test each, and the
tagger on inputs that are odd but legal: one-token sentences, a 5,000-token "sentence",
control characters and emoji.
"""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from conftest import SAMPLE, conllu_text, quiet, tiny_config, write_tiny_corpora
from jmt.cli import app
from jmt.data.corpus import read_corpus
from jmt.data.types import DataError, Sentence
from jmt.data.vectors import load_vectors
from jmt.decode import is_tree
from jmt.predict import Predictor
from jmt.rawtext import rebuild_text
from jmt.segment import is_space
from jmt.tagging_io import read_input, read_pairs
from jmt.train import Trainer, load_corpora

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SICK_HEADER = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment\n"
VALID = {
    "conllu": (SAMPLE / "train.conllu").read_text(encoding="utf-8")[:3000],
    "chunk": (SAMPLE / "chunk_train.txt").read_text(encoding="utf-8")[:1500],
    "sick": SICK_HEADER + "1\tA dog runs\tA dog walks\t4.2\tNEUTRAL\n2\tA cat eats\tNo cat eats\t3.1\tCONTRADICTION\n",
    "nli": '{"sentence1": "A dog runs", "sentence2": "An animal moves", "gold_label": "entailment"}\n'
           '{"premise": "A cat", "hypothesis": "A dog", "label": 2}\n',
    "dp": "The DT 2\ncat NN 3\nsleeps VBZ 0\n\nDogs NNS 2\nbark VBP 0\n",
}
# (suffix, task) each reader is driven with
READERS = {"conllu": (".conllu", "dep"), "chunk": (".txt", "chunk"), "sick": (".tsv", "relatedness"),
           "nli": (".jsonl", "entailment"), "dp": (".dp", "dep")}


def read_or_documented_error(data: bytes, suffix: str, task: str) -> None:
    """The property: examples, or a DataError that starts with the file's path."""
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"input{suffix}"
        path.write_bytes(data)
        try:
            examples = read_corpus(path, task)
        except DataError as err:
            assert str(err).startswith(str(path)), str(err)
            assert "\n" not in str(err)
            if err.line is not None:
                # the readers count lines as Python's text mode does: a lone \r ends one too
                assert 1 <= err.line <= data.count(b"\n") + data.count(b"\r") + 1
            return
        assert examples
        for ex in examples:
            if isinstance(ex, Sentence):
                assert ex.words and all(isinstance(w, str) for w in ex.words)


@pytest.mark.parametrize("reader", list(READERS))
@FUZZ
@given(data=st.binary(max_size=600))
def test_arbitrary_bytes_give_examples_or_the_documented_error(reader, data):
    suffix, task = READERS[reader]
    prefix = SICK_HEADER.encode() if reader == "sick" else b""  # else it is read as columns
    read_or_documented_error(prefix + data, suffix, task)


MUTATIONS = st.lists(st.tuples(st.sampled_from(["delete", "insert", "duplicate", "drop_line", "swap", "field"]),
                               st.integers(0, 10_000), st.text(max_size=12)), min_size=1, max_size=6)


def mutate(text: str, ops) -> str:
    lines = text.split("\n")
    for op, at, piece in ops:
        i = at % len(lines)
        line = lines[i]
        if op == "delete" and line:
            j = at % len(line)
            lines[i] = line[:j] + line[j + 1:]
        elif op == "insert":
            j = at % (len(line) + 1)
            lines[i] = line[:j] + piece + line[j:]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "drop_line" and len(lines) > 1:
            del lines[i]
        elif op == "swap":
            k = (at // 7) % len(lines)
            lines[i], lines[k] = lines[k], lines[i]
        elif op == "field":
            fields = line.split("\t")
            fields[at % len(fields)] = piece
            lines[i] = "\t".join(fields)
    return "\n".join(lines)


@pytest.mark.parametrize("reader", list(READERS))
@FUZZ
@given(ops=MUTATIONS)
def test_near_valid_files_give_examples_or_the_documented_error(reader, ops):
    suffix, task = READERS[reader]
    read_or_documented_error(mutate(VALID[reader], ops).encode("utf-8", "surrogatepass"), suffix, task)


@FUZZ
@given(data=st.binary(max_size=400))
def test_vectors_and_pair_inputs_give_vectors_or_the_documented_error(data):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "vectors.txt"
        path.write_bytes(data)
        for load in (lambda: load_vectors(path, {"the"}, 10), lambda: list(read_pairs(str(path)))):
            try:
                load()
            except DataError as err:
                assert str(err).startswith(str(path)) and "\n" not in str(err)
            except UnicodeDecodeError:
                pytest.fail("undecodable input must be a DataError")


# ----------------------------------------------------------------------------- the table of cases

ROWS = "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n2\tcat\tcat\tNOUN\tNN\t_\t3\tnsubj\t_\t_\n" \
       "3\tsleeps\tsleep\tVERB\tVBZ\t_\t0\troot\t_\t_\n\n"

# name -> (file name, bytes, task, expected message or None when it reads fine)
CASES = {
    "empty file": ("a.conllu", b"", "dep", "a.conllu: expected at least one example, the corpus is empty"),
    "not UTF-8": ("a.conllu", ROWS.replace("cat", "caf\xe9").encode("latin-1"), "dep",
                  "a.conllu:2: expected UTF-8 text (invalid continuation byte)"),
    "BOM": ("a.conllu", b"\xef\xbb\xbf" + ROWS.encode(), "dep", None),
    "CRLF": ("a.conllu", ROWS.replace("\n", "\r\n").encode(), "dep", None),
    "spaces instead of a tab": ("a.conllu", ROWS.replace("\tcat\t", " cat ").encode(), "dep",
                                "a.conllu:2: expected 10 tab-separated columns, got 8"),
    "wrong column count": ("a.conllu", ROWS.replace("\tnsubj\t_\t_", "\tnsubj\t_").encode(), "dep",
                           "a.conllu:2: expected 10 tab-separated columns, got 9"),
    "mixed tabs and spaces in a column file": ("a.txt", b"The DT B-NP\ncat\tNN\tI-NP\nsat VBD\n\n", "chunk",
                                               "a.txt:3: expected 3 columns like the first token line, got 2"),
    "non-integer HEAD": ("a.conllu", ROWS.replace("\t2\tdet", "\tx\tdet").encode(), "dep",
                         "a.conllu:1: expected an integer HEAD, got 'x'"),
    "out-of-range HEAD": ("a.conllu", ROWS.replace("\t2\tdet", "\t9\tdet").encode(), "dep",
                          "a.conllu:1: HEAD 9 is beyond the sentence length 3"),
    "bad chunk tag": ("a.txt", b"The DT X-NP\n\n", "chunk", "a.txt:1: expected a chunk tag like B-NP, I-NP or O, got 'X-NP'"),
    "relatedness outside 1..5": ("a.tsv", (SICK_HEADER + "1\tA dog\tA cat\t6.2\tNEUTRAL\n").encode(), "relatedness",
                                 "a.tsv:2: expected a relatedness score from 1 to 5, got '6.2'"),
    "unknown entailment label": ("a.tsv", (SICK_HEADER + "1\tA dog\tA cat\t4\tMAYBE\n").encode(), "entailment",
                                 "a.tsv:2: expected an entailment label among ENTAILMENT, NEUTRAL, CONTRADICTION, "
                                 "got 'MAYBE'"),
    "one-token sentence": ("a.conllu", b"1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n\n", "dep", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_case(case, tmp_path):
    name, data, task, expected = CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    if expected is None:
        assert read_corpus(path, task)
    else:
        with pytest.raises(DataError) as info:
            read_corpus(path, task)
        assert str(info.value) == f"{tmp_path}/{expected}"


@pytest.mark.parametrize("change, expected", [
    (("\t3\tnsubj", "\t1\tnsubj"), "the gold heads form a cycle: 1 -> 2 -> 1"),
    (("\t3\tnsubj", "\t0\tnsubj"), "expected one word attached to the root, got 2 (words 2, 3)"),
])
def test_a_gold_tree_that_is_not_a_tree_cannot_be_trained_on(tmp_path, change, expected):
    files = write_tiny_corpora(tmp_path)
    bad = tmp_path / "bad.conllu"
    bad.write_text(conllu_text() + ROWS.replace(*change), encoding="utf-8")
    cfg = tiny_config({**files, "conllu": bad}, ["dep"])
    with pytest.raises(DataError, match=re.escape(expected)) as info:
        load_corpora(cfg)
    line = conllu_text().count("\n") + 1
    assert str(info.value).startswith(f"{bad}:{line}:")
    read_corpus(bad, "dep")  # reading (to evaluate against it, say) is fine


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("badinput")
    files = write_tiny_corpora(d)
    Trainer(tiny_config(files, ["upos", "chunk", "dep"], epochs=2), d / "model", log=quiet).train()
    return d / "model"


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


def test_unknown_label_at_evaluation_counts_as_an_error(model_dir, tmp_path):
    gold = tmp_path / "gold.conllu"
    gold.write_text(ROWS.replace("\tDET\t", "\tNEWTAG\t"), encoding="utf-8")
    result = run("evaluate", model_dir, "--test", f"upos={gold}")
    assert result.exit_code == 0, result.stderr
    assert "accuracy" in result.stdout


def test_tag_reports_a_bad_sentence_and_skip_bad_writes_the_rest(model_dir, tmp_path):
    src = tmp_path / "in.conllu"
    src.write_text(ROWS + ROWS.replace("\t2\tdet", "\tx\tdet") + ROWS, encoding="utf-8")
    out = tmp_path / "out.conllu"
    result = run("tag", model_dir, src, "--input-format", "conllu", "-o", out)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines() == [f"error: {src}:5: expected an integer HEAD, got 'x'"]

    result = run("tag", model_dir, src, "--input-format", "conllu", "-o", out, "--skip-bad")
    assert result.exit_code == 0, result.stderr
    assert f"warning: {src}:5: expected an integer HEAD, got 'x' (sentence skipped)" in result.stderr
    assert "skipped 1 malformed sentence" in result.stderr
    assert out.read_text(encoding="utf-8").count("\n\n") == 2  # the first and the last sentence


@pytest.mark.slow
def test_a_five_thousand_token_sentence_is_tagged_in_pieces(model_dir, monkeypatch):
    import jmt

    nlp = jmt.load(model_dir)
    longest = []
    forward = nlp.model.forward
    monkeypatch.setattr(nlp.model, "forward", lambda batch, upto, tasks=None: longest.append(batch.word_ids.shape[1])
                        or forward(batch, upto, tasks))
    words = ["the", "cat", "sat", "on", "a", "mat", "."] * 715  # 5,005 tokens
    (pred,) = nlp.tag([words])
    assert len(pred["upos"]) == len(pred["heads"]) == len(pred["chunks"]) == len(words)
    assert max(longest) <= nlp.predictor.max_length  # memory grows with the piece, not the sentence
    assert is_tree(pred["heads"])
    assert pred["deprels"].count("root") <= 1


def test_pieces_do_not_change_sentences_that_fit(model_dir):
    import jmt

    nlp = jmt.load(model_dir)
    words = ["the", "cat", "sat", "on", "a", "mat", "."] * 3
    whole = nlp.tag([words])[0]
    pieces = Predictor(nlp.model, nlp.vocabs, max_length=7).tag([words])[0]
    first = Predictor(nlp.model, nlp.vocabs).tag([words[:7]])[0]
    assert pieces["upos"][:7] == first["upos"] and pieces["heads"][:7] == first["heads"]
    assert is_tree(pieces["heads"]) and len(pieces["heads"]) == len(whole["heads"])
    assert all(len(values) == len(words) for values in pieces.values() if isinstance(values, list))
    root = pieces["heads"].index(0) + 1
    for start in (7, 14):  # each later piece's own root hangs from the first piece's root
        later = Predictor(nlp.model, nlp.vocabs).tag([words[start:start + 7]])[0]
        own_root = later["heads"].index(0)
        assert pieces["heads"][start + own_root] == root and pieces["deprels"][start + own_root] == "dep"


@pytest.mark.parametrize("text", ["Hi\n", "a\x00b c\x07d\n", "I \u2764\ufe0f NLP \U0001F600 !\n", "\x1b[31mred\x1b[0m text\n",
                                  "\u200b\u200b\n", "tab\there\n"])
def test_control_characters_and_emoji_in_raw_text(model_dir, text, tmp_path):
    result = run("tag", model_dir, "--format", "jsonl", input=text)
    assert result.exit_code == 0, result.stderr
    tokens = [t for line in result.stdout.splitlines() for t in json.loads(line)["tokens"]]
    # control characters separate tokens as whitespace does; nothing else is lost or invented
    assert "".join(tokens) == "".join(ch for ch in text if not is_space(ch))
    result = run("tag", model_dir, input=text)  # CoNLL-U: still ten columns a row
    assert result.exit_code == 0, result.stderr
    rows = [line for line in result.stdout.split("\n") if line and not line.startswith("#")]
    assert rows and all(len(row.split("\t")) == 10 for row in rows)
    out = tmp_path / "out.conllu"
    out.write_text(result.stdout, encoding="utf-8")
    assert rebuild_text(out) == text  # the control characters are in MISC's SpacesAfter


def test_raw_input_keeps_going_over_empty_lines_and_whitespace():
    sents = list(read_input(None, iter(["\n", "   \n", "One two.\n"]), "raw", False))
    assert [s.words for s in sents] == [["One", "two", "."]]


@pytest.fixture(scope="module")
def segmenter_model(model_dir, tmp_path_factory):
    """The tiny model with an untrained segmenter: arbitrary splits, which the checks below
    must survive."""
    import shutil

    import torch

    from jmt.segment import Segmenter, SegmenterNet

    d = tmp_path_factory.mktemp("seg") / "model"
    shutil.copytree(model_dir, d)
    torch.manual_seed(0)
    chars = ["<pad>", "<unk>", *"abcdefghijklmnopqrstuvwxyz. "]
    Segmenter(SegmenterNet(len(chars), channels=8, dilations=(1, 2)), chars, {}, [], {"sizes": {"channels": 8, "dilations": [1, 2]}}).save(d)
    return d


@pytest.mark.parametrize("text", ["", " \n\n\t", "no full stop anywhere in this text at all\n" * 50,
                                  "word " * 20_000, "Αθήνα 東京 Москва a\u200bb\x1b[0m \U0001F600\n"])
@pytest.mark.slow
def test_raw_text_is_tagged_and_comes_back_exactly(segmenter_model, text, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text(text, encoding="utf-8", newline="")
    out = tmp_path / "out.conllu"
    result = run("tag", segmenter_model, src, "-o", out, "--tasks", "upos")  # the parser's cost is not the point here
    assert result.exit_code == 0, result.stderr
    assert rebuild_text(out) == (text if text.strip() else "")
    words = [line.split("\t")[1] for line in out.read_text(encoding="utf-8").splitlines() if re.match(r"\d+\t", line)]
    assert "".join(words) == "".join(ch for ch in text if not is_space(ch))


def test_binary_raw_text_is_one_line_naming_the_file(segmenter_model, tmp_path):
    src = tmp_path / "a.bin"
    src.write_bytes(b"GIF89a\x00\x01\xff\xfe\x80 text")
    result = run("tag", segmenter_model, src)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and f"{src}:1: expected UTF-8 text" in result.stderr
