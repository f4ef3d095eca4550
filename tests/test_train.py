"""Training end to end: the six-task stack on the samples, model selection, seeds, holdout, vectors."""
from __future__ import annotations

import gzip
import io
import json
import re
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from conftest import (PAPER_TASKS, REPO, SAMPLE, TINY_CHUNKS, chunk_text, no_dropout_model, quiet, small_model,
                      tiny_config)
from jmt.config import Config, ConfigError, DataConfig, TrainConfig
from jmt.data.batch import collate_sentences, encode_sentence
from jmt.data.corpus import read_corpus
from jmt.data.types import ENTAILMENT_LABELS, Sentence
from jmt.io import load_model
from jmt.predict import Predictor
from jmt.tagging_io import write_sentence
from jmt.train import Trainer, holdout_split, load_corpora, select_score
from jmt.model.embeddings import pretrain_ngrams

SAMPLE_TRAIN = {"upos": "train.conllu", "xpos": "train.conllu", "dep": "train.conllu", "chunk": "chunk_train.txt",
                "relatedness": "pairs_train.tsv", "entailment": "pairs_train.tsv"}
SAMPLE_DEV = {"upos": "dev.conllu", "xpos": "dev.conllu", "dep": "dev.conllu", "chunk": "chunk_dev.txt",
              "relatedness": "pairs_dev.tsv", "entailment": "pairs_dev.tsv"}


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# ----------------------------------------------------------------------------- the six tasks on the samples


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """Three epochs of the full stack on the sample corpora, the paper's SGD schedule, small sizes."""
    out = tmp_path_factory.mktemp("sample_run")
    cfg = Config(model=small_model(),
                 train=TrainConfig(epochs=3, seed=1, progress=False),
                 data=DataConfig(train={t: str(SAMPLE / f) for t, f in SAMPLE_TRAIN.items()},
                                 dev={t: str(SAMPLE / f) for t, f in SAMPLE_DEV.items()}))
    messages: list[str] = []
    trainer = Trainer(cfg, out, log=messages.append)
    best = trainer.train()
    return trainer, best, read_jsonl(out / "metrics.jsonl"), messages


@pytest.mark.slow
def test_six_task_stack_builds_every_layer(sample_run):
    trainer, *_ = sample_run
    assert trainer.model.tasks == ["upos", "xpos", "chunk", "dep", "relatedness", "entailment"]
    assert sorted(trainer.model.layers) == ["chunk", "dep", "entailment", "pos", "relatedness"]
    # the paper's order: POS (upos and xpos in one pass over one treebank), chunk, dep, relatedness, entailment
    assert [p.tasks for p in trainer.passes] == [["upos", "xpos"], ["chunk"], ["dep"], ["relatedness"], ["entailment"]]


@pytest.mark.slow
def test_six_task_dev_scores_rise_and_losses_fall(sample_run):
    _, _, records, _ = sample_run
    assert [r["epoch"] for r in records] == [1, 2, 3]
    first, last = records[0], records[-1]
    assert set(first["dev"]) == set(PAPER_TASKS)
    assert last["dev"]["upos"]["accuracy"] > first["dev"]["upos"]["accuracy"]
    assert last["dev"]["xpos"]["accuracy"] > first["dev"]["xpos"]["accuracy"]
    assert last["dev"]["dep"]["uas"] > first["dev"]["dep"]["uas"]
    assert last["dev"]["dep"]["las"] > first["dev"]["dep"]["las"]
    for task in ("upos", "xpos", "chunk", "dep"):
        assert last["train_loss"][task] < first["train_loss"][task], task
    assert sum(last["train_loss"].values()) < sum(first["train_loss"].values())
    for r in records:  # every score is a number, nothing NaN
        for task, scores in r["dev"].items():
            assert all(np.isfinite(v) for v in scores.values() if isinstance(v, (int, float))), (task, scores)


@pytest.mark.slow
def test_learning_rate_follows_the_paper_schedule(sample_run):
    _, _, records, _ = sample_run
    assert [r["lr"] for r in records] == pytest.approx([1.0 / (1 + 0.3 * (k - 1)) for k in (1, 2, 3)])


@pytest.mark.slow
def test_best_epoch_is_saved_with_its_metrics(sample_run):
    trainer, best, records, messages = sample_run
    scores = [r["select_score"] for r in records]
    best_epoch = records[int(np.argmax(scores))]["epoch"]
    assert best["epoch"] == best_epoch
    assert best["select_score"] == pytest.approx(max(scores))
    assert best["select_score"] == pytest.approx(records[best_epoch - 1]["dev"]["dep"]["las"])  # auto: dep LAS

    saved = json.loads((trainer.out_dir / "metrics.json").read_text(encoding="utf-8"))
    assert saved["epoch"] == best_epoch
    # the saved weights are that epoch's: they reproduce its dev scores
    model, vocabs, cfg = load_model(trainer.out_dir)
    assert model.tasks == trainer.model.tasks
    predictor = Predictor(model, vocabs)
    for task in ("upos", "dep", "entailment"):
        again = predictor.evaluate(task, trainer.corpora.dev[task])
        for key, value in saved["dev"][task].items():
            if isinstance(value, float):
                assert again[key] == pytest.approx(value), (task, key)
    assert any("epoch 1 dev" in m for m in messages)


def test_model_selection_keeps_the_best_not_the_last_epoch(tiny_files, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_files, ["upos"], dev=True, epochs=3, select_metric="upos.accuracy")
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    scripted = iter([10.0, 30.0, 20.0])
    states = []

    def fake_dev():
        states.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
        return {"upos": {"accuracy": next(scripted), "tokens": 1}}

    monkeypatch.setattr(trainer, "evaluate_dev", fake_dev)
    best = trainer.train()
    assert best["epoch"] == 2
    records = read_jsonl(tmp_path / "out" / "metrics.jsonl")
    assert [r["selected"] for r in records] == [True, True, False]
    assert json.loads((tmp_path / "out" / "metrics.json").read_text())["epoch"] == 2
    saved = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert all(torch.equal(saved[k], states[1][k]) for k in saved)
    assert not all(torch.equal(saved[k], states[2][k]) for k in saved)


def test_training_without_dev_saves_every_epoch(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos"], epochs=2)
    best = Trainer(cfg, tmp_path / "out", log=quiet).train()
    assert best["epoch"] == 2 and best["select_score"] is None
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_select_score():
    class Head:
        def __init__(self, primary):
            self.primary = primary

    class Model:
        heads = {"upos": Head("accuracy"), "relatedness": Head("pearson"), "dep": Head("las")}

    dev = {"upos": {"accuracy": 90.0}, "relatedness": {"pearson": 0.5, "mse": 0.8}}
    assert select_score({}, "auto", Model()) is None
    assert select_score(dev, "auto", Model()) == pytest.approx((90.0 + 50.0) / 2)  # pearson as a percentage
    assert select_score({**dev, "dep": {"las": 70.0, "uas": 80.0}}, "auto", Model()) == 70.0
    assert select_score(dev, "upos.accuracy", Model()) == 90.0
    assert select_score(dev, "relatedness.mse", Model()) == -0.8  # lower is better
    with pytest.raises(ConfigError, match="dep.las"):
        select_score(dev, "dep.las", Model())


@pytest.mark.parametrize("metric", ["chunk.f1", "chunk.precision"])
def test_selecting_by_a_chunk_score_saves_the_model(tiny_files, tmp_path, metric):
    # chunk scores are NumPy floats; comparing them once gave a NumPy bool that JSON refused
    cfg = tiny_config(tiny_files, ["chunk"], dev=True, epochs=2, select_metric=metric)
    best = Trainer(cfg, tmp_path / "out", log=quiet).train()
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["epoch"] == best["epoch"] and isinstance(saved["selected"], bool)
    assert saved["select_score"] == pytest.approx(saved["dev"]["chunk"][metric.split(".")[1]])


@pytest.mark.parametrize("metric", ["upos.f1", "upos.tokens"])
def test_a_select_metric_that_names_no_dev_score_fails_before_the_first_epoch(tiny_files, tmp_path, metric):
    cfg = tiny_config(tiny_files, ["upos"], dev=True, epochs=2, select_metric=metric)
    with pytest.raises(ConfigError, match=rf"select_metric '{re.escape(metric)}': no such dev score; have upos.accuracy$"):
        Trainer(cfg, tmp_path / "out", log=quiet).train()
    assert not (tmp_path / "out" / "metrics.jsonl").exists()  # no epoch was trained


def test_a_trained_task_without_a_dev_set_is_named_at_the_start(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "dep"], dev=True, epochs=1)
    cfg.data.dev = {"upos": cfg.data.dev["upos"]}
    lines = []
    Trainer(cfg, tmp_path / "out", log=lines.append).train()
    assert "note: dep has no dev set: the saved epoch is chosen on upos" in lines


# ----------------------------------------------------------------------------- seeds

SEED_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from conftest import PAPER_TASKS, quiet, tiny_config
from jmt.train import Trainer
files = {{k: Path(v) for k, v in {files!r}.items()}}
Trainer(tiny_config(files, PAPER_TASKS, epochs=2, seed={seed}), {out!r}, log=quiet).train()
"""


@pytest.mark.slow
def test_fixed_seed_gives_identical_weights_across_runs(tiny_files, tmp_path):
    files = {k: str(v) for k, v in tiny_files.items()}
    # run 1 here; run 2 in a fresh interpreter with another hash seed (set and dict orders)
    Trainer(tiny_config(tiny_files, PAPER_TASKS, epochs=2, seed=7), tmp_path / "a", log=quiet).train()
    env = {**os.environ, "PYTHONHASHSEED": "12345", "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    script = SEED_SCRIPT.format(tests=str(REPO / "tests"), files=files, seed=7, out=str(tmp_path / "b"))
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=tmp_path, timeout=300)
    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert list(a) == list(b)
    for key in a:
        assert torch.equal(a[key], b[key]), key
    assert (tmp_path / "a" / "vocab.json").read_text() == (tmp_path / "b" / "vocab.json").read_text()
    assert read_jsonl(tmp_path / "a" / "metrics.jsonl")[-1]["train_loss"] == \
        read_jsonl(tmp_path / "b" / "metrics.jsonl")[-1]["train_loss"]


def test_another_seed_gives_other_weights(tiny_files, tmp_path):
    Trainer(tiny_config(tiny_files, ["upos"], seed=1), tmp_path / "a", log=quiet).train()
    Trainer(tiny_config(tiny_files, ["upos"], seed=2), tmp_path / "b", log=quiet).train()
    a = load_file(str(tmp_path / "a" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "model.safetensors"))
    assert not torch.equal(a["embed.words.weight"], b["embed.words.weight"])


# ----------------------------------------------------------------------------- holdout


def _holdout_config(**dev) -> Config:
    path = str(SAMPLE / "train.conllu")
    return Config(data=DataConfig(train={"upos": path, "dep": path}, dev=dev))


def test_holdout_splits_deterministically_and_disjointly():
    everything = read_corpus(SAMPLE / "train.conllu", "upos")
    first = load_corpora(_holdout_config(upos="holdout:0.1"))
    second = load_corpora(_holdout_config(upos="holdout:0.1"))
    train_src = [s.source for s in first.train["upos"]]
    dev_src = [s.source for s in first.dev["upos"]]
    assert len(dev_src) == round(0.1 * len(everything)) == 40
    assert len(train_src) + len(dev_src) == len(everything)
    assert not set(train_src) & set(dev_src)
    assert set(train_src) | set(dev_src) == {s.source for s in everything}
    assert dev_src == [s.source for s in second.dev["upos"]]
    assert train_src == [s.source for s in second.train["upos"]]
    # the training order is the file's order (the split only removes sentences)
    assert train_src == [s.source for s in everything if s.source not in set(dev_src)]


def test_holdout_is_the_same_for_tasks_sharing_a_file():
    corpora = load_corpora(_holdout_config(upos="holdout:0.1", dep="holdout:0.1"))
    dev_upos = [s.source for s in corpora.dev["upos"]]
    assert dev_upos == [s.source for s in corpora.dev["dep"]]
    # no task trains on another's held-out sentences
    assert not set(dev_upos) & {s.source for s in corpora.train["dep"]}


def test_holdout_of_one_task_is_not_trained_by_a_task_sharing_its_pass(tmp_path):
    path = str(SAMPLE / "train.conllu")
    cfg = Config(model=small_model(), train=TrainConfig(progress=False),
                 data=DataConfig(train={"upos": path, "xpos": path}, dev={"xpos": "holdout:0.1"}))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    n_dev = len(trainer.corpora.dev["xpos"])
    for p in trainer.passes:
        if "xpos" in p.tasks:
            assert len(p.examples) == 400 - n_dev, p.tasks


@pytest.mark.slow
def test_a_task_with_two_corpora_trains_a_pass_on_each(tmp_path):
    # XPOS from the treebank and from the chunking corpus's POS column: the chunking
    # corpus's held-out part stays out of the XPOS pass on it too.
    ud, chunks = str(SAMPLE / "train.conllu"), str(SAMPLE / "chunk_train.txt")
    cfg = Config(model=small_model(), train=TrainConfig(progress=False, epochs=1),
                 data=DataConfig(train={"upos": ud, "xpos": [ud, chunks], "chunk": chunks},
                                 dev={"xpos": str(SAMPLE / "dev.conllu"), "chunk": "holdout:0.1"}))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    n_ud, n_chunk = len(read_corpus(ud, "upos")), len(read_corpus(chunks, "chunk"))
    n_held = len(trainer.corpora.dev["chunk"])
    assert [(p.depth, p.tasks, len(p.examples)) for p in trainer.passes] == [
        (1, ["upos", "xpos"], n_ud), (1, ["xpos"], n_chunk - n_held), (2, ["chunk"], n_chunk - n_held)]
    assert len(trainer.corpora.train["xpos"]) == n_ud + n_chunk - n_held
    held = {s.source for s in trainer.corpora.dev["chunk"]}
    assert not held & {s.source for s in trainer.corpora.train["xpos"]}
    # the label set is the union of both corpora's tags
    tags = {t for s in read_corpus(chunks, "chunk") if s.source not in held for t in s.xpos}
    assert tags <= set(trainer.vocabs.labels["xpos"].itos)
    trainer.train()
    saved = json.loads((tmp_path / "out" / "config.json").read_text())
    assert saved["data"]["train"]["xpos"] == [ud, chunks]
    record = json.loads((tmp_path / "out" / "training.json").read_text())
    used = {Path(f["path"]).name: f["used_for"] for f in record["data"]}
    assert used["chunk_train.txt"] == ["train xpos", "train chunk"]


@pytest.mark.slow
def test_xpos2_learns_a_second_pos_column_with_its_own_classifier(tmp_path):
    # The chunking corpus's POS column under other conventions than the treebank's (here
    # every tag renamed): xpos2 keeps its own label set and classifier, shares the bottom
    # layer, feeds its label embedding to the chunking layer, and predicts "xpos2".
    other = [[(w, "wsj:" + p, c) for w, p, c in sent] for sent in TINY_CHUNKS]
    chunks = tmp_path / "wsj.txt"
    chunks.write_text(chunk_text(other), encoding="utf-8")
    ud = str(SAMPLE / "train.conllu")
    cfg = Config(model=no_dropout_model(), train=TrainConfig(progress=False, epochs=12, optimizer="adam", lr=0.01,
                                                             lr_decay=0.0, batch_size=4, seed=0),
                 data=DataConfig(train={"upos": ud, "xpos": ud, "xpos2": str(chunks), "chunk": str(chunks)},
                                 dev={"xpos2": str(chunks)}))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    labels = trainer.vocabs.labels
    assert set(labels["xpos2"].itos) == {"wsj:" + p for sent in TINY_CHUNKS for _, p, _ in sent}
    assert not any(tag.startswith("wsj:") for tag in labels["xpos"].itos)
    assert [(p.depth, p.tasks) for p in trainer.passes] == [(1, ["upos", "xpos"]), (1, ["xpos2"]), (2, ["chunk"])]
    assert "xpos2" in trainer.model._label_sources_below(2)
    trainer.train()

    model, vocabs, _ = load_model(tmp_path / "out")
    predictor = Predictor(model, vocabs)
    gold = read_corpus(chunks, "xpos2")
    scores = predictor.evaluate_tasks(["xpos2", "chunk"], gold)
    assert scores["xpos2"]["accuracy"] > 90, scores  # learned its column (train = dev here)
    pred = predictor.tag([s.words for s in gold[:2]], ["xpos", "xpos2"])
    assert all(tag.startswith("wsj:") for p in pred for tag in p["xpos2"])
    assert not any(tag.startswith("wsj:") for p in pred for tag in p["xpos"])
    out = io.StringIO()
    write_sentence(out, "jsonl", Sentence(gold[0].words), pred[0])
    assert json.loads(out.getvalue())["xpos2"] == pred[0]["xpos2"]


def test_a_task_with_two_corpora_holds_out_from_the_first_only():
    ud, chunks = str(SAMPLE / "train.conllu"), str(SAMPLE / "chunk_train.txt")
    lines = []
    corpora = load_corpora(Config(data=DataConfig(train={"xpos": [ud, chunks]}, dev={"xpos": "holdout:0.1"})),
                           log=lines.append)
    alone = load_corpora(Config(data=DataConfig(train={"xpos": ud}, dev={"xpos": "holdout:0.1"})))
    n_chunks = len(read_corpus(chunks, "xpos"))
    assert [s.words for s in corpora.dev["xpos"]] == [s.words for s in alone.dev["xpos"]]  # same split of ud
    assert len(corpora.files[chunks]) == n_chunks  # the second corpus trains whole
    assert len(corpora.train["xpos"]) == len(alone.train["xpos"]) + n_chunks
    assert any("held out from" in line and ud in line for line in lines), lines


def test_holdout_seed_changes_the_split():
    examples = list(range(100))
    a = holdout_split(examples, "holdout:0.2", seed=13)
    assert a == holdout_split(examples, "holdout:0.2", seed=13)
    assert a != holdout_split(examples, "holdout:0.2", seed=14)
    assert len(a[1]) == 20 and sorted(a[0] + a[1]) == examples
    assert len(holdout_split(examples[:3], "holdout:0.01", seed=1)[1]) == 1  # at least one dev example


@pytest.mark.parametrize("spec", ["holdout:abc", "holdout:0", "holdout:1.5", "holdout:"])
def test_bad_holdout_spec_is_a_config_error(spec):
    with pytest.raises(ConfigError, match="holdout"):
        holdout_split([1, 2, 3], spec, seed=1)


@pytest.mark.parametrize("setting, message", [
    ("train.lr=-1", "train.lr must be above 0"), ("train.lr=nan", "train.lr must be above 0"),
    ("train.lr_decay=-1", "train.lr_decay must be at least 0"), ("train.clip=0", "train.clip must be above 0"),
    ("model.label_dim=-3", "model.label_dim must be at least 1"), ("model.hidden=0", "model.hidden must be at least 1"),
    ("model.dropout=1.5", r"model.dropout must be in \[0, 1\)"),
    ("model.char_ngram_min=5", r"model.char_ngram_min \(5\) must not exceed model.char_ngram_max \(4\)"),
])
def test_a_number_no_run_can_train_with_is_named_by_its_key_before_training(setting, message):
    from jmt.config import load_config, parse_overrides

    with pytest.raises(ConfigError, match=message):
        load_config(None, parse_overrides([setting])).validate()


# ----------------------------------------------------------------------------- pretrained vectors

DIM = 6
# "Cat" upper case: vectors are looked up lowercased; "zebra"/"giraffe" are not in the training data
VECTORS = {"the": 0.1, "Cat": 0.2, "sleeps": 0.3, "zebra": 0.4, "Giraffe": 0.5}


def vector_of(value: float) -> list[float]:
    return [round(value + i / 100, 4) for i in range(DIM)]


def write_vectors(path: Path, header: bool) -> Path:
    lines = [f"{len(VECTORS)} {DIM}"] if header else []
    lines += [w + " " + " ".join(str(x) for x in vector_of(v)) for w, v in VECTORS.items()]
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8") as f:
            f.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name, header", [("glove.txt", False), ("w2v.txt", True), ("w2v.txt.gz", True),
                                          ("glove.txt.gz", False)])
def test_pretrained_vectors_are_loaded_and_cover_unseen_words(name, header, tiny_files, tmp_path):
    path = write_vectors(tmp_path / name, header)
    cfg = tiny_config(tiny_files, ["upos"], model=no_dropout_model(word_dim=100))
    cfg.data.vectors = str(path)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    model, vocabs = trainer.model, trainer.vocabs
    assert trainer.cfg.model.word_dim == DIM and cfg.model.word_dim == 100  # resolved in a copy; the caller's stays
    assert model.embed.words.weight.shape[1] == DIM

    # words of the training data start from their (lowercased) vectors
    for word, value in (("the", 0.1), ("cat", 0.2), ("sleeps", 0.3)):
        row = model.embed.words.weight[vocabs.words[word]].detach()
        assert row.tolist() == pytest.approx(vector_of(value)), word
    # words only in the vectors file are kept, lowercased, and not UNK at prediction time
    assert set(vocabs.pretrained.itos[1:]) == {"zebra", "giraffe"}
    model.eval()
    encoded = [encode_sentence(vocabs, Sentence(["Zebra", "GIRAFFE", "qwertyuiop"]))]
    assert encoded[0].words.pre_ids.tolist()[:2] != [0, 0]
    x = model.embed(collate_sentences(encoded))  # [1, 3, DIM + char_dim]
    assert x[0, 0, :DIM].tolist() == pytest.approx(vector_of(0.4))
    assert x[0, 1, :DIM].tolist() == pytest.approx(vector_of(0.5))
    unk = model.embed.words.weight[1].detach()
    assert torch.allclose(x[0, 2, :DIM], unk)  # a word in neither: UNK
    assert not torch.allclose(x[0, 0, :DIM], unk)

    # and they survive save/load
    trainer.train()
    loaded, loaded_vocabs, loaded_cfg = load_model(tmp_path / "out")
    assert loaded_cfg.model.word_dim == DIM
    y = loaded.embed(collate_sentences([encode_sentence(loaded_vocabs, Sentence(["Zebra"]))]))
    assert y[0, 0, :DIM].tolist() == pytest.approx(vector_of(0.4))


def test_pretrained_vectors_of_unseen_words_are_frozen(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos"], epochs=2)
    cfg.data.vectors = str(write_vectors(tmp_path / "v.txt", header=False))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    before = trainer.model.embed.pretrained.clone()
    trainer.train()
    assert torch.equal(trainer.model.embed.pretrained, before)
    assert "embed.pretrained" not in dict(trainer.model.named_parameters())


def test_removed_options_load_when_off_and_are_named_when_on():
    from jmt.config import Config, from_dict

    old = {"model": {"locked_dropout": False, "lm_vocab": 0, "lm_hidden": 50},
           "train": {"lm_weight": 0.1, "freeze_vectors": False}}
    assert from_dict(Config, old) == Config()  # a model saved before they went
    with pytest.raises(ConfigError, match=r"'train.freeze_vectors' was removed .*row 46"):
        from_dict(Config, {"train": {"freeze_vectors": True}})
    with pytest.raises(ConfigError, match="'model.locked_dropout' was removed"):
        from_dict(Config, {"model": {"locked_dropout": True}})


def test_malformed_vectors_file_names_file_and_line(tiny_files, tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("the 0.1 0.2 0.3\ncat 0.1 0.2\n", encoding="utf-8")
    cfg = tiny_config(tiny_files, ["upos"])
    cfg.data.vectors = str(path)
    with pytest.raises(ValueError, match=rf"{path.name}:2"):
        Trainer(cfg, tmp_path / "out", log=quiet)


@pytest.mark.parametrize("scale", [0.0, 1.0])
def test_lower_lr_scale_sets_how_far_a_higher_task_moves_the_layers_below(tiny_files, tmp_path, scale):
    cfg = tiny_config(tiny_files, ["upos", "chunk"], lower_lr_scale=scale, successive_regularization=False)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    upos_pass, chunk_pass = trainer.passes
    trainer.train_pass(upos_pass, 1)
    below = {n: p.detach().clone() for n, p in trainer.model.named_parameters()
             if n.startswith(("embed.", "layers.pos."))}
    trainer.train_pass(chunk_pass, 1)
    moved = [n for n, p in trainer.model.named_parameters() if n in below and not torch.equal(p, below[n])]
    if scale == 0.0:
        assert moved == []
    else:
        assert any(n.startswith("layers.pos.") for n in moved)


def test_the_bottom_pass_trains_the_word_representation_whatever_the_lower_lr_scale(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "chunk"], lower_lr_scale=0.0, successive_regularization=False)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    before = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if n.startswith("embed.")}
    for epoch in (1, 2):  # the softmax layer starts at zero: no gradient reaches below it at first
        trainer.train_pass(trainer.passes[0], epoch)
    assert all(not torch.equal(p, before[n]) for n, p in trainer.model.named_parameters() if n in before)


def test_ngram_pretraining_fits_the_vectors_and_moves_only_the_ngram_table(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos"], ngram_pretrain_epochs=0)
    cfg.data.vectors = str(write_vectors(tmp_path / "v.txt", header=False))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    embed, vocabs = trainer.model.embed, trainer.vocabs
    words_before = embed.words.weight.detach().clone()
    ngrams_before = embed.ngrams.weight.detach().clone()
    losses = [pretrain_ngrams(embed, vocabs, cfg.data.vectors, epochs, batch_size=2, seed=0)
              for epochs in (1, 30)]
    assert losses[1] < losses[0] / 4  # the fit improves with training
    assert torch.equal(embed.words.weight, words_before)
    changed = (embed.ngrams.weight != ngrams_before).any(dim=1)
    # only n-grams of the vector-file words (and their capitalised forms) move
    touched = {i for w in VECTORS for form in (w, w.lower().capitalize()) for i in vocabs.word_ngram_ids(form)}
    assert set(changed.nonzero().flatten().tolist()) <= touched
    assert changed.any()


def test_training_with_vectors_pretrains_the_ngrams_first(tiny_files, tmp_path):
    messages = []
    cfg = tiny_config(tiny_files, ["upos"], ngram_pretrain_epochs=2)
    cfg.data.vectors = str(write_vectors(tmp_path / "v.txt", header=False))
    Trainer(cfg, tmp_path / "out", log=messages.append)
    assert sum("n-gram pre-training epoch" in m for m in messages) == 2


def test_swap_pairs_reverses_relatedness_pairs_and_only_symmetric_entailment_pairs(tiny_files, tmp_path):
    plain = Trainer(tiny_config(tiny_files, ["relatedness", "entailment"]), tmp_path / "a", log=quiet)
    swapped = Trainer(tiny_config(tiny_files, ["relatedness", "entailment"], swap_pairs=True), tmp_path / "b",
                      log=quiet)
    pairs = plain.corpora.train["relatedness"]
    rel, ent = swapped.passes
    assert rel.tasks == ["relatedness"] and ent.tasks == ["entailment"]
    assert len(rel.examples) == 2 * len(plain.passes[0].examples)
    symmetric = [p for p in pairs if p.entailment != "ENTAILMENT"]
    assert 0 < len(symmetric) < len(pairs)
    assert len(ent.examples) == len(pairs) + len(symmetric)
    for extra in ent.examples[len(pairs):]:
        assert extra.entailment != ENTAILMENT_LABELS.index("ENTAILMENT")
    first, reversed_first = rel.examples[0], rel.examples[len(pairs)]
    assert reversed_first.premise is first.hypothesis and reversed_first.hypothesis is first.premise
    assert reversed_first.relatedness == first.relatedness


def test_auto_selection_takes_the_parser_las_where_it_is_trained_and_else_the_mean():
    from types import SimpleNamespace

    from jmt.train import select_score

    heads = {"upos": SimpleNamespace(primary="accuracy"), "dep": SimpleNamespace(primary="las"),
             "relatedness": SimpleNamespace(primary="pearson")}
    model = SimpleNamespace(heads=heads)
    assert select_score({"upos": {"accuracy": 90.0}, "dep": {"las": 80.0, "uas": 85.0}}, "auto", model) == 80.0
    assert select_score({"upos": {"accuracy": 90.0}, "relatedness": {"pearson": 0.8}}, "auto", model) == 85.0
    assert select_score({"upos": {"accuracy": 90.0}}, "last", model) is None


def test_reversed_pairs_keep_only_what_stays_true_for_every_task_trained():
    from jmt.data.batch import EncodedPair
    from jmt.data.types import ENTAILMENT_LABELS
    from jmt.train import swapped_pairs

    pairs = [EncodedPair([1], [2], 4.0, ENTAILMENT_LABELS.index(label)) for label in ENTAILMENT_LABELS]
    assert len(swapped_pairs(pairs, ["relatedness"])) == 3
    kept = swapped_pairs(pairs, ["relatedness", "entailment"])
    assert sorted(ENTAILMENT_LABELS[e.entailment] for e in kept) == ["CONTRADICTION", "NEUTRAL"]
    assert (kept[0].premise, kept[0].hypothesis) == ([2], [1])


def test_a_token_budget_sizes_the_dependency_pass_batches(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "dep"], batch_size=64, dep_batch_size=64, dep_batch_tokens=30)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    dep = next(p for p in trainer.passes if p.tasks == ["dep"])
    upos = next(p for p in trainer.passes if p.tasks == ["upos"])
    assert (dep.max_tokens, upos.max_tokens) == (30, 0)
    batches = trainer.pass_batches(dep)
    assert len(batches) > 1 and len(trainer.pass_batches(upos)) == 1
    for b in batches:
        longest = max(len(dep.examples[i]) for i in b)
        assert len(b) == 1 or len(b) * longest <= 30
    assert math.isfinite(trainer.train_pass(dep, 1)["dep"])
    with pytest.raises(ConfigError, match="dep_batch_tokens must be at least 0, not -1"):
        tiny_config(tiny_files, ["dep"], dep_batch_tokens=-1).validate()


def test_a_pass_steps_at_its_batch_sizes_learning_rate_factor(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "dep"], optimizer="adam", lr=0.01, schedule="joint",
                      dep_batch_lr_scale=1.5)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    seen, step = {}, trainer.train_step

    def recording(p, *args):
        seen.setdefault(p.name, set()).update(g["lr"] for g in trainer.optimizer.param_groups)
        return step(p, *args)

    trainer.train_step = recording
    trainer.train_epoch(1)
    assert sorted(seen["upos"]) == pytest.approx([0.01])
    assert sorted(seen["dep"]) == pytest.approx([0.015])
    with pytest.raises(ConfigError, match="dep_batch_lr_scale must be above 0, not 0"):
        tiny_config(tiny_files, ["dep"], dep_batch_lr_scale=0).validate()


def test_compiled_heads_train_as_the_eager_ones(tiny_files, tmp_path):
    # The "eager" backend runs what torch.compile captured without generating code: the
    # wiring is tested in seconds, and the numbers must match exactly.
    from torch._dynamo.utils import counters

    losses, weights = {}, {}
    counters.clear()
    for backend in ("", "eager"):
        torch.manual_seed(0)
        cfg = tiny_config(tiny_files, ["upos", "chunk", "dep"], model=small_model(chunk_crf=True), compile=backend)
        trainer = Trainer(cfg, tmp_path / (backend or "off"), log=quiet)
        losses[backend] = trainer.train_epoch(1)
        weights[backend] = trainer.model.state_dict()
        assert (counters["frames"]["ok"] > 0) == bool(backend)  # captured only when asked
    assert losses["eager"] == pytest.approx(losses[""], rel=1e-5)
    assert weights["eager"].keys() == weights[""].keys()
    for name, value in weights[""].items():
        assert torch.allclose(weights["eager"][name], value, atol=1e-5), name
    with pytest.raises(ConfigError, match="train.compile must be '' \\(off\\) or a torch.compile backend"):
        tiny_config(tiny_files, ["upos"], compile="fastest").validate()


def test_bf16_mixed_precision_trains_float32_weights_close_to_fp32(tiny_files, tmp_path):
    weights, losses, logs = {}, {}, []
    for precision in ("fp32", "bf16"):
        cfg = tiny_config(tiny_files, ["upos", "chunk", "dep"], model=small_model(chunk_crf=True), precision=precision)
        trainer = Trainer(cfg, tmp_path / precision, log=logs.append)
        losses[precision] = trainer.train_epoch(1)
        weights[precision] = trainer.model.state_dict()
    assert all(v.dtype == weights["fp32"][k].dtype for k, v in weights["bf16"].items())
    assert any(not torch.equal(weights["fp32"][k], v) for k, v in weights["bf16"].items())  # autocast ran
    for task, value in losses["fp32"].items():
        assert math.isfinite(losses["bf16"][task]) and abs(losses["bf16"][task] - value) <= 0.05 * value, task
    from jmt.predict import cpu_has_bf16_units

    assert any("bf16" in line and "emulated" in line for line in logs) != cpu_has_bf16_units()
    with pytest.raises(ConfigError, match="train.precision must be 'fp32' or 'bf16', not 'fp16'"):
        tiny_config(tiny_files, ["upos"], precision="fp16").validate()
