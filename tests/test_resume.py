"""Faults during training: resume checkpoints, SIGKILL and SIGINT, non-finite losses, damaged model
directories, and the record of how a model was trained."""
from __future__ import annotations

import hashlib
import json
import math
import os
import pickle
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from conftest import quiet, tiny_config
from jmt.checkpoint import CHECKPOINT, load_checkpoint
from jmt.config import ConfigError
from jmt.errors import TrainingError
from jmt.io import load_model
from jmt.train import Trainer

pytestmark = pytest.mark.slow  # subprocesses and multi-epoch runs: `pytest -m "not slow"` skips them

SAMPLES = Path(__file__).resolve().parents[1] / "corpora" / "sample"
SMALL = """[model]
word_dim = 24
char_dim = 24
hidden = 24
label_dim = 24
head_hidden = 24
dep_label_hidden = 24
[train]
optimizer = "adam"
lr = 0.005
progress = false
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def jmt_train(*args: str) -> subprocess.Popen:
    # As from a terminal: a suite started in the background of a non-interactive shell would
    # pass its ignored SIGINT on to the child, and Python keeps an ignored SIGINT ignored.
    return subprocess.Popen([sys.executable, "-m", "jmt.cli", "train", *args], env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for_checkpoint(proc: subprocess.Popen, path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.01)


@pytest.fixture(scope="module")
def recipe(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("recipe") / "small.toml"
    path.write_text(SMALL, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory, recipe) -> Path:
    """Three epochs on the sample corpora, never stopped."""
    out = tmp_path_factory.mktemp("whole") / "model"
    proc = jmt_train(str(recipe), "-o", str(out), "--epochs", "3", "--seed", "4")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return out


def test_a_run_killed_mid_epoch_and_resumed_ends_with_the_same_weights(uninterrupted, recipe, tmp_path):
    out = tmp_path / "model"
    proc = jmt_train(str(recipe), "-o", str(out), "--epochs", "3", "--seed", "4")
    wait_for_checkpoint(proc, out / CHECKPOINT)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up
    proc.communicate()
    state = load_checkpoint(out)
    assert (state["epoch"], state["next_pass"]) < (4, 0), "the run finished before it was killed"

    resumed = jmt_train("--resume", str(out))
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err
    assert "resuming from" in err

    for name in ("model.safetensors",):
        a, b = load_file(str(uninterrupted / name)), load_file(str(out / name))
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    final_a, final_b = load_checkpoint(uninterrupted)["model"], load_checkpoint(out)["model"]
    assert all(torch.equal(final_a[k], final_b[k]) for k in final_a)
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3]
    whole = [json.loads(line) for line in (uninterrupted / "metrics.jsonl").read_text().splitlines()]
    assert [r["dev"] for r in lines] == [r["dev"] for r in whole]


@pytest.mark.parametrize("sig,code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_or_sigterm_stops_with_a_checkpoint_and_says_how_to_resume(recipe, tmp_path, sig, code):
    out = tmp_path / "model"
    proc = jmt_train(str(recipe), "-o", str(out), "--epochs", "50", "--seed", "4")
    wait_for_checkpoint(proc, out / CHECKPOINT)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == code
    assert f"jmt train --resume {out}" in err
    assert "Traceback" not in err
    load_checkpoint(out)  # intact


def test_resuming_can_extend_the_run(uninterrupted, tmp_path):
    out = tmp_path / "model"
    import shutil

    shutil.copytree(uninterrupted, out)
    proc = jmt_train("--resume", str(out), "--epochs", "4")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1, 2, 3, 4]
    first = json.loads((uninterrupted / "training.json").read_text())["command"]
    record = json.loads((out / "training.json").read_text())
    assert record["command"] == first and "--resume" not in first  # the command that started the run stays
    assert record["resumed_with"] == [[*record["resumed_with"][0][:-4], "--resume", str(out), "--epochs", "4"]]


def test_a_checkpoint_from_before_a_setting_existed_resumes_with_its_default(uninterrupted, tmp_path):
    import shutil

    from jmt.checkpoint import save_checkpoint

    out = tmp_path / "model"
    shutil.copytree(uninterrupted, out)
    state = load_checkpoint(out)
    cfg = json.loads(state["config"])
    del cfg["train"]["calibrate"]  # as an older jmt wrote it, with a line then kept in the config
    cfg["model"]["relatedness_scale"] = 1.0
    save_checkpoint(out, {**state, "config": json.dumps(cfg)})
    proc = jmt_train("--resume", str(out), "--epochs", "4")
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err


def test_the_checkpoint_is_safetensors_and_json(uninterrupted):
    from safetensors import safe_open

    # safetensors, not a pickle: an 8-byte little-endian length, then that much JSON (a pickle's
    # first byte is 0x80 too, which a header length can also start with, so that byte proves nothing)
    data = (uninterrupted / CHECKPOINT).read_bytes()
    size = int.from_bytes(data[:8], "little")
    assert isinstance(json.loads(data[8 : 8 + size]), dict)
    with safe_open(str(uninterrupted / CHECKPOINT), framework="pt") as f:
        tree = json.loads(f.metadata()["jmt_checkpoint"])
        assert len(list(f.keys())) > 0
    assert isinstance(tree, dict)
    state = load_checkpoint(uninterrupted)
    assert (state["epoch"], state["next_pass"]) == (4, 0)
    assert set(state["rng"]) == {"python", "trainer", "numpy", "torch"}
    assert {"model", "optimizer", "best", "best_record", "config"} <= set(state)
    # the optimizer's state comes back keyed by parameter index, its betas as a tuple
    assert all(isinstance(k, int) for k in state["optimizer"]["state"])
    assert isinstance(state["optimizer"]["param_groups"][0]["betas"], tuple)


def test_a_checkpoint_round_trips_tensors_and_containers(tmp_path):
    from jmt.checkpoint import save_checkpoint

    state = {"model": {"w": torch.arange(6.0).view(2, 3), "step": torch.tensor(3.0)},
             "optimizer": {"state": {0: {"exp_avg": torch.ones(2)}}, "param_groups": [{"betas": (0.9, 0.999)}]},
             "rng": {"torch": torch.get_rng_state()}, "best": float("-inf"), "note": None, "order": [2, 1]}
    save_checkpoint(tmp_path, state)
    back = load_checkpoint(tmp_path)
    assert back.pop("checkpoint_version") == 2
    assert torch.equal(back["model"]["w"], state["model"]["w"]) and back["model"]["step"].shape == ()
    assert torch.equal(back["optimizer"]["state"][0]["exp_avg"], torch.ones(2))
    assert back["optimizer"]["param_groups"] == [{"betas": (0.9, 0.999)}]
    assert torch.equal(back["rng"]["torch"], state["rng"]["torch"])
    assert (back["best"], back["note"], back["order"]) == (float("-inf"), None, [2, 1])
    with pytest.raises(TypeError, match="set"):
        save_checkpoint(tmp_path, {"odd": {1, 2}})
    assert load_checkpoint(tmp_path)["order"] == [2, 1]  # the failed write left the last checkpoint


def test_a_pickled_checkpoint_of_an_older_jmt_is_one_clear_error(tmp_path):
    (tmp_path / "resume.pt").write_bytes(pickle.dumps({"checkpoint_version": 1}))
    with pytest.raises(ConfigError, match=r"resume\.pt: a checkpoint of an older jmt"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("args, message", [
    (["--train", "upos=x.conllu"], "--train"),
    (["-o", "elsewhere"], "-o"),
])
def test_resume_takes_nothing_but_epochs(uninterrupted, args, message):
    proc = jmt_train("--resume", str(uninterrupted), *args)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2
    assert message in err and len(err.strip().splitlines()) == 1


def test_resume_without_a_checkpoint_is_one_line(tmp_path):
    proc = jmt_train("--resume", str(tmp_path))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 1
    assert err.strip().splitlines() == [f"error: {tmp_path / CHECKPOINT}: no checkpoint to resume from "
                                        "(training writes one after every task pass)"]


class Payload:
    """Unpickling this would create a file: the proof that a loader ran foreign code."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("target", [CHECKPOINT, "model.safetensors"])
def test_a_pickle_payload_is_refused_without_being_run(uninterrupted, tmp_path, target):
    import shutil

    out = tmp_path / "model"
    shutil.copytree(uninterrupted, out)
    marker = tmp_path / "pwned"
    (out / target).write_bytes(pickle.dumps({"model": Payload(marker)}))
    with pytest.raises(ConfigError, match=target.replace(".", r"\.")):
        load_checkpoint(out) if target == CHECKPOINT else load_model(out)
    assert not marker.exists()


@pytest.mark.parametrize("damage", ["truncate", "garbage", "missing", "newer", "missing_vocab"])
def test_a_damaged_model_directory_is_one_clear_error(uninterrupted, tmp_path, damage):
    import shutil

    out = tmp_path / "model"
    shutil.copytree(uninterrupted, out)
    weights = out / "model.safetensors"
    if damage == "truncate":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif damage == "garbage":
        weights.write_bytes(os.urandom(4096))
    elif damage == "missing":
        weights.unlink()
    elif damage == "missing_vocab":
        (out / "vocab.json").unlink()
    else:
        config = json.loads((out / "config.json").read_text())
        config["format_version"] = 99
        (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError) as info:
        load_model(out)
    assert str(out) in str(info.value) and "\n" not in str(info.value)
    if damage == "newer":
        assert "version 99" in str(info.value)
    proc = subprocess.run([sys.executable, "-m", "jmt.cli", "info", str(out)], env=ENV, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 1 and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_the_model_directory_records_how_it_was_trained(uninterrupted):
    record = json.loads((uninterrupted / "training.json").read_text())
    assert record["seed"] == 4
    assert {"jmt", "torch", "python"} <= set(record["versions"])
    assert "--seed" in record["command"]
    assert record["wall_seconds"] > 0 and record["epochs_done"] == 3
    files = {Path(f["path"]).name: f for f in record["data"]}
    assert {"train.conllu", "dev.conllu", "chunk_train.txt", "pairs_train.tsv"} <= set(files)
    for name, entry in files.items():
        data = (SAMPLES / name).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert "train upos" in files["train.conllu"]["used_for"] and "train dep" in files["train.conllu"]["used_for"]


# ----------------------------------------------------------------------------- non-finite values


def test_a_non_finite_loss_stops_the_pass_and_keeps_the_best_model(tiny_files, tmp_path):
    trainer = Trainer(tiny_config(tiny_files, ["upos", "chunk"], dev=True), tmp_path / "out", log=quiet)
    trainer.train()
    before = load_file(str(tmp_path / "out" / "model.safetensors"))
    head = trainer.model.heads["chunk"]
    head.loss = lambda scores, batch: torch.tensor(float("nan"))
    with pytest.raises(TrainingError, match=r"epoch 2, task chunk, step 1 of \d+: the loss is nan") as info:
        trainer.train_pass(trainer.passes[1], 2)
    assert "best model so far" in str(info.value) and "intact" in str(info.value)
    model, _, _ = load_model(tmp_path / "out")
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_a_new_run_that_fails_in_its_first_epoch_leaves_the_old_runs_log_and_points_at_no_checkpoint(tiny_files, tmp_path):
    out = tmp_path / "out"
    Trainer(tiny_config(tiny_files, ["upos"], dev=True, epochs=2), out, log=quiet).train()
    log_before = (out / "metrics.jsonl").read_text()
    assert log_before.count("\n") == 2 and (out / CHECKPOINT).is_file()  # the old run's, not this one's to resume
    lines = []
    again = Trainer(tiny_config(tiny_files, ["upos"], dev=True), out, log=lines.append)
    again.model.heads["upos"].loss = lambda scores, batch: (_ for _ in ()).throw(KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        again.train()
    assert (out / "metrics.jsonl").read_text() == log_before
    assert "nothing of it was saved" in lines[-1] and "--resume" not in lines[-1]
    again.model.heads["upos"].loss = lambda scores, batch: torch.tensor(float("nan"))
    with pytest.raises(TrainingError, match="--set train.clip"):
        again.train()
    assert (out / "metrics.jsonl").read_text() == log_before


def test_resuming_after_a_training_file_changed_is_one_line_naming_it(tmp_path):
    from conftest import write_tiny_corpora

    files = write_tiny_corpora(tmp_path)
    out = tmp_path / "out"
    Trainer(tiny_config(files, ["upos"], epochs=1), out, log=quiet).train()
    path = files["conllu"]
    path.write_text(path.read_text(encoding="utf-8").replace("\tcat\t", "\tcats\t", 1), encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{re.escape(str(path))}: changed since the run started"):
        Trainer(tiny_config(files, ["upos"], epochs=2), out, log=quiet, resume=True).train()


@pytest.mark.parametrize("deferred", [False, True], ids=["each step", "on the device"])
def test_a_non_finite_gradient_stops_the_pass_before_the_update(tiny_files, tmp_path, deferred):
    # On the device (a GPU's way, forced here): the steps after the bad one still run but
    # update nothing, and the pass stops at the next check with the bad step's own error.
    trainer = Trainer(tiny_config(tiny_files, ["upos"], batch_size=2), tmp_path / "out", log=quiet)
    trainer.deferred_checks = deferred
    calls = []
    trainer.model.heads["upos"].out.weight.register_hook(
        lambda grad: torch.full_like(grad, float("inf")) if calls.append(1) or len(calls) == 1 else None)
    snapshot = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    with pytest.raises(TrainingError, match=r"epoch 1, task upos, step 1 of \d+: the gradient norm is inf") as info:
        trainer.train_pass(trainer.passes[0], 1)
    steps = int(re.search(r"step 1 of (\d+)", str(info.value)).group(1))
    assert steps > 1 and len(calls) == (steps if deferred else 1)
    assert all(torch.equal(snapshot[k], v) for k, v in trainer.model.state_dict().items())


def test_a_non_finite_loss_on_the_device_stops_where_checks_each_step_stop(tiny_files, tmp_path):
    states = []
    for deferred in (False, True):
        trainer = Trainer(tiny_config(tiny_files, ["upos", "chunk"], batch_size=2), tmp_path / str(deferred), log=quiet)
        trainer.deferred_checks = deferred
        head, calls = trainer.model.heads["chunk"], []
        real = head.loss
        head.loss = lambda scores, batch: real(scores, batch) * (float("nan") if calls.append(1) or len(calls) == 2 else 1.0)
        with pytest.raises(TrainingError, match=r"epoch 1, task chunk, step 2 of \d+: the loss is nan"):
            trainer.train_pass(trainer.passes[1], 1)
        states.append(trainer.model.state_dict())  # step 1's update, and none after it
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_checks_on_the_device_train_the_same_weights_as_checks_each_step(tiny_files, tmp_path):
    weights = []
    for deferred in (False, True):
        trainer = Trainer(tiny_config(tiny_files, ["upos", "chunk"], batch_size=2), tmp_path / str(deferred), log=quiet)
        trainer.deferred_checks = deferred
        losses = trainer.train_epoch(1)
        assert all(math.isfinite(v) for v in losses.values())
        weights.append(trainer.model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
