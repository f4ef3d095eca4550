"""The language-modelling objective on the bottom layer (model.lm_vocab, train.lm_weight)."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn.functional as F

from conftest import PAPER_TASKS, quiet, small_model, tiny_config
from jmt.config import ConfigError
from jmt.data.batch import collate_sentences, encode_sentence
from jmt.data.types import Sentence
from jmt.io import load_model
from jmt.model.lm import NeighbourWordLM
from jmt.train import Trainer


def test_forward_states_predict_the_next_word_and_backward_states_the_previous_one(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos"], model=small_model(lm_vocab=6))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    vocabs = trainer.vocabs
    sentences = [["the", "cat", "sleeps", "."], ["a", "dog"], ["zzzunknown", "the", "dog", "barks", "loudly"]]
    batch = collate_sentences([encode_sentence(vocabs, Sentence(words=w)) for w in sentences])
    lm = NeighbourWordLM(8, 6, 5)
    torch.manual_seed(0)
    for p in lm.parameters():
        torch.nn.init.normal_(p)
    h = torch.randn(len(sentences), max(map(len, sentences)), 8)

    expected = torch.zeros(())
    for b, words in enumerate(sentences):
        ids = [i if i < 6 else 1 for i in (vocabs.words.stoi.get(w.lower(), 1) for w in words)]
        for t in range(len(words)):
            following = ids[t + 1] if t + 1 < len(words) else 0  # 0: no word beyond the sentence
            preceding = ids[t - 1] if t > 0 else 0
            expected += F.cross_entropy(lm.next_word(h[b, t, :4])[None], torch.tensor([following]))
            expected += F.cross_entropy(lm.prev_word(h[b, t, 4:])[None], torch.tensor([preceding]))
    assert lm.loss(h, batch).item() == pytest.approx(expected.item(), rel=1e-5)


def test_the_objective_trains_the_bottom_layer_and_leaves_prediction_alone(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, PAPER_TASKS, model=small_model(lm_vocab=30), epochs=2, batch_size=2,
                      dep_batch_size=2)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    assert trainer.model.lm.vocab == 30
    first = trainer.train_pass(trainer.passes[0], 1)
    assert set(first) == {"upos", "xpos", "lm"} and math.isfinite(first["lm"])
    later = {}
    for epoch in (2, 3, 4):
        later = trainer.train_pass(trainer.passes[0], epoch)
    assert later["lm"] < first["lm"]  # it learns the tiny corpus's word order

    words = [["The", "cat", "sleeps", "."]]
    before = trainer.predictor.tag(words)
    with torch.no_grad():
        for p in trainer.model.lm.parameters():
            p.add_(torch.randn_like(p))
    assert trainer.predictor.tag(words) == before  # prediction never runs it


def test_off_by_default_and_at_weight_zero(tiny_files, tmp_path):
    trainer = Trainer(tiny_config(tiny_files, ["upos"]), tmp_path / "a", log=quiet)
    assert trainer.model.lm is None and set(trainer.train_pass(trainer.passes[0], 1)) == {"upos"}
    cfg = tiny_config(tiny_files, ["upos"], model=small_model(lm_vocab=30), lm_weight=0.0)
    trainer = Trainer(cfg, tmp_path / "b", log=quiet)
    before = [p.detach().clone() for p in trainer.model.lm.parameters()]
    assert set(trainer.train_pass(trainer.passes[0], 1)) == {"upos"}
    assert all(torch.equal(a, p) for a, p in zip(before, trainer.model.lm.parameters()))


def test_a_model_trained_with_it_saves_and_loads(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "chunk"], dev=True, model=small_model(lm_vocab=30))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    trainer.train()
    model, _, saved = load_model(tmp_path / "out")
    assert saved.model.lm_vocab == 30
    assert torch.equal(model.lm.next_word[2].weight, trainer.model.lm.next_word[2].weight)


@pytest.mark.parametrize("model_kw, train_kw, message", [
    ({"lm_vocab": -1}, {}, "lm_vocab must be 0"),
    ({"lm_vocab": 1}, {}, "lm_vocab must be 0"),
    ({"lm_vocab": 10, "lm_hidden": 0}, {}, "lm_hidden at least 1"),
    ({}, {"lm_weight": -0.1}, "lm_weight must not be negative"),
])
def test_bad_settings_are_one_clear_error(model_kw, train_kw, message, tiny_files):
    cfg = tiny_config(tiny_files, ["upos"], model=small_model(**model_kw), **train_kw)
    with pytest.raises(ConfigError, match=message):
        cfg.validate()


def test_the_joint_schedule_reports_the_objective_beside_the_tasks(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "chunk"], model=small_model(lm_vocab=30), schedule="joint")
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    losses = trainer.train_joint_epoch(1)
    assert set(losses) == {"upos", "chunk", "lm"} and all(math.isfinite(v) for v in losses.values())


def test_the_task_ordered_schedule_reports_the_objective_over_all_its_passes(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "chunk"], model=small_model(lm_vocab=30), epochs=1)
    messages = []
    trainer = Trainer(cfg, tmp_path / "out", log=messages.append)
    trainer.train()
    logged = {}  # each pass's own line: "epoch 1 NAME: ..., loss per sentence TASK x, lm y"
    for line in messages:
        if line.startswith("epoch 1 ") and ", lm " in line:
            logged[line.split()[2].rstrip(":")] = float(line.rsplit(", lm ", 1)[1])
    sizes = {p.name: len(p.examples) for p in trainer.passes}
    assert set(logged) == set(sizes) and len(sizes) == 2 and len(set(logged.values())) == 2
    record = json.loads((tmp_path / "out" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()[0])
    expected = sum(logged[n] * sizes[n] for n in sizes) / sum(sizes.values())
    assert record["train_loss"]["lm"] == pytest.approx(expected, rel=1e-3)


def test_fine_tuning_above_the_bottom_layer_skips_the_objective(tiny_files, tmp_path):
    base = Trainer(tiny_config(tiny_files, ["upos", "chunk"], model=small_model(lm_vocab=30)), tmp_path / "base",
                   log=quiet)
    base.train()
    cfg = tiny_config(tiny_files, ["chunk"], init_from=str(tmp_path / "base"), freeze_below=2)
    trainer = Trainer(cfg, tmp_path / "ft", log=quiet)
    assert trainer.loss_module.lm_weight == 0.0  # its parameters are frozen with the bottom layer
    assert set(trainer.train_pass(trainer.passes[0], 1)) == {"chunk"}
