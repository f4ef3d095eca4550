"""Give a model saved before UPOS and XPOS were decoded together the pairs it decodes them from.

    python scripts/add_tag_pairs.py MODEL_DIR TRAIN.conllu [TRAIN.conllu ...] [--slice GOLD.conllu]

The pairs are those of the XPOS training file(s), as `jmt train` keeps them now
(``jmt.tasks.pos``; results/experiments.md, row 73). Only ``vocab.json`` changes; the weights
stay. A shipped model's ``card.json`` is scored again on its slice with ``--slice``.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model_dir", type=Path)
    ap.add_argument("train", type=Path, nargs="+", help="the CoNLL-U file(s) the model's XPOS was trained on")
    ap.add_argument("--slice", type=Path, help="score card.json again on this gold file (scripts/ship_model.py)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from jmt.data.conllu import read_conllu
    from jmt.data.types import DataError
    from jmt.tasks import get

    path = args.model_dir / "vocab.json"
    try:
        text = path.read_text(encoding="utf-8")
        vocab = json.loads(text)
        labels = vocab["labels"]
    except (OSError, ValueError, KeyError) as err:
        sys.exit(f"error: {path}: not a jmt model's vocabularies ({err})")
    if "xpos" not in labels or "upos" not in labels:
        sys.exit(f"error: {args.model_dir}: the model has no UPOS and XPOS to decode together")
    try:
        tables = get("xpos").tables([s for f in args.train for s in read_conllu(f)])
    except (OSError, DataError) as err:
        sys.exit(f"error: {err}")
    if not tables:
        sys.exit(f"error: {', '.join(map(str, args.train))}: no word has both a UPOS and an XPOS tag")
    vocab.setdefault("tables", {}).update(tables)
    tmp = path.with_name(path.name + ".tmp")  # laid out as it was: indented by jmt train, one line when shipped
    tmp.write_text(json.dumps(vocab, indent=2 if text.startswith("{\n") else None, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    tmp.replace(path)
    print(f"{path}: {sum(map(len, tables.values()))} UPOS-XPOS pairs", file=sys.stderr)
    if args.slice:
        sys.path.insert(0, str(REPO / "scripts"))
        from ship_model import write_card

        card = args.model_dir / "card.json"
        write_card(args.model_dir, args.slice, json.loads(card.read_text())["slice_sentences"] if card.is_file() else 300)


if __name__ == "__main__":
    main()
