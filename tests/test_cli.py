"""The ``jmt`` command line through Typer's test runner: train, evaluate, info, and bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SAMPLE, chunk_text, conllu_text, pairs_text
from jmt.cli import app

runner = CliRunner()

SMALL_TOML = """
[model]
word_dim = 16
char_dim = 16
hidden = 16
label_dim = 16
head_hidden = 16
dep_label_hidden = 16

[train]
progress = false
"""


def invoke(*args: str):
    return runner.invoke(app, [str(a) for a in args])


def assert_one_line_error(result, *fragments: str) -> None:
    """Exit 1, one ``error: ...`` line on stderr, no traceback, nothing escaped the app."""
    assert result.exit_code == 1, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught exception
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli_corpora")
    files = {"conllu": root / "tiny.conllu", "chunk": root / "chunk.txt", "pairs": root / "pairs.tsv",
             "config": root / "small.toml", "config_tiny_batches": root / "tiny_batches.toml"}
    files["conllu"].write_text(conllu_text(), encoding="utf-8")
    files["chunk"].write_text(chunk_text(), encoding="utf-8")
    files["pairs"].write_text(pairs_text(), encoding="utf-8")
    files["config"].write_text(SMALL_TOML, encoding="utf-8")
    files["config_tiny_batches"].write_text(SMALL_TOML + "batch_size = 2\ndep_batch_size = 2\n", encoding="utf-8")
    return files


@pytest.fixture(scope="module")
def model_dir(corpora, tmp_path_factory) -> Path:
    """A model for upos, chunk and dep trained through the CLI (enough steps that its scores
    are not near-ties, which batch size could flip)."""
    out = tmp_path_factory.mktemp("cli_model") / "model"
    c, k = corpora["conllu"], corpora["chunk"]
    result = invoke("train", corpora["config_tiny_batches"], "-o", out, "--train", f"upos={c}", "--train", f"dep={c}",
                    "--train", f"chunk={k}", "--dev", f"upos={c}", "--dev", f"chunk={k}", "--epochs", "10",
                    "--seed", "3", "--optimizer", "adam", "--lr", "0.01")
    assert result.exit_code == 0, (result.stderr, result.exception)
    return out


# ----------------------------------------------------------------------------- train


def test_train_with_flags_writes_a_model(corpora, tmp_path):
    out = tmp_path / "m"
    c = corpora["conllu"]
    result = invoke("train", "-o", out, "--train", f"upos={c}", "--dev", f"upos={c}", "--epochs", "1")
    assert result.exit_code == 0, (result.stderr, result.exception)
    for name in ("config.json", "vocab.json", "model.safetensors", "metrics.json", "metrics.jsonl"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["tasks"] == ["upos"]
    assert config["train"]["epochs"] == 1
    assert config["data"]["train"] == {"upos": str(c)}
    assert "saved the model of epoch 1" in result.stderr
    assert result.stdout == ""  # logs go to stderr


@pytest.mark.slow
def test_train_flags_override_the_config_file(model_dir):
    config = json.loads((model_dir / "config.json").read_text())
    assert config["tasks"] == ["upos", "chunk", "dep"]
    assert config["model"]["hidden"] == 16  # from the TOML file
    assert config["train"]["epochs"] == 10 and config["train"]["seed"] == 3
    assert config["train"]["batch_size"] == 2
    assert config["train"]["optimizer"] == "adam" and config["train"]["lr"] == 0.01
    assert set(config["data"]["dev"]) == {"upos", "chunk"}


def test_any_config_key_is_settable_and_checked_like_the_toml_file(corpora, tmp_path):
    out = tmp_path / "m"
    c = corpora["conllu"]
    result = invoke("train", corpora["config"], "-o", out, "--train", f"upos={c}", "--epochs", "1",
                    "--set", "model.hidden=12", "--set", "train.lr=0.003", "--set", "train.select_metric=last",
                    "--set", "model.chunk_crf=true", "--set", "train.seed=5", "--seed", "4")
    assert result.exit_code == 0, (result.stderr, result.exception)
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["hidden"] == 12 and config["train"]["lr"] == 0.003
    assert config["train"]["select_metric"] == "last" and config["model"]["chunk_crf"] is True
    assert config["train"]["seed"] == 4  # a flag is the shorthand of its key, and wins over --set
    for setting, message in (("train.lrr=0.1", "unknown config key 'train.lrr'"),
                             ("train.epochs=many", "'train.epochs' must be int"),
                             ("lr=0.1", "expected SECTION.KEY=VALUE")):
        bad = invoke("train", "-o", tmp_path / "x", "--train", f"upos={c}", "--set", setting)
        assert_one_line_error(bad, message)


@pytest.mark.slow
def test_train_without_corpus_uses_the_samples(corpora, tmp_path):
    out = tmp_path / "m"
    result = invoke("train", corpora["config"], "-o", out, "--epochs", "1")
    assert result.exit_code == 0, (result.stderr, result.exception)
    config = json.loads((out / "config.json").read_text())
    # every task with sample corpora, bottom-up (feats and lemma sit at depth 2 beside chunk)
    assert config["tasks"] == ["upos", "xpos", "chunk", "feats", "lemma", "dep", "relatedness", "entailment"]
    for task, path in config["data"]["train"].items():
        assert Path(path).resolve().parent == SAMPLE.resolve(), (task, path)
    assert set(config["data"]["dev"]) == set(config["data"]["train"])
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics["dev"]) == set(config["tasks"])


# ----------------------------------------------------------------------------- evaluate and info


def test_evaluate_prints_a_table_and_writes_json(model_dir, corpora, tmp_path):
    json_path = tmp_path / "scores.json"
    c, k = corpora["conllu"], corpora["chunk"]
    result = invoke("evaluate", model_dir, "--test", f"upos={c}", "--test", f"dep={c}", "--test", f"chunk={k}",
                    "--json", json_path)
    assert result.exit_code == 0, (result.stderr, result.exception)
    scores = json.loads(json_path.read_text())
    assert set(scores) == {"upos", "dep", "chunk"}
    lines = result.stdout.splitlines()
    upos_line = next(line for line in lines if line.startswith("upos"))
    assert f"accuracy {scores['upos']['accuracy']:.2f}" in upos_line
    dep_line = next(line for line in lines if line.startswith("dep"))
    for key in ("uas", "las", "uas_nopunct", "las_nopunct"):
        assert f"{key} {scores['dep'][key]:.2f}" in dep_line
    chunk_line = next(line for line in lines if line.startswith("chunk"))
    assert f"f1 {scores['chunk']['f1']:.2f}" in chunk_line
    for ctype in scores["chunk"]["per_type"]:
        assert any(line.strip().startswith(ctype) for line in lines), ctype
    assert scores["upos"]["tokens"] == sum(1 for line in conllu_text().splitlines() if line[:1].isdigit())


def test_evaluate_batch_size_does_not_change_scores(model_dir, corpora, tmp_path):
    c = corpora["conllu"]
    runs = []
    for size in ("1", "64"):
        path = tmp_path / f"s{size}.json"
        result = invoke("evaluate", model_dir, "--test", f"dep={c}", "--batch-size", size, "--json", path)
        assert result.exit_code == 0, result.stderr
        runs.append(json.loads(path.read_text()))
    assert runs[0] == runs[1]


def test_info_lists_tasks_and_labels(model_dir):
    result = invoke("info", model_dir)
    assert result.exit_code == 0, (result.stderr, result.exception)
    out = result.stdout
    assert "tasks      upos, chunk, dep" in out
    vocab = json.loads((model_dir / "vocab.json").read_text())
    for name, labels in vocab["labels"].items():
        line = next(line for line in out.splitlines() if line.startswith(f"labels     {name} "))
        assert f"({len(labels)})" in line
        assert all(label in line.split(":", 1)[1].split() for label in labels[:60]), name
    assert "dev scores of epoch" in out
    assert "segmenter  none" in out  # raw text goes to spaCy's rules


def test_info_names_a_models_segmenter_and_its_dev_scores():
    result = invoke("info", "en")  # the shipped model, found by name
    assert result.exit_code == 0, result.stderr
    assert "segmenter  for raw text (en), trained on en_ewt-ud-train.conllu; dev F1 tokens" in result.stdout


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize("value, fragment", [("foo=x.conllu", "unknown task 'foo'"), ("upos", "TASK=PATH"),
                                             ("upos=", "TASK=PATH")])
def test_bad_task_path_is_a_usage_error(value, fragment, tmp_path):
    result = invoke("train", "-o", tmp_path / "m", "--train", value)
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert fragment in result.stderr
    assert not (tmp_path / "m").exists()


def test_missing_output_option_is_a_usage_error(corpora, tmp_path, monkeypatch):
    result = invoke("train", "--train", f"upos={corpora['conllu']}")
    assert result.exit_code == 2
    monkeypatch.chdir(tmp_path)  # an empty -o would have been the current directory
    result = invoke("train", "-o", "", "--train", f"upos={corpora['conllu']}", "--epochs", "1")
    assert result.exit_code == 2 and "missing option -o" in result.stderr and not list(tmp_path.iterdir())


def test_a_toml_that_is_not_utf8_and_a_language_that_is_no_code_are_one_line(corpora, tmp_path):
    toml = tmp_path / "bad.toml"
    toml.write_bytes(b"\xff[train]\n")
    assert_one_line_error(invoke("train", toml, "-o", tmp_path / "m"), f"{toml}: expected UTF-8 text")
    toml.write_text("[model]\ndropout = 1.5\n", encoding="utf-8")  # a bad number is named with its file
    assert_one_line_error(invoke("train", toml, "-o", tmp_path / "m"), f"{toml}: model.dropout must be in [0, 1)")
    result = invoke("train", "-o", tmp_path / "m", "--train", f"upos={corpora['conllu']}", "--lang", "French")
    assert_one_line_error(result, "data.lang must be an ISO 639 language code", "'French'")


def test_a_corpus_that_the_toml_names_and_is_not_there_names_the_toml(corpora, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths in a recipe are read from the working directory
    toml = tmp_path / "recipes" / "r.toml"
    toml.parent.mkdir()
    toml.write_text('[data]\ntrain = { upos = "ewt/train.conllu" }\n', encoding="utf-8")
    result = invoke("train", toml, "-o", tmp_path / "m", "--epochs", "1")
    assert_one_line_error(result, f"{toml}: [data] train.upos = 'ewt/train.conllu': no such file",
                          "read from the working directory")
    assert not (tmp_path / "m").exists()
    # given on the command line instead, the recipe's path is not looked at
    result = invoke("train", toml, "-o", tmp_path / "m", "--epochs", "1", "--train", f"upos={corpora['conllu']}",
                    "--no-vectors")
    assert result.exit_code == 0, result.output


def test_help_text_keeps_its_square_brackets():
    result = invoke("train", "--help")
    assert "[model], [train] and [data] tables" in result.output and "jmt[encoders]" in result.output


def test_missing_corpus_file_is_one_line_error(tmp_path):
    missing = tmp_path / "nowhere.conllu"
    result = invoke("train", "-o", tmp_path / "m", "--train", f"upos={missing}", "--epochs", "1")
    assert_one_line_error(result, str(missing))


def test_malformed_conllu_names_file_and_line(tmp_path):
    text = conllu_text().splitlines()
    # spoil the HEAD of the third word of the first sentence
    lineno = next(i for i, line in enumerate(text, 1) if line.startswith("3\t"))
    cols = text[lineno - 1].split("\t")
    cols[6] = "two"
    text[lineno - 1] = "\t".join(cols)
    bad = tmp_path / "bad.conllu"
    bad.write_text("\n".join(text) + "\n", encoding="utf-8")
    result = invoke("train", "-o", tmp_path / "m", "--train", f"dep={bad}", "--epochs", "1")
    assert_one_line_error(result, f"{bad}:{lineno}", "HEAD")


def test_evaluate_on_a_task_the_model_lacks(model_dir, corpora):
    result = invoke("evaluate", model_dir, "--test", f"entailment={corpora['pairs']}")
    assert_one_line_error(result, "entailment")


def test_evaluate_a_directory_that_is_not_a_model(tmp_path, corpora):
    result = invoke("evaluate", tmp_path, "--test", f"upos={corpora['conllu']}")
    assert_one_line_error(result, "config.json")
    result = invoke("info", tmp_path / "nothing")
    assert_one_line_error(result)


def test_evaluate_task_on_the_wrong_format(model_dir, corpora):
    result = invoke("evaluate", model_dir, "--test", f"upos={corpora['pairs']}")
    assert_one_line_error(result, str(corpora["pairs"]), "task 'upos' reads tagged sentences")


def test_evaluate_json_into_a_missing_folder_fails_before_evaluating(model_dir, corpora, tmp_path):
    result = invoke("evaluate", model_dir, "--test", f"upos={corpora['conllu']}", "--json", tmp_path / "no" / "s.json")
    assert_one_line_error(result, "no such directory")
    assert "accuracy" not in result.stdout


def test_info_names_a_corrupt_metrics_file(model_dir, tmp_path):
    import shutil

    copy = shutil.copytree(model_dir, tmp_path / "copy")
    (copy / "metrics.json").write_text('{"epoch": 3,', encoding="utf-8")
    assert_one_line_error(invoke("info", copy), f"{copy / 'metrics.json'}: not valid JSON")


def test_dev_without_train_is_an_error(corpora, tmp_path):
    result = invoke("train", "-o", tmp_path / "m", "--dev", f"upos={corpora['conllu']}")
    assert_one_line_error(result, "--dev")


def test_unknown_config_key_in_toml_is_an_error(corpora, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model]\nhiden = 3\n", encoding="utf-8")
    result = invoke("train", bad, "-o", tmp_path / "m", "--train", f"upos={corpora['conllu']}")
    assert_one_line_error(result, "bad.toml", "model.hiden")


def test_entailment_without_relatedness_is_an_error(corpora, tmp_path):
    result = invoke("train", "-o", tmp_path / "m", "--train", f"entailment={corpora['pairs']}")
    assert_one_line_error(result, "relatedness")


def test_bad_optimizer_is_an_error(corpora, tmp_path):
    result = invoke("train", "-o", tmp_path / "m", "--train", f"upos={corpora['conllu']}", "--optimizer", "rmsprop")
    assert_one_line_error(result, "optimizer")


def test_command_line_corpora_are_merged_with_the_config_file(tmp_path):
    from jmt.cli import app
    from typer.testing import CliRunner

    sample = Path(__file__).resolve().parents[1] / "corpora" / "sample"
    cfg = tmp_path / "c.toml"
    cfg.write_text("[model]\nword_dim = 16\nchar_dim = 16\nhidden = 16\nlabel_dim = 16\nhead_hidden = 16\n"
                   "dep_label_hidden = 16\n[train]\nprogress = false\n"
                   f"[data]\ntrain = {{ upos = \"{sample / 'dev.conllu'}\" }}\n"
                   f"dev = {{ upos = \"{sample / 'dev.conllu'}\" }}\n", encoding="utf-8")
    out = tmp_path / "m"
    result = CliRunner().invoke(app, ["train", str(cfg), "-o", str(out), "--epochs", "1",
                                      "--train", f"xpos={sample / 'dev.conllu'}"])
    assert result.exit_code == 0, result.stderr
    saved = json.loads((out / "config.json").read_text())
    assert set(saved["data"]["train"]) == {"upos", "xpos"} and set(saved["data"]["dev"]) == {"upos"}


def test_a_task_given_twice_trains_on_both_corpora_but_has_one_dev_set(corpora, tmp_path):
    from jmt.cli import parse_task_paths

    assert parse_task_paths(["xpos=a", "upos=a", "xpos=b", "xpos=c"], "--train", several=True) == {
        "xpos": ["a", "b", "c"], "upos": "a"}
    result = invoke("train", "-o", tmp_path / "m", "--train", f"upos={corpora['conllu']}",
                    "--dev", f"upos={corpora['conllu']}", "--dev", "upos=other.conllu")
    assert result.exit_code == 2, (result.stderr, result.exception)
    assert "upos is given twice" in result.stderr
    assert not (tmp_path / "m").exists()


def test_a_damaged_model_directory_is_one_line_and_exit_1(tmp_path):
    from jmt.cli import app
    from typer.testing import CliRunner

    (tmp_path / "config.json").write_text('{"format_version": 1}', encoding="utf-8")
    result = CliRunner().invoke(app, ["info", str(tmp_path)])
    assert result.exit_code == 1
    assert "vocab.json: missing from the model directory" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    (tmp_path / "vocab.json").write_text("{}", encoding="utf-8")
    (tmp_path / "model.safetensors").write_bytes(b"")
    result = CliRunner().invoke(app, ["info", str(tmp_path)])
    assert result.exit_code == 1
    assert "config.json: not valid for a jmt model" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_test_file_without_labels_gets_a_note_that_its_las_counts_heads_only(model_dir, corpora, tmp_path):
    unlabeled = tmp_path / "unlabeled.conllu"
    unlabeled.write_text("".join("\t".join(c if i != 7 else "_" for i, c in enumerate(line.split("\t")))
                                 if line.count("\t") == 9 else line
                                 for line in Path(corpora["conllu"]).read_text(encoding="utf-8").splitlines(True)),
                         encoding="utf-8")
    result = invoke("evaluate", model_dir, "--test", f"dep={unlabeled}")
    assert result.exit_code == 0, result.output
    assert "has no DEPREL labels, so its LAS counts heads only" in result.stderr
    labeled = invoke("evaluate", model_dir, "--test", f"dep={corpora['conllu']}")
    assert labeled.exit_code == 0 and "DEPREL" not in labeled.stderr
    two_roots = tmp_path / "two_roots.conllu"
    two_roots.write_text("1\tA\t_\tX\t_\t_\t0\troot\t_\t_\n2\tB\t_\tX\t_\t_\t0\troot\t_\t_\n\n", encoding="utf-8")
    result = invoke("evaluate", model_dir, "--test", f"dep={two_roots}")
    assert result.exit_code == 1 and f"{two_roots}:1: expected one word attached to the root, got 2" in result.stderr


def test_a_model_directory_with_wrong_json_or_broken_weights_is_named_in_one_line(model_dir, tmp_path):
    import shutil

    from safetensors.torch import load_file, save_file

    bad = tmp_path / "m"
    shutil.copytree(model_dir, bad)
    config = (bad / "config.json").read_text(encoding="utf-8")

    def info_error() -> str:
        result = invoke("info", bad)
        assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1, result.output
        return result.stderr

    (bad / "config.json").write_text("null", encoding="utf-8")
    assert "config.json: expected a JSON object" in info_error()
    (bad / "config.json").write_text(config.replace('"tasks": [', '"tasks": ["frobnicate", '), encoding="utf-8")
    assert "config.json: tasks ['frobnicate'] are not tasks this jmt knows" in info_error()
    (bad / "config.json").write_text(config.replace('"format_version"', '"version"'), encoding="utf-8")
    assert "not a jmt model's config (it has no format_version)" in info_error()
    (bad / "config.json").write_text(config.replace('"greedy+eisner"', '"nope"'), encoding="utf-8")
    assert "config.json: train.decoder 'nope' is not one of" in info_error()
    (bad / "config.json").write_text(config, encoding="utf-8")
    weights = load_file(bad / "model.safetensors")
    weights["embed.words.weight"][1, 0] = float("nan")
    save_file(weights, bad / "model.safetensors")
    assert "model.safetensors: NaN or infinite values in 1 weight tensors, embed.words.weight first" in info_error()
    shutil.copy(model_dir / "model.safetensors", bad / "model.safetensors")
    (bad / "metrics.json").write_text('{"dev": {"upos": 95.1}}', encoding="utf-8")
    assert "metrics.json: not a jmt metrics record (dev scores are not an object per task)" in info_error()
    (bad / "metrics.json").write_text('{"calibration": {"pairs": 3}}', encoding="utf-8")
    assert "calibration lacks numeric pairs, scale and shift" in info_error()


# ----------------------------------------------------------------------------- devices


def test_device_auto_and_cpu_give_the_same_scores(model_dir, corpora, tmp_path):
    scores = {}
    for device in ("cpu", "auto"):
        result = invoke("evaluate", model_dir, "--test", f"upos={corpora['conllu']}", "--device", device,
                        "--json", tmp_path / f"{device}.json")
        assert result.exit_code == 0, (result.stderr, result.exception)
        scores[device] = json.loads((tmp_path / f"{device}.json").read_text())
    assert scores["cpu"] == scores["auto"]


@pytest.mark.parametrize("device, fragment", [("gpu", "expected auto, cpu, cuda or cuda:N"),
                                              ("cuda:99", "device 'cuda:99'")])
def test_an_unusable_device_is_a_one_line_error(model_dir, corpora, device, fragment):
    import torch

    if device.startswith("cuda") and torch.cuda.device_count() > 99:
        pytest.skip("a machine with 100 GPUs")
    for command in (["evaluate", model_dir, "--test", f"upos={corpora['conllu']}"], ["tag", model_dir]):
        assert_one_line_error(invoke(*command, "--device", device), fragment)


def test_keep_epochs_saves_a_model_directory_per_epoch(corpora, tmp_path):
    out, c = tmp_path / "m", corpora["conllu"]
    result = invoke("train", corpora["config"], "-o", out, "--train", f"upos={c}", "--dev", f"upos={c}",
                    "--epochs", "2", "--keep-epochs", "--device", "cpu")
    assert result.exit_code == 0, (result.stderr, result.exception)
    log = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    for epoch in (1, 2):
        saved = json.loads((out / f"epoch{epoch}" / "metrics.json").read_text())
        assert saved == log[epoch - 1]  # that epoch's own model and scores
        scored = invoke("evaluate", out / f"epoch{epoch}", "--test", f"upos={c}", "--json", tmp_path / "s.json")
        assert scored.exit_code == 0, scored.stderr
        assert json.loads((tmp_path / "s.json").read_text())["upos"]["accuracy"] == saved["dev"]["upos"]["accuracy"]


def test_a_finished_run_is_averaged_by_resuming_it_with_average_last(corpora, tmp_path):
    out, c = tmp_path / "m", corpora["conllu"]
    result = invoke("train", corpora["config"], "-o", out, "--train", f"upos={c}", "--dev", f"upos={c}",
                    "--epochs", "3", "--keep-epochs", "--select-metric", "last", "--device", "cpu")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "saved the model of epoch 3" in result.stderr
    result = invoke("train", "--resume", out, "--average-last", "2", "--device", "cpu")
    assert result.exit_code == 0, (result.stderr, result.exception)
    assert "saved the model of epochs 2-3 averaged" in result.stderr  # with select_metric last, always kept
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["averaged_epochs"] == [2, 3]
    scored = invoke("evaluate", out, "--test", f"upos={c}", "--json", tmp_path / "s.json")
    assert scored.exit_code == 0, scored.stderr
    assert json.loads((tmp_path / "s.json").read_text())["upos"]["accuracy"] == metrics["dev"]["upos"]["accuracy"]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3  # no epoch trained again
