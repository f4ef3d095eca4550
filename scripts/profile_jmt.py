"""Where the time goes: torch-profiler tables for tagging and for training steps.

    python scripts/profile_jmt.py MODEL_DIR [--shared ../shared] [--steps 40] [--threads 1]

Tagging: the EWT test set, pre-tokenized, through the model's four token tasks, after a
warm-up. Training: ``--steps`` batches of each pass of the accuracy recipe on the public
corpora (``scripts/accuracy.toml``, Adam). Prints the operators by self CPU time and the
Python functions by own time, which is what results/speed.md summarises.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path

import torch
from torch.profiler import profile

REPO = Path(__file__).resolve().parents[1]


def tables(fn, rows: int = 12) -> str:
    with profile() as prof:
        fn()
    out = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows)
    stats = io.StringIO()
    profiler = cProfile.Profile()
    profiler.runcall(fn)
    pstats.Stats(profiler, stream=stats).sort_stats("tottime").print_stats(rows)
    return out + "\n" + stats.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    sys.path.insert(0, str(REPO))
    import jmt
    from jmt.config import load_config
    from jmt.data.conllu import read_conllu
    from jmt.train import Trainer

    c = args.shared / "corpora"
    ewt = c / "ud_english_ewt"
    sentences = [s.words for s in read_conllu(ewt / "en_ewt-ud-test.conllu")]
    nlp = jmt.load(args.model)
    tasks = nlp.predictor.token_tasks(["upos", "xpos", "chunk", "dep"])
    nlp.predictor.tag(sentences[:200], tasks)
    print("## tagging the EWT test set (upos, xpos, chunk, dep)\n")
    print(tables(lambda: nlp.predictor.tag(sentences, tasks)))

    cfg = load_config(REPO / "scripts" / "accuracy.toml")
    train = ewt / "en_ewt-ud-train.conllu"
    cfg.data.train = {"upos": str(train), "xpos": str(train), "dep": str(train), "chunk": str(c / "conll2000" / "train.txt"),
                      "relatedness": str(c / "sick" / "SICK_train.txt"), "entailment": str(c / "sick" / "SICK_train.txt")}
    cfg.data.vectors = str(args.shared / "vectors" / "glove.6B.50d.txt.gz")
    cfg.train.optimizer, cfg.train.lr, cfg.train.lower_lr_scale, cfg.train.progress = "adam", 0.002, 0.1, False
    cfg.train.ngram_pretrain_epochs = 0
    with tempfile.TemporaryDirectory() as out:
        trainer = Trainer(cfg, out, log=lambda m: None)
        for p in trainer.passes:
            p.examples = p.examples[: args.steps * p.batch_size]

        def one_round():
            for p in trainer.passes:
                trainer.train_pass(p, 1)

        print(f"## training: {args.steps} batches of every pass\n")
        print(tables(one_round))


if __name__ == "__main__":
    main()
