"""Averaging the weights of a run's last epochs (``train.average_last``, ``--average-last``)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from conftest import quiet, tiny_config
from jmt.config import Config, ConfigError, TrainConfig
from jmt.io import average_weights
from jmt.train import LAST_EPOCHS, Trainer


def test_average_weights_is_the_mean_of_the_float_tensors(tmp_path):
    a, b, c = tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "c.safetensors"
    save_file({"w": torch.tensor([1.0, 2.0]), "steps": torch.tensor([1])}, str(a))
    save_file({"w": torch.tensor([3.0, 6.0]), "steps": torch.tensor([2])}, str(b))
    save_file({"w": torch.tensor([5.0, 1.0]), "steps": torch.tensor([3])}, str(c))
    mean = average_weights([a, b, c])
    assert torch.allclose(mean["w"], torch.tensor([3.0, 3.0]))
    assert torch.equal(mean["steps"], torch.tensor([3]))  # not a weight: the last file's


def test_average_weights_refuses_files_of_another_model(tmp_path):
    a, b = tmp_path / "a.safetensors", tmp_path / "b.safetensors"
    save_file({"w": torch.zeros(2)}, str(a))
    save_file({"w": torch.zeros(3)}, str(b))
    with pytest.raises(ConfigError, match=f"{b}: not the same model's weights as {a}"):
        average_weights([a, b])
    (tmp_path / "bad.safetensors").write_bytes(b"not weights")
    with pytest.raises(ConfigError, match="bad.safetensors: not readable weights"):
        average_weights([a, tmp_path / "bad.safetensors"])


def test_average_last_must_not_be_negative():
    with pytest.raises(ConfigError, match="average_last must be 0"):
        Config(train=TrainConfig(average_last=-1)).validate()


def scripted_run(tiny_files, out: Path, monkeypatch, scores: list[float], **train):
    """Train upos for len(scores) - 1 epochs with average_last; the dev scores are scripted
    (the last one is the average's). Returns the result, the weights at each evaluation and
    the files kept for averaging at each evaluation."""
    cfg = tiny_config(tiny_files, ["upos"], dev=True, epochs=len(scores) - 1, select_metric="upos.accuracy", **train)
    trainer = Trainer(cfg, out, log=quiet)
    scripted, states, kept = iter(scores), [], []

    def fake_dev():
        states.append({k: v.clone() for k, v in trainer.model.state_dict().items()})
        kept.append(sorted(p.name for p in (out / LAST_EPOCHS).glob("*")) if (out / LAST_EPOCHS).is_dir() else [])
        return {"upos": {"accuracy": next(scripted), "tokens": 1}}

    monkeypatch.setattr(trainer, "evaluate_dev", fake_dev)
    return trainer.train(), states, kept


def test_the_average_of_the_last_epochs_is_saved_when_it_scores_as_well(tiny_files, tmp_path, monkeypatch):
    out = tmp_path / "out"
    best, states, kept = scripted_run(tiny_files, out, monkeypatch, [10.0, 30.0, 20.0, 30.0], average_last=2)
    # only the epochs the average needs are kept on disk, and they are gone at the end
    assert kept == [[], ["epoch1.safetensors"], ["epoch1.safetensors", "epoch2.safetensors"],
                    ["epoch2.safetensors", "epoch3.safetensors"]]
    assert not (out / LAST_EPOCHS).exists()
    saved = load_file(str(out / "model.safetensors"))
    for key, value in saved.items():
        if value.is_floating_point():
            assert torch.allclose(value, (states[1][key] + states[2][key]) / 2), key
            assert torch.allclose(states[3][key], value), key  # the average was what dev scored
    assert not all(torch.equal(saved[k], states[2][k]) for k in saved)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["averaged_epochs"] == [2, 3] and metrics["select_score"] == 30.0
    assert metrics["best_single_epoch"] == {"epoch": 2, "select_score": 30.0}
    assert best["averaged_epochs"] == [2, 3]
    assert len((out / "metrics.jsonl").read_text().splitlines()) == 3  # the log holds the epochs only


def test_the_selected_epoch_stays_when_the_average_scores_lower(tiny_files, tmp_path, monkeypatch):
    out = tmp_path / "out"
    best, states, _ = scripted_run(tiny_files, out, monkeypatch, [10.0, 30.0, 20.0, 25.0], average_last=3)
    saved = load_file(str(out / "model.safetensors"))
    assert all(torch.equal(saved[k], states[1][k]) for k in saved)  # epoch 2's weights
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epoch"] == 2 and best["epoch"] == 2
    assert metrics["average"]["averaged_epochs"] == [1, 2, 3]
    assert metrics["average"]["select_score"] == 25.0 and metrics["average"]["selected"] is False
    assert not (out / LAST_EPOCHS).exists()


def test_kept_epoch_models_are_averaged_without_a_second_copy(tiny_files, tmp_path, monkeypatch):
    out = tmp_path / "out"
    _, states, kept = scripted_run(tiny_files, out, monkeypatch, [10.0, 20.0, 30.0], average_last=2,
                                   keep_epoch_models=True)
    assert kept == [[], [], []]
    saved = load_file(str(out / "model.safetensors"))
    for key, value in saved.items():
        if value.is_floating_point():
            assert torch.allclose(value, (states[0][key] + states[1][key]) / 2), key
    assert (out / "epoch1" / "model.safetensors").is_file()  # the epoch models stay


def test_the_results_file_says_which_weights_the_model_holds():
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_real", Path(__file__).resolve().parents[1] / "scripts" / "train_real.py")
    train_real = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(train_real)
    averaged = {"epoch": 16, "averaged_epochs": [13, 14, 15, 16], "select_score": 86.2,
                "best_single_epoch": {"epoch": 15, "select_score": 86.12}}
    assert train_real.saved_model_note(averaged) == (
        "Saved model: the weights of epochs 13-16 averaged (`train.average_last`), dev LAS 86.20 against 86.12 "
        "for the best single epoch, 15.")
    not_kept = {"epoch": 15, "average": {"averaged_epochs": [13, 14, 15, 16], "select_score": 86.0}}
    assert train_real.saved_model_note(not_kept) == ("Selected epoch (best dev LAS): 15. The average of epochs "
                                                     "13-16 scored 86.00 and was not kept.")
    assert train_real.saved_model_note({"epoch": 12}) == "Selected epoch (best dev LAS): 12."
