"""Train the full five-task stack on the public corpora and score it on their test sets.

    python scripts/train_real.py OUT_DIR [--config RECIPE.toml] [--shared ../shared] [--epochs N]
        [--seed N] [--optimizer adam --lr 0.002] [--xpos2] [--encoder NAME] [--results results/real_data.md]

EWT train for upos/xpos/dep (EWT dev), CoNLL-2000 train for chunk (10 % of train held
out as dev: the corpus has no dev split), SICK train for relatedness and entailment
(SICK trial as dev), GloVe 6B vectors (``--vectors``: a file in ``../shared/vectors``, 50d by
default). With ``--xpos2`` the CoNLL-2000 POS column also
trains a second XPOS classifier (task ``xpos2``, the same hold-out as dev). With
``--add-ud-morph BASE_DIR`` it trains nothing of the recipe: OUT_DIR becomes the recipe's model
in BASE_DIR with UD features and lemmas (tasks ``feats`` and ``lemma``, from EWT train) added,
detached (``jmt train --init-from``: their heads read the chunk layer and change no other
output; results/experiments.md row 66). It then runs
``jmt evaluate`` on the test sets (EWT, CoNLL-2000, SICK test, and GUM test out of domain)
and writes a results file with the scores, wall time, epochs, machine, versions and the
exact command. ``--evaluate-only`` scores a run in OUT_DIR again (one stopped early, or
resumed with ``jmt train --resume``); the command it shows takes the recipe, ``--set`` keys,
vectors, encoder and base that the run was given from ``OUT_DIR/train_real.json``.
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

import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_VECTORS = "glove.6B.50d.txt.gz"
UD_MORPH = ("feats", "lemma")  # --add-ud-morph: the UD tasks that EWT also trains
INVOCATION = "train_real.json"  # in OUT_DIR: what the run was given, which --evaluate-only reads back


def run(cmd: list[str]) -> None:
    print("+", shlex.join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def versions() -> dict[str, str]:
    import datasets, seqeval, spacy, typer  # noqa: E401

    return {"python": platform.python_version(), "torch": torch.__version__, "spacy": spacy.__version__,
            "datasets": datasets.__version__, "typer": typer.__version__,
            "seqeval": getattr(seqeval, "__version__", "1.2.2")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--lower-lr-scale", type=float, default=0.1)
    ap.add_argument("--config", type=Path, help="a TOML recipe passed to jmt train (flags above win over it)")
    ap.add_argument("--results", type=Path, default=REPO / "results" / "real_data.md")
    ap.add_argument("--title", default="jmt on the public corpora")
    ap.add_argument("--evaluate-only", action="store_true",
                    help="score the model already in OUT_DIR instead of training it")
    ap.add_argument("--setup-seconds", type=float, default=0.0,
                    help="with --evaluate-only: time spent before the first epoch (reading, n-gram fitting)")
    ap.add_argument("--note", default="", help="a sentence added to the results file")
    ap.add_argument("--section", help="write the run as the section of this heading (replaced if there) in "
                                      "--results, a file that keeps every run, instead of a file of its own")
    ap.add_argument("--vectors", default=DEFAULT_VECTORS,
                    help="pretrained vectors: a file name in SHARED/vectors, or a path")
    ap.add_argument("--encoder", help="a pretrained encoder under the stack (jmt train --encoder), e.g. "
                                      "sentence-transformers/all-MiniLM-L6-v2")
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="a config key passed on to jmt train (repeatable), over --config")
    ap.add_argument("--add-ud-morph", type=Path, metavar="BASE_DIR",
                    help="train only UD features and lemmas (tasks feats and lemma, from EWT train), added to the "
                         "recipe's model in BASE_DIR; scored with the rest on EWT and GUM test")
    ap.add_argument("--more-chunks", type=Path, metavar="FILE",
                    help="a second chunking corpus in CoNLL-2000's format (e.g. scripts/ptb_chunks.py's), trained "
                         "beside CoNLL-2000 train; the CoNLL-2000 hold-out stays the same")
    ap.add_argument("--xpos2", action="store_true",
                    help="also learn the CoNLL-2000 POS column with a classifier of its own (task xpos2)")
    args = ap.parse_args()
    if args.more_chunks and args.add_ud_morph:
        ap.error("--more-chunks trains chunking, which --add-ud-morph leaves as it was")

    c = args.shared / "corpora"
    ewt, gum = c / "ud_english_ewt", c / "ud_english_gum"
    sick, chunk = c / "sick", c / "conll2000"
    jmt = [sys.executable, "-m", "jmt.cli"]
    train_cmd = jmt + [
        "train", *([str(args.config)] if args.config else []), "-o", str(args.out_dir),
        "--train", f"upos={ewt / 'en_ewt-ud-train.conllu'}", "--train", f"xpos={ewt / 'en_ewt-ud-train.conllu'}",
        "--train", f"dep={ewt / 'en_ewt-ud-train.conllu'}", "--train", f"chunk={chunk / 'train.txt'}",
        # holdout: below is taken from the first chunk corpus only, so the dev set stays CoNLL-2000's
        *(["--train", f"chunk={args.more_chunks}"] if args.more_chunks else []),
        "--train", f"relatedness={sick / 'SICK_train.txt'}", "--train", f"entailment={sick / 'SICK_train.txt'}",
        "--dev", f"upos={ewt / 'en_ewt-ud-dev.conllu'}", "--dev", f"xpos={ewt / 'en_ewt-ud-dev.conllu'}",
        "--dev", f"dep={ewt / 'en_ewt-ud-dev.conllu'}",
        "--dev", "chunk=holdout:0.1",
        "--dev", f"relatedness={sick / 'SICK_trial.txt'}", "--dev", f"entailment={sick / 'SICK_trial.txt'}",
        *(["--train", f"xpos2={chunk / 'train.txt'}", "--dev", "xpos2=holdout:0.1"] if args.xpos2 else []),
        "--vectors", str(vectors_path(args)), *(["--encoder", args.encoder] if args.encoder else []),
        "--epochs", str(args.epochs), "--seed", str(args.seed),
        "--optimizer", args.optimizer, "--lr", str(args.lr), "--lower-lr-scale", str(args.lower_lr_scale),
        *[arg for setting in args.set for arg in ("--set", setting)],
    ]
    if args.add_ud_morph:
        train_cmd = jmt + [
            "train", *([str(args.config)] if args.config else []), "-o", str(args.out_dir),
            "--init-from", str(args.add_ud_morph),
            *[arg for task in UD_MORPH for arg in ("--train", f"{task}={ewt / 'en_ewt-ud-train.conllu'}",
                                                   "--dev", f"{task}={ewt / 'en_ewt-ud-dev.conllu'}")],
            "--epochs", str(args.epochs), "--seed", str(args.seed), "--optimizer", args.optimizer, "--lr", str(args.lr),
            *[arg for setting in args.set for arg in ("--set", setting)],
        ]
    start = time.time()
    invocation = args.out_dir / INVOCATION
    if args.evaluate_only:
        # Score a model this script trained before (for example a run stopped after some
        # epochs: the learning-rate schedule depends on the epoch only, so the first N epochs
        # of a longer run are an N-epoch run). Its training time comes from its log; the
        # recipe, --set keys, vectors and encoder that the results show, from what that run
        # was given (unless given again here).
        if invocation.exists():
            given = json.loads(invocation.read_text())
            args.config = args.config or (Path(given["config"]) if given["config"] else None)
            args.set = args.set or given["set"]
            args.vectors = given["vectors"] if args.vectors == DEFAULT_VECTORS else args.vectors
            args.encoder = args.encoder or given["encoder"]
            given_base = given.get("add_ud_morph")
            args.add_ud_morph = args.add_ud_morph or (Path(given_base) if given_base else None)
            args.more_chunks = args.more_chunks or (Path(given["more_chunks"]) if given.get("more_chunks") else None)
        epochs_done = [json.loads(line) for line in (args.out_dir / "metrics.jsonl").read_text().splitlines()]
        args.epochs = len(epochs_done)
        trained = json.loads((args.out_dir / "config.json").read_text())["train"]  # as that run had them
        args.seed, args.optimizer, args.lr = trained["seed"], trained["optimizer"], trained["lr"]
        args.lower_lr_scale = trained["lower_lr_scale"]
        train_wall = sum(r["seconds"] for r in epochs_done) + args.setup_seconds
    else:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        invocation.write_text(json.dumps({"config": str(args.config) if args.config else None, "set": args.set,
                                          "vectors": args.vectors, "encoder": args.encoder,
                                          "add_ud_morph": str(args.add_ud_morph) if args.add_ud_morph else None,
                                          "more_chunks": str(args.more_chunks) if args.more_chunks else None},
                                         indent=1) + "\n")
        run(train_cmd)
        train_wall = time.time() - start

    tasks = json.loads((args.out_dir / "config.json").read_text())["tasks"]
    args.xpos2 = "xpos2" in tasks
    tests = {"ewt": [("upos", ewt / "en_ewt-ud-test.conllu"), ("xpos", ewt / "en_ewt-ud-test.conllu"),
                     ("dep", ewt / "en_ewt-ud-test.conllu"), ("chunk", chunk / "test.txt"),
                     ("xpos2", chunk / "test.txt"),
                     ("relatedness", sick / "SICK_test_annotated.txt"),
                     ("entailment", sick / "SICK_test_annotated.txt"),
                     *((task, ewt / "en_ewt-ud-test.conllu") for task in UD_MORPH)],
             "gum": [("upos", gum / "en_gum-ud-test.conllu"), ("xpos", gum / "en_gum-ud-test.conllu"),
                     ("dep", gum / "en_gum-ud-test.conllu"),
                     *((task, gum / "en_gum-ud-test.conllu") for task in UD_MORPH)]}
    tests = {name: [(task, path) for task, path in items if task in tasks] for name, items in tests.items()}
    scores = {}
    eval_start = time.time()
    for name, items in tests.items():
        json_path = args.out_dir / f"test_{name}.json"
        cmd = jmt + ["evaluate", str(args.out_dir), "--json", str(json_path)]
        for task, path in items:
            cmd += ["--test", f"{task}={path}"]
        run(cmd)
        scores[name] = json.loads(json_path.read_text())
    selected = json.loads((args.out_dir / "metrics.json").read_text())
    epochs_log = [json.loads(line) for line in (args.out_dir / "metrics.jsonl").read_text().splitlines()]
    write_results(args, train_cmd, train_wall, train_wall + time.time() - eval_start, scores, selected, epochs_log)


def vectors_path(args: argparse.Namespace) -> Path:
    given = Path(args.vectors)
    return given if given.exists() or given.is_absolute() else args.shared / "vectors" / given


def display_path(path: Path) -> str:
    """A path as the results file shows it: relative to the repository where it can be."""
    try:
        return str(path.resolve().relative_to(REPO))
    except ValueError:
        return path.name


def saved_model_note(selected: dict, score: str = "dev LAS") -> str:
    """Which weights the model directory holds: the selected epoch or an average of the last ones."""
    if "averaged_epochs" in selected:
        e, single = selected["averaged_epochs"], selected.get("best_single_epoch") or {}
        return (f"Saved model: the weights of epochs {e[0]}-{e[-1]} averaged (`train.average_last`), {score} "
                f"{selected['select_score']:.2f}" + (f" against {single['select_score']:.2f} for the best single epoch, "
                                                      f"{single['epoch']}" if single else "") + ".")
    note = f"Selected epoch (best {score}): {selected['epoch']}."
    if "average" in selected:
        a = selected["average"]
        note += (f" The average of epochs {a['averaged_epochs'][0]}-{a['averaged_epochs'][-1]} scored "
                 f"{a['select_score']:.2f} and was not kept.")
    return note


def calibration_note(selected: dict) -> str:
    fit = selected.get("calibration")
    if not fit:
        return ""
    return (f" Relatedness calibrated after training on the {fit['pairs']} SICK trial pairs: "
            f"{fit['scale']:.4f} x expected score + {fit['shift']:.4f} (trial MSE {fit['dev_mse_before']:.4f} -> "
            f"{fit['dev_mse_after']:.4f}, fitted on those pairs); the test scores below use it.")


RUNS_TITLE = "Each run of the recipe on the public corpora: its machine, command, test scores and dev curve"


def write_results(args, train_cmd, train_wall, total_wall, scores, selected, epochs_log) -> None:
    from report import machine

    t, g = scores["ewt"], scores["gum"]
    config = ["--config", display_path(args.config)] if args.config else []
    config += [arg for setting in args.set for arg in ("--set", setting)]  # the keys changed over the recipe
    added = args.add_ud_morph is not None
    if added:
        shown_cmd = shlex.join(["python", "scripts/train_real.py", "OUT_DIR", *config, "--add-ud-morph", "BASE_DIR",
                                "--epochs", str(args.epochs), "--seed", str(args.seed), "--optimizer", args.optimizer,
                                "--lr", str(args.lr)])
    else:
        shown_cmd = shlex.join(["python", "scripts/train_real.py", "OUT_DIR", *config, "--epochs", str(args.epochs),
                                "--seed", str(args.seed), "--optimizer", args.optimizer, "--lr", str(args.lr),
                                "--lower-lr-scale", str(args.lower_lr_scale), *(["--xpos2"] if args.xpos2 else []),
                                *(["--vectors", args.vectors] if args.vectors != DEFAULT_VECTORS else []),
                                *(["--encoder", args.encoder] if args.encoder else []),
                                *(["--more-chunks", display_path(args.more_chunks)] if args.more_chunks else [])])
    base = json.loads((args.add_ud_morph / "config.json").read_text()) if added else None
    lines = [
        f"# {args.title}",
        "",
        f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: {machine(f'torch threads {torch.get_num_threads()}')}.",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".",
        "",
        f"Command (from the repository root, with `../shared` beside it): `{shown_cmd}`",
        "",
        (f"Training (feats and lemma alone, added to the model in BASE_DIR, every weight of which stays as it was): "
         f"{args.epochs} epochs, seed {args.seed}, {args.optimizer} lr {args.lr}, " if added else
         f"Training: {args.epochs} epochs, seed {args.seed}, {args.optimizer} lr {args.lr}, "
         f"lower-layer lr factor {args.lower_lr_scale}, ")
        + f"wall time {train_wall / 60:.1f} min (evaluation included: {total_wall / 60:.1f} min). "
        + saved_model_note(selected, "dev mean of UFeats and Lemmas" if added else "dev LAS")
        + ("" if added else calibration_note(selected))
        + (f" {args.note}" if args.note else ""),
        *([f"Recipe `{display_path(args.config)}`:", "", "```toml", args.config.read_text(encoding="utf-8").strip(),
            "```", ""] if args.config else []),
        (f"Data: EWT train (feats, lemma; EWT dev). BASE_DIR: a model of the recipe (seed {base['train']['seed']}, "
         f"{base['train']['epochs']} epochs, vectors of {base['model']['word_dim']} dimensions"
         + (f", encoder {base['model']['encoder']}" if base['model'].get('encoder') else "") + "), whose other test "
         "scores below are its own." if added else
         "Data: EWT train (upos, xpos, dep; EWT dev), "
         + "CoNLL-2000 train minus a 10 % hold-out used as dev (chunk), "
         + (f"{display_path(args.more_chunks)} as a second chunking corpus, " if args.more_chunks else "")
         + "SICK train (relatedness, entailment; SICK trial as dev), "
         + f"vectors {vectors_path(args).name}"
         + (f", encoder {args.encoder} (frozen, its states cached)" if args.encoder else "") + "."
         + (" The CoNLL-2000 POS column of the same training part also trains xpos2 (a second XPOS classifier; "
            + "the same hold-out as dev)."
            if args.xpos2 else "")),
        "",
        "## Test scores (gold tokenization)",
        "",
        "| metric | test |",
        "|---|---|",
        f"| EWT UPOS accuracy | {t['upos']['accuracy']:.2f} |",
        f"| EWT XPOS accuracy | {t['xpos']['accuracy']:.2f} |",
        f"| EWT UAS / LAS, punctuation counted | {t['dep']['uas']:.2f} / {t['dep']['las']:.2f} |",
        f"| EWT UAS / LAS, without punctuation | {t['dep']['uas_nopunct']:.2f} / {t['dep']['las_nopunct']:.2f} |",
        f"| EWT LAS on universal relations (CoNLL 2018 script convention) | {t['dep']['las_base']:.2f} |",
        f"| EWT greedy outputs that were not trees (repaired with Eisner) | {t['dep']['greedy_not_tree']} |",
        *([f"| CoNLL-2000 chunk F1 (seqeval default = conlleval) | {t['chunk']['f1']:.2f} |"] if "chunk" in t else []),
        *([f"| CoNLL-2000 POS column (xpos2) accuracy | {t['xpos2']['accuracy']:.2f} |"] if "xpos2" in t else []),
        *([f"| SICK relatedness Pearson / Spearman / MSE | {t['relatedness']['pearson']:.4f} / "
           f"{t['relatedness']['spearman']:.4f} / {t['relatedness']['mse']:.4f} |"] if "relatedness" in t else []),
        *([f"| SICK entailment accuracy | {t['entailment']['accuracy']:.2f} |"] if "entailment" in t else []),
        *([f"| EWT UFeats / Lemmas (as UD's scorer counts them) | {t['feats']['accuracy']:.2f} / {t['lemma']['accuracy']:.2f} |",
           f"| GUM UFeats / Lemmas (out of domain) | {g['feats']['accuracy']:.2f} / {g['lemma']['accuracy']:.2f} |"]
          if "feats" in t else []),
        f"| GUM UPOS / XPOS (out of domain) | {g['upos']['accuracy']:.2f} / {g['xpos']['accuracy']:.2f} |",
        f"| GUM UAS / LAS, punctuation counted (out of domain) | {g['dep']['uas']:.2f} / {g['dep']['las']:.2f} |",
        "",
        "## Dev scores by epoch",
        "",
        "| epoch | lr | UFeats | Lemmas | train s |" if added else
        "| epoch | lr | UPOS | XPOS | chunk F1 | UAS | LAS | rel. Pearson | rel. MSE | ent. acc | train s |",
        "|---|---|---|---|---|" if added else "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    average = selected if "averaged_epochs" in selected else selected.get("average")
    if average:
        e = average["averaged_epochs"]
        epochs_log = [*epochs_log, {**average, "epoch": f"{e[0]}-{e[-1]} averaged", "lr": None, "train_seconds": None}]
    for r in epochs_log:
        d = r["dev"]
        head = f"| {r['epoch']}{' *' if r['selected'] else ''} | {'-' if r['lr'] is None else format(r['lr'], '.4g')} | "
        seconds = f"{'-' if r['train_seconds'] is None else format(r['train_seconds'], '.0f')} |"
        if added:
            lines.append(head + f"{d['feats']['accuracy']:.2f} | {d['lemma']['accuracy']:.2f} | " + seconds)
            continue
        lines.append(head + f"{d['upos']['accuracy']:.2f} | "
                     f"{d['xpos']['accuracy']:.2f} | {d['chunk']['f1'] if 'chunk' in d else float('nan'):.2f} | {d['dep']['uas']:.2f} | "
                     f"{d['dep']['las']:.2f} | {d['relatedness']['pearson']:.4f} | {d['relatedness']['mse']:.4f} | "
                     f"{d['entailment']['accuracy']:.2f} | " + seconds)
    score = "the mean of dev UFeats and Lemmas" if added else "dev LAS"
    lines += ["", f"`*` marks an epoch that improved the selection score ({score}), and an average that scored at least "
              "as well as the best epoch; the model saved is the last one marked."]
    if "chunk" in t:  # a base model without chunks (en-ewt's) has neither table
        lines += ["", "Per chunk type (test):", "", "| type | F1 | support |", "|---|---|---|"]
        for ctype, s in t["chunk"]["per_type"].items():
            lines.append(f"| {ctype} | {s['f1']:.2f} | {s['support']} |")
    if "entailment" in t:
        conf = t["entailment"]["confusion"]
        lines += ["", "SICK test entailment confusion (rows gold, columns predicted):", "",
                  "| | " + " | ".join(conf["labels"]) + " |", "|---" * (len(conf["labels"]) + 1) + "|"]
        for label, row in zip(conf["labels"], conf["matrix"]):
            lines.append(f"| {label} | " + " | ".join(str(v) for v in row) + " |")
    if args.section:
        from report import write_section

        lines[0] = f"{args.title}."
        write_section(args.results, args.section, "\n".join(lines), RUNS_TITLE)
    else:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
