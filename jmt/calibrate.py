"""Calibrating a trained model's relatedness scores on held-out pairs (the tasks whose
``Task.calibrated`` is set; relatedness is the one).

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

from .config import MOVED_TO_WEIGHTS, ConfigError
from .data.types import Pair
from .io import load_model, replace_tensors, write_json
from .predict import TABLE_DTYPE, Predictor
from .tasks import TASKS

LEGACY_KEYS = tuple(key.split(".", 1)[1] for key in MOVED_TO_WEIGHTS)  # an older model's line in config.json
MIN_PAIRS = 50  # fewer dev pairs than this fit the noise rather than the bias


def calibrated_tasks(tasks) -> list[str]:
    """Those of ``tasks`` whose scores a fitted line calibrates (``Task.calibrated``)."""
    return [t for t in tasks if TASKS[t].calibrated]


def calibrate(model_dir: str | Path, examples: Sequence[Pair], batch_size: int = 64,
              min_pairs: int = MIN_PAIRS, task: str | None = None) -> dict:
    """Fit the scale and shift of ``task``'s scores (by default the model's calibrated task,
    relatedness) on ``examples`` (gold scores needed), write them into the model's weights and
    a record of the fit into its metrics.json; returns the record. Fitting again gives the
    same line: the fit always reads the uncalibrated scores."""
    model_dir = Path(model_dir)
    model, vocabs, _ = load_model(model_dir, table_dtype=TABLE_DTYPE)  # the scores `jmt pair` gives
    task = task or next(iter(calibrated_tasks(model.heads)), None)
    if task is None or task not in model.heads or not TASKS[task].calibrated:
        what = task or ", ".join(t.name for t in TASKS.values() if t.calibrated)
        raise ConfigError(f"{model_dir}: the model has no {what} task to calibrate")
    spec = TASKS[task]
    gold = np.array([getattr(p, spec.field) for p in examples], dtype=float)
    if np.isnan(gold).any():
        raise ConfigError(f"calibration needs the gold {task} score of every pair")
    if len(gold) < max(2, min_pairs) or gold.std() == 0:
        raise ConfigError(f"calibration needs at least {max(2, min_pairs)} pairs with different gold {task} "
                          f"scores; got {len(gold)}")
    head = model.heads[task]
    head.set_calibration(1.0, 0.0)
    raw = np.array([p[task] for p in Predictor(model, vocabs, batch_size=batch_size, cache=True).pair(examples)])
    scale, shift = np.polyfit(raw, gold, 1) if raw.std() > 0 else (0.0, gold.mean())
    if scale <= 0:  # a model that cannot rank the pairs: leave its scores as they are
        scale, shift = 1.0, 0.0
    fitted = head.clip(scale * raw + shift)
    record = {"task": task, "pairs": len(gold), "scale": float(scale), "shift": float(shift),
              "dev_mse_before": float(((raw - gold) ** 2).mean()), "dev_mse_after": float(((fitted - gold) ** 2).mean()),
              "dev_mean_predicted_before": float(raw.mean()), "dev_mean_gold": float(gold.mean())}
    replace_tensors(model_dir / "model.safetensors",
                    {f"heads.{task}.calibration": torch.tensor([record["scale"], record["shift"]])})
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    legacy = [key for key in config.get("model", {}) if key in LEGACY_KEYS]
    if legacy:  # an older model's line, now in the weights
        for key in legacy:
            config["model"].pop(key)
        write_json(config_path, config)
    metrics_path = model_dir / "metrics.json"
    metrics = json.loads(metrics_path.read_text(encoding="utf-8")) if metrics_path.is_file() else {}
    write_json(metrics_path, {**metrics, "calibration": record})
    return record
