"""Calibrating the relatedness scores of a trained model on held-out pairs.

A relatedness head trained with dropout predicts expected scores that run high at test
time, on its own training pairs too (results/experiments.md row 16); a likely cause is
the dropout before the maxout layer, after which the network without dropout is not the
mean of the networks trained with it. A least-squares line
from the raw expected scores to the gold scores of dev pairs removes that bias; the
Pearson correlation does not change, only the scale and shift of the scores.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from .config import ConfigError
from .data.types import Pair
from .io import load_model, replace_tensors, write_json
from .predict import TABLE_DTYPE, Predictor

MIN_PAIRS = 50  # fewer dev pairs than this fit the noise rather than the bias


def calibrate_relatedness(model_dir: str | Path, pairs: Sequence[Pair], batch_size: int = 64,
                          min_pairs: int = MIN_PAIRS) -> dict:
    """Fit the relatedness line (scale and shift) of the model in ``model_dir`` on ``pairs``
    (gold relatedness needed), write it into the model's weights and a record of the fit into
    its metrics.json; returns the record. Fitting again gives the same line: the fit always
    reads the uncalibrated scores."""
    model_dir = Path(model_dir)
    model, vocabs, _ = load_model(model_dir, table_dtype=TABLE_DTYPE)  # the scores `jmt pair` gives
    if "relatedness" not in model.heads:
        raise ConfigError(f"{model_dir}: the model has no relatedness task to calibrate")
    gold = np.array([p.relatedness for p in pairs], dtype=float)
    if np.isnan(gold).any():
        raise ConfigError("calibration needs the gold relatedness score of every pair")
    if len(gold) < max(2, min_pairs) or gold.std() == 0:
        raise ConfigError(f"calibration needs at least {max(2, min_pairs)} pairs with different gold relatedness "
                          f"scores; got {len(gold)}")
    head = model.heads["relatedness"]
    head.set_calibration(1.0, 0.0)
    raw = np.array([p["relatedness"] for p in Predictor(model, vocabs, batch_size=batch_size, cache=True).pair(pairs)])
    scale, shift = np.polyfit(raw, gold, 1) if raw.std() > 0 else (0.0, gold.mean())
    if scale <= 0:  # a model that cannot rank the pairs: leave its scores as they are
        scale, shift = 1.0, 0.0
    fitted = np.clip(scale * raw + shift, 1, 5)
    record = {"pairs": len(gold), "scale": float(scale), "shift": float(shift),
              "dev_mse_before": float(((raw - gold) ** 2).mean()), "dev_mse_after": float(((fitted - gold) ** 2).mean()),
              "dev_mean_predicted_before": float(raw.mean()), "dev_mean_gold": float(gold.mean())}
    replace_tensors(model_dir / "model.safetensors",
                    {"heads.relatedness.calibration": torch.tensor([record["scale"], record["shift"]])})
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    if any(key in config.get("model", {}) for key in ("relatedness_scale", "relatedness_shift")):
        for key in ("relatedness_scale", "relatedness_shift"):  # an older model's line, now in the weights
            config["model"].pop(key, None)
        write_json(config_path, config)
    metrics_path = model_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    write_json(metrics_path, {**metrics, "calibration": record})
    return record
