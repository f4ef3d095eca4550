"""Training schedules beyond the paper's (joint, uncertainty-weighted), random task order,
and the ablation switches that change the architecture (no character n-grams, all tasks on
the top layer), each trained on the shipped sample corpora."""
from __future__ import annotations

import json
import math

import pytest
import torch
from typer.testing import CliRunner

from conftest import PAPER_TASKS, quiet, small_model, tiny_config
from jmt.cli import app
from jmt.config import ConfigError
from jmt.data.types import Pair
from jmt.io import load_model
from jmt.tasks import TASKS
from jmt.train import Trainer

pytestmark = pytest.mark.slow  # subprocesses and multi-epoch runs: `pytest -m "not slow"` skips them

SMALL = ("[model]\nword_dim = 16\nchar_dim = 16\nhidden = 16\nlabel_dim = 16\nhead_hidden = 16\n"
         "dep_label_hidden = 16\ndep_arc_dim = 16\n[train]\noptimizer = \"adam\"\nlr = 0.005\nprogress = false\n")

# name -> CLI flags; every one trains all six tasks on corpora/sample
VARIANTS = {
    "joint": ["--schedule", "joint"],
    "uncertainty": ["--schedule", "uncertainty"],
    "random task order": ["--task-order", "random"],
    "no character n-grams": ["--no-char-ngrams"],
    "all tasks on the top layer": ["--no-growing-depth"],
    "no shortcut": ["--no-shortcut"],
    "no vertical": ["--no-vertical"],
    "no label embeddings": ["--no-label-embeddings"],
    "no successive regularization": ["--no-successive-regularization"],
    "biaffine": ["--dep-scorer", "biaffine"],
    "soft sharing": ["--sharing", "soft"],
    "cross-stitch": ["--sharing", "cross-stitch"],
    "sluice": ["--sharing", "sluice"],
    "chunk CRF": ["--chunk-crf"],
}


@pytest.mark.parametrize("name", list(VARIANTS))
def test_each_schedule_and_switch_trains_on_the_samples(name, tmp_path):
    recipe = tmp_path / "small.toml"
    recipe.write_text(SMALL, encoding="utf-8")
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", str(recipe), "-o", str(out), "--epochs", "2", *VARIANTS[name]])
    assert result.exit_code == 0, result.stderr
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    for task in PAPER_TASKS:
        assert math.isfinite(records[-1]["train_loss"][task]), task
    assert sum(records[-1]["train_loss"].values()) < sum(records[0]["train_loss"].values())
    model, vocabs, cfg = load_model(out)
    assert set(model.tasks) == {name for name, task in TASKS.items() if task.sample}  # every task with samples
    assert cfg.model.chunk_crf == (name == "chunk CRF")


def test_joint_schedule_draws_batches_of_every_task_by_corpus_size(tiny_files, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_files, PAPER_TASKS, schedule="joint", batch_size=2, dep_batch_size=2)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    drawn = []
    original = trainer.train_step
    monkeypatch.setattr(trainer, "train_step", lambda p, *a: drawn.append(p.name) or original(p, *a))
    sr_calls = []
    monkeypatch.setattr(trainer.regularizer, "successive", lambda d: sr_calls.append(d) or torch.zeros(()))
    trainer.train_epoch(1)
    sizes = {p.name: math.ceil(len(p.examples) / p.batch_size) for p in trainer.passes}
    assert len(drawn) == sum(sizes.values())  # an epoch: as many steps as batches
    assert set(drawn) == set(sizes)
    assert sr_calls == []  # no successive regularization when all layers train together


def test_a_joint_epoch_logs_each_pass_s_batches_and_words_per_second(tiny_files, tmp_path):
    import re

    logged = []
    trainer = Trainer(tiny_config(tiny_files, PAPER_TASKS, schedule="joint", batch_size=2, dep_batch_size=2),
                      tmp_path / "out", log=logged.append)
    trainer.train_epoch(1)
    # the same line as a task-ordered pass logs (scripts/bench_gpu.py reads it)
    lines = [m for m in map(re.compile(r"^epoch 1 (\S+): (\d+) batches, ([\d,]+) words/s").match, logged) if m]
    assert {m[1] for m in lines} == {p.name for p in trainer.passes}
    drawn = {m[1]: int(m[2]) for m in lines}
    assert sum(drawn.values()) == sum(math.ceil(len(p.examples) / p.batch_size) for p in trainer.passes)
    assert all(int(m[3].replace(",", "")) > 0 for m in lines)


def test_temperature_flattens_the_task_distribution(tiny_files, tmp_path):
    counts = {}
    for temperature in (1.0, 1000.0):
        cfg = tiny_config(tiny_files, ["upos", "chunk"], schedule="joint", joint_temperature=temperature,
                          batch_size=1, seed=3)
        trainer = Trainer(cfg, tmp_path / f"t{temperature}", log=quiet)
        drawn = []
        trainer.train_step = lambda p, *a: drawn.append(p.name) or {t: torch.zeros(()) for t in p.tasks}
        for epoch in range(1, 30):
            trainer.train_epoch(epoch)
        counts[temperature] = drawn.count("upos") / len(drawn)
    # 6 upos sentences against 5 chunk sentences: proportional ~ 6/11, flat ~ 1/2
    assert abs(counts[1.0] - 6 / 11) < 0.06 and abs(counts[1000.0] - 0.5) < 0.06


def test_uncertainty_weights_are_learned_and_resumable(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "chunk"], schedule="uncertainty", batch_size=2, epochs=3, dev=True)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    log_vars = trainer.loss_module.log_vars
    assert set(log_vars) == {"upos", "chunk"}
    trainer.train()
    assert all(v.item() != 0.0 for v in log_vars.values())  # they moved
    from jmt.checkpoint import load_checkpoint

    state = load_checkpoint(tmp_path / "out")
    assert {k: v.item() for k, v in state["task_weights"].items()} == {k: v.item() for k, v in log_vars.items()}


def test_random_task_order_shuffles_the_passes_and_resumes_in_the_same_order(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, PAPER_TASKS, task_order="random", seed=2)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    orders = {tuple(trainer.epoch_order()) for _ in range(20)}
    assert len(orders) > 1 and all(sorted(o) == list(range(len(trainer.passes))) for o in orders)
    bottom_up = Trainer(tiny_config(tiny_files, PAPER_TASKS, seed=2), tmp_path / "b", log=quiet)
    assert {tuple(bottom_up.epoch_order()) for _ in range(5)} == {tuple(range(len(bottom_up.passes)))}


def test_without_growing_depth_every_head_reads_the_top_layer(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, PAPER_TASKS, model=small_model(growing_depth=False))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    top = max(trainer.model.depths)
    assert {head.depth for head in trainer.model.heads.values()} == {top}
    # no task sits below another, so no label embeddings feed any layer
    assert all(layer.lstm.input_size in (trainer.model.embed.out_dim, trainer.model.embed.out_dim + 2 * 32)
               for layer in trainer.model.layers.values())
    # passes group by corpus: EWT-like (upos, xpos, dep), chunk, pairs (relatedness, entailment)
    assert sorted(p.name for p in trainer.passes) == ["chunk", "relatedness+entailment", "upos+xpos+dep"]
    trainer.train()
    assert trainer.predictor.pair([Pair(["A", "cat"], ["A", "dog"])])[0]["entailment"]


def test_without_char_ngrams_the_word_representation_is_the_word_embedding(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos"], model=small_model(char_ngrams=False))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    assert trainer.model.embed.ngrams is None
    assert trainer.model.embed.out_dim == cfg.model.word_dim
    assert not any(n.startswith("embed.ngrams") for n, _ in trainer.model.named_parameters())


@pytest.mark.parametrize("key, value", [("schedule", "round-robin"), ("task_order", "top-down"),
                                        ("joint_temperature", 0.0)])
def test_bad_schedule_settings_are_config_errors(tiny_files, key, value):
    with pytest.raises(ConfigError, match=key):
        tiny_config(tiny_files, ["upos"], **{key: value}).validate()


def test_soft_sharing_keeps_copies_tied_to_the_shared_layers(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "chunk", "dep"], model=small_model(sharing="soft"), batch_size=2,
                      dep_batch_size=2, soft_sharing_weight=0.01)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    model = trainer.model
    assert sorted(model.copies) == ["chunk_pos", "dep_chunk", "dep_pos"]  # chunk's copy of pos; dep's of pos and chunk
    assert model.soft_sharing_penalty(3).item() == 0.0  # copies start equal
    for epoch in (1, 2):
        for p in trainer.passes:
            trainer.train_pass(p, epoch)
    assert model.soft_sharing_penalty(3).item() > 0.0  # each task moved its own copy...
    shared, copy_ = model.layers["pos"].lstm.weight_ih_l0, model.copies["dep_pos"].lstm.weight_ih_l0
    assert not torch.equal(shared, copy_)
    # ...and the penalty pulls them together: its gradient points from one to the other
    model.zero_grad(set_to_none=True)
    penalty = model.soft_sharing_penalty(3)
    penalty.backward()
    assert torch.allclose(copy_.grad, 2 * (copy_ - shared).detach())

    # prediction reads each task's own copies: upos alone or with dep gives the same tags
    sentences = [s.words for s in trainer.corpora.train["upos"]]
    alone = trainer.predictor.tag(sentences, ["upos"])
    together = trainer.predictor.tag(sentences, ["upos", "dep"])
    assert [a["upos"] for a in alone] == [t["upos"] for t in together]
    trainer.train()
    loaded, vocabs, loaded_cfg = load_model(tmp_path / "out")
    assert loaded_cfg.model.sharing == "soft" and sorted(loaded.copies) == sorted(model.copies)
