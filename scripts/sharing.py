"""Hard, soft, cross-stitch and sluice sharing compared: the same recipe, budget and seeds.

    python scripts/sharing.py OUT_ROOT [--epochs 3] [--seeds 1,2] [--schedules joint]
        [--variants hard,soft,cross-stitch,sluice] [--jobs 2] [--minutes M] [--shared ../shared | --samples]
        [--results results/sharing.md] [--copy-plot]

A sibling of scripts/ablations.py, with its data path and its training machinery: every run
is `jmt train` with the recipe (scripts/accuracy.toml, its schedule unless --schedules names
others) and one `--sharing`, on the six tasks of the public corpora (EWT, CoNLL-2000 with 10 %
held out as dev, SICK; GloVe 6B 50d) or, with --samples, on corpora/sample. Each run keeps
every epoch and is scored after the last one (no weight averaging, which a short budget would
blur): dev from training, test from `jmt evaluate`. A row is a sharing and a schedule, its
scores the mean over the seeds with their spread (highest minus lowest). Beside them: the
parameters, the training time per run and the tagging words/s on one thread (upos, xpos,
chunk, dep over the EWT test set, measured after training, the rows alternating) with the
ratio to hard sharing from the same call.

The last section holds each sharing's best schedule (by dev) against the hard-sharing
recipe (hard with the first schedule given) on the five tasks: a task counts as within the
spread when the sharing's mean is no worse than hard's by more than the larger of the two
spreads. Runs finished in OUT_ROOT are not trained again, runs stopped by --minutes go on
from their checkpoints, and a "## Reading" section at the end of the results file is kept.
With --copy-plot the dev curves (mean over seeds, per epoch), the dev scores as bars and each
stitched sharing's alpha and beta (seed 1) are drawn next to the results file.
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import statistics
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from ablations import (TASKS, common_epoch, corpora, machine, run_command, run_epochs, score_run, sweep_arguments,
                       train_all)

REPO = Path(__file__).resolve().parents[1]
SHARINGS = {
    "hard": "hard (the JMT hierarchy)",
    "soft": "soft (own layer copies, L2-tied)",
    "cross-stitch": "cross-stitch units",
    "sluice": "sluice network",
}
# (column, task, score, lower is better)
COLUMNS = [("UPOS", "upos", "accuracy", False), ("XPOS", "xpos", "accuracy", False),
           ("chunk F1", "chunk", "f1", False), ("UAS", "dep", "uas", False), ("LAS", "dep", "las", False),
           ("rel. Pearson", "relatedness", "pearson", False), ("rel. MSE", "relatedness", "mse", True),
           ("ent. acc", "entailment", "accuracy", False)]
FIVE = [("POS (UPOS)", "upos", "accuracy", False), ("chunk F1", "chunk", "f1", False), ("LAS", "dep", "las", False),
        ("rel. MSE", "relatedness", "mse", True), ("ent. acc", "entailment", "accuracy", False)]
SPEED_TASKS = "upos,xpos,chunk,dep"


def row_name(sharing: str, schedule: str) -> str:
    return f"{sharing}.{schedule}"


def run_name(sharing: str, schedule: str, seed: int) -> str:
    return f"{row_name(sharing, schedule)}.seed{seed}"


def run_dir(args, sharing: str, schedule: str, seed: int) -> Path:
    return args.out_root / row_name(sharing, schedule) / f"seed{seed}"


def mean_scores(runs: list[dict]) -> dict:
    """Task -> score -> the mean over ``runs`` (each task -> score -> value), numbers only."""
    out: dict = {}
    for task in runs[0]:
        if not all(task in r for r in runs):
            continue
        keys = [k for k, v in runs[0][task].items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        out[task] = {k: statistics.fmean(r[task][k] for r in runs) for k in keys}
    return out


def spread_scores(runs: list[dict]) -> dict:
    """Task -> score -> highest minus lowest over ``runs``."""
    out: dict = {}
    for task, scores in mean_scores(runs).items():
        out[task] = {k: max(r[task][k] for r in runs) - min(r[task][k] for r in runs) for k in scores}
    return out


def parameters(model_dir: Path) -> int:
    from jmt.io import load_model

    model, _, _ = load_model(model_dir)
    return sum(p.numel() for p in model.parameters())


def tagging_speed(models: dict[str, Path], corpus: str, rounds: int) -> dict[str, float]:
    """Words/s of each model's upos+xpos+chunk+dep on ``corpus`` with one thread: a fresh
    process per measurement (scripts/bench_speed.py's), the models alternating, the median."""
    from bench_speed import measure

    seen: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            seen[name].append(measure("jmt", SPEED_TASKS, "fp32", str(model), corpus, 1)["words_per_s"])
    return {name: statistics.median(values) for name, values in seen.items()}


def within_spread(row: dict, hard: dict, task: str, key: str, lower: bool, split: str) -> bool | None:
    """Whether ``row``'s mean is no worse than ``hard``'s by more than the larger spread."""
    if task not in row[split] or task not in hard[split]:
        return None
    gap = row[split][task][key] - hard[split][task][key]
    allowed = max(row[f"{split}_spread"][task][key], hard[f"{split}_spread"][task][key])
    return (gap <= allowed) if lower else (gap >= -allowed)


def best_schedules(rows: list[dict], reference: dict) -> dict[str, dict]:
    """Per sharing, the row (schedule) within the spread of ``reference`` on dev for the most
    of the five tasks, the higher mean dev LAS breaking ties."""
    best: dict[str, dict] = {}
    for row in rows:
        key = (sum(bool(within_spread(row, reference, t, k, lo, "dev")) for _, t, k, lo in FIVE),
               row["dev"].get("dep", {}).get("las", 0.0))
        if row["sharing"] not in best or key > best[row["sharing"]]["_key"]:
            best[row["sharing"]] = {**row, "_key": key}
    return best


def fmt(value: float, key: str) -> str:
    return f"{value:.4f}" if key in ("mse", "pearson") else f"{value:.2f}"


def write_results(args, table: dict) -> None:
    import torch

    from report import write_with_notes

    rows = table["variants"]
    seeds = ", ".join(str(s) for s in args.seeds)
    common = table["common_epoch"]
    header = "| sharing | schedule | " + " | ".join(c for c, _, _, _ in COLUMNS) + " |"
    rule = "|---" * (len(COLUMNS) + 2) + "|"
    lines = [f"# {table['title']}", "",
             f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Versions: python {platform.python_version()}, "
             f"torch {torch.__version__}. Machine: {table['machine']}. Command: `{table['command']}`.", "",
             f"Every run: the recipe (`{table['config']}`) with one `--sharing` and the row's schedule, the six tasks, "
             f"seeds {seeds}, " + (f"compared after epoch {common} (the last one every run finished; a time limit or "
                                   "an earlier call with more epochs set it)" if common else
                                   f"{args.epochs} epochs, scored after the last") + ", no weight averaging. "
             "A cell is the mean over the seeds, the spread (highest minus lowest) in brackets.", ""]
    dev_title = "Dev" if args.samples else "Dev (EWT dev, the CoNLL-2000 hold-out, SICK trial)"
    for split, title in (("dev", dev_title), ("test", "Test")):
        lines += [f"## {title}", "", header, rule]
        for row in rows:
            cells = [f"{fmt(row[split][t][k], k)} ({fmt(row[f'{split}_spread'][t][k], k)})"
                     if t in row[split] else "" for _, t, k, _ in COLUMNS]
            lines.append(f"| {SHARINGS[row['sharing']]} | {row['schedule']} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## Cost", "",
              "Parameters of the seed-1 model; training minutes per run (mean over the seeds, up to the compared "
              "epoch); tagging words/s of upos+xpos+chunk+dep on the test set's words with one thread (median of "
              f"{args.speed_rounds} alternating rounds, a fresh process each) and the ratio to hard sharing in "
              "the same call.", "",
              "| sharing | schedule | parameters | training min per run | words/s, 1 thread | ratio to hard |",
              "|---|---|---|---|---|---|"]
    hard_speed = next((r["words_per_s"] for r in rows if r["sharing"] == "hard" and r.get("words_per_s")), None)
    for row in rows:
        speed = row.get("words_per_s")
        lines.append(f"| {SHARINGS[row['sharing']]} | {row['schedule']} | {row['parameters']:,} | "
                     f"{row['train_minutes']:.1f} | " + (f"{speed:,.0f}" if speed else "not measured") + " | "
                     + (f"{speed / hard_speed:.2f}" if speed and hard_speed else "") + " |")
    reference = next((r for r in rows if r["sharing"] == "hard" and r["schedule"] == args.schedules[0]), None)
    if reference is not None and len(rows) > 1:
        lines += ["", f"## Against the hard-sharing recipe (hard, {reference['schedule']})", "",
                  "Each other sharing at its best schedule (the most of the five tasks within the spread on dev). "
                  "yes: its mean is no worse than hard's by more than the larger of the two spreads.", "",
                  "| sharing | schedule | split | " + " | ".join(c for c, _, _, _ in FIVE) + " | within the spread |",
                  "|---" * (len(FIVE) + 4) + "|"]
        for sharing, row in best_schedules([r for r in rows if r["sharing"] != "hard"], reference).items():
            for split in ("dev", "test"):
                marks = [within_spread(row, reference, t, k, lo, split) for _, t, k, lo in FIVE]
                cells = ["" if m is None else ("yes" if m else "no") for m in marks]
                lines.append(f"| {SHARINGS[sharing]} | {row['schedule']} | {split} | " + " | ".join(cells)
                             + f" | {sum(bool(m) for m in marks)} of {sum(m is not None for m in marks)} |")
    if args.copy_plot:
        stem = args.results.stem
        lines += ["", f"![dev scores by epoch, mean over the seeds]({stem}_curves.png)", "",
                  f"![dev scores]({stem}_bars.png)"]
        lines += [f"\n![what {s} sharing learned, seed {args.seeds[0]}]({stem}_{s}.png)"
                  for s in dict.fromkeys(r["sharing"] for r in rows) if s in ("cross-stitch", "sluice")]
    write_with_notes(args.results, "\n".join(lines))
    print(f"wrote {args.results}", file=sys.stderr)


def draw(args, table: dict) -> None:
    """The dev curves and bars of every row, and each stitched sharing's alpha and beta."""
    from jmt.plot import _pyplot, ablation_figure, curves_figure, plot_sharing

    plt = _pyplot()
    stem = args.results.parent / args.results.stem
    for figure, suffix in ((curves_figure(table, plt), "curves"), (ablation_figure(table, plt), "bars")):
        figure.savefig(f"{stem}_{suffix}.png", dpi=120)
        plt.close(figure)
    for row in table["variants"]:
        if row["sharing"] in ("cross-stitch", "sluice") and row["schedule"] == args.schedules[0]:
            model = run_dir(args, row["sharing"], row["schedule"], args.seeds[0])
            if table["common_epoch"]:
                model = model / f"epoch{table['common_epoch']}"
            plot_sharing(model, Path(f"{stem}_{row['sharing']}.png"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sweep_arguments(ap, epochs=3, results="sharing.md", runs="runs")
    ap.add_argument("--seeds", default="1,2", help="comma-separated; every row trains once per seed")
    ap.add_argument("--schedules", default="joint", help="comma-separated: jmt, joint, uncertainty")
    ap.add_argument("--variants", default=",".join(SHARINGS), help=f"comma-separated: {', '.join(SHARINGS)}")
    ap.add_argument("--speed-rounds", type=int, default=3, help="alternating rounds of the words/s measurement")
    args = ap.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.schedules = args.schedules.split(",")
    sharings = args.variants.split(",")
    for given, known, what in ((sharings, SHARINGS, "sharing"), (args.schedules, ("jmt", "joint", "uncertainty"), "schedule")):
        unknown = [g for g in given if g not in known]
        if unknown:
            ap.error(f"unknown {what} {unknown[0]!r}; expected one of {', '.join(known)}")
    args.out_root.mkdir(parents=True, exist_ok=True)
    paths = corpora(args)
    if args.vectors is not None and not args.samples:
        paths = (*paths[:3], str(args.vectors))
    runs = {run_name(sh, sc, seed): (sh, sc, seed) for sh in sharings for sc in args.schedules for seed in args.seeds}
    outs = {name: run_dir(args, *spec) for name, spec in runs.items()}
    for out in outs.values():
        out.parent.mkdir(parents=True, exist_ok=True)
    train_all({name: run_command(outs[name], seed, TASKS, args, paths, ["--sharing", sh, "--schedule", sc,
                                                                        "--average-last", "0"])
               for name, (sh, sc, seed) in runs.items() if len(run_epochs(outs[name])) < args.epochs}, args)
    common = common_epoch({name: len(run_epochs(out)) for name, out in outs.items()}, args.epochs)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        scored = dict(zip(runs, pool.map(lambda n: score_run(outs[n], TASKS, paths[2], args.device, common), runs)))

    models = {name: out / f"epoch{common}" if common else out for name, out in outs.items()}
    rows = []
    for sh in sharings:
        for sc in args.schedules:
            names = [run_name(sh, sc, seed) for seed in args.seeds]
            done = [scored[n] for n in names]
            curves = [mean_scores([d["dev_by_epoch"][e] for d in done])
                      for e in range(min(len(d["dev_by_epoch"]) for d in done))]
            rows.append({"sharing": sh, "schedule": sc, "name": row_name(sh, sc),
                         "dev": mean_scores([d["dev"] for d in done]), "dev_spread": spread_scores([d["dev"] for d in done]),
                         "test": mean_scores([d["test"] for d in done]),
                         "test_spread": spread_scores([d["test"] for d in done]),
                         "dev_by_epoch": curves[: common or len(curves)], "seeds": dict(zip(args.seeds, done)),
                         "parameters": parameters(models[names[0]]),
                         "train_minutes": statistics.fmean(d["wall_seconds"] for d in done) / 60})
    speeds = tagging_speed({row["name"]: models[run_name(row["sharing"], row["schedule"], args.seeds[0])]
                            for row in rows}, paths[2]["upos"], args.speed_rounds) if args.speed_rounds else {}
    for row in rows:
        row["words_per_s"] = speeds.get(row["name"])
    shown = ["python", "scripts/sharing.py", "OUT_ROOT", "--epochs", str(args.epochs),
             "--seeds", ",".join(map(str, args.seeds)), "--schedules", ",".join(args.schedules),
             "--variants", ",".join(sharings)]
    for flag, value in (("--samples", "" if args.samples else None), ("--jobs", args.jobs if args.jobs > 1 else None),
                        ("--minutes", args.minutes), ("--device", args.device if args.device != "cpu" else None)):
        if value is not None:
            shown += [flag] + ([str(value)] if value != "" else [])
    config = args.config.relative_to(REPO) if args.config.is_relative_to(REPO) else args.config.name
    table = {"title": "Hard, soft, cross-stitch and sluice sharing" + (" (sample corpora)" if args.samples else
                                                                          " on the public corpora"),
             "command": shlex.join(shown), "machine": machine(args.device), "config": str(config),
             "common_epoch": common, "variants": rows}  # as scripts/ablations.py's, so jmt plot draws it
    (args.out_root / "ablations.json").write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    write_results(args, table)
    if args.copy_plot:
        draw(args, table)


if __name__ == "__main__":
    main()
