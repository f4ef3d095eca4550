"""Multi-process training: two CPU processes (gloo over loopback) started by torchrun."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import write_tiny_corpora

pytestmark = pytest.mark.slow  # subprocesses and multi-epoch runs: `pytest -m "not slow"` skips them

TESTS = Path(__file__).resolve().parent
RANK_SCRIPT = """
import hashlib, json, os, sys
sys.path.insert(0, {tests!r})
from pathlib import Path
import torch
from conftest import PAPER_TASKS, quiet, small_model, tiny_config
from jmt.distributed import init_from_environment, shutdown
from jmt.train import Trainer


dist = init_from_environment()
files = {{k: Path(v) for k, v in {files!r}.items()}}
out = Path({out!r})
cfg = tiny_config(files, {tasks!r}, dev=True, epochs={epochs}, seed=3, batch_size=2, dep_batch_size=2, model={model})
trainer = Trainer(cfg, out / "model", log=quiet, dist=dist)
trainer.train()
digest = hashlib.sha256()
for name, tensor in sorted(trainer.model.state_dict().items()):
    digest.update(name.encode())
    digest.update(tensor.detach().numpy().tobytes())
anchor = hashlib.sha256(b"".join(t.numpy().tobytes() for _, t in sorted(trainer.regularizer.anchor.items())))
(out / f"rank{{dist.rank}}.json").write_text(json.dumps(
    {{"world": dist.world_size, "params": digest.hexdigest(), "anchor": anchor.hexdigest()}}))
shutdown()
"""
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def torchrun(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", *args]
    return subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=timeout)


def rank_script(files: dict, out: Path, tasks=None, epochs: int = 6, model: str = "None") -> str:
    from conftest import PAPER_TASKS

    return RANK_SCRIPT.format(tests=str(TESTS), files={k: str(v) for k, v in files.items()}, out=str(out),
                              tasks=list(tasks or PAPER_TASKS), epochs=epochs, model=model)


def test_two_processes_train_one_model_with_identical_parameters(tmp_path):
    files = write_tiny_corpora(tmp_path)
    script = tmp_path / "rank.py"
    script.write_text(rank_script(files, tmp_path), encoding="utf-8")
    proc = torchrun(str(script))
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == ranks[1]["world"] == 2
    # Each rank trained on its own shard (2-example batches: 3 or 4 per pass, split between
    # the two) with its own dropout masks, yet every step was the same step.
    assert ranks[0]["params"] == ranks[1]["params"]
    assert ranks[0]["anchor"] == ranks[1]["anchor"]  # and so were the successive-regularization snapshots
    # only rank 0 wrote the model, the log and the checkpoint
    records = [json.loads(line) for line in (tmp_path / "model" / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5, 6]
    for task in ("upos", "chunk", "dep", "relatedness", "entailment"):
        assert records[-1]["train_loss"][task] < records[0]["train_loss"][task], task


def test_torchrun_launches_jmt_train(tmp_path):
    recipe = tmp_path / "small.toml"
    recipe.write_text("[model]\nword_dim = 16\nchar_dim = 16\nhidden = 16\nlabel_dim = 16\nhead_hidden = 16\n"
                      "dep_label_hidden = 16\n[train]\noptimizer = \"adam\"\nlr = 0.005\nprogress = false\n",
                      encoding="utf-8")
    out = tmp_path / "model"
    proc = torchrun("-m", "jmt", "train", str(recipe), "-o", str(out), "--epochs", "1")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("saved the model of epoch 1") == 1  # rank 0 alone reports
    assert "on 2 processes" in proc.stderr
    assert (out / "model.safetensors").is_file() and (out / "resume.safetensors").is_file()


@pytest.mark.parametrize("world", ["1"])
def test_a_single_process_ignores_the_distributed_machinery(world, monkeypatch):
    from jmt.distributed import init_from_environment

    monkeypatch.setenv("WORLD_SIZE", world)
    assert init_from_environment() is None


@pytest.mark.parametrize("device, gpu, backend", [("auto", True, "nccl"), ("cuda", True, "nccl"),
                                                  ("cpu", True, "gloo"), ("auto", False, "gloo")])
def test_the_process_group_backend_follows_the_device(device, gpu, backend, monkeypatch):
    # NCCL only carries GPU tensors: a CPU run on a GPU machine needs gloo
    import torch

    from jmt import distributed

    joined = []
    for name, value in {"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: gpu)
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    monkeypatch.setattr(distributed.dist, "init_process_group", joined.append)
    group = distributed.init_from_environment(device)
    assert joined == [backend]
    assert (group.rank, group.world_size, group.local_rank) == (1, 2, 1)


@pytest.mark.parametrize("trainable", [False, True])
def test_two_processes_train_with_a_pretrained_encoder(tmp_path, trainable):
    pytest.importorskip("transformers")
    from test_encoder import tiny_bert

    files = write_tiny_corpora(tmp_path)
    bert = tiny_bert(tmp_path / "bert")
    script = tmp_path / "rank.py"
    model = f"small_model(encoder={str(bert)!r}, encoder_trainable={trainable})"
    script.write_text(rank_script(files, tmp_path, tasks=["upos", "dep"], epochs=3, model=model), encoding="utf-8")
    env = {**ENV, "JMT_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["params"] == ranks[1]["params"]  # the fine-tuned encoder's weights too, when trainable
    assert bool(list((tmp_path / "cache").rglob("*.safetensors"))) != trainable  # frozen: states cached

