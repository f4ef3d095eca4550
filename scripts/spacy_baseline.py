"""Train the spaCy recipe that jmt is compared with, and score it the way jmt is scored.

    python scripts/spacy_baseline.py OUT_DIR [--shared ../shared] [--results results/spacy_baseline.md]

The recipe: spaCy's own English config for ``tagger,morphologizer,parser`` with
``--optimize efficiency`` (CNN tok2vec, no vectors), trained by ``spacy train`` with its
default schedule on UD English EWT train, EWT dev for its model selection. It is then run
on the EWT test set and, out of domain, the GUM test set, from the gold words and gold
sentence boundaries (as jmt is), and scored with jmt's own metrics: UPOS from the
morphologizer, XPOS from the tagger, UAS/LAS over all words (punctuation counted) and
without punctuation. ``--evaluate-only`` scores an existing OUT_DIR/model-best again.
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
sys.path.insert(0, str(REPO))

from jmt.data.conllu import read_conllu  # noqa: E402
from jmt.data.types import Sentence  # noqa: E402
from jmt.metrics import attachment_scores, punct_mask, tag_accuracy  # noqa: E402


def run(cmd: list[str]) -> None:
    print("+", shlex.join(cmd), file=sys.stderr, flush=True)
    subprocess.run(cmd, check=True)


def train(out: Path, ewt: Path, max_steps: int | None = None) -> float:
    """Convert EWT, write spaCy's efficiency config, train; returns the wall seconds."""
    corpus = out / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for split in ("train", "dev"):
        run([sys.executable, "-m", "spacy", "convert", str(ewt / f"en_ewt-ud-{split}.conllu"), str(corpus),
             "--converter", "conllu", "--n-sents", "10"])
    config = out / "config.cfg"
    run([sys.executable, "-m", "spacy", "init", "config", str(config), "--lang", "en",
         "--pipeline", "tagger,morphologizer,parser", "--optimize", "efficiency", "--force"])
    start = time.perf_counter()
    run([sys.executable, "-m", "spacy", "train", str(config), "--output", str(out),
         "--paths.train", str(corpus / "en_ewt-ud-train.spacy"), "--paths.dev", str(corpus / "en_ewt-ud-dev.spacy")]
        + ([] if max_steps is None else ["--training.max_steps", str(max_steps), "--training.eval_frequency",
                                         str(max(1, max_steps // 2))]))
    return time.perf_counter() - start


def predict(nlp, sentences: list[Sentence]) -> list[dict]:
    """Tag and parse each gold sentence as one pre-tokenized Doc, keeping its boundaries."""
    from spacy.tokens import Doc

    docs = []
    for sent in sentences:
        doc = Doc(nlp.vocab, words=sent.words)
        for i, token in enumerate(doc):
            token.is_sent_start = i == 0
        docs.append(doc)
    return [doc_annotation(doc) for doc in nlp.pipe(docs, batch_size=256)]


def doc_annotation(doc) -> dict:
    """UPOS, XPOS, 1-based heads (0 = root) and UD relations ("root", not spaCy's "ROOT")."""
    heads = [0 if t.head.i == t.i else t.head.i + 1 for t in doc]
    deprels = ["root" if t.dep_ == "ROOT" else t.dep_ for t in doc]
    return {"upos": [t.pos_ for t in doc], "xpos": [t.tag_ for t in doc], "heads": heads, "deprels": deprels}


def score(sentences: list[Sentence], pred: list[dict]) -> dict[str, float]:
    upos = tag_accuracy([s.upos for s in sentences], [p["upos"] for p in pred])["accuracy"]
    xpos = tag_accuracy([s.xpos for s in sentences], [p["xpos"] for p in pred])["accuracy"]
    punct = [punct_mask(s.upos, s.deprels, s.words, s.xpos) for s in sentences]
    dep = attachment_scores([s.heads for s in sentences], [s.deprels for s in sentences],
                            [p["heads"] for p in pred], [p["deprels"] for p in pred], punct)
    return {"upos": upos, "xpos": xpos, **dep}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--results", type=Path, default=REPO / "results" / "spacy_baseline.md")
    ap.add_argument("--max-steps", type=int, help="stop training after this many steps (a smoke test)")
    ap.add_argument("--evaluate-only", action="store_true", help="score OUT_DIR/model-best again (the training time "
                    "comes from OUT_DIR/train_seconds.json)")
    args = ap.parse_args()
    import spacy

    ewt, gum = args.shared / "corpora" / "ud_english_ewt", args.shared / "corpora" / "ud_english_gum"
    timing = args.out_dir / "train_seconds.json"
    if args.evaluate_only:
        seconds = json.loads(timing.read_text())["seconds"] if timing.is_file() else None
    else:
        seconds = train(args.out_dir, ewt, args.max_steps)
        timing.write_text(json.dumps({"seconds": seconds}))
    nlp = spacy.load(args.out_dir / "model-best")
    rows = {}
    for name, path in (("EWT test", ewt / "en_ewt-ud-test.conllu"), ("GUM test (out of domain)", gum / "en_gum-ud-test.conllu")):
        sentences = list(read_conllu(path))
        start = time.perf_counter()
        rows[name] = score(sentences, predict(nlp, sentences))
        print(f"{name} ({time.perf_counter() - start:.0f} s): "
              + ", ".join(f"{k} {v:.2f}" for k, v in rows[name].items()), file=sys.stderr)
    write_results(args, rows, seconds, nlp)


def write_results(args, rows: dict, seconds: float | None, nlp) -> None:
    import spacy
    from report import machine, write_with_notes

    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = nlp.meta.get("performance", {})
    lines = [
        "# The spaCy recipe on the same data, scored as jmt is",
        "",
        f"Date: {now}. Machine: {machine()}. Versions: python {platform.python_version()}, spaCy {spacy.__version__}.",
        "",
        "Command: `python scripts/spacy_baseline.py OUT_DIR`. "
        "spaCy's English config for `tagger,morphologizer,parser` with `--optimize efficiency` (CNN tok2vec, "
        "no vectors), `spacy train` with its default schedule on UD English EWT train (EWT dev for its "
        "model selection); then each gold sentence of the test sets is one pre-tokenized Doc with its "
        "boundaries fixed, and jmt's metrics score the output (LAS compares full relations, subtypes included).",
        "",
    ]
    if seconds is not None:
        lines += [f"Training wall time: {seconds / 60:.1f} min. spaCy's own dev scores of model-best: "
                  + ", ".join(f"{k} {100 * meta[k]:.2f}" for k in ("pos_acc", "tag_acc", "dep_uas", "dep_las") if k in meta)
                  + " (spaCy's scorer: punctuation not counted, its own sentence splits).", ""]
    lines += ["| test set | UPOS | XPOS | UAS | LAS | UAS no punct | LAS no punct |", "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['upos']:.2f} | {r['xpos']:.2f} | {r['uas']:.2f} | {r['las']:.2f} "
                     f"| {r['uas_nopunct']:.2f} | {r['las_nopunct']:.2f} |")
    write_with_notes(args.results, "\n".join(lines))  # hand-written "## Notes" survive a rerun
    # the same scores for scripts/summarize_accuracy.py
    args.results.with_suffix(".json").write_text(json.dumps({"date": now, "train_seconds": seconds, "test": rows},
                                                            indent=1) + "\n")
    print(f"wrote {args.results}", file=sys.stderr)


if __name__ == "__main__":
    main()
