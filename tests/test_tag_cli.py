"""`jmt tag`, `jmt pair` and the Python API on a small model trained once for the module."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SAMPLE, small_model, write_tiny_corpora
from jmt.cli import app
from jmt.config import Config, DataConfig, TrainConfig
from jmt.decode import is_tree
from jmt.train import Trainer


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("tagmodel")
    files = write_tiny_corpora(d)
    train = {"upos": files["conllu"], "xpos": files["conllu"], "dep": files["conllu"], "chunk": files["chunk"],
             "relatedness": files["pairs"], "entailment": files["pairs"]}
    cfg = Config(model=small_model(), train=TrainConfig(optimizer="adam", lr=0.01, epochs=3, batch_size=4,
                                                        dep_batch_size=4, progress=False, seed=0),
                 data=DataConfig(train={t: str(p) for t, p in train.items()}))
    Trainer(cfg, d / "model", log=lambda m: None).train()
    return d / "model"


def run(*args, input=None):
    return CliRunner().invoke(app, [str(a) for a in args], input=input)


@pytest.mark.slow
def test_conllu_in_conllu_out_keeps_every_line_but_the_predicted_columns(model_dir, tmp_path):
    src = SAMPLE / "dev.conllu"  # has comments, multiword tokens, an empty node, SpaceAfter=No
    out = tmp_path / "out.conllu"
    result = run("tag", model_dir, src, "--input-format", "conllu", "-o", out)
    assert result.exit_code == 0, result.stderr
    before = src.read_text(encoding="utf-8").splitlines()
    after = out.read_text(encoding="utf-8").splitlines()
    assert len(before) == len(after)
    words = 0
    for a, b in zip(before, after):
        if a.startswith("#") or not a or "-" in a.split("\t")[0] or "." in a.split("\t")[0]:
            assert a == b  # comments, blank lines, multiword ranges and empty nodes unchanged
            continue
        ca, cb = a.split("\t"), b.split("\t")
        assert [ca[i] for i in (0, 1, 2, 5, 8)] == [cb[i] for i in (0, 1, 2, 5, 8)]
        assert "Chunk=" in cb[9] and all(m in cb[9].split("|") for m in ca[9].split("|") if m != "_")
        words += 1
    assert words == 699
    conllu = pytest.importorskip("conllu")
    parsed = conllu.parse(out.read_text(encoding="utf-8"))
    assert len(parsed) == 80
    for tokens in parsed:
        words = [t for t in tokens if isinstance(t["id"], int)]
        assert is_tree([t["head"] for t in words])


def test_sent_ids_made_for_sentences_without_one_never_repeat_the_inputs(model_dir, tmp_path):
    row = "1\t{}\t_\t_\t_\t_\t_\t_\t_\t_\n\n"
    path = tmp_path / "ids.conllu"
    path.write_text("# sent_id = 2\n" + row.format("Hello") + row.format("World") + "# sent_id = 3\n"
                    + row.format("Again") + row.format("More"), encoding="utf-8")
    result = run("tag", model_dir, path)
    assert result.exit_code == 0, result.output
    ids = [line.split("= ")[1] for line in result.stdout.splitlines() if line.startswith("# sent_id")]
    assert ids == ["2", "2.1", "3", "4"]


def test_every_output_tree_is_a_tree(model_dir):
    result = run("tag", model_dir, SAMPLE / "dev.conllu", "--input-format", "conllu", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 80
    assert all(is_tree(r["heads"]) for r in records)


def test_a_conllu_file_is_read_as_conllu_and_any_other_as_raw_text_unless_told(model_dir, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("The cat sleeps. A dog barks.\n", encoding="utf-8")
    result = run("tag", model_dir, SAMPLE / "dev.conllu", text, "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(records) == 80 + 2  # the treebank's sentences as they are, then the text split in two
    assert [r["tokens"] for r in records[-2:]] == [["The", "cat", "sleeps", "."], ["A", "dog", "barks", "."]]
    as_text = run("tag", model_dir, SAMPLE / "dev.conllu", "--input-format", "raw", "--format", "jsonl")
    assert as_text.exit_code == 0 and len(as_text.stdout.splitlines()) != 80


def test_raw_text_from_stdin_is_split_into_sentences(model_dir):
    text = "The cat sleeps. A dog barks loudly!\n\nShe saw a bird.\n"
    result = run("tag", model_dir, "--format", "jsonl", input=text)
    assert result.exit_code == 0, result.stderr
    tokens = [json.loads(line)["tokens"] for line in result.stdout.splitlines()]
    assert tokens == [["The", "cat", "sleeps", "."], ["A", "dog", "barks", "loudly", "!"], ["She", "saw", "a", "bird", "."]]


def test_a_dash_among_the_inputs_reads_standard_input_in_its_place(model_dir, tmp_path):
    first = tmp_path / "first.txt"
    first.write_text("Birds sing.\n", encoding="utf-8")
    result = run("tag", model_dir, first, "-", "--format", "jsonl", input="The cat sleeps.\n")
    assert result.exit_code == 0, result.stderr
    tokens = [json.loads(line)["tokens"] for line in result.stdout.splitlines()]
    assert tokens == [["Birds", "sing", "."], ["The", "cat", "sleeps", "."]]


def test_one_sentence_per_line_keeps_the_users_splits(model_dir):
    text = "The cat sleeps. A dog barks.\nShe saw a bird\n"
    result = run("tag", model_dir, "--format", "jsonl", "--one-sentence-per-line", input=text)
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2


def test_pretokenized_input_and_task_selection(model_dir):
    result = run("tag", model_dir, "--input-format", "tokenized", "--format", "jsonl", "--tasks", "upos,chunk",
                 input="Dogs do n't bark .\nBirds sing\n")
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert records[0]["tokens"] == ["Dogs", "do", "n't", "bark", "."]
    assert set(records[0]) == {"tokens", "upos", "chunks"}  # the stack ran only as deep as asked
    assert all({"start", "end", "label"} == set(c) for r in records for c in r["chunks"])


def test_html_page_draws_trees_and_chunks(model_dir, tmp_path):
    out = tmp_path / "page.html"
    result = run("tag", model_dir, "--input-format", "tokenized", "--format", "html", "-o", out,
                 input="The cat sleeps .\n")
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "NP" in page


def test_bad_tag_arguments(model_dir, tmp_path):
    assert run("tag", model_dir, "--format", "xml", input="a\n").exit_code == 2
    pair_task = run("tag", model_dir, "--tasks", "relatedness", input="a\n")
    assert pair_task.exit_code == 1 and "'relatedness' scores sentence pairs" in pair_task.stderr
    missing = run("tag", model_dir, tmp_path / "missing.txt")
    assert missing.exit_code == 1 and "missing.txt" in missing.stderr


def test_the_output_file_is_replaced_only_by_a_run_that_writes(model_dir, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("The cat sleeps. Birds sing.\n", encoding="utf-8")
    out = tmp_path / "out.conllu"
    out.write_text("old\n", encoding="utf-8")
    missing = run("tag", model_dir, tmp_path / "missing.txt", "-o", out)
    assert missing.exit_code == 1 and "missing.txt: no such file" in missing.stderr
    itself = run("tag", model_dir, text, "-o", text)
    assert itself.exit_code == 1 and "the output is also an input" in itself.stderr
    assert text.read_text(encoding="utf-8") == "The cat sleeps. Birds sing.\n"
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("A cat sleeps\tNobody sleeps\n", encoding="utf-8")
    assert run("pair", model_dir, pairs, "-o", pairs).exit_code == 1
    assert pairs.read_text(encoding="utf-8") == "A cat sleeps\tNobody sleeps\n"
    assert run("pair", model_dir, tmp_path / "missing.tsv", "-o", out).exit_code == 1
    assert out.read_text(encoding="utf-8") == "old\n" and sorted(p.name for p in tmp_path.iterdir()) == [
        "notes.txt", "out.conllu", "pairs.tsv"]  # no temporary file left behind
    assert run("tag", model_dir, text, "-o", out).exit_code == 0
    assert out.read_text(encoding="utf-8").count("# text = ") == 2
    assert run("tag", model_dir, text, "-o", tmp_path / "no" / "out.conllu").exit_code == 1


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/null and /dev/full")
def test_a_device_as_the_output_is_written_to_not_replaced(model_dir, tmp_path):
    import stat

    text = tmp_path / "notes.txt"
    text.write_text("The cat sleeps.\n", encoding="utf-8")
    assert run("tag", model_dir, text, "-o", "/dev/null").exit_code == 0
    full = run("tag", model_dir, text, "-o", "/dev/full")
    assert full.exit_code == 1 and "/dev/full: No space left on device" in full.stderr
    assert all(stat.S_ISCHR(Path(d).stat().st_mode) for d in ("/dev/null", "/dev/full"))


def test_the_sentences_before_a_malformed_one_are_written_and_the_page_is_closed(model_dir, tmp_path):
    good = "1\tBirds\t_\t_\t_\t_\t0\troot\t_\t_\n\n"
    conllu = tmp_path / "in.conllu"
    conllu.write_text(good * 5 + "1\tBirds\t_\t_\t_\t_\t0\troot\n\n", encoding="utf-8")
    result = run("tag", model_dir, conllu)  # the default --chunk-size: the five are in the bad one's chunk
    assert result.exit_code == 1 and "in.conllu:11: expected 10 tab-separated columns" in result.stderr
    assert result.stdout.count("\n1\tBirds\t") + result.stdout.startswith("1\tBirds") == 5
    page = tmp_path / "trees.html"
    assert run("tag", model_dir, conllu, "--format", "html", "-o", page).exit_code == 1
    assert page.read_text(encoding="utf-8").endswith("</body></html>\n")


def test_standard_input_that_is_not_utf8_is_one_line_and_crlf_raw_text_is_split_as_lf(model_dir):
    for command, data in (("tag", b"A dog \xff runs.\n"), ("pair", b"A \xff\tB\n")):
        result = run(command, model_dir, "-", input=data)
        assert result.exit_code == 1 and "<stdin>: expected UTF-8 text" in result.stderr
        assert "\udcff" not in result.stdout
    lf = run("tag", model_dir, "-", "--format", "jsonl", input="The cat sleeps.\nBirds sing.\n")
    crlf = run("tag", model_dir, "-", "--format", "jsonl", input="The cat sleeps.\r\nBirds sing.\r\n")
    assert lf.exit_code == crlf.exit_code == 0
    assert [json.loads(x)["tokens"] for x in crlf.stdout.splitlines()] == [json.loads(x)["tokens"] for x in lf.stdout.splitlines()]


def test_an_empty_form_in_conllu_is_an_error_at_its_line(model_dir, tmp_path):
    conllu = tmp_path / "in.conllu"
    conllu.write_text("1\tBirds\t_\t_\t_\t_\t0\troot\t_\t_\n2\t\t_\t_\t_\t_\t1\tdep\t_\t_\n\n", encoding="utf-8")
    result = run("tag", model_dir, conllu)
    assert result.exit_code == 1 and "in.conllu:2: expected a FORM" in result.stderr


@pytest.mark.parametrize("fmt", ["tsv", "jsonl"])
def test_pair_scores_every_pair(model_dir, tmp_path, fmt):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("A man is playing a guitar\tA man plays an instrument\nA cat sleeps\tNobody sleeps\n",
                     encoding="utf-8")
    for path, n in ((pairs, 2), (SAMPLE / "pairs_dev.tsv", 80), (SAMPLE / "pairs_dev.jsonl", 60)):
        result = run("pair", model_dir, path, "--format", fmt)
        assert result.exit_code == 0, result.stderr
        lines = result.stdout.splitlines()
        rows = [json.loads(line) for line in lines] if fmt == "jsonl" else [line.split("\t") for line in lines[1:]]
        assert len(rows) == n
        for row in rows:
            score = row["relatedness"] if fmt == "jsonl" else float(row[1])
            assert 1.0 <= score <= 5.0
            label = row["entailment"] if fmt == "jsonl" else row[2]
            assert label in ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")
            if fmt == "jsonl":
                assert abs(sum(row["probabilities"].values()) - 1) < 1e-4


@pytest.mark.parametrize("name", ["pairs_dev.tsv", "pairs_dev.jsonl", "plain.tsv"])
def test_pair_reads_standard_input_as_it_reads_the_file(model_dir, tmp_path, name):
    path = SAMPLE / name  # a SICK file (header row, ids, gold columns) and NLI JSON lines
    if name == "plain.tsv":  # premise<TAB>hypothesis lines, after a blank one
        path = tmp_path / name
        path.write_text("\nA man is playing a guitar\tA man plays an instrument\nA cat sleeps\tNobody sleeps\n",
                        encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    from_file = run("pair", model_dir, path, "--format", "jsonl")
    from_stdin = run("pair", model_dir, "-", "--format", "jsonl", input="\ufeff" + text)  # with a byte-order mark
    assert from_file.exit_code == 0 and from_stdin.exit_code == 0, from_stdin.stderr
    assert from_stdin.stdout == from_file.stdout and from_stdin.stdout.count("\n") >= 2
    if name == "pairs_dev.tsv":
        assert json.loads(from_stdin.stdout.splitlines()[0])["pair_id"] == "708"


def test_bad_pair_line_names_file_and_line(model_dir, tmp_path):
    pairs = tmp_path / "bad.tsv"
    pairs.write_text("one sentence only\n", encoding="utf-8")
    result = run("pair", model_dir, pairs)
    assert result.exit_code == 1 and "bad.tsv:1" in result.stderr
    result = run("pair", model_dir, "-", input="fine\tpair\n\n[1, 2]\n")
    assert result.exit_code == 1 and "<stdin>:3" in result.stderr and "2 tab-separated" in result.stderr
    result = run("pair", model_dir, "-", input='{"premise": "a b", "hypothesis": "c"}\n[1, 2]\n')
    assert result.exit_code == 1 and "<stdin>:2" in result.stderr and "sentence1/sentence2" in result.stderr


def test_python_api_tags_strings_and_token_lists_alike(model_dir):
    import jmt

    nlp = jmt.load(model_dir)
    a, b = nlp.tag(["The cat sleeps.", ["The", "cat", "sleeps", "."]])
    assert a == b and a["words"] == ["The", "cat", "sleeps", "."]
    assert {"upos", "xpos", "chunks", "heads", "deprels"} <= set(a)
    scores = nlp.pair(["A cat sleeps"], [["A", "cat", "sleeps"]])
    assert 1 <= scores[0]["relatedness"] <= 5 and scores[0]["entailment"]
    with pytest.raises(ValueError):
        nlp.pair(["a"], [])
    assert nlp.pair("A cat sleeps", "A cat sleeps") == scores  # two strings are one pair, not pairs of letters
    with pytest.raises(TypeError):
        nlp.pair("A cat sleeps", ["A cat sleeps"])


def test_python_api_takes_strings_in_one_pass_and_refuses_what_is_not_a_word(model_dir):
    import jmt

    nlp = jmt.load(model_dir)
    texts = ["The cat sleeps.", "Birds sing.", "Dogs chase the cats"]
    calls = []
    segment_many = nlp.segmenter.segment_many
    nlp.segmenter.segment_many = lambda *a, **k: calls.append(a) or segment_many(*a, **k)
    tagged = nlp.tag([texts[0], ["Birds", "sing", "."], *texts[1:]])
    assert len(calls) == 1 and calls[0][0] == texts  # one segmenter pass for all the strings
    assert [t["words"] for t in tagged[:2]] == [["The", "cat", "sleeps", "."], ["Birds", "sing", "."]]
    assert tagged[2] == tagged[1] and len(tagged) == 4
    assert set(nlp.tag([["Birds", "sing"]], tasks="dep")[0]) == {"words", "heads", "deprels", "greedy_was_tree"}
    for word in ("", " ", "\t"):
        with pytest.raises(ValueError, match="sentence 2, word 2"):
            nlp.tag([["Birds"], ["Birds", word, "sing"]])
    with pytest.raises(ValueError, match="sentence pairs"):
        nlp.tag([["Birds", "sing"]], tasks=["relatedness"])
    with pytest.raises(ValueError, match="tokenizer must be one of model, spacy, not 'bad'"):
        jmt.load(model_dir, tokenizer="bad")  # at once, not at the first raw text


@pytest.mark.parametrize("decoder", ["greedy", "eisner", "chu-liu-edmonds"])
def test_the_tree_decoder_can_be_chosen_when_tagging_and_evaluating(model_dir, tmp_path, decoder):
    src = tmp_path / "in.txt"
    src.write_text("the cat sat on the mat .\ndogs bark loudly at night\n", encoding="utf-8")
    result = run("tag", model_dir, src, "--input-format", "tokenized", "--format", "jsonl", "--decoder", decoder)
    assert result.exit_code == 0, result.stderr
    heads = [json.loads(line)["heads"] for line in result.stdout.splitlines()]
    if decoder != "greedy":
        assert all(is_tree(h) for h in heads)
    result = run("evaluate", model_dir, "--test", f"dep={SAMPLE / 'dev.conllu'}", "--decoder", decoder)
    assert result.exit_code == 0, result.stderr
    assert "uas" in result.stdout


def test_an_unknown_decoder_is_one_line(model_dir):
    result = run("evaluate", model_dir, "--test", f"dep={SAMPLE / 'dev.conllu'}", "--decoder", "cky")
    assert result.exit_code == 1
    assert result.stderr.strip() == "error: --decoder must be one of greedy, greedy+eisner, eisner, chu-liu-edmonds, not 'cky'"


def test_threads_change_the_speed_only(model_dir):
    import torch

    before = torch.get_num_threads()
    try:
        out = {}
        for threads in (1, 2):
            result = run("tag", model_dir, SAMPLE / "dev.conllu", "--input-format", "conllu", "--format", "jsonl",
                         "--threads", threads)
            assert result.exit_code == 0, result.stderr
            out[threads] = result.stdout
        assert out[1] == out[2] and out[1].count("\n") == 80
    finally:
        torch.set_num_threads(before)
    assert run("tag", model_dir, "--threads", 0).exit_code != 0


def test_bf16_precision_tags_every_word_and_a_wrong_one_is_a_one_line_error(model_dir, monkeypatch):
    monkeypatch.setattr("jmt.predict.cpu_has_bf16_units", lambda: True)
    result = run("tag", model_dir, SAMPLE / "dev.conllu", "--input-format", "conllu", "--format", "jsonl",
                 "--precision", "bf16")
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(rows) == 80 and all(len(r["upos"]) == len(r["tokens"]) == len(r["heads"]) for r in rows)
    bad = run("tag", model_dir, SAMPLE / "dev.conllu", "--precision", "fp16")
    assert bad.exit_code == 1 and bad.stderr.strip().count("\n") == 0 and "fp32, bf16, auto" in bad.stderr


def test_bf16_without_bf16_units_warns_in_one_line_and_auto_stays_fp32(model_dir, monkeypatch):
    monkeypatch.setattr("jmt.predict.cpu_has_bf16_units", lambda: False)
    args = ("tag", model_dir, SAMPLE / "dev.conllu", "--input-format", "conllu", "--format", "jsonl")
    slow = run(*args, "--precision", "bf16")
    assert slow.exit_code == 0, slow.stderr
    assert slow.stderr.count("warning:") == 1 and "no bf16 units" in slow.stderr
    assert slow.stderr.strip().count("\n") == 0
    exact, auto = run(*args), run(*args, "--precision", "auto")
    assert auto.exit_code == 0 and auto.stderr == ""
    assert auto.stdout == exact.stdout  # auto is fp32 here: the same predictions


def test_prediction_batches_default_by_device_and_batch_size_still_wins(model_dir):
    import jmt
    from jmt.predict import BATCH_SIZE, GPU_BATCH_SIZE, GPU_MAX_BATCH_TOKENS, MAX_BATCH_TOKENS, Predictor

    nlp = jmt.load(model_dir)
    assert (nlp.predictor.batch_size, nlp.predictor.max_tokens) == (BATCH_SIZE, MAX_BATCH_TOKENS)
    assert jmt.load(model_dir, batch_size=7).predictor.batch_size == 7
    # A model anywhere but the CPU (a GPU; the meta device stands in for one here) gets the
    # larger batches unless asked otherwise.
    elsewhere = Predictor(nlp.model.to("meta"), nlp.vocabs)
    assert (elsewhere.batch_size, elsewhere.max_tokens) == (GPU_BATCH_SIZE, GPU_MAX_BATCH_TOKENS)
    assert GPU_BATCH_SIZE > BATCH_SIZE and GPU_MAX_BATCH_TOKENS > MAX_BATCH_TOKENS
    assert Predictor(nlp.model, nlp.vocabs, batch_size=9, max_tokens=100).max_tokens == 100
