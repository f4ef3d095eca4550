"""Training and tagging speed of the accuracy recipe on a GPU, with the same machine's CPU beside it.

    python scripts/bench_gpu.py WORK_DIR [--shared ../shared] [--vectors PATH] [--device cuda]
        [--variant NAME=KEY=VALUE,...] [--tag-model DIR] [--words 1000000] [--rounds 3]
        [--results results/gpu.md] [--train-only] [--compile inductor]

With ``--device cpu --train-only`` it measures the training epoch on the CPU alone.

1. Training: ``jmt train`` with the accuracy recipe (``scripts/accuracy.toml``) on the public
   corpora for one epoch on the device, once per ``--variant`` (``jmt train --set`` keys; the
   first, ``recipe``, has none; ``--variant tokens=train.dep_batch_size=64,train.dep_batch_tokens=800``
   adds one). Each reports the log's words/s of every pass, the epoch's training seconds, its
   peak GPU memory, the setup time (reading corpora and vectors, n-gram fitting) and dev scores.
2. Tagging: ``--tag-model`` (default: the first variant's model) tags the EWT test set,
   pre-tokenized from the gold words, with upos only and with upos+xpos+chunk+dep. On the
   CPU, once, with 1 thread and with all cores: the reference predictions. On the device the
   test set is repeated to at least ``--words`` words, with the default batches and with
   larger ones, and each row gives its peak GPU memory and whether the first copy's tags and
   trees are identical to the CPU's. Each is warmed up on 200 sentences, then timed
   ``--rounds`` times; the median is reported. With ``--compile BACKEND`` one more device row
   per task set tags with the word representation and the heads under ``torch.compile``, as
   ``--variant compiled=train.compile=inductor`` trains them.
3. On a GPU: the lines that made the host wait for the device in ``--sync-steps`` training
   steps (``torch.cuda.set_sync_debug_mode``).

A one-epoch model sends more greedy outputs that are not trees to the tree decoder than a
trained one (their share is reported); ``--tag-model jmt/models/en`` tags with the shipped model.
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


def corpora(args) -> tuple[dict[str, str], dict[str, str]]:
    """The recipe's training and dev corpora by task, as scripts/reproduce_accuracy.sh gives them."""
    c = args.shared / "corpora"
    ewt, chunk, sick = c / "ud_english_ewt", c / "conll2000", c / "sick"
    train, dev = {}, {}
    for task in ("upos", "xpos", "dep"):
        train[task], dev[task] = str(ewt / "en_ewt-ud-train.conllu"), str(ewt / "en_ewt-ud-dev.conllu")
    for task in ("chunk", "xpos2"):  # xpos2 learns the chunking corpus's POS column
        train[task], dev[task] = str(chunk / "train.txt"), "holdout:0.1"
    for task in ("relatedness", "entailment"):
        train[task], dev[task] = str(sick / "SICK_train.txt"), str(sick / "SICK_trial.txt")
    return train, dev


def train_once(args, name: str, sets: list[str]) -> dict:
    out = args.work / name
    cmd = [sys.executable, "-m", "jmt", "train", str(REPO / "scripts" / "accuracy.toml"), "-o", str(out),
           "--epochs", "1", "--seed", "1", "--optimizer", "adam", "--lr", "0.002", "--lower-lr-scale", "0.1",
           "--device", args.device, "--vectors", str(args.vectors or args.shared / "vectors" / "glove.6B.50d.txt.gz")]
    train, dev = corpora(args)
    for task in train:
        cmd += ["--train", f"{task}={train[task]}", "--dev", f"{task}={dev[task]}"]
    for key in sets:
        cmd += ["--set", key]
    print("+", " ".join(cmd), file=sys.stderr, flush=True)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    (args.work / f"train_{name}.log").write_text(proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"jmt train ({name}) failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    passes = [{"pass": m["name"], "batches": int(m["batches"]), "words_per_s": int(m["rate"].replace(",", ""))}
              for m in map(PASS_LINE.match, proc.stderr.splitlines()) if m]
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[0])
    return {"variant": name, "sets": sets, "passes": passes, "epoch_train_seconds": record["train_seconds"],
            "epoch_seconds": record["seconds"], "peak_gpu_mib": record.get("peak_gpu_mib"),
            "setup_seconds": round(wall - record["seconds"], 1), "dev": record["dev"], "model": str(out)}


def sync_check(args) -> dict:
    """Host-device synchronisations in training: ``--sync-steps`` joint-schedule steps of the
    recipe (after 10 warm-up steps) under ``torch.cuda.set_sync_debug_mode("warn")``, each
    synchronising line counted. A count near the number of steps is a per-step wait; the
    trainer's own are meant to come only every 100 steps and at the end (the non-finite guard,
    the loss log)."""
    import warnings
    from collections import Counter

    from jmt.config import load_config
    from jmt.train import Trainer, Unit

    cfg = load_config(REPO / "scripts" / "accuracy.toml")
    cfg.data.train, _ = corpora(args)
    cfg.train.ngram_pretrain_epochs, cfg.train.progress = 0, False
    cfg.train.optimizer, cfg.train.lr, cfg.train.lower_lr_scale = "adam", 0.002, 0.1
    trainer = Trainer(cfg, args.work / "sync_check", log=lambda message: None, device=args.device)
    trainer.epoch_lr = trainer.lr(1)
    steps = next(trainer.units(1, trainer.epoch_order(), 0)).steps
    on_gpu = args.device.startswith("cuda")
    trainer.run_unit(Unit("warm-up", steps[:10], None, 0), 1)
    if on_gpu:
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            trainer.run_unit(Unit("sync check", steps[10:10 + args.sync_steps], None, 0), 1)
    finally:
        if on_gpu:
            torch.cuda.set_sync_debug_mode(0)
    where = Counter(f"{Path(w.filename).name}:{w.lineno}" for w in caught if "synchroniz" in str(w.message).lower())
    return {"steps": len(steps[10:10 + args.sync_steps]), "lines": where.most_common()}


def peak_mib(device: str) -> int | None:
    return round(torch.cuda.max_memory_allocated() / 2**20) if device.startswith("cuda") else None


def time_tagging(nlp, sentences, tasks, rounds, device) -> tuple[float, list, int | None]:
    """Median words/s over ``rounds``, the last round's predictions and the peak GPU MiB."""
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    nlp.predictor.tag(sentences[:200], tasks)  # warm-up
    sync()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    rates, pred = [], None
    n_words = sum(len(s) for s in sentences)
    for _ in range(rounds):
        start = time.perf_counter()
        pred = nlp.predictor.tag(sentences, tasks)
        sync()
        rates.append(n_words / (time.perf_counter() - start))
    return statistics.median(rates), pred, peak_mib(device)


def agreement(a: list[dict], b: list[dict]) -> tuple[float, float]:
    """Per cent of tags (heads and labels included) and of whole sentences that agree."""
    same = total = same_sents = 0
    for x, y in zip(a, b):
        fields = [f for f in x if f != "greedy_was_tree"]
        same += sum(u == v for f in fields for u, v in zip(x[f], y[f]))
        total += sum(len(x[f]) for f in fields)
        same_sents += all(x[f] == y[f] for f in fields)
    return 100.0 * same / max(1, total), 100.0 * same_sents / max(1, len(a))


def tag_all(args, model: Path) -> list[dict]:
    import jmt
    from jmt.data.conllu import read_conllu

    sentences = [s.words for s in read_conllu(str(args.shared / "corpora" / "ud_english_ewt" / "en_ewt-ud-test.conllu"))]
    words = sum(len(s) for s in sentences)
    copies = max(1, -(-args.words // words))  # the test set repeated to at least --words words
    rows, reference = [], {}
    cpu_threads = [1, os.cpu_count() or 1]
    for tasks in (["upos"], ["upos", "xpos", "chunk", "dep"]):
        key = "+".join(tasks)
        for threads in cpu_threads:
            torch.set_num_threads(threads)
            nlp = jmt.load(model, device="cpu")
            rate, pred, _ = time_tagging(nlp, sentences, tasks, args.rounds, "cpu")
            reference[key] = pred
            rows.append({"tasks": key, "where": f"CPU, {threads} thread{'s' if threads > 1 else ''}",
                         "batch": "default", "words": words, "words_per_s": rate})
        torch.set_num_threads(cpu_threads[-1])
        if args.device == "cpu":
            continue
        name = torch.cuda.get_device_name() if args.device.startswith("cuda") else args.device
        setups = [(None, None, ""), (1024, 50000, "")] + ([(None, None, args.compile)] if args.compile else [])
        for batch, tokens, backend in setups:
            nlp = jmt.load(model, device=args.device, **({"batch_size": batch} if batch else {}))
            if tokens:
                nlp.predictor.max_tokens = tokens
            if backend:
                for module in (nlp.model.embed, *nlp.model.heads.values()):
                    module.forward = torch.compile(module.forward, backend=backend, dynamic=True)
            rate, pred, peak = time_tagging(nlp, sentences * copies, tasks, args.rounds, args.device)
            first = pred[: len(sentences)]
            trees = [p.get("greedy_was_tree", True) for p in first]
            same, same_sents = agreement(first, reference[key])
            rows.append({"tasks": key, "where": f"{args.device} ({name})",
                         "batch": f"{nlp.predictor.batch_size} sentences, {nlp.predictor.max_tokens:,} tokens"
                                  + (f", compiled ({backend})" if backend else ""),
                         "words": words * copies, "words_per_s": rate, "peak_gpu_mib": peak,
                         "same_as_cpu": same, "same_sentences": same_sents,
                         "non_trees": 100.0 * trees.count(False) / len(trees)})
    return rows


def write_results(args, trains: list[dict], tags: list[dict], model: Path, syncs: dict | None = None) -> None:
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    from report import machine

    on_cpu = args.device == "cpu"
    variants = "".join(f" --variant {t['variant']}={','.join(t['sets'])}" for t in trains[1:])
    lines = ["# Training speed on the CPU" if on_cpu else "# Speed on a GPU", "",
             f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. "
             f"Machine: {machine(f'{gpu}, torch threads {torch.get_num_threads()}')}. "
             f"Versions: python {platform.python_version()}, torch {torch.__version__}"
             + ("" if on_cpu else f" (CUDA {torch.version.cuda})")
             + f". Command: `python scripts/bench_gpu.py WORK_DIR --device {args.device}"
             + (" --vectors VECTORS" if args.vectors else "") + variants
             + (" --tag-model MODEL_DIR" if args.tag_model else "") + (" --train-only" if args.train_only else "")
             + (f" --compile {args.compile}" if args.compile else "") + "`.", "",
             "## Training: one epoch of the accuracy recipe on the public corpora", ""]
    passes = [p["pass"] for p in trains[0]["passes"]]
    lines += ["| variant | `--set` | epoch s (training) | with dev s | setup s | peak GPU MiB | "
              + " | ".join(f"{p} words/s" for p in passes) + " | dev UPOS | dev LAS | dev chunk F1 |",
              "|---|---|---:|---:|---:|---:|" + "---:|" * len(passes) + "---:|---:|---:|"]
    for t in trains:
        rate = {p["pass"]: p["words_per_s"] for p in t["passes"]}
        lines.append(f"| {t['variant']} | {' '.join(t['sets']) or '(the recipe)'} | {t['epoch_train_seconds']:.0f} | "
                     f"{t['epoch_seconds']:.0f} | {t['setup_seconds']:.0f} | {t['peak_gpu_mib'] or ''} | "
                     + " | ".join(f"{rate.get(p, 0):,}" for p in passes)
                     + f" | {t['dev']['upos']['accuracy']:.2f} | {t['dev']['dep']['las']:.2f} | {t['dev']['chunk']['f1']:.2f} |")
    lines += ["", "With the joint schedule the passes' batches are interleaved; each pass's words/s counts the time "
              "of its own steps (on a GPU, roughly: the steps run ahead of the host). Dev scores after one epoch.", ""]
    if tags:
        lines += [f"## Tagging the EWT test set (pre-tokenized), median of {args.rounds} runs after a warm-up", "",
                  f"Model: {'the one trained above (variant ' + trains[0]['variant'] + ')' if not args.tag_model else model.name}. "
                  "On the device the test set is repeated; agreement is with the CPU's predictions of the test set.", "",
                  "| tasks | where | batches | words | words/s | peak GPU MiB | same tags as the CPU | same sentences "
                  "| greedy outputs not trees |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in tags:
        same = f"{r['same_as_cpu']:.2f} %" if "same_as_cpu" in r else ""
        sents = f"{r['same_sentences']:.2f} %" if "same_sentences" in r else ""
        trees = f"{r['non_trees']:.1f} %" if "non_trees" in r else ""
        lines.append(f"| {r['tasks']} | {r['where']} | {r['batch']} | {r['words']:,} | {r['words_per_s']:,.0f} | "
                     f"{r.get('peak_gpu_mib') or ''} | {same} | {sents} | {trees} |")
    if syncs is not None:
        lines += ["", f"## Host-device synchronisations in {syncs['steps']} training steps", "",
                  "`torch.cuda.set_sync_debug_mode(\"warn\")` around joint-schedule steps of the recipe "
                  "(`sync_check`): each line of code that made the host wait for the device, and how often.", ""]
        lines += ["| line | times |", "|---|---:|"] + [f"| `{k}` | {n} |" for k, n in syncs["lines"]]
        if not syncs["lines"]:
            lines.append("| (none) | 0 |")
    from report import write_with_notes

    write_with_notes(args.results, "\n".join(lines))  # a hand-written "## Reading" survives a rerun
    (args.work / "gpu.json").write_text(json.dumps({"train": trains, "tagging": tags, "syncs": syncs}, indent=2) + "\n")
    print(f"wrote {args.results}", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--vectors", type=Path, default=None, help="vectors file instead of ../shared's GloVe")
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=KEY=VALUE,...",
                    help="also train the epoch with these jmt train --set keys (repeatable)")
    ap.add_argument("--tag-model", type=Path, default=None, help="model to tag with (default: the first variant's)")
    ap.add_argument("--words", type=int, default=1_000_000, help="on the device, the test set repeated to this many words")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--results", type=Path, default=REPO / "results" / "gpu.md")
    ap.add_argument("--train-only", action="store_true", help="measure the training epoch only (for a CPU run)")
    ap.add_argument("--sync-steps", type=int, default=200,
                    help="training steps checked for host-device synchronisations on a GPU (0 = skip)")
    ap.add_argument("--compile", default=None, metavar="BACKEND",
                    help="also tag on the device with the heads under torch.compile (backend inductor, say)")
    args = ap.parse_args()
    variants = [("recipe", [])]
    for spec in args.variant:
        name, _, sets = spec.partition("=")
        if not name or not sets or "=" not in sets:
            ap.error(f"--variant {spec!r}: expected NAME=KEY=VALUE[,KEY=VALUE...]")
        variants.append((name, sets.split(",")))
    args.work.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(REPO))
    trains: list[dict] = []
    for name, sets in variants:  # the results file is rewritten after each part: a run cut short keeps them
        trains.append(train_once(args, name, sets))
        write_results(args, trains, [], args.tag_model or Path(trains[0]["model"]))
    model = args.tag_model or Path(trains[0]["model"])
    tags = [] if args.train_only else tag_all(args, model)
    write_results(args, trains, tags, model)
    if args.device.startswith("cuda") and args.sync_steps:
        write_results(args, trains, tags, model, sync_check(args))


if __name__ == "__main__":
    main()
