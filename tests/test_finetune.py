"""Fine-tuning a trained model (``train.init_from``, ``jmt train --init-from``): only the
tasks given train, the parameters below ``freeze_below`` keep their values, and a
fine-tuning that does not fit the model is one clear error."""
from __future__ import annotations

import json
import shutil
from dataclasses import replace

import pytest
import torch
from safetensors.torch import load_file, save_file
from typer.testing import CliRunner

from conftest import PAPER_TASKS, SAMPLE, quiet, small_model, tiny_config, write_tiny_corpora
from jmt.data.conllu import read_conllu
from jmt.cli import app
from jmt.api import model_path
from jmt.config import ConfigError
from jmt.io import load_model
from jmt.predict import Predictor
from jmt.segment import SegmenterConfig, has_segmenter, train_segmenter
from jmt.train import Trainer

SENTENCES = [["The", "cat", "sleeps", "."], ["She", "saw", "a", "big", "bird", "today", "."]]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A model of the paper's six tasks, trained one epoch on the tiny corpora."""
    root = tmp_path_factory.mktemp("base")
    files = write_tiny_corpora(root)
    Trainer(tiny_config(files, PAPER_TASKS, dev=True), root / "model", log=quiet).train()
    return root / "model", files


def finetune(base, out, tasks=("relatedness", "entailment"), **train):
    model_dir, files = base
    cfg = tiny_config(files, tasks, dev=True, init_from=str(model_dir), **{"epochs": 2, **train})
    Trainer(cfg, out, log=quiet).train()
    return out


@pytest.mark.slow
def test_frozen_depths_keep_their_weights_and_the_tasks_below_their_outputs(base, tmp_path):
    out = finetune(base, tmp_path / "ft", freeze_below=4)
    before, after = load_file(str(base[0] / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert before.keys() == after.keys()
    depths = {"relatedness": 4, "entailment": 5}
    param_depths = load_model(base[0])[0].parameter_depths()
    frozen = [n for n in before if n in param_depths and param_depths[n] < 4]
    trained = [n for n in before if n.startswith(("layers.relatedness.", "layers.entailment.",
                                                  "heads.relatedness.", "heads.entailment."))
               and n.endswith("weight")]
    assert frozen and trained
    assert all(torch.equal(before[n], after[n]) for n in frozen)
    assert all(not torch.equal(before[n], after[n]) for n in trained), "the fine-tuned layers did not move"
    assert set(depths) <= set(load_model(out)[0].heads)

    tags = [Predictor(*load_model(d)[:2]).tag(SENTENCES, tasks=["upos", "xpos", "chunk", "dep"]) for d in (base[0], out)]
    assert tags[0] == tags[1]


def test_the_fine_tuned_model_records_where_it_started_and_is_calibrated_anew(base, tmp_path):
    model_dir, files = base
    cfg = tiny_config(files, ("relatedness", "entailment"), init_from=str(model_dir), freeze_below=4)
    cfg.data.dev = {"relatedness": str(SAMPLE / "pairs_dev.tsv")}  # 80 pairs: enough to calibrate on
    out = tmp_path / "ft"
    Trainer(cfg, out, log=quiet).train()
    config = json.loads((out / "config.json").read_text())
    assert config["train"]["init_from"] == str(base[0])
    assert config["tasks"] == json.loads((base[0] / "config.json").read_text())["tasks"]
    assert sorted(config["data"]["train"]) == ["entailment", "relatedness"]
    metrics = json.loads((out / "metrics.json").read_text())
    fit = metrics["calibration"]
    head = load_model(out)[0].heads["relatedness"]
    assert (head.scale, head.shift) == pytest.approx((fit["scale"], fit["shift"]))


def test_without_freezing_the_lower_layers_move_too(base, tmp_path):
    out = finetune(base, tmp_path / "ft", tasks=("upos",), freeze_below=0)
    before, after = load_file(str(base[0] / "model.safetensors")), load_file(str(out / "model.safetensors"))
    assert not torch.equal(before["layers.pos.lstm.weight_ih_l0"], after["layers.pos.lstm.weight_ih_l0"])


def test_a_fine_tuning_run_resumes(base, tmp_path):
    out = finetune(base, tmp_path / "ft", freeze_below=4)
    cfg = tiny_config(base[1], ("relatedness", "entailment"), dev=True, epochs=3, init_from=str(base[0]),
                      freeze_below=4)
    Trainer(cfg, out, log=quiet, resume=True).train()
    assert [json.loads(line)["epoch"] for line in (out / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


UD_ROWS = [("The", "the", "DET", "Definite=Def|PronType=Art", 2, "det"), ("cats", "cat", "NOUN", "Number=Plur", 3, "nsubj"),
           ("sleep", "sleep", "VERB", "Mood=Ind|Tense=Pres", 0, "root"), (".", ".", "PUNCT", "_", 3, "punct")]


def ud_treebank(path):
    """A treebank with FEATS and LEMMA columns: four variants of one sentence."""
    variants = [UD_ROWS, [("A", "a", "DET", "Definite=Ind|PronType=Art", *UD_ROWS[0][4:]), *UD_ROWS[1:]],
                [UD_ROWS[0], ("dogs", "dog", "NOUN", "Number=Plur", 3, "nsubj"), *UD_ROWS[2:]],
                [UD_ROWS[0], ("dog", "dog", "NOUN", "Number=Sing", 3, "nsubj"),
                 ("slept", "sleep", "VERB", "Mood=Ind|Tense=Past", 0, "root"), UD_ROWS[3]]]
    path.write_text("".join("\n".join("\t".join([str(i), form, lemma, upos, "_", feats, str(head), rel, "_", "_"])
                                      for i, (form, lemma, upos, feats, head, rel) in enumerate(rows, 1)) + "\n\n"
                            for rows in variants), encoding="utf-8")
    return path


def test_tasks_added_in_place_keep_the_base_record_and_segmenter_and_a_new_run_clears_the_old_ones(base, tmp_path):
    model_dir, files = base
    model_dir = shutil.copytree(model_dir, tmp_path / "model")
    train_segmenter(files["conllu"], None, model_dir, SegmenterConfig(epochs=1), log=quiet)
    base_dev = json.loads((model_dir / "metrics.json").read_text())["dev"]
    treebank = str(ud_treebank(tmp_path / "ud.conllu"))
    cfg = tiny_config(files, (), init_from=str(model_dir), epochs=1, batch_size=4)
    cfg.data.train = cfg.data.dev = {"feats": treebank}
    Trainer(cfg, model_dir, log=quiet).train()  # -o the folder it starts from
    metrics = json.loads((model_dir / "metrics.json").read_text())
    assert metrics["base"]["dev"] == base_dev and has_segmenter(model_dir)
    # A new model trained into the folder replaces all of it: no segmenter or kept epochs of the old one.
    (model_dir / "epoch7").mkdir()
    (model_dir / "epoch7" / "model.safetensors").write_bytes(b"")
    Trainer(tiny_config(files, ["upos"], dev=True, epochs=2, average_last=2), model_dir, log=quiet).train()
    assert not has_segmenter(model_dir) and not (model_dir / "epoch7").exists()
    assert json.loads((model_dir / "config.json").read_text())["tasks"] == ["upos"]
    assert len((model_dir / "metrics.jsonl").read_text().splitlines()) == 2


@pytest.mark.slow
def test_tasks_added_to_a_trained_model_train_their_heads_alone_and_change_no_other_output(base, tmp_path):
    model_dir, files = base
    model_dir = shutil.copytree(model_dir, tmp_path / "base")
    train_segmenter(files["conllu"], None, model_dir, SegmenterConfig(epochs=1), log=quiet)
    weights = load_file(str(model_dir / "model.safetensors"))
    weights["heads.relatedness.calibration"] = torch.tensor([0.9, 0.2])  # a fitted line, which must stay
    save_file(weights, str(model_dir / "model.safetensors"))
    treebank = str(ud_treebank(tmp_path / "ud.conllu"))
    cfg = tiny_config(files, (), init_from=str(model_dir), epochs=30, batch_size=1)
    cfg.data.train = {"feats": treebank, "lemma": treebank}
    cfg.data.dev = dict(cfg.data.train)
    Trainer(cfg, tmp_path / "added", log=quiet).train()

    before, after = load_file(str(model_dir / "model.safetensors")), load_file(str(tmp_path / "added" / "model.safetensors"))
    assert all(torch.equal(before[name], after[name]) for name in before), "an old weight moved"
    assert {name.split(".")[1] for name in set(after) - set(before)} == {"feats", "lemma"}
    assert {name.split(".")[0] for name in set(after) - set(before)} == {"heads", "readers"}
    config = json.loads((tmp_path / "added" / "config.json").read_text())
    assert config["model"]["detached"] == ["feats", "lemma"]
    assert {"feats", "lemma"} <= set(config["tasks"])
    assert has_segmenter(tmp_path / "added"), "the segmenter did not come along"
    base_dev = json.loads((model_dir / "metrics.json").read_text())["dev"]
    metrics = json.loads((tmp_path / "added" / "metrics.json").read_text())
    assert set(metrics["dev"]) == {"feats", "lemma"}
    assert metrics["base"] == {"model": "base", "epoch": 1, "dev": base_dev}  # what the other tasks still score
    info = CliRunner().invoke(app, ["info", str(tmp_path / "added")])
    assert "feats (detached), lemma (detached)" in info.output
    assert "dev scores of the model the detached tasks were added to (base, epoch 1)" in info.output
    assert f"las {base_dev['dep']['las']:.2f}" in info.output

    old, grown = (Predictor(*load_model(d)[:2]) for d in (model_dir, tmp_path / "added"))
    assert old.tag(SENTENCES) == [{k: v for k, v in p.items() if k not in ("feats", "lemmas")}
                                  for p in grown.tag(SENTENCES)]
    scores = grown.evaluate_tasks(["feats", "lemma"], list(read_conllu(treebank)))
    assert scores["feats"]["accuracy"] == 100.0 and scores["lemma"]["accuracy"] == 100.0, scores


@pytest.mark.slow
def test_tasks_added_with_a_shared_reader_read_their_layer_once_and_train_together(base, tmp_path):
    model_dir, files = base
    treebank = str(ud_treebank(tmp_path / "ud.conllu"))
    cfg = tiny_config(files, (), init_from=str(model_dir), epochs=30, batch_size=1)
    cfg.data.train = {"feats": treebank, "lemma": treebank}
    cfg.model.shared_reader = True
    Trainer(cfg, tmp_path / "added", log=quiet).train()

    before, after = load_file(str(model_dir / "model.safetensors")), load_file(str(tmp_path / "added" / "model.safetensors"))
    assert all(torch.equal(before[name], after[name]) for name in before), "an old weight moved"
    assert {".".join(name.split(".")[:2]) for name in set(after) - set(before)} == {
        "heads.feats", "heads.lemma", "readers.chunk"}  # one reader, of the chunking layer both read
    assert json.loads((tmp_path / "added" / "config.json").read_text())["model"]["shared_reader"] is True
    info = CliRunner().invoke(app, ["info", str(tmp_path / "added")]).output
    assert "readers    feats, lemma read the chunk layer through one BiLSTM" in info
    old, grown = (Predictor(*load_model(d)[:2]) for d in (model_dir, tmp_path / "added"))
    assert old.tag(SENTENCES) == [{k: v for k, v in p.items() if k not in ("feats", "lemmas")}
                                  for p in grown.tag(SENTENCES)]
    scores = grown.evaluate_tasks(["feats", "lemma"], list(read_conllu(treebank)))
    assert scores["feats"]["accuracy"] == 100.0 and scores["lemma"]["accuracy"] == 100.0, scores

    # Fine-tuning one of them alone trains its head only: the reader would move the other's output.
    for trained, moves in ((("feats",), ("heads.feats.",)),
                           (("feats", "lemma"), ("heads.feats.", "heads.lemma.", "readers.chunk."))):
        cfg = tiny_config(files, (), init_from=str(tmp_path / "added"), epochs=1)
        cfg.data.train = {task: treebank for task in trained}
        lines = []
        Trainer(cfg, tmp_path / "+".join(trained), log=lines.append).train()
        moved = {name for name, value in load_file(str(tmp_path / "+".join(trained) / "model.safetensors")).items()
                 if not torch.equal(value, after[name])}
        assert {".".join(name.split(".")[:2]) for name in moved} == {m.rstrip(".") for m in moves}
        stays = "readers.chunk is shared with lemma, which this run does not train: it stays as it is"
        assert any(stays in line for line in lines) == (trained == ("feats",))


@pytest.mark.slow
def test_a_task_is_added_below_its_depth_where_the_model_has_no_layer_at_it(tmp_path):
    files = write_tiny_corpora(tmp_path)
    Trainer(tiny_config(files, ("upos", "dep")), tmp_path / "ud", log=quiet).train()
    treebank = str(ud_treebank(tmp_path / "ud.conllu"))
    cfg = tiny_config(files, (), init_from=str(tmp_path / "ud"), epochs=30, batch_size=1)
    cfg.data.train = {"feats": treebank}
    Trainer(cfg, tmp_path / "feats", log=quiet).train()
    model, vocabs, _ = load_model(tmp_path / "feats")
    assert model.heads["feats"].depth == 1 and model.depths == [1, 3]  # the POS layer: the model has no depth 2
    scores = Predictor(model, vocabs).evaluate_tasks(["feats"], list(read_conllu(treebank)))
    assert scores["feats"]["accuracy"] == 100.0, scores


def test_a_task_below_every_layer_of_the_model_is_refused(tmp_path):
    files = write_tiny_corpora(tmp_path)
    Trainer(tiny_config(files, ("dep",)), tmp_path / "dep", log=quiet).train()
    cfg = tiny_config(files, ("upos",), init_from=str(tmp_path / "dep"))
    with pytest.raises(ConfigError, match=r"upos would read a layer at or below depth 1 \(pos\), and the model has none"):
        Trainer(cfg, tmp_path / "ft", log=quiet)
    cfg = tiny_config(files, ("relatedness",), init_from=str(tmp_path / "dep"))
    with pytest.raises(ConfigError, match="no 'relatedness' task, and only token tasks can be added"):
        Trainer(cfg, tmp_path / "ft", log=quiet)


def test_a_model_setting_that_differs_from_the_model_is_refused(base, tmp_path):
    model_dir, files = base
    cfg = replace(tiny_config(files, ("relatedness",), init_from=str(model_dir)), model=small_model(hidden=16))
    with pytest.raises(ConfigError, match="hidden = 16 given, but the model in .* has 32"):
        Trainer(cfg, tmp_path / "ft", log=quiet)


def test_vectors_cannot_come_with_a_model_to_start_from(base, tmp_path):
    cfg = tiny_config(base[1], ("relatedness",), init_from=str(base[0]))
    cfg.data.vectors = str(tmp_path / "vectors.txt")
    with pytest.raises(ConfigError, match="vectors cannot be given with init_from"):
        Trainer(cfg, tmp_path / "ft", log=quiet)


@pytest.mark.slow
def test_the_cli_fine_tunes_and_refuses_a_clash_in_one_line(base, tmp_path):
    model_dir, files = base
    common = ["train", "--init-from", str(model_dir), "--train", f"relatedness={files['pairs']}",
              "--train", f"entailment={files['pairs']}", "--freeze-below", "4", "--epochs", "1"]
    result = CliRunner().invoke(app, common + ["-o", str(tmp_path / "ft")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["train"]["freeze_below"] == 4

    result = CliRunner().invoke(app, common + ["-o", str(tmp_path / "ft2"), "--dep-scorer", "biaffine"])
    assert result.exit_code == 1
    assert "model setting dep_scorer = 'biaffine' given" in result.output
    assert len(result.output.strip().splitlines()) == 1

    result = CliRunner().invoke(app, ["train", "--init-from", str(model_dir), "-o", str(tmp_path / "ft3")])
    assert result.exit_code == 1 and "--init-from needs --train" in result.output

    result = CliRunner().invoke(app, ["train", "--resume", str(tmp_path / "ft"), "--init-from", str(model_dir)])
    assert result.exit_code == 2 and "--init-from" in result.output


def test_select_last_keeps_the_final_epoch(base, tmp_path):
    out = finetune(base, tmp_path / "ft", freeze_below=4, select_metric="last", epochs=3)
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["selected"] for r in records] == [True, True, True]
    assert json.loads((out / "metrics.json").read_text())["epoch"] == 3


@pytest.mark.slow
def test_a_shipped_model_s_detached_task_is_fine_tuned_by_name_and_nothing_else_moves(tmp_path):
    treebank = str(ud_treebank(tmp_path / "ud.conllu"))
    result = CliRunner().invoke(app, ["train", "--init-from", "en", "--train", f"feats={treebank}", "--epochs", "1",
                                      "-o", str(tmp_path / "en-feats")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "en-feats" / "config.json").read_text())["model"]["detached"] == ["feats", "lemma"]
    assert has_segmenter(tmp_path / "en-feats")
    before = load_file(str(model_path("en") / "model.safetensors"))
    after = load_file(str(tmp_path / "en-feats" / "model.safetensors"))
    moved = {name for name in before if not torch.equal(before[name].float(), after[name].float())}
    # en's feats and lemma share one reader: training feats alone leaves it, and lemma, as they were
    assert moved and all(name.startswith("heads.feats.") for name in moved), sorted(moved)[:3]
    assert "readers.chunk is shared with lemma, which this run does not train" in result.output
    shipped = json.loads((model_path("en") / "metrics.json").read_text())
    base = json.loads((tmp_path / "en-feats" / "metrics.json").read_text())["base"]
    assert base["model"] == "en" and base["dev"]["lemma"] == shipped["dev"]["lemma"]  # added to en before
    assert base["dev"]["dep"] == shipped["base"]["dev"]["dep"] and "feats" not in base["dev"]  # and en's own base


@pytest.mark.slow
def test_a_run_that_adds_tasks_resumes(base, tmp_path):
    model_dir, files = base
    treebank = str(ud_treebank(tmp_path / "ud.conllu"))

    def config(epochs):
        cfg = tiny_config(files, (), init_from=str(model_dir), epochs=epochs)
        cfg.data.train = {"feats": treebank}
        cfg.data.dev = {"feats": treebank}
        return cfg

    Trainer(config(1), tmp_path / "added", log=quiet).train()
    Trainer(config(2), tmp_path / "added", log=quiet, resume=True).train()
    assert [json.loads(line)["epoch"] for line in (tmp_path / "added" / "metrics.jsonl").read_text().splitlines()] == [1, 2]
    result = CliRunner().invoke(app, ["train", "--resume", str(tmp_path / "added"), "--epochs", "3"])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "added" / "config.json").read_text())["model"]["detached"] == ["feats"]
