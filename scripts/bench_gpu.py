"""Training and tagging speed of the accuracy recipe on a GPU, with the same machine's CPU beside it.

    python scripts/bench_gpu.py WORK_DIR [--shared ../shared] [--vectors PATH] [--device cuda]
        [--rounds 3] [--results results/gpu.md] [--train-only]

With ``--device cpu --train-only`` it measures the training epoch on the CPU alone.

1. Training: ``jmt train`` with the accuracy recipe (``scripts/accuracy.toml``, Adam 0.002,
   lower-layer factor 0.1) on the public corpora for one epoch on the device; the log's
   words/s of every task pass, the epoch's wall time and the setup time (reading corpora and
   vectors, n-gram fitting) are reported.
2. Tagging: the model of step 1 tags the EWT test set, pre-tokenized from the gold words,
   with upos only and with upos+xpos+chunk+dep: on the device with the default token
   budget per batch and with a larger one, and on the same machine's CPU with 1 thread and
   with all cores. Each is warmed up on 200 sentences, then timed ``--rounds`` times; the
   median is reported. The device's predictions are compared with the CPU's, tag by tag.

The model has trained for one epoch only: speed does not depend on the weights, except
that a weaker parser sends more non-tree outputs to the CPU tree decoder (their share is
reported).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
PASS_LINE = re.compile(r"^epoch 1 (?P<name>\S+): (?P<batches>\d+) batches, (?P<rate>[\d,]+) words/s")


def train_once(args) -> dict:
    c = args.shared / "corpora"
    ewt, chunk, sick = c / "ud_english_ewt", c / "conll2000", c / "sick"
    cmd = [sys.executable, "-m", "jmt", "train", str(REPO / "scripts" / "accuracy.toml"), "-o", str(args.work / "model"),
           "--epochs", "1", "--seed", "1", "--optimizer", "adam", "--lr", "0.002", "--lower-lr-scale", "0.1",
           "--device", args.device, "--vectors", str(args.vectors or args.shared / "vectors" / "glove.6B.50d.txt.gz")]
    for task in ("upos", "xpos", "dep"):
        cmd += ["--train", f"{task}={ewt / 'en_ewt-ud-train.conllu'}", "--dev", f"{task}={ewt / 'en_ewt-ud-dev.conllu'}"]
    for task in ("chunk", "xpos2"):  # xpos2 learns the chunking corpus's POS column, as reproduce_accuracy.sh does
        cmd += ["--train", f"{task}={chunk / 'train.txt'}", "--dev", f"{task}=holdout:0.1"]
    for task in ("relatedness", "entailment"):
        cmd += ["--train", f"{task}={sick / 'SICK_train.txt'}", "--dev", f"{task}={sick / 'SICK_trial.txt'}"]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    (args.work / "train.log").write_text(proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"jmt train failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    passes = [{"pass": m["name"], "batches": int(m["batches"]), "words_per_s": int(m["rate"].replace(",", ""))}
              for m in map(PASS_LINE.match, proc.stderr.splitlines()) if m]
    record = json.loads((args.work / "model" / "metrics.jsonl").read_text().splitlines()[0])
    return {"passes": passes, "epoch_train_seconds": record["train_seconds"], "epoch_seconds": record["seconds"],
            "setup_seconds": round(wall - record["seconds"], 1), "dev": record["dev"]}


def time_tagging(nlp, sentences, tasks, rounds, device) -> tuple[float, list]:
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    nlp.predictor.tag(sentences[:200], tasks)  # warm-up
    sync()
    rates, pred = [], None
    n_words = sum(len(s) for s in sentences)
    for _ in range(rounds):
        start = time.perf_counter()
        pred = nlp.predictor.tag(sentences, tasks)
        sync()
        rates.append(n_words / (time.perf_counter() - start))
    return statistics.median(rates), pred


def agreement(a: list[dict], b: list[dict]) -> float:
    same = total = 0
    for x, y in zip(a, b):
        for field in x:
            if field == "greedy_was_tree":
                continue
            same += sum(u == v for u, v in zip(x[field], y[field]))
            total += len(x[field])
    return 100.0 * same / max(1, total)


def tag_all(args) -> list[dict]:
    import jmt
    from jmt.data.conllu import read_conllu

    sentences = [s.words for s in read_conllu(str(args.shared / "corpora" / "ud_english_ewt" / "en_ewt-ud-test.conllu"))]
    rows, reference = [], {}
    cpu_threads = [1, os.cpu_count() or 1]
    for tasks in (["upos"], ["upos", "xpos", "chunk", "dep"]):
        key = "+".join(tasks)
        for threads in cpu_threads:
            torch.set_num_threads(threads)
            nlp = jmt.load(args.work / "model", batch_size=64, device="cpu")
            rate, pred = time_tagging(nlp, sentences, tasks, args.rounds, "cpu")
            reference[key] = pred
            rows.append({"tasks": key, "where": f"CPU, {threads} thread{'s' if threads > 1 else ''}",
                         "batch": "64 sentences, 3,000 tokens", "words_per_s": rate})
        torch.set_num_threads(cpu_threads[-1])
        for batch, tokens in ((64, 3000), (512, 25000)):
            nlp = jmt.load(args.work / "model", batch_size=batch, device=args.device)
            nlp.predictor.max_tokens = tokens
            rate, pred = time_tagging(nlp, sentences, tasks, args.rounds, args.device)
            trees = [p.get("greedy_was_tree", True) for p in pred]
            name = torch.cuda.get_device_name() if args.device.startswith("cuda") else "CPU"
            rows.append({"tasks": key, "where": f"{args.device} ({name})",
                         "batch": f"{batch} sentences, {tokens:,} tokens", "words_per_s": rate,
                         "same_as_cpu": agreement(pred, reference[key]),
                         "non_trees": 100.0 * trees.count(False) / len(trees)})
    return rows


def write_results(args, train: dict, tags: list[dict]) -> None:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    from report import machine

    on_cpu = args.device == "cpu"
    lines = ["# Training speed on the CPU" if on_cpu else "# Speed on a GPU", "",
             f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. "
             f"Machine: {machine(f'{gpu}, torch threads {torch.get_num_threads()}')}. "
             f"Versions: python {platform.python_version()}, torch {torch.__version__}"
             + ("" if on_cpu else f" (CUDA {torch.version.cuda})")
             + f". Command: `python scripts/bench_gpu.py WORK_DIR --device {args.device}"
             + (" --vectors VECTORS" if args.vectors else "") + (" --train-only" if not tags else "") + "`.", "",
             "## Training: one epoch of the accuracy recipe on the public corpora", "",
             "| pass | batches | words/s |", "|---|---|---|"]
    lines += [f"| {p['pass']} | {p['batches']} | {p['words_per_s']:,} |" for p in train["passes"]]
    lines += ["", f"Epoch: {train['epoch_train_seconds']:.0f} s of training, {train['epoch_seconds']:.0f} s with the "
              f"dev evaluation; setup before it (corpora, vectors, n-gram fitting): {train['setup_seconds']:.0f} s. "
              f"Dev after this one epoch: UPOS {train['dev']['upos']['accuracy']:.2f}, LAS "
              f"{train['dev']['dep']['las']:.2f}, chunk F1 {train['dev']['chunk']['f1']:.2f}. With the joint schedule "
              "the passes' batches are interleaved; each pass's words/s counts the time of its own steps.", ""]
    if tags:
        lines += ["## Tagging the EWT test set (pre-tokenized), median of "
                  f"{args.rounds} runs after a warm-up", "",
                  "| tasks | where | batches | words/s | same tags as the CPU | greedy outputs not trees |",
                  "|---|---|---|---|---|---|"]
    for r in tags:
        same = f"{r['same_as_cpu']:.2f} %" if "same_as_cpu" in r else ""
        trees = f"{r['non_trees']:.1f} %" if "non_trees" in r else ""
        lines.append(f"| {r['tasks']} | {r['where']} | {r['batch']} | {r['words_per_s']:,.0f} | {same} | {trees} |")
    from report import write_with_notes

    write_with_notes(args.results, "\n".join(lines))  # a hand-written "## Reading" survives a rerun
    (args.work / "gpu.json").write_text(json.dumps({"train": train, "tagging": tags}, indent=2) + "\n")
    print(f"wrote {args.results}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--vectors", type=Path, default=None, help="vectors file instead of ../shared's GloVe")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--results", type=Path, default=REPO / "results" / "gpu.md")
    ap.add_argument("--train-only", action="store_true", help="measure the training epoch only (for a CPU run)")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    train = train_once(args)
    write_results(args, train, [] if args.train_only else tag_all(args))


if __name__ == "__main__":
    main()
