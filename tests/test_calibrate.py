"""Relatedness calibration: a least-squares line on dev pairs, fitted after training."""
from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors import safe_open
from typer.testing import CliRunner

from conftest import SAMPLE, quiet, tiny_config
from jmt.calibrate import calibrate as calibrate_relatedness
from jmt.cli import app
from jmt.config import ConfigError
from jmt.data.corpus import read_corpus
from jmt.io import load_model
from jmt.predict import Predictor
from jmt.train import train


def _scores(model_dir, pairs, raw=False):
    model, vocabs, _ = load_model(model_dir)
    if raw:
        model.heads["relatedness"].set_calibration(1.0, 0.0)
    return np.array([p["relatedness"] for p in Predictor(model, vocabs).pair(pairs)])


@pytest.mark.slow
def test_training_fits_the_line_on_the_dev_pairs_and_the_saved_model_applies_it(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["relatedness"], epochs=2)
    cfg.data.train = {"relatedness": str(SAMPLE / "pairs_train.tsv")}
    cfg.data.dev = {"relatedness": str(SAMPLE / "pairs_dev.tsv")}  # 80 pairs
    record = train(cfg, tmp_path / "m", log=quiet)
    fit = record["calibration"]
    with safe_open(str(tmp_path / "m" / "model.safetensors"), "pt") as f:  # stored with the weights
        assert f.get_tensor("heads.relatedness.calibration").tolist() == pytest.approx([fit["scale"], fit["shift"]])
    assert "relatedness_scale" not in json.loads((tmp_path / "m" / "config.json").read_text())["model"]
    assert json.loads((tmp_path / "m" / "metrics.json").read_text())["calibration"] == fit
    pairs = read_corpus(SAMPLE / "pairs_dev.tsv", "relatedness")
    raw, calibrated = _scores(tmp_path / "m", pairs, raw=True), _scores(tmp_path / "m", pairs)
    assert np.allclose(calibrated, np.clip(fit["scale"] * raw + fit["shift"], 1, 5), atol=1e-4)
    gold = np.array([p.relatedness for p in pairs])
    # least squares on the same pairs: never worse than the raw scores there
    assert ((calibrated - gold) ** 2).mean() <= ((raw - gold) ** 2).mean() + 1e-9
    assert fit["dev_mse_after"] <= fit["dev_mse_before"]


def test_fitting_again_reads_the_raw_scores_and_gives_the_same_line(tiny_files, tmp_path):
    train(tiny_config(tiny_files, ["relatedness"], dev=True, calibrate=False), tmp_path / "m", log=quiet)
    assert load_model(tmp_path / "m")[0].heads["relatedness"].scale == 1.0
    pairs = read_corpus(tiny_files["pairs"], "relatedness")
    first = calibrate_relatedness(tmp_path / "m", pairs, min_pairs=2)
    second = calibrate_relatedness(tmp_path / "m", pairs, min_pairs=2)
    assert first == second


def test_too_few_dev_pairs_leave_the_scores_alone(tiny_files, tmp_path):
    logged = []
    record = train(tiny_config(tiny_files, ["relatedness"], dev=True), tmp_path / "m", log=logged.append)
    assert "calibration" not in record
    assert any("not calibrated: 8 dev pairs" in m for m in logged)
    with pytest.raises(ConfigError, match="at least 50 pairs"):
        calibrate_relatedness(tmp_path / "m", read_corpus(tiny_files["pairs"], "relatedness"))


def test_calibrating_a_model_without_relatedness_is_a_clear_error(tiny_files, tmp_path):
    train(tiny_config(tiny_files, ["upos"]), tmp_path / "m", log=quiet)
    with pytest.raises(ConfigError, match="no relatedness task"):
        calibrate_relatedness(tmp_path / "m", read_corpus(tiny_files["pairs"], "relatedness"))
    result = CliRunner().invoke(app, ["calibrate", str(tmp_path / "m"), str(tiny_files["pairs"])])
    assert result.exit_code == 1 and "no relatedness task" in result.stderr


def test_jmt_calibrate_reports_the_fit_and_info_shows_it(tiny_files, tmp_path):
    train(tiny_config(tiny_files, ["relatedness", "entailment"], calibrate=False), tmp_path / "m", log=quiet)
    result = CliRunner().invoke(app, ["calibrate", str(tmp_path / "m"), str(tiny_files["pairs"]), "--min-pairs", "2"])
    assert result.exit_code == 0, result.output
    assert "on 8 pairs" in result.stdout and "MSE" in result.stdout
    info = CliRunner().invoke(app, ["info", str(tmp_path / "m")])
    assert "relatedness calibrated on 8 dev pairs" in info.stdout


def test_an_older_model_with_its_line_in_config_json_keeps_it_and_calibrating_moves_it(tiny_files, tmp_path):
    from safetensors.torch import load_file, save_file

    out = tmp_path / "m"
    train(tiny_config(tiny_files, ["relatedness"], dev=True, calibrate=False), out, log=quiet)
    weights = load_file(str(out / "model.safetensors"))
    del weights["heads.relatedness.calibration"]  # as jmt wrote models before the line moved to the weights
    save_file(weights, str(out / "model.safetensors"))
    config = json.loads((out / "config.json").read_text())
    config["model"].update(relatedness_scale=0.5, relatedness_shift=1.25)
    (out / "config.json").write_text(json.dumps(config))
    head = load_model(out)[0].heads["relatedness"]
    assert (head.scale, head.shift) == (0.5, 1.25)
    fit = calibrate_relatedness(out, read_corpus(tiny_files["pairs"], "relatedness"), min_pairs=2)
    assert "relatedness_scale" not in json.loads((out / "config.json").read_text())["model"]
    head = load_model(out)[0].heads["relatedness"]
    assert (head.scale, head.shift) == pytest.approx((fit["scale"], fit["shift"]))

