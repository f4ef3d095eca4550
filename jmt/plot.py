"""Figures of a run: dev scores over epochs, a sweep's table as bars and curves, and a stitched model's sharing.

matplotlib is an optional extra (``pip install 'jmt[plot]'``); nothing else imports it.
"""
from __future__ import annotations

import json
from pathlib import Path

from .config import ConfigError

def _pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ConfigError("jmt plot needs matplotlib: pip install 'jmt[plot]'") from None
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt

    return plt


def plot_dev_curves(metrics_jsonl: Path, out: Path) -> Path:
    """One panel per task: its main dev score after each epoch; the selected epoch marked."""
    records = [json.loads(line) for line in metrics_jsonl.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        raise ConfigError(f"{metrics_jsonl}: no epochs logged yet")
    from .tasks import TASKS

    tasks = [t for t in TASKS if t in records[0].get("dev", {})]
    if not tasks:
        raise ConfigError(f"{metrics_jsonl}: the run has no dev scores to plot")
    plt = _pyplot()
    from matplotlib.ticker import MaxNLocator

    cols = min(3, len(tasks))
    rows = -(-len(tasks) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
    for ax in axes.flat[len(tasks):]:
        ax.set_visible(False)
    epochs = [r["epoch"] for r in records]
    selected = [r["epoch"] for r in records if r.get("selected")]
    for ax, task in zip(axes.flat, tasks):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        key, lower = TASKS[task].primary, TASKS[task].lower_is_better
        values = [r["dev"][task][key] for r in records]
        ax.plot(epochs, values, marker="o", markersize=3)
        if selected:
            best = selected[-1]
            ax.axvline(best, color="grey", linestyle=":", linewidth=1)
        ax.set_title(f"{task} {key}" + (" (lower is better)" if lower else ""), fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(f"dev scores by epoch ({metrics_jsonl.parent.name}); dotted: the saved epoch", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def plot_ablations(table_json: Path, out: Path) -> Path:
    """The ablation table (``scripts/ablations.py`` writes it): one panel per column, one bar
    per variant on the same row in every panel."""
    table = json.loads(table_json.read_text(encoding="utf-8"))
    if not table["variants"]:
        raise ConfigError(f"{table_json}: no variants")
    plt = _pyplot()
    fig = ablation_figure(table, plt)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def ablation_columns(variants: list[dict]) -> list[tuple[str, str, bool]]:
    """A panel per task that some variant has dev scores for, in depth order: (task, its
    primary score, whether lower is better), as the task registry says."""
    from .tasks import TASKS

    present = {task for v in variants for task in v["dev"]}
    return [(name, spec.primary, spec.lower_is_better) for name, spec in TASKS.items() if name in present]


def ablation_figure(table: dict, plt):
    variants = table["variants"]
    columns = ablation_columns(variants)
    if not columns:
        raise ConfigError("the ablation table has no dev scores to plot")
    fig, axes = plt.subplots(1, len(columns), figsize=(3.0 * len(columns), 3.6), squeeze=False)
    names = [v["name"] for v in variants]
    for ax, (task, key, lower) in zip(axes[0], columns):
        values = [v["dev"].get(task, {}).get(key) for v in variants]
        shown = [(i, x) for i, x in enumerate(values) if x is not None]
        ax.barh([i for i, _ in shown], [x for _, x in shown], color="tab:blue")
        if shown:
            lo, hi = min(x for _, x in shown), max(x for _, x in shown)
            pad = (hi - lo) * 0.5 or abs(hi) * 0.05 or 1.0
            ax.set_xlim(lo - pad, hi + pad)
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels(names if ax is axes[0][0] else [""] * len(names), fontsize=7)
        ax.set_ylim(len(names) - 0.5, -0.5)  # every variant's row, top down, bars or not
        ax.set_title(f"{task} {key} (dev)" + (", lower is better" if lower else ""), fontsize=9)
        ax.tick_params(axis="x", labelsize=7)
        ax.grid(axis="x", alpha=0.3)
    fig.suptitle(table.get("title", "ablations"), fontsize=9)
    fig.tight_layout()
    return fig


def plot_variant_curves(table_json: Path, out: Path) -> Path:
    """The dev curves of every variant of a sweep's table, one panel per task."""
    table = json.loads(table_json.read_text(encoding="utf-8"))
    plt = _pyplot()
    fig = curves_figure(table, plt)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def curves_figure(table: dict, plt):
    """One panel per task, one line per variant: its primary dev score after each epoch
    (``dev_by_epoch``; for a row of several seeds, their mean)."""
    from matplotlib.ticker import MaxNLocator

    variants = [v for v in table["variants"] if v.get("dev_by_epoch")]
    columns = ablation_columns(variants)
    if not columns:
        raise ConfigError("the table has no dev scores by epoch to plot")
    cols = min(3, len(columns))
    rows = -(-len(columns) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.8 * rows), squeeze=False)
    for ax in axes.flat[len(columns):]:
        ax.set_visible(False)
    for ax, (task, key, lower) in zip(axes.flat, columns):
        for v in variants:
            points = [(e + 1, d[task][key]) for e, d in enumerate(v["dev_by_epoch"]) if task in d]
            if points:
                ax.plot(*zip(*points), marker="o", markersize=3, label=v["name"])
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"{task} {key} (dev)" + (", lower is better" if lower else ""), fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=6)
    fig.suptitle(f"{table.get('title', 'variants')}: dev scores by epoch", fontsize=9)
    fig.tight_layout()
    return fig


def plot_sharing(model_dir: Path, out: Path) -> Path:
    """A cross-stitch or sluice model's learned sharing as heatmaps: each level's alpha (row:
    the column or subspace that reads; column: the one read) and each column's beta over its
    levels."""
    from .io import load_model

    model, _, _ = load_model(model_dir)
    plt = _pyplot()
    levels = list(model.stitches)
    panels = len(levels) + (1 if model.betas else 0)
    cols = min(3, panels)
    fig, axes = plt.subplots(-(-panels // cols), cols, figsize=(4.2 * cols, 4.0 * -(-panels // cols)), squeeze=False)
    for ax in axes.flat[panels:]:
        ax.set_visible(False)
    for ax, level in zip(axes.flat, levels):
        stitch = model.stitches[level]
        names = [c if stitch.subspaces == 1 else f"{c}.{i}" for c in model.columns_at(level)
                 for i in range(stitch.subspaces)]
        _heatmap(ax, stitch.alpha.detach().numpy(), names, names, f"alpha, level {level}")
    if model.betas:
        columns, depth = list(model.betas), max(len(b) for b in model.betas.values())
        betas = [b.detach().tolist() for b in model.betas.values()]
        grid = [b + [float("nan")] * (depth - len(b)) for b in betas]
        _heatmap(axes.flat[panels - 1], grid, columns, list(model.columns[columns[-1]])[:depth],
                 "beta: levels each column's heads read")
    fig.suptitle(f"{model.cfg.sharing} sharing of {Path(model_dir).name}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
    return out


def _heatmap(ax, values, rows: list[str], columns: list[str], title: str) -> None:
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(columns)), columns, rotation=90, fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=7)
    for i, row in enumerate(values):
        for j, v in enumerate(row):
            if v == v:  # not NaN
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color="white" if v < 0.5 else "black")
    ax.set_title(title, fontsize=8)
    ax.figure.colorbar(image, ax=ax, fraction=0.046)


def plot_run(run_dir: Path, out_dir: Path | None = None) -> list[Path]:
    """Every figure ``run_dir`` has data for: ``dev_curves.png``; for a sweep's table
    ``ablations.png`` and ``curves.png`` (every variant's dev curves); and for a cross-stitch
    or sluice model ``sharing.png``."""
    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    if not run_dir.is_dir():
        raise ConfigError(f"{run_dir}: not a directory")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    if (run_dir / "metrics.jsonl").is_file():
        written.append(plot_dev_curves(run_dir / "metrics.jsonl", out_dir / "dev_curves.png"))
    if (run_dir / "ablations.json").is_file():
        written.append(plot_ablations(run_dir / "ablations.json", out_dir / "ablations.png"))
        written.append(plot_variant_curves(run_dir / "ablations.json", out_dir / "curves.png"))
    config = run_dir / "config.json"
    if (run_dir / "model.safetensors").is_file() and config.is_file():
        from .config import STITCHED

        if json.loads(config.read_text(encoding="utf-8")).get("model", {}).get("sharing") in STITCHED:
            written.append(plot_sharing(run_dir, out_dir / "sharing.png"))
    if not written:
        raise ConfigError(f"{run_dir}: nothing to plot (no metrics.jsonl or ablations.json)")
    return written
