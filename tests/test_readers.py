"""Fast reader tests on tiny inline data (no network, no shared corpora)."""
from __future__ import annotations

import io
import json

import pytest

from jmt.data.columns import read_columns
from jmt.data.conllu import HEAD, UPOS, read_conllu, write_conllu
from jmt.data.corpus import detect_format, read_corpus
from jmt.data.pairs import PairReadStats, read_nli_jsonl, read_sick, tokenize
from jmt.data.types import DataError, Sentence


def write(tmp_path, name, text, *, newline="\n", bom=False):
    path = tmp_path / name
    data = text.replace("\n", newline)
    path.write_bytes(("\ufeff" if bom else "").encode() + data.encode("utf-8"))
    return path


def row(*cols):
    return "\t".join(cols)


# ----------------------------------------------------------------------------- CoNLL-U

CONLLU = "\n".join([
    "# newdoc id = doc1",
    "# sent_id = s1",
    "# text = Elena's cat sat.",
    row("1-2", "Elena's", "_", "_", "_", "_", "_", "_", "_", "_"),
    row("1", "Elena", "Elena", "PROPN", "NNP", "Number=Sing", "3", "nmod:poss", "3:nmod:poss", "_"),
    row("2", "'s", "'s", "PART", "POS", "_", "1", "case", "1:case", "_"),
    row("3", "cat", "cat", "NOUN", "NN", "Number=Sing", "4", "nsubj", "4:nsubj", "_"),
    row("4", "sat", "sit", "VERB", "VBD", "Tense=Past", "0", "root", "0:root", "SpaceAfter=No"),
    row("4.1", "sat", "sit", "VERB", "VBD", "_", "_", "_", "3:conj", "CopyOf=4"),
    row("5", ".", ".", "PUNCT", ".", "_", "4", "punct", "4:punct", "_"),
    "",
    "# sent_id = s2",
    "# text = Hi",
    row("1", "Hi", "hi", "INTJ", "_", "_", "_", "_", "_", "_"),
    "",
    "",
])


def test_conllu_reads_words_and_annotations(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU)
    first, second = read_conllu(path)
    assert first.words == ["Elena", "'s", "cat", "sat", "."]
    assert first.upos == ["PROPN", "PART", "NOUN", "VERB", "PUNCT"]
    assert first.xpos == ["NNP", "POS", "NN", "VBD", "."]
    assert first.heads == [3, 1, 4, 0, 4]
    assert first.deprels == ["nmod:poss", "case", "nsubj", "root", "punct"]
    assert first.chunks is None
    assert first.source == f"{path}:1"
    assert first.conllu.comments[0] == "# newdoc id = doc1"
    assert first.conllu.before[0][0].startswith("1-2\t")  # multiword range kept, not a word
    assert first.conllu.before[4][0].startswith("4.1\t")  # empty node kept, not a word
    assert first.conllu.rows[3][9] == "SpaceAfter=No"
    # columns that are '_' throughout the sentence are no annotation
    assert second.words == ["Hi"] and second.upos == ["INTJ"]
    assert second.xpos is None and second.heads is None and second.deprels is None
    assert second.source == f"{path}:12"


def test_conllu_round_trip_is_identical(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU)
    out = io.StringIO()
    for sentence in read_conllu(path):
        write_conllu(sentence, out)
    assert out.getvalue() == CONLLU.rstrip("\n") + "\n\n"


def test_conllu_crlf_bom_and_no_final_blank_line(tmp_path):
    text = CONLLU.rstrip("\n")  # ends right after the last row, no newline at all
    path = write(tmp_path, "a.conllu", text, newline="\r\n", bom=True)
    sentences = list(read_conllu(path))
    assert len(sentences) == 2
    assert sentences[0].conllu.comments[0] == "# newdoc id = doc1"
    assert sentences[0].conllu.rows[3][9] == "SpaceAfter=No"
    assert sentences[1].words == ["Hi"]


def test_write_conllu_fills_predicted_columns(tmp_path):
    path = write(tmp_path, "a.conllu", CONLLU)
    sentence = next(read_conllu(path))
    out = io.StringIO()
    write_conllu(sentence, out, {UPOS: ["X", "X", "X", "X", "X"], HEAD: [0, 1, 1, 1, 1]},
                 {"Chunk": ["B-NP", "I-NP", "I-NP", "B-VP", "O"]})
    lines = out.getvalue().split("\n")
    assert lines[:4] == CONLLU.split("\n")[:4]  # comments and multiword range unchanged
    assert lines[4] == row("1", "Elena", "Elena", "X", "NNP", "Number=Sing", "0", "nmod:poss", "3:nmod:poss", "Chunk=B-NP")
    assert lines[7] == row("4", "sat", "sit", "X", "VBD", "Tense=Past", "1", "root", "0:root", "SpaceAfter=No|Chunk=B-VP")
    assert lines[8] == CONLLU.split("\n")[8]  # empty node unchanged
    assert out.getvalue().endswith("\n\n")

    # an existing Chunk key is replaced, not duplicated
    again = next(read_conllu(write(tmp_path, "b.conllu", out.getvalue())))
    out2 = io.StringIO()
    write_conllu(again, out2, misc={"Chunk": ["O"] * 5})
    assert "SpaceAfter=No|Chunk=O" in out2.getvalue() and "Chunk=B" not in out2.getvalue()


def test_write_conllu_without_extras_writes_fresh_rows():
    sentence = Sentence(words=["Dogs", "bark"], xpos=["NNS", "VBP"], heads=[2, 0])
    out = io.StringIO()
    write_conllu(sentence, out, {UPOS: ["NOUN", "VERB"]}, {"Chunk": ["B-NP", "B-VP"]}, sent_id="7")
    assert out.getvalue() == (
        "# sent_id = 7\n# text = Dogs bark\n"
        + row("1", "Dogs", "_", "NOUN", "NNS", "_", "2", "_", "_", "Chunk=B-NP") + "\n"
        + row("2", "bark", "_", "VERB", "VBP", "_", "0", "_", "_", "Chunk=B-VP") + "\n\n"
    )


def test_write_conllu_rejects_wrong_prediction_length(tmp_path):
    sentence = next(read_conllu(write(tmp_path, "a.conllu", CONLLU)))
    with pytest.raises(ValueError, match="expected 5"):
        write_conllu(sentence, io.StringIO(), {UPOS: ["X"]})


def word(i, head="0", form="w"):
    return row(str(i), form, "_", "X", "_", "_", head, "dep", "_", "_")


@pytest.mark.parametrize(
    "second, expected",
    [
        ("1\tw\t_\tX", "expected 10 tab-separated columns"),
        ("1 w _ X _ _ 0 dep _ _", "expected 10 tab-separated columns"),
        (row("x", "w", *["_"] * 8), "expected an integer ID"),
        (word(3, head="1"), "expected ID 2"),
        (word(2, head="one"), "expected an integer HEAD"),
        (word(2, head="3"), "beyond the sentence length 2"),
        (word(2, head="-1"), "expected HEAD >= 0"),
        (word(2, head="_"), "expected an integer HEAD"),
        (row("3-2", "x", *["_"] * 8), "multiword range 3-2 must start at the next word (2)"),
        (row("2-5", "x", *["_"] * 8), "multiword range 2-5 goes past the sentence's last word (1)"),
    ],
)
def test_conllu_errors(tmp_path, second, expected):
    # the bad row is line 4: a good sentence, a blank line, a good first word, then it
    path = write(tmp_path, "bad.conllu", "\n".join([word(1), "", word(1), second]) + "\n\n")
    with pytest.raises(DataError) as err:
        list(read_conllu(path))
    assert f"{path}:4:" in str(err.value)
    assert expected in str(err.value)
    assert err.value.line == 4


# ----------------------------------------------------------------------------- columns

def test_columns_single_space_default(tmp_path):
    path = write(tmp_path, "train.txt", "Confidence NN B-NP\nin IN B-PP\n\n\nthe DT B-NP\npound NN I-NP\n")
    first, second = read_columns(path)
    assert first.words == ["Confidence", "in"] and first.xpos == ["NN", "IN"] and first.chunks == ["B-NP", "B-PP"]
    assert second.words == ["the", "pound"] and second.source == f"{path}:5"
    assert first.upos is None and first.heads is None


def test_columns_tabs_and_mapping_without_final_blank_line(tmp_path):
    path = write(tmp_path, "wsj.dp", "Pierre\tNNP\t2\nVinken\tNNP\t0\n\nHi\tUH\t0")
    first, second = read_columns(path, {"words": 0, "xpos": 1, "heads": 2})
    assert first.words == ["Pierre", "Vinken"] and first.heads == [2, 0] and first.chunks is None
    assert second.words == ["Hi"] and second.heads == [0]


def test_columns_custom_mapping_and_crlf_bom(tmp_path):
    path = write(tmp_path, "c.txt", "B-NP NN Dogs\nB-VP VBP bark\n", newline="\r\n", bom=True)
    (sentence,) = read_columns(path, {"chunks": 0, "upos": 1, "words": 2})
    assert sentence.words == ["Dogs", "bark"] and sentence.upos == ["NN", "VBP"] and sentence.chunks == ["B-NP", "B-VP"]


@pytest.mark.parametrize(
    "text, columns, bad_line, expected",
    [
        ("a DT B-NP\nb NN\n", None, 2, "expected 3 columns"),
        ("a DT\nb NN\n", None, 1, "expected at least 3 columns"),
        ("a\tDT\t0\n\nb\tNN\tx\n", {"words": 0, "xpos": 1, "heads": 2}, 3, "expected an integer head"),
        ("a\tDT\t0\nb\tNN\t5\n", {"words": 0, "xpos": 1, "heads": 2}, 2, "between 0 and the sentence length 2"),
    ],
)
def test_columns_errors(tmp_path, text, columns, bad_line, expected):
    path = write(tmp_path, "bad.txt", text)
    with pytest.raises(DataError) as err:
        list(read_columns(path, columns))
    assert f"{path}:{bad_line}:" in str(err.value) and expected in str(err.value)


def test_columns_rejects_unknown_field(tmp_path):
    with pytest.raises(ValueError, match="words"):
        list(read_columns(write(tmp_path, "a.txt", "a b\n"), {"words": 0, "lemma": 1}))


# ----------------------------------------------------------------------------- pairs

SICK_HEADER = "pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"


def test_tokenize():
    assert tokenize("  A man's dog, running  ") == ["A", "man", "'s", "dog", ",", "running"]


def test_sick_crlf_bom_and_stray_spaces(tmp_path):
    text = "\n".join([
        SICK_HEADER,
        "1\tA man's dog is running \t The dog runs\t4.5\tENTAILMENT",
        "7\tTwo kids play\tNobody plays  \t1\tCONTRADICTION",
        "",
    ])
    path = write(tmp_path, "SICK_test.txt", text, newline="\r\n", bom=True)
    first, second = read_sick(path)
    assert first.premise == ["A", "man", "'s", "dog", "is", "running"]
    assert first.hypothesis == ["The", "dog", "runs"]
    assert first.relatedness == 4.5 and first.entailment == "ENTAILMENT" and first.pair_id == "1"
    assert first.source == f"{path}:2"
    assert second.hypothesis == ["Nobody", "plays"] and second.relatedness == 1.0
    assert second.entailment == "CONTRADICTION"


def test_sick_columns_found_by_header_name(tmp_path):
    path = write(tmp_path, "s.txt", "entailment_judgment\tsentence_B\tsentence_A\tpair_ID\nneutral\tB b\tA a\t3\n")
    (pair,) = read_sick(path)
    assert pair.premise == ["A", "a"] and pair.hypothesis == ["B", "b"]
    assert pair.entailment == "NEUTRAL" and pair.relatedness is None and pair.pair_id == "3"


@pytest.mark.parametrize(
    "line, expected",
    [
        ("1\ta\tb\thigh\tNEUTRAL", "expected a relatedness score"),
        ("1\ta\tb\t5.5\tNEUTRAL", "from 1 to 5"),
        ("1\ta\tb\t0.5\tNEUTRAL", "from 1 to 5"),
        ("1\ta\tb\t3\tMAYBE", "expected an entailment label"),
        ("1\ta\tb\t3", "expected 5 tab-separated columns"),
        ("1\t  \tb\t3\tNEUTRAL", "expected a non-empty sentence_A"),
    ],
)
def test_sick_errors(tmp_path, line, expected):
    path = write(tmp_path, "s.txt", f"{SICK_HEADER}\n1\tok\tok\t2\tNEUTRAL\n{line}\n")
    with pytest.raises(DataError) as err:
        list(read_sick(path))
    assert f"{path}:3:" in str(err.value) and expected in str(err.value)


def test_sick_requires_header(tmp_path):
    path = write(tmp_path, "s.txt", "1\ta\tb\t3\tNEUTRAL\n")
    with pytest.raises(DataError, match=r":1: expected a header row"):
        list(read_sick(path))


def nli_line(**item):
    return json.dumps(item)


def test_nli_jsonl_skips_items_without_gold_label(tmp_path):
    lines = [
        nli_line(sentence1="A man sleeps.", sentence2="A person rests.", gold_label="entailment", pairID="p1"),
        nli_line(sentence1="A man sleeps.", sentence2="Nobody sleeps.", gold_label="-"),
        nli_line(sentence1="A man sleeps.", sentence2="Nobody sleeps."),
        "",
        nli_line(premise=["A", "cat"], hypothesis="A dog.", label="Contradiction"),
        nli_line(premise="x", hypothesis="y", label=None),
    ]
    path = write(tmp_path, "snli.jsonl", "\n".join(lines) + "\n")
    stats = PairReadStats()
    first, second = read_nli_jsonl(path, stats)
    assert first.premise == ["A", "man", "sleeps", "."] and first.entailment == "ENTAILMENT"
    assert first.pair_id == "p1" and first.relatedness is None and first.source == f"{path}:1"
    assert second.premise == ["A", "cat"] and second.hypothesis == ["A", "dog", "."]
    assert second.entailment == "CONTRADICTION" and second.source == f"{path}:5"
    assert (stats.read, stats.skipped) == (2, 3)


@pytest.mark.parametrize(
    "line, expected",
    [
        ('{"sentence1": "a", ', "invalid JSON"),
        ('["a", "b"]', "expected a JSON object"),
        (nli_line(sentence1="a", sentence2="b", gold_label="maybe"), "expected an entailment label"),
        (nli_line(sentence1="a", sentence2=" ", gold_label="neutral"), "expected a non-empty sentence2"),
        (nli_line(sentence1="a", gold_label="neutral"), "expected sentence2/hypothesis"),
        (nli_line(sentence1="a", sentence2="b", label=1), "expected a string label"),
    ],
)
def test_nli_errors(tmp_path, line, expected):
    good = nli_line(sentence1="a", sentence2="b", gold_label="neutral")
    path = write(tmp_path, "n.jsonl", f"{good}\n{line}\n")
    with pytest.raises(DataError) as err:
        list(read_nli_jsonl(path))
    assert f"{path}:2:" in str(err.value) and expected in str(err.value)


# ----------------------------------------------------------------------------- Hugging Face

datasets = pytest.importorskip("datasets")
from datasets import ClassLabel, Dataset, DatasetDict, Features, Sequence, Value  # noqa: E402

from jmt.data.hf import read_hf  # noqa: E402

# label ids deliberately not in alphabetical order
CHUNK_NAMES = ["O", "B-NP", "I-NP", "B-VP"]
POS_NAMES = ["NN", "DT", "VBZ"]
NLI_NAMES = ["entailment", "neutral", "contradiction"]


def token_dataset():
    features = Features({
        "id": Value("string"),
        "tokens": Sequence(Value("string")),
        "pos_tags": Sequence(ClassLabel(names=POS_NAMES)),
        "chunk_tags": Sequence(ClassLabel(names=CHUNK_NAMES)),
    })
    return Dataset.from_dict(
        {"id": ["0", "1"], "tokens": [["The", "dog", "barks"], ["Dogs"]],
         "pos_tags": [[1, 0, 2], [0]], "chunk_tags": [[1, 2, 3], [1]]},
        features=features,
    )


def check_token_sentences(sentences):
    first, second = sentences
    assert first.words == ["The", "dog", "barks"]
    assert first.xpos == ["DT", "NN", "VBZ"] and first.chunks == ["B-NP", "I-NP", "B-VP"]
    assert first.upos is None and first.heads is None
    assert second.xpos == ["NN"] and second.chunks == ["B-NP"]


def test_a_folder_without_a_dataset_is_one_line_naming_a_corpus_file_in_it(tmp_path):
    from jmt.data.corpus import read_corpus

    (tmp_path / "LICENSE.txt").write_text("free\n")
    (tmp_path / "tb-ud-train.conllu").write_text("1\tA\t_\t_\t_\t_\t0\troot\t_\t_\n\n")
    with pytest.raises(DataError, match=r"a folder with no Hugging Face dataset in it .*e\.g\. .*tb-ud-train\.conllu$"):
        read_corpus(str(tmp_path), "upos")


def test_a_model_directory_or_a_broken_data_file_in_a_folder_is_one_data_error(tmp_path):
    from jmt.data.corpus import read_corpus

    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    with pytest.raises(DataError, match="a jmt model directory, not a corpus"):
        read_corpus(str(model), "upos")
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.json").write_text('{"tokens": ["a"')
    with pytest.raises(DataError, match=r"data: not readable as a dataset \(.+\)"):
        read_corpus(str(data), "upos")


def test_hf_save_to_disk_dataset_and_dataset_dict(tmp_path):
    ds = token_dataset()
    ds.save_to_disk(str(tmp_path / "single"))
    check_token_sentences(list(read_hf(str(tmp_path / "single"), task="chunk")))
    DatasetDict({"train": ds.select([0]), "test": ds}).save_to_disk(str(tmp_path / "dict"))
    check_token_sentences(list(read_hf(str(tmp_path / "dict"), task="chunk", split="test")))
    with pytest.raises(DataError, match="expected a split 'validation'"):
        list(read_hf(str(tmp_path / "dict"), task="chunk", split="validation"))


def test_hf_parquet_keeps_class_labels(tmp_path):
    token_dataset().to_parquet(str(tmp_path / "train.parquet"))
    check_token_sentences(list(read_hf(str(tmp_path / "train.parquet"), task="xpos")))


def test_hf_json_integer_tags_without_names_are_an_error(tmp_path):
    token_dataset().to_json(str(tmp_path / "train.jsonl"))
    with pytest.raises(DataError, match="ClassLabel"):
        list(read_hf(str(tmp_path / "train.jsonl"), task="xpos"))


def test_hf_universal_dependencies_drops_multiword_rows(tmp_path):
    upos = ["NOUN", "PUNCT", "PRON", "AUX", "PART", "_"]
    features = Features({
        "tokens": Sequence(Value("string")),
        "upos": Sequence(ClassLabel(names=upos)),
        "xpos": Sequence(Value("string")),
        "head": Sequence(Value("string")),
        "deprel": Sequence(Value("string")),
    })
    ds = Dataset.from_dict(
        {"tokens": [["It", "don't", "do", "n't", "."]], "upos": [[2, 5, 3, 4, 1]],
         "xpos": [[None, None, None, None, None]], "head": [["2", "None", "0", "2", "2"]],
         "deprel": [["nsubj", "_", "root", "advmod", "punct"]]},
        features=features,
    )
    ds.save_to_disk(str(tmp_path / "ud"))
    (sentence,) = read_hf(str(tmp_path / "ud"), task="dep")
    assert sentence.words == ["It", "do", "n't", "."]
    assert sentence.upos == ["PRON", "AUX", "PART", "PUNCT"]
    assert sentence.heads == [2, 0, 2, 2]
    assert sentence.deprels == ["nsubj", "root", "advmod", "punct"]
    assert sentence.xpos is None


def test_hf_pairs_nli_and_sick_and_column_override(tmp_path):
    nli = Dataset.from_dict(
        {"premise": ["A man sleeps.", "x", "A cat."], "hypothesis": ["A person rests.", "y", "A dog."],
         "label": [0, -1, 2]},
        features=Features({"premise": Value("string"), "hypothesis": Value("string"),
                           "label": ClassLabel(names=NLI_NAMES)}),
    )
    nli.save_to_disk(str(tmp_path / "nli"))
    stats = PairReadStats()
    first, second = read_hf(str(tmp_path / "nli"), task="entailment", stats=stats)
    assert first.premise == ["A", "man", "sleeps", "."] and first.entailment == "ENTAILMENT"
    assert second.entailment == "CONTRADICTION" and (stats.read, stats.skipped) == (2, 1)

    sick = Dataset.from_dict(
        {"id": ["1"], "sentence_A": ["Two dogs play"], "sentence_B": ["Dogs play"],
         "relatedness_score": [4.2], "label": [1]},
        features=Features({"id": Value("string"), "sentence_A": Value("string"), "sentence_B": Value("string"),
                           "relatedness_score": Value("float32"), "label": ClassLabel(names=NLI_NAMES)}),
    )
    sick.to_parquet(str(tmp_path / "sick.parquet"))
    (pair,) = read_hf(str(tmp_path / "sick.parquet"), task="relatedness")
    assert pair.premise == ["Two", "dogs", "play"] and pair.entailment == "NEUTRAL"
    assert pair.relatedness == pytest.approx(4.2) and pair.pair_id == "1"

    (swapped,) = read_hf(str(tmp_path / "sick.parquet"), task="relatedness",
                         columns={"premise": "sentence_B", "hypothesis": "sentence_A"})
    assert swapped.premise == ["Dogs", "play"]


def test_hf_column_override_for_tokens(tmp_path):
    Dataset.from_dict({"form": [["a", "b"]], "tags": [["X", "Y"]]}).save_to_disk(str(tmp_path / "d"))
    (sentence,) = read_hf(str(tmp_path / "d"), task="upos", columns={"words": "form", "upos": "tags"})
    assert sentence.words == ["a", "b"] and sentence.upos == ["X", "Y"]
    with pytest.raises(ValueError, match="not a column"):
        list(read_hf(str(tmp_path / "d"), task="upos", columns={"words": "nope"}))


def test_hf_hub_name_goes_to_load_dataset(monkeypatch):
    calls = []

    def fake_load_dataset(name, config=None, *, split):
        calls.append((name, config, split))
        return token_dataset()

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    check_token_sentences(list(read_hf("eriktks/conll2000", task="chunk", split="test")))
    assert calls == [("eriktks/conll2000", None, "test")]


# ----------------------------------------------------------------------------- corpus

def test_detect_format(tmp_path):
    conllu_txt = write(tmp_path, "ud.txt", "# sent_id = 1\n" + word(1) + "\n\n")
    assert detect_format(write(tmp_path, "a.conllu", "")) == "conllu"
    assert detect_format(conllu_txt) == "conllu"
    assert detect_format(write(tmp_path, "train.txt", "Dogs NNS B-NP\n")) == "columns"
    assert detect_format(write(tmp_path, "w.dp", "Dogs\tNNS\t0\n")) == "columns"
    assert detect_format(write(tmp_path, "SICK.txt", SICK_HEADER + "\n", bom=True)) == "sick"
    assert detect_format(write(tmp_path, "snli.jsonl", "{}\n")) == "nli"
    assert detect_format(write(tmp_path, "mnli.json", "{}\n")) == "nli"
    assert detect_format("hf:eriktks/conll2000") == "hf"
    assert detect_format(f"hf:{tmp_path}") == "hf"
    assert detect_format(tmp_path) == "hf"
    with pytest.raises(DataError, match="file not found"):
        detect_format(tmp_path / "missing.conllu")


def test_read_corpus_dispatches_and_checks_annotation(tmp_path):
    conllu = write(tmp_path, "a.conllu", CONLLU)
    assert len(read_corpus(conllu, "upos")) == 2
    with pytest.raises(DataError) as err:
        read_corpus(conllu, "xpos")  # the second sentence has no XPOS
    assert str(conllu) in str(err.value) and "xpos" in str(err.value)
    with pytest.raises(DataError, match="chunks"):
        read_corpus(conllu, "chunk")

    dp = write(tmp_path, "w.dp", "Pierre\tNNP\t2\nVinken\tNNP\t0\n")
    (sentence,) = read_corpus(dp, "dep")  # unlabeled: heads without deprels
    assert sentence.heads == [2, 0] and sentence.deprels is None
    for task in ("xpos", "xpos2", "upos"):  # the POS column of a .dp file, not a chunk column
        assert read_corpus(dp, task, **({"columns": {"words": 0, "upos": 1}} if task == "upos" else {}))[0].words == [
            "Pierre", "Vinken"]
    assert read_corpus(dp, "xpos")[0].xpos == ["NNP", "NNP"]
    with pytest.raises(DataError, match="chunks"):
        read_corpus(dp, "chunk")

    chunks = write(tmp_path, "train.txt", "Dogs NNS B-NP\nbark VBP B-VP\n")
    assert read_corpus(chunks, "chunk")[0].chunks == ["B-NP", "B-VP"]
    assert read_corpus(chunks, "upos", columns={"words": 0, "upos": 1})[0].upos == ["NNS", "VBP"]

    sick = write(tmp_path, "SICK.txt", f"{SICK_HEADER}\n1\tA b\tC d\t3\tNEUTRAL\n")
    assert read_corpus(sick, "relatedness")[0].relatedness == 3.0
    with pytest.raises(DataError, match="sentence pairs"):
        read_corpus(sick, "upos")
    with pytest.raises(DataError, match="tagged sentences"):
        read_corpus(chunks, "entailment")

    stats = PairReadStats()
    nli = write(tmp_path, "snli.jsonl", nli_line(sentence1="a", sentence2="b", gold_label="-") + "\n"
                + nli_line(sentence1="a", sentence2="b", gold_label="neutral") + "\n")
    assert len(read_corpus(nli, "entailment", stats=stats)) == 1 and stats.skipped == 1
    with pytest.raises(DataError, match="relatedness"):
        read_corpus(nli, "relatedness")

    token_dataset().save_to_disk(str(tmp_path / "hfdir"))
    assert len(read_corpus(f"hf:{tmp_path / 'hfdir'}", "chunk")) == 2


def test_read_corpus_empty_and_missing(tmp_path):
    empty = write(tmp_path, "empty.conllu", "\n\n")
    with pytest.raises(DataError, match="empty"):
        read_corpus(empty, "upos")
    with pytest.raises(DataError) as err:
        read_corpus(tmp_path / "nope.conllu", "upos")
    assert str(err.value) == f"{tmp_path / 'nope.conllu'}: file not found"
    with pytest.raises(DataError, match="file not found"):
        read_corpus(f"hf:{tmp_path / 'nope'}", "upos")
    with pytest.raises(ValueError, match="task"):
        read_corpus(empty, "ner")


def test_a_head_pointing_at_its_own_word_is_an_error(tmp_path):
    path = tmp_path / "loop.conllu"
    path.write_text("1\tDogs\t_\tNOUN\tNNS\t_\t2\tnsubj\t_\t_\n2\tbark\t_\tVERB\tVBP\t_\t2\troot\t_\t_\n\n",
                    encoding="utf-8")
    with pytest.raises(DataError, match=r"loop\.conllu:2: .*own ID"):
        list(read_conllu(path))
    dp = tmp_path / "loop.dp"
    dp.write_text("Dogs\tNNS\t1\nbark\tVBP\t0\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"loop\.dp:1: .*itself"):
        list(read_columns(dp, {"words": 0, "xpos": 1, "heads": 2}))


def test_hf_spec_names_config_and_split():
    from jmt.data.corpus import parse_hf_spec

    assert parse_hf_spec("eriktks/conll2000") == {"name_or_path": "eriktks/conll2000", "split": "train"}
    assert parse_hf_spec("eriktks/conll2000@test") == {"name_or_path": "eriktks/conll2000", "split": "test"}
    assert parse_hf_spec("universal_dependencies:en_ewt@validation") == {
        "name_or_path": "universal_dependencies", "config": "en_ewt", "split": "validation"}


def test_non_utf8_corpus_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("caf\xe9 NN B-NP\n\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin1\.txt.*UTF-8"):
        read_corpus(path, "chunk")


def test_prediction_batches_keep_within_a_token_budget():
    from jmt.data.batch import batch_indices

    items = [[0] * n for n in (3, 50, 4, 10, 10, 2, 40, 40)]
    batches = list(batch_indices(items, batch_size=4, shuffle=False, max_tokens=60))
    assert sorted(i for b in batches for i in b) == list(range(len(items)))
    for b in batches:
        assert len(b) <= 4 and (len(b) == 1 or len(b) * max(len(items[i]) for i in b) <= 60)
    lengths = [len(items[i]) for b in batches for i in b]
    assert lengths == sorted(lengths)  # still sorted by length
    assert list(batch_indices(items, batch_size=4, shuffle=False)) == [[5, 0, 2, 3], [4, 6, 7, 1]]


def test_training_batches_keep_within_a_token_budget_and_still_shuffle():
    import random

    from jmt.data.batch import batch_indices

    rng = random.Random(0)
    items = [[0] * rng.randint(1, 60) for _ in range(500)]
    batches = list(batch_indices(items, batch_size=64, shuffle=True, rng=random.Random(1), max_tokens=400))
    assert sorted(i for b in batches for i in b) == list(range(len(items)))
    for b in batches:
        assert len(b) <= 64 and (len(b) == 1 or len(b) * max(len(items[i]) for i in b) <= 400)
    sizes = [len(b) for b in batches]
    assert max(sizes) > 3 * min(sizes)  # short sentences in larger batches, long ones in smaller
    again = list(batch_indices(items, batch_size=64, shuffle=True, rng=random.Random(2), max_tokens=400))
    assert again != batches
    # Without a budget, batches are cut by count alone, as before the budget existed.
    assert {len(b) for b in batch_indices(items, batch_size=25, shuffle=True, rng=random.Random(1))} <= {25, 500 % 25 or 25}
