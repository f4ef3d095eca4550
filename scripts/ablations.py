"""Train every ablation variant with the same budget and seed, score each, and write the table.

    python scripts/ablations.py OUT_ROOT [--config scripts/accuracy.toml] [--epochs 6] [--seed 1]
        [--variants full,no-shortcut,...] [--shared ../shared | --samples] [--results results/ablations.md]

Each variant is `jmt train` with the recipe plus one switch, into OUT_ROOT/<variant>, on the
public corpora (EWT for upos/xpos/dep, CoNLL-2000 for chunk with 10 % held out as dev, SICK
with SICK trial as dev, GloVe 6B 50d) or, with --samples, on corpora/sample (a smoke run).
The dev scores are those of the epoch each run selected; test scores come from
`jmt evaluate`. OUT_ROOT/ablations.json holds everything, `jmt plot OUT_ROOT` draws it, and
the results file lays the table out as the paper's ablation tables (POS / chunk / UAS / LAS
/ relatedness MSE / entailment accuracy) beside the paper's own figures. A variant already
scored in OUT_ROOT is not trained again, so an interrupted sweep continues where it stopped.
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import subprocess
import sys
import time
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
    "single-pos": ("single task: POS (upos+xpos)", [], ["upos", "xpos"]),
    "single-chunk": ("single task: chunking", [], ["chunk"]),
    "single-dep": ("single task: dependency parsing", [], ["dep"]),
    "single-relatedness": ("single task: relatedness", [], ["relatedness"]),
    "single-entailment": ("single task: entailment (with its relatedness input)", [], ["relatedness", "entailment"]),
}
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


def train_and_score(name: str, args, paths) -> dict:
    train, dev, test, vectors = paths
    _, flags, only = VARIANTS[name]
    tasks = only or list(TASKS)
    out = args.out_root / name
    jmt = [sys.executable, "-m", "jmt"]
    cmd = jmt + ["train", *([str(args.config)] if args.config else []), "-o", str(out),
                 "--epochs", str(args.epochs), "--seed", str(args.seed)]
    for task in tasks:
        cmd += ["--train", f"{task}={train[task]}", "--dev", f"{task}={dev[task]}"]
    if vectors:
        cmd += ["--vectors", vectors]
    start = time.time()
    run(cmd + flags)
    seconds = time.time() - start
    scored = out / "test.json"
    evaluate = jmt + ["evaluate", str(out), "--json", str(scored)]
    for task in tasks:
        evaluate += ["--test", f"{task}={test[task]}"]
    run(evaluate)
    selected = json.loads((out / "metrics.json").read_text())
    return {"name": name, "what": VARIANTS[name][0], "flags": flags, "tasks": tasks, "epoch": selected["epoch"],
            "dev": selected["dev"], "test": json.loads(scored.read_text()), "wall_seconds": round(seconds, 1)}


def cell(scores: dict, task: str, key: str) -> str:
    if task not in scores:
        return ""
    value = scores[task][key]
    return f"{value:.3f}" if key == "mse" else f"{value:.2f}"


def write_table(args, table: dict) -> None:
    import torch

    header = "| variant | " + " | ".join(label for label, _, _ in COLUMNS) + " |"
    rule = "|---" * (len(COLUMNS) + 1) + "|"
    lines = [f"# {table['title']}", "",
             f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Versions: python {platform.python_version()}, "
             f"torch {torch.__version__}. Command: `{table['command']}`. Every variant: same recipe, epochs and "
             "seed; the dev scores are those of the epoch it selected (best dev LAS, or the mean of its tasks' "
             "scores without parsing).", "", "## Dev", "", header, rule]
    for v in table["variants"]:
        lines.append(f"| {v['what']} | " + " | ".join(cell(v["dev"], t, k) for _, t, k in COLUMNS) + " |")
    lines += ["", "## Test", "", header, rule]
    for v in table["variants"]:
        lines.append(f"| {v['what']} | " + " | ".join(cell(v["test"], t, k) for _, t, k in COLUMNS) + " |")
    lines += ["", "## The paper's ablations (its dev sets: WSJ for POS and parsing, UAS/LAS without "
              "punctuation)", "", header, rule]
    for name, figures in PAPER.items():
        lines.append(f"| {VARIANTS[name][0]} | " + " | ".join(figures) + " |")
    lines += ["", "Wall time per variant: " + ", ".join(f"{v['name']} {v['wall_seconds'] / 60:.0f} min"
                                                        for v in table["variants"]) + ".",
              "", "![the dev table as bars](ablations.png)" if args.copy_plot else ""]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {args.results}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_root", type=Path)
    ap.add_argument("--config", type=Path, default=REPO / "scripts" / "accuracy.toml")
    ap.add_argument("--epochs", type=int, default=6)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--samples", action="store_true", help="the shipped sample corpora (a smoke run)")
    ap.add_argument("--results", type=Path, default=REPO / "results" / "ablations.md")
    ap.add_argument("--copy-plot", action="store_true", help="also draw the table into the results folder")
    args = ap.parse_args()
    names = args.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant {unknown[0]!r}; variants are {', '.join(VARIANTS)}")
    args.out_root.mkdir(parents=True, exist_ok=True)
    table_path = args.out_root / "ablations.json"
    done = {v["name"]: v for v in json.loads(table_path.read_text())["variants"]} if table_path.is_file() else {}
    paths = corpora(args)
    shown = ["python", "scripts/ablations.py", "OUT_ROOT", "--epochs", str(args.epochs), "--seed", str(args.seed)]
    if args.samples:
        shown.append("--samples")
    table = {"title": "Ablations of the joint many-task model" + (" (sample corpora)" if args.samples else ""),
             "command": shlex.join(shown), "variants": []}
    for name in names:
        if name not in done:
            done[name] = train_and_score(name, args, paths)
        table["variants"] = [done[n] for n in names if n in done]
        table_path.write_text(json.dumps(table, indent=2) + "\n", encoding="utf-8")  # after every variant
    write_table(args, table)
    if args.copy_plot:
        run([sys.executable, "-m", "jmt", "plot", str(args.out_root), "-o", str(args.results.parent)])


if __name__ == "__main__":
    main()
