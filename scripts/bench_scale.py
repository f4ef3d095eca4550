"""Does jmt stay fast and small as the input grows? Tagging 10k, 100k and 1M words, and
training on a 2M-token corpus.

    python scripts/bench_scale.py MODEL_DIR [--rounds 3] [--shared ../shared] [--results results/scale.md]

Tagging: the words of EWT train, repeated to each size, one sentence a line, streamed
through the same path as ``jmt tag --input-format tokenized`` (read, tag in chunks, write
CoNLL-U to /dev/null) with the tasks upos, xpos, chunk and dep. Each size runs in a fresh
process; words/s is timed after the model is loaded and has tagged 200 sentences, and
the peak RSS is the process's own. The sizes take turns for ``--rounds`` rounds; each
size reports its median words/s and its largest peak RSS. (10k words is half a second of
tagging: one run of it varies by more than the 15 % the bar allows.)

Training: EWT train repeated 10 times (about 2M tokens) for upos, xpos and dep, in a fresh
process that reads and encodes the corpus, builds the model and runs ``--train-steps``
batches of every pass; its peak RSS is reported. (Memory after those steps no longer grows
with training time: the corpus is held once, encoded, and batches are built as they go.)
Notes written under a "## Notes" heading at the end of the results file are kept when it is rewritten.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SIZES = (10_000, 100_000, 1_000_000)


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def tag_worker(model: str, path: str) -> dict:
    sys.path.insert(0, str(REPO))
    import jmt
    from jmt.memory import fix_malloc_thresholds, frozen_objects
    from jmt.tagging_io import batched, read_input, write_sentence

    fix_malloc_thresholds()  # as jmt tag does
    nlp = jmt.load(model)
    tasks = nlp.predictor.token_tasks(["upos", "xpos", "chunk", "dep"])
    warm = [sentence.words for sentence, _ in zip(read_input(path, None, "tokenized", False), range(200))]
    nlp.predictor.tag(warm, tasks)  # as the speed benchmark: first-batch costs are not tagging speed
    words = 0
    start = time.perf_counter()
    with open(os.devnull, "w", encoding="utf-8") as out, frozen_objects():  # as jmt tag tags
        for chunk in batched(read_input(path, None, "tokenized", False), 2000):
            for sentence, pred in zip(chunk, nlp.predictor.tag(chunk, tasks)):
                write_sentence(out, "conllu", sentence, pred)
            words += sum(len(s) for s in chunk)
    seconds = time.perf_counter() - start
    return {"words": words, "words_per_s": words / seconds, "rss_mb": rss_mb()}


def train_worker(corpus: str, vectors: str, steps: int) -> dict:
    sys.path.insert(0, str(REPO))
    from jmt.config import Config
    from jmt.train import Trainer

    cfg = Config()
    cfg.data.train = {"upos": corpus, "xpos": corpus, "dep": corpus}
    cfg.data.vectors = vectors
    cfg.train.optimizer, cfg.train.lr, cfg.train.progress = "adam", 0.002, False
    cfg.train.ngram_pretrain_epochs = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, out, log=lambda m: None)
        loaded = time.perf_counter() - start
        tokens = sum(len(s) for s in trainer.corpora.train["upos"])
        for p in trainer.passes:
            p.examples = p.examples[: steps * p.batch_size]
            trainer.train_pass(p, 1)
    return {"tokens": tokens, "rss_mb": rss_mb(), "load_seconds": loaded}


def run_worker(*args: str) -> dict:
    cmd = [sys.executable, __file__, "--worker", *args]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", nargs="?")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--results", type=Path, default=REPO / "results" / "scale.md")
    ap.add_argument("--train-steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3, help="runs of each size, taking turns")
    ap.add_argument("--worker", nargs="+")
    args = ap.parse_args()
    if args.worker:
        kind, *rest = args.worker
        result = tag_worker(*rest) if kind == "tag" else train_worker(rest[0], rest[1], int(rest[2]))
        print(json.dumps(result))
        return

    ewt = args.shared / "corpora" / "ud_english_ewt" / "en_ewt-ud-train.conllu"
    vectors = args.shared / "vectors" / "glove.6B.50d.txt.gz"
    sys.path.insert(0, str(REPO))
    from jmt.data.conllu import read_conllu

    sentences = [" ".join(s.words) for s in read_conllu(ewt)]
    runs: dict[int, list[dict]] = {size: [] for size in SIZES}
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            path = Path(tmp) / f"{size}.txt"
            words = 0
            with path.open("w", encoding="utf-8") as f:
                while words < size:
                    for line in sentences:
                        f.write(line + "\n")
                        words += line.count(" ") + 1
                        if words >= size:
                            break
        for _ in range(args.rounds):
            for size in SIZES:
                m = run_worker("tag", args.model, str(Path(tmp) / f"{size}.txt"))
                print(f"tag {m['words']:,} words: {m['words_per_s']:,.0f} words/s, {m['rss_mb']:.0f} MB", file=sys.stderr)
                runs[size].append(m)
        tagging = [{"words": ms[0]["words"], "words_per_s": statistics.median(m["words_per_s"] for m in ms),
                    "rss_mb": max(m["rss_mb"] for m in ms), "range": [m["words_per_s"] for m in ms]}
                   for ms in runs.values()]
        big = Path(tmp) / "ewt_x10.conllu"
        text = ewt.read_text(encoding="utf-8")
        big.write_text(text * 10, encoding="utf-8")
        train = run_worker("train", str(big), str(vectors), str(args.train_steps))
        print(f"train on {train['tokens']:,} tokens: {train['rss_mb']:.0f} MB", file=sys.stderr)
    write(args, tagging, train)


def write(args, tagging: list[dict], train: dict) -> None:
    import torch
    from report import machine

    rates = [m["words_per_s"] for m in tagging]
    spread = (max(rates) - min(rates)) / max(rates)
    growth = tagging[-1]["rss_mb"] - tagging[1]["rss_mb"]
    lines = ["# Scale: tagging 10k to 1M words, training on 2M tokens", "",
             f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: "
             f"{machine(f'torch threads {torch.get_num_threads()}')}. Versions: python {platform.python_version()}, "
             f"torch {torch.__version__}.", "",
             f"Command: `python scripts/bench_scale.py MODEL_DIR --rounds {args.rounds} --train-steps {args.train_steps}`. "
             f"Each size ran {args.rounds} times in fresh processes, the sizes taking turns: the median words/s, "
             "the slowest and fastest run, and the largest peak RSS.", "",
             "| words tagged | words/s (median) | range | peak RSS MB (largest) |", "|---|---|---|---|"]
    for m in tagging:
        lines.append(f"| {m['words']:,} | {m['words_per_s']:,.0f} | {min(m['range']):,.0f}-{max(m['range']):,.0f} "
                     f"| {m['rss_mb']:.0f} |")
    lines += ["",
              f"Largest words/s difference between sizes: {100 * spread:.1f} % (bar: within 15 %). "
              f"Peak RSS growth from 100k to 1M words: {growth:+.0f} MB (bar: under 50 MB).", "",
              f"Training on EWT train x10 ({train['tokens']:,} tokens; upos, xpos, dep; GloVe 50d; corpus read and "
              f"encoded in {train['load_seconds']:.0f} s, then {args.train_steps} batches of each pass): "
              f"peak RSS {train['rss_mb']:.0f} MB (bar: under 3 GB)."]
    from report import write_with_notes

    write_with_notes(args.results, "\n".join(lines))  # hand-written "## Notes" survive a rerun
    print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
