"""The ablation runner and `jmt plot`, smoke-run on the sample corpora with a tiny model."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from jmt.cli import app

pytestmark = pytest.mark.slow  # subprocesses and multi-epoch runs: `pytest -m "not slow"` skips them

REPO = Path(__file__).resolve().parents[1]
SMALL = ("[model]\nword_dim = 16\nchar_dim = 16\nhidden = 16\nlabel_dim = 16\nhead_hidden = 16\n"
         "dep_label_hidden = 16\n[train]\noptimizer = \"adam\"\nlr = 0.005\nprogress = false\n")


def test_the_ablation_runner_writes_the_table_and_jmt_plot_draws_it(tmp_path):
    recipe = tmp_path / "small.toml"
    recipe.write_text(SMALL, encoding="utf-8")
    results = tmp_path / "ablations.md"
    cmd = [sys.executable, str(REPO / "scripts" / "ablations.py"), str(tmp_path / "runs"), "--samples",
           "--epochs", "2", "--config", str(recipe), "--variants", "no-shortcut,single-chunk",
           "--jobs", "2", "--results", str(results)]  # two at a time: the CI machine's two cores
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = json.loads((tmp_path / "runs" / "ablations.json").read_text())
    assert [v["name"] for v in table["variants"]] == ["no-shortcut", "single-chunk"]
    assert table["variants"][1]["tasks"] == ["chunk"] and set(table["variants"][1]["test"]) == {"chunk"}
    text = results.read_text()
    assert "| without shortcut connections |" in text and "| single task: chunking |" in text
    assert "97.88" in text  # the paper's figures beside ours

    assert table["common_epoch"] is None and all(v["epochs_done"] == 2 for v in table["variants"])

    results.write_text(text + "\n## Reading\n\nShortcuts matter.\n", encoding="utf-8")

    # a second call with fewer epochs trains nothing and compares every variant after that epoch
    cmd[cmd.index("--epochs") + 1] = "1"
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert "-m jmt train" not in again.stderr
    assert again.stderr.count("-m jmt evaluate") == 2  # the epoch-1 models, not scored before
    table = json.loads((tmp_path / "runs" / "ablations.json").read_text())
    assert table["common_epoch"] == 1
    for v in table["variants"]:
        assert v["epoch"] == 1 and v["dev"] == v["dev_by_epoch"][0] and not v["stopped"]
    assert "Every variant is compared after epoch 1" in results.read_text()
    assert results.read_text().endswith("\n\n## Reading\n\nShortcuts matter.\n")  # kept through the rerun

    result = CliRunner().invoke(app, ["plot", str(tmp_path / "runs"), "-o", str(tmp_path / "png")])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "png" / "ablations.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "png" / "curves.png").read_bytes()[:4] == b"\x89PNG"  # every variant's dev by epoch
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "runs" / "no-shortcut")])
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "runs" / "no-shortcut" / "dev_curves.png").read_bytes()[:4] == b"\x89PNG"


def test_plot_of_a_directory_without_runs_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["plot", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {tmp_path}: nothing to plot (no metrics.jsonl or ablations.json)"


def test_a_sweep_cut_by_its_time_limit_compares_every_variant_at_the_same_epoch(tmp_path):
    recipe = tmp_path / "small.toml"
    recipe.write_text(SMALL, encoding="utf-8")
    results = tmp_path / "ablations.md"
    # chunking alone gets through its 20 epochs in the time (about 4 s, and 5 s to start); the
    # full stack, at about 2 s an epoch, does not
    cmd = [sys.executable, str(REPO / "scripts" / "ablations.py"), str(tmp_path / "runs"), "--samples",
           "--epochs", "20", "--config", str(recipe), "--variants", "full,single-chunk", "--jobs", "2",
           "--minutes", "0.4", "--results", str(results)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = json.loads((tmp_path / "runs" / "ablations.json").read_text())
    common = table["common_epoch"]
    full, chunk = table["variants"]
    assert full["stopped"] and common == full["epochs_done"] >= 1
    assert not chunk["stopped"] and chunk["epochs_done"] == 20 > common  # scored after the common epoch
    for v in (full, chunk):
        assert v["epoch"] == common and v["dev"] == v["dev_by_epoch"][common - 1]
        assert (tmp_path / "runs" / v["name"] / f"test_epoch{common}.json").is_file()
    assert f"## Dev, after epoch {common}" in results.read_text()

    # a second call goes on with the stopped run from its checkpoint, and rescores everyone
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert f"train --resume {tmp_path / 'runs' / 'full'}" in again.stderr
    later = json.loads((tmp_path / "runs" / "ablations.json").read_text())
    assert later["variants"][0]["epochs_done"] > full["epochs_done"]
    assert later["variants"][1]["epochs_done"] == chunk["epochs_done"]  # not trained again


def test_every_panel_of_the_ablation_plot_puts_a_variant_on_the_same_row():
    # single-task variants have bars in some panels only; their rows must not shift
    from jmt.plot import _pyplot, ablation_figure

    table = {"title": "t", "variants": [
        {"name": "full", "dev": {"upos": {"accuracy": 93.0}, "chunk": {"f1": 90.0}, "dep": {"uas": 82.0, "las": 78.0}}},
        {"name": "single-pos", "dev": {"upos": {"accuracy": 94.0}}},
        {"name": "single-chunk", "dev": {"chunk": {"f1": 89.0}}},
    ]}
    plt = _pyplot()
    fig = ablation_figure(table, plt)
    for ax in fig.axes:
        assert ax.get_ylim() == (2.5, -0.5)
        for bar in ax.patches:
            row = round(bar.get_y() + bar.get_height() / 2)
            name = table["variants"][row]["name"]
            assert name == "full" or (name == "single-pos") == ax.get_title().startswith("upos"), (name, ax.get_title())
    assert [ax.get_title() for ax in fig.axes] == ["upos accuracy (dev)", "chunk f1 (dev)", "dep las (dev)"]
    plt.close(fig)


def test_the_sharing_comparison_trains_each_row_once_per_seed_and_tables_mean_and_spread(tmp_path):
    recipe = tmp_path / "small.toml"
    recipe.write_text(SMALL, encoding="utf-8")
    results = tmp_path / "sharing.md"
    cmd = [sys.executable, str(REPO / "scripts" / "sharing.py"), str(tmp_path / "runs"), "--samples",
           "--epochs", "1", "--config", str(recipe), "--variants", "hard,sluice", "--seeds", "1,2", "--jobs", "2",
           "--speed-rounds", "1", "--results", str(results), "--copy-plot"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stderr.count("-m jmt train") == 4  # two rows, two seeds
    table = json.loads((tmp_path / "runs" / "ablations.json").read_text())
    hard, sluice = table["variants"]
    assert (hard["name"], sluice["name"]) == ("hard.joint", "sluice.joint")
    for row in (hard, sluice):
        seeds = [json.loads((tmp_path / "runs" / row["name"] / f"seed{s}" / "test.json").read_text()) for s in (1, 2)]
        las = [s["dep"]["las"] for s in seeds]
        assert row["test"]["dep"]["las"] == pytest.approx(sum(las) / 2)
        assert row["test_spread"]["dep"]["las"] == pytest.approx(max(las) - min(las))
        assert row["words_per_s"] > 0 and row["parameters"] > 0
    assert sluice["parameters"] > hard["parameters"]  # a column of layers per depth
    text = results.read_text()
    for heading in ("## Dev", "## Test", "## Cost", "## Against the hard-sharing recipe (hard, joint)"):
        assert heading in text
    assert "| sluice network | joint | dev |" in text and " of 5 |" in text
    for png in ("sharing_curves.png", "sharing_bars.png", "sharing_sluice.png"):
        assert (tmp_path / png).read_bytes()[:4] == b"\x89PNG"

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert "-m jmt train" not in again.stderr and "-m jmt evaluate" not in again.stderr  # nothing new to do


def test_within_the_spread_allows_the_larger_spread_and_counts_better_as_within():
    sys.path.insert(0, str(REPO / "scripts"))
    from sharing import within_spread

    def row(las, las_spread, mse, mse_spread):
        scores = {"dep": {"las": las}, "relatedness": {"mse": mse}}
        spread = {"dep": {"las": las_spread}, "relatedness": {"mse": mse_spread}}
        return {"dev": scores, "dev_spread": spread}

    hard = row(80.0, 0.4, 0.30, 0.01)
    assert within_spread(row(79.7, 0.1, 0.30, 0.0), hard, "dep", "las", False, "dev")  # hard's spread allows 0.4
    assert not within_spread(row(79.5, 0.1, 0.30, 0.0), hard, "dep", "las", False, "dev")
    assert within_spread(row(79.0, 1.0, 0.30, 0.0), hard, "dep", "las", False, "dev")  # its own spread
    assert within_spread(row(85.0, 0.0, 0.30, 0.0), hard, "dep", "las", False, "dev")  # better
    assert within_spread(row(80, 0, 0.305, 0.0), hard, "relatedness", "mse", True, "dev")  # lower is better
    assert not within_spread(row(80, 0, 0.32, 0.0), hard, "relatedness", "mse", True, "dev")
    assert within_spread(row(80, 0, 0.2, 0.0), hard, "relatedness", "mse", True, "dev")
    assert within_spread(row(80, 0, 0.2, 0.0), hard, "entailment", "accuracy", False, "dev") is None
