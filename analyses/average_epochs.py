"""Does averaging the weights of a run's last epochs beat its selected epoch?

    python analyses/average_epochs.py RUN_DIR [--set dev|test] [--last 2 3 4] [--shared ../shared] [--threads 2]

RUN_DIR is a recipe run trained with ``jmt train ... --keep-epochs`` (so it holds
``epochN/`` model directories). Scores the selected model (RUN_DIR itself) and the averages
of the last K epochs' weights (``--last``, default 2, 3 and 4) on EWT (UPOS, XPOS, UAS, LAS), CoNLL-2000 chunking
and SICK, loaded as ``jmt evaluate`` loads a model (float16 embedding tables). ``dev`` is EWT
dev, the recipe's CoNLL-2000 hold-out and SICK trial; ``test`` the test sets. The
relatedness MSE is after a least-squares line fitted on SICK trial, as ``jmt train`` calibrates;
Pearson is of the uncalibrated scores. Results file: results/experiments.md, rows 31-32.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jmt.config import TrainConfig  # noqa: E402
from jmt.data.corpus import read_corpus  # noqa: E402
from jmt.io import average_weights, load_model  # noqa: E402
from jmt.predict import TABLE_DTYPE, Predictor  # noqa: E402
from jmt.train import holdout_split  # noqa: E402


def score(name: str, model, vocabs, sets: dict) -> None:
    predictor = Predictor(model, vocabs)
    ewt = predictor.evaluate_tasks(["upos", "xpos", "dep"], sets["ewt"])
    chunk = predictor.evaluate_tasks(["chunk"], sets["chunk"])["chunk"]["f1"]
    head = model.heads["relatedness"]
    head.set_calibration(1.0, 0.0)  # raw expected scores; the line is fitted below
    trial = np.array([p["relatedness"] for p in predictor.pair(sets["trial"])])
    scale, shift = np.polyfit(trial, [p.relatedness for p in sets["trial"]], 1)
    out = predictor.pair(sets["sick"])
    raw = np.array([p["relatedness"] for p in out])
    gold = np.array([p.relatedness for p in sets["sick"]])
    mse = ((np.clip(scale * raw + shift, 1, 5) - gold) ** 2).mean()
    entailment = 100 * np.mean([p["entailment"] == g.entailment for p, g in zip(out, sets["sick"])])
    print(f"| {name} | {ewt['upos']['accuracy']:.2f} | {ewt['xpos']['accuracy']:.2f} | {ewt['dep']['uas']:.2f} | "
          f"{ewt['dep']['las']:.2f} | {chunk:.2f} | {np.corrcoef(raw, gold)[0, 1]:.4f} | {mse:.4f} | {entailment:.2f} |",
          flush=True)


def averaged(dirs: list[Path]):
    """The model of ``dirs[-1]`` with every float weight averaged over ``dirs`` (as ``jmt train
    --average-last``), its tables then held in float16 as prediction loads a model."""
    model, vocabs, _ = load_model(dirs[-1], table_dtype=TABLE_DTYPE)
    model.load_state_dict(average_weights([d / "model.safetensors" for d in dirs]))  # copied into float16 tables
    return model, vocabs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--set", choices=("dev", "test"), default="dev")
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--last", type=int, nargs="+", default=[2, 3, 4], metavar="K",
                    help="average the last K epochs, for each K given")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    corpora = args.shared / "corpora"
    trial = read_corpus(str(corpora / "sick" / "SICK_trial.txt"), "relatedness")
    if args.set == "dev":
        chunk_train = read_corpus(str(corpora / "conll2000" / "train.txt"), "chunk")
        sets = {"ewt": read_corpus(str(corpora / "ud_english_ewt" / "en_ewt-ud-dev.conllu"), "dep"),
                "chunk": holdout_split(chunk_train, "holdout:0.1", TrainConfig().holdout_seed)[1], "sick": trial}
    else:
        sets = {"ewt": read_corpus(str(corpora / "ud_english_ewt" / "en_ewt-ud-test.conllu"), "dep"),
                "chunk": read_corpus(str(corpora / "conll2000" / "test.txt"), "chunk"),
                "sick": read_corpus(str(corpora / "sick" / "SICK_test_annotated.txt"), "relatedness")}
    sets["trial"] = trial
    epochs = sorted(int(p.name[5:]) for p in args.run.glob("epoch*") if p.name[5:].isdigit())
    if len(epochs) < 2:
        sys.exit(f"{args.run}: no epoch models; train with --keep-epochs")
    print(f"{args.set}: | model | UPOS | XPOS | UAS | LAS | chunk F1 | Pearson | MSE | entailment |")
    print("|---|---|---|---|---|---|---|---|---|")
    model, vocabs, _ = load_model(args.run, table_dtype=TABLE_DTYPE)
    score("selected", model, vocabs, sets)
    last = epochs[-1]
    for k in args.last:
        if k <= len(epochs):
            score(f"epochs {last - k + 1}-{last} averaged", *averaged([args.run / f"epoch{e}" for e in range(last - k + 1, last + 1)]), sets)


if __name__ == "__main__":
    main()
