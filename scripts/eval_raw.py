"""Score a model from raw text and from gold tokens with UD's own scorer.

    python scripts/eval_raw.py MODEL GOLD.conllu [GOLD.conllu ...] [--out DIR] [--tokenizer model|spacy]
        [--lang en] [--results results/raw_text.md --title TITLE]

For each gold file: its raw text (the ``# text`` of each sentence, sentences of a paragraph
joined by a space, paragraphs by a blank line) is tagged by ``jmt tag MODEL`` and the output
is scored against the gold file by ``udeval`` (the CoNLL 2018 shared task's scorer, from the
``udtools`` package: Tokens, Sentences, Words, UPOS, XPOS, UAS, LAS F1, and UFeats and
Lemmas when the model predicts them; LAS on universal relations). The same file tagged on its gold tokens (``--input-format conllu``) gives the
gold-token row. The raw-text output is checked with ``udvalidate --level 2`` and rebuilt
into text (``jmt.rawtext.rebuild_text``), which must equal the input. With ``--results``
the table, the commands, the machine and the versions go to a Markdown file.
"""
from __future__ import annotations

import argparse
import json
import platform
import re
import shlex
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
METRICS = ("Tokens", "Sentences", "Words", "UPOS", "XPOS", "UFeats", "Lemmas", "UAS", "LAS")
OPTIONAL = {"UFeats": 5, "Lemmas": 2}  # shown when the model fills that CoNLL-U column (FEATS, LEMMA)


def fills(conllu: Path, column: int) -> bool:
    with open(conllu, encoding="utf-8") as lines:
        return any(len(cols) == 10 and cols[0].isdigit() and cols[column] != "_"
                   for cols in (line.rstrip("\n").split("\t") for line in lines))


def gold_text(gold: Path) -> str:
    """The raw text of a CoNLL-U file: paragraphs (``# newpar``, ``# newdoc``) separated by a
    blank line, the sentences of a paragraph by a space."""
    from jmt.data.conllu import read_conllu
    from jmt.segment import gold_blocks

    return "\n\n".join(text for text, _, _ in gold_blocks(read_conllu(gold))) + "\n"


def udeval(gold: Path, system: Path) -> dict[str, float]:
    out = subprocess.run(["udeval", "-v", str(gold), str(system)], check=True, capture_output=True, text=True).stdout
    scores = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if cells and cells[0] in METRICS:
            scores[cells[0]] = float(cells[3])
    return scores


def tag(model: str, source: Path, target: Path, extra: list[str]) -> list[str]:
    cmd = [sys.executable, "-m", "jmt.cli", "tag", model, str(source), "-o", str(target), *extra]
    subprocess.run(cmd, check=True)
    return cmd


def udtools_version() -> str:
    from importlib.metadata import version

    return version("udtools")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("gold", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("runs/raw_eval"))
    ap.add_argument("--tokenizer", choices=("model", "spacy"))
    ap.add_argument("--lang", default="en", help="for udvalidate")
    ap.add_argument("--results", type=Path)
    ap.add_argument("--title", default="jmt from raw text, scored by UD's scorer")
    ap.add_argument("--note", default="", help="a paragraph for the results file (how the model was made, say)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "scripts"))
    from jmt.rawtext import rebuild_text

    args.out.mkdir(parents=True, exist_ok=True)
    rows, commands = [], []
    for gold in args.gold:
        stem = gold.name.removesuffix(".conllu")
        raw = args.out / f"{stem}.txt"
        raw.write_text(gold_text(gold), encoding="utf-8")
        raw_pred, gold_pred = args.out / f"{stem}.raw.conllu", args.out / f"{stem}.gold.conllu"
        cmd = tag(args.model, raw, raw_pred, ["--tokenizer", args.tokenizer] if args.tokenizer else [])
        commands.append(cmd)
        cmd = tag(args.model, gold, gold_pred, ["--input-format", "conllu"])
        commands.append(cmd)
        valid = subprocess.run(["udvalidate", "--level", "2", "--lang", args.lang, str(raw_pred)],
                               capture_output=True, text=True)
        errors = re.findall(r"\*\*\* FAILED \*\*\* with (\d+) errors", valid.stdout + valid.stderr)
        rebuilt = rebuild_text(raw_pred) == raw.read_text(encoding="utf-8")
        for setting, pred in (("raw text", raw_pred), ("gold tokens", gold_pred)):
            rows.append({"gold": gold.name, "setting": setting, **udeval(gold, pred)})
        rows[-2].update({"valid": valid.returncode == 0, "validator_errors": int(errors[0]) if errors else 0,
                         "rebuilt": rebuilt})
        print(json.dumps(rows[-2]), json.dumps(rows[-1]), sep="\n", flush=True)
    shown = [m for m in METRICS if m not in OPTIONAL or fills(raw_pred, OPTIONAL[m])]  # gold-token output keeps gold columns
    table = ["| corpus | input | " + " | ".join(shown) + " |", "|---|---|" + "---:|" * len(shown)]
    for row in rows:
        table.append(f"| {row['gold']} | {row['setting']} | " + " | ".join(f"{row.get(m, float('nan')):.2f}" for m in shown) + " |")
    print("\n".join(table))
    if args.results:
        import torch

        checks = [f"- {r['gold']}: `udvalidate --level 2 --lang {args.lang}` "
                  + ("passes" if r["valid"] else f"fails with {r['validator_errors']} errors")
                  + f"; the text rebuilt from the output (`jmt.rawtext.rebuild_text`) "
                  f"{'equals' if r['rebuilt'] else 'differs from'} the input"
                  for r in rows if r["setting"] == "raw text"]
        from report import machine, write_with_notes

        head = [f"# {args.title}", "",
                f"Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. Machine: {machine()}. "
                f"Versions: python {platform.python_version()}, torch {torch.__version__}, udtools {udtools_version()}.", "",
                "F1 from `udeval -v GOLD SYSTEM` (udtools, the CoNLL 2018 shared task's scorer), LAS on universal "
                "relations, punctuation counted. Raw text: each gold file's `# text` lines, the sentences of a "
                "paragraph (`# newpar`, `# newdoc`) joined by a space, paragraphs separated by a blank line; a "
                "treebank without paragraph marks is one paragraph. Gold tokens: the gold file itself, "
                "`--input-format conllu`.", "",
                *([args.note, ""] if args.note else [])]
        body = [*table, "", *checks, "", "Made by:", "", "```",
                "python scripts/eval_raw.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]), "```", "",
                "which ran:", "", "```", *(shlex.join(["jmt", *c[3:]]) for c in commands), "```", ""]
        write_with_notes(args.results, "\n".join(head + body))


if __name__ == "__main__":
    main()
