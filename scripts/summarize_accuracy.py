"""Gather the test scores of several seeds of the accuracy recipe into one table.

    python scripts/summarize_accuracy.py OUT_DIR_SEED1 OUT_DIR_SEED2 [...] [--results results/accuracy.md]

Each OUT_DIR is a model directory that ``scripts/reproduce_accuracy.sh`` trained and
scored (it holds ``test_ewt.json``, ``test_gum.json``, ``metrics.json`` and
``training.json``). The table gives every seed, the mean and the spread (max - min), next to
the bars of the accuracy issue and the reference systems: the spaCy recipe's figures quoted in
the issue and, where ``--spacy`` names the JSON that ``scripts/spacy_baseline.py`` writes
(default ``results/spacy_baseline.json``, if present), the same recipe retrained and scored here
with jmt's metrics, out of domain (GUM) included. Sections that follow the table under ``##``
headings (a reading of the numbers, say) are kept when the file is written again.
"""
from __future__ import annotations

import argparse
import json
import statistics
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# (label, file, task, key, scale, bar, higher is better, spaCy recipe, Stanza, JMT paper)
ROWS = [
    ("EWT UPOS", "ewt", "upos", "accuracy", 1, 95.8, True, "95.05", "96.20", ""),
    ("EWT XPOS", "ewt", "xpos", "accuracy", 1, 95.3, True, "94.30", "95.75", ""),
    ("EWT UAS", "ewt", "dep", "uas", 1, 88.5, True, "86.75", "88.90", ""),
    ("EWT LAS", "ewt", "dep", "las", 1, 85.5, True, "83.42", "86.77", ""),
    ("CoNLL-2000 chunk F1", "ewt", "chunk", "f1", 1, 95.0, True, "", "", "95.77"),
    ("CoNLL-2000 POS column (xpos2)", "ewt", "xpos2", "accuracy", 1, None, True, "", "", ""),
    ("SICK entailment accuracy", "ewt", "entailment", "accuracy", 1, 84.0, True, "", "", "86.2"),
    ("SICK relatedness Pearson", "ewt", "relatedness", "pearson", 1, 0.86, True, "", "", ""),
    ("SICK relatedness MSE", "ewt", "relatedness", "mse", 1, 0.26, False, "", "", "0.233"),
    ("EWT UFeats", "ewt", "feats", "accuracy", 1, 96.0, True, "95.42", "", ""),
    ("EWT Lemmas", "ewt", "lemma", "accuracy", 1, 97.5, True, "", "", ""),
    ("GUM UPOS (out of domain)", "gum", "upos", "accuracy", 1, None, True, "", "", ""),
    ("GUM UAS", "gum", "dep", "uas", 1, None, True, "", "", ""),
    ("GUM LAS", "gum", "dep", "las", 1, None, True, "", "", ""),
    ("GUM UFeats", "gum", "feats", "accuracy", 1, None, True, "", "", ""),
    ("GUM Lemmas", "gum", "lemma", "accuracy", 1, None, True, "", "", ""),
]


# The accurate model's bars (the encoder issue), by row label; rows not named have none, but for
# UFeats and Lemmas, whose bars (the issue "a task is one file") are the same for both models.
ENCODER_BARS = {"EWT UPOS": 96.8, "EWT XPOS": 96.4, "EWT UAS": 90.5, "EWT LAS": 88.5, "CoNLL-2000 chunk F1": 95.8,
                "SICK entailment accuracy": 86.2, "SICK relatedness Pearson": 0.88, "SICK relatedness MSE": 0.233}


def fmt(value: float, key: str) -> str:
    return f"{value:.4f}" if key in ("pearson", "mse") else f"{value:.2f}"


def spacy_rerun(measured: dict, file: str, task: str, key: str) -> str:
    """The retrained spaCy recipe's score for a row, or blank where spaCy has no such task."""
    scores = measured["EWT test" if file == "ewt" else "GUM test (out of domain)"]
    name = task if task in ("upos", "xpos") else key
    return fmt(scores[name], key) if task in ("upos", "xpos", "dep") and name in scores else ""


def saved_weights(selected: dict) -> str:
    epochs = selected.get("averaged_epochs")
    return f"epochs {epochs[0]}-{epochs[-1]} averaged" if epochs else f"epoch {selected['epoch']}"


def compared(other: dict[str, float], label: str, mean: float, key: str, higher: bool) -> str:
    """The compared table's mean for a row and this table's gain over it (blank where it has none)."""
    if label not in other:
        return " | |"
    gain = (mean - other[label]) * (1 if higher else -1)
    shown = fmt(abs(gain), key)
    sign = "" if float(shown) == 0 else "+" if gain > 0 else "&minus;"  # the other table's means are rounded
    return f" {fmt(other[label], key)} | {sign}{shown} |"


def means(summary: Path) -> dict[str, float]:
    """Each row's mean in a table this script wrote (``--compare``), by row label."""
    lines = summary.read_text(encoding="utf-8").splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| "))
    rows = []
    for line in lines[first:]:  # the first table only
        if not line.startswith("|"):
            break
        if line.startswith("| "):
            rows.append(line.split("|")[1:-1])
    header = [cell.strip() for cell in rows[0]]
    at = header.index("mean")
    return {cells[0].strip(): float(cells[at]) for cells in rows[1:] if cells[at].strip()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--results", type=Path, default=REPO / "results" / "accuracy.md")
    ap.add_argument("--spacy", type=Path, default=REPO / "results" / "spacy_baseline.json")
    ap.add_argument("--title", default="Accuracy of the jmt recipe on the public corpora")
    ap.add_argument("--command", default="scripts/reproduce_accuracy.sh OUT_DIR SEED",
                    help="the command that trained the runs, as the results file names it")
    ap.add_argument("--runs-file", default="accuracy_runs.md", help="the file with a section per run, as named")
    ap.add_argument("--bars", choices=("fast", "encoder"), default="fast",
                    help="the fast recipe's bars, or the accurate model's (a pretrained encoder under the stack)")
    ap.add_argument("--compare", type=Path,
                    help="another table of this script's (results/accuracy.md, say): its means and the difference "
                         "to these (positive: these are better) go beside the bars")
    args = ap.parse_args()
    other = means(args.compare) if args.compare else None
    measured = json.loads(args.spacy.read_text())["test"] if args.spacy.is_file() else None
    runs = []
    for d in args.runs:
        record = json.loads((d / "training.json").read_text()) if (d / "training.json").is_file() else {}
        runs.append({"dir": d, "ewt": json.loads((d / "test_ewt.json").read_text()),
                     "gum": json.loads((d / "test_gum.json").read_text()),
                     "selected": json.loads((d / "metrics.json").read_text()), "record": record,
                     "seed": json.loads((d / "config.json").read_text())["train"]["seed"]})
    seeds = [r["seed"] for r in runs]
    lines = [f"# {args.title}", "",
             f"Written {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `python scripts/summarize_accuracy.py` "
             f"from {len(runs)} runs of the recipe that `{args.command}` trains "
             f"(seeds {', '.join(map(str, seeds))}); each run's section of [{args.runs_file}]({args.runs_file}) has its machine, "
             "versions, wall time, dev curve and how it was run.", "",
             "| test metric | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | spread | bar | met | "
             + (f"{args.compare.stem} (mean) | difference | " if other else "")
             + "spaCy recipe (issue) |" + (" spaCy recipe (rerun here) |" if measured else "")
             + " Stanza 1.5.1 | JMT paper |",
             "|---" * (len(runs) + 8 + bool(measured) + 2 * bool(other)) + "|"]
    for label, file, task, key, _, bar, higher, spacy, stanza, paper in ROWS:
        if not all(task in r[file] for r in runs):
            continue  # a task the recipe did not train (xpos2)
        if args.bars == "encoder":
            bar = ENCODER_BARS.get(label, bar if task in ("feats", "lemma") else None)  # their bars hold for both
        values = [r[file][task][key] for r in runs]
        mean = statistics.mean(values)
        met = "" if bar is None else ("yes" if (mean >= bar if higher else mean <= bar) else "no")
        lines.append(f"| {label} | " + " | ".join(fmt(v, key) for v in values)
                     + f" | {fmt(mean, key)} | {fmt(max(values) - min(values), key)} | "
                     + (("" if bar is None else ("&ge; " if higher else "&le; ") + fmt(bar, key)))
                     + f" | {met} |" + (compared(other, label, mean, key, higher) if other is not None else "")
                     + f" {spacy} |" + (f" {spacy_rerun(measured, file, task, key)} |" if measured else "")
                     + f" {stanza} | {paper} |")
    if measured:
        lines += ["", "The spaCy recipe (issue) column quotes the accuracy issue; the rerun column is the same recipe "
                  "trained and scored here (`results/spacy_baseline.md`)."]
    lines += ["", "Saved models (the best dev LAS among the epochs and, with `train.average_last`, the average of "
              "the last epochs): " + ", ".join(f"seed {s}: {saved_weights(r['selected'])}" for s, r in zip(seeds, runs)) + "."]
    args.results.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    if args.results.is_file():  # sections written below the table (## headings) stay
        old = args.results.read_text(encoding="utf-8")
        at = old.find("\n## ")
        if at >= 0:
            text += old[at:]
    args.results.write_text(text, encoding="utf-8")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
