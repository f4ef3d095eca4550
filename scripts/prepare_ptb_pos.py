"""Join the PTB sample's POS-tagged files into one training file for the ``xpos2`` task.

    python scripts/prepare_ptb_pos.py OUT_FILE [--shared ../shared]

The NLTK sample of the Penn Treebank (WSJ sections 00-01, 3,914 sentences) comes as 199
``.dp`` files of ``word POS head`` lines. CoNLL-2000, whose POS column ``xpos2`` learns, is
WSJ sections 15-18 and 20 with the same tag set, except that it tags brackets ``(`` and ``)``
where the treebank writes ``-LRB-`` and ``-RRB-``. This script writes the sample as one file
in the treebank's own format, with the brackets tagged the CoNLL-2000 way, so that
``--train xpos2=conll2000/train.txt --train xpos2=OUT_FILE`` learns one convention from
both. ``scripts/train_real.py --xpos2 --ptb-pos`` runs it and trains that way.
"""
from __future__ import annotations

import argparse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BRACKETS = {"-LRB-": "(", "-RRB-": ")"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = ap.parse_args()
    files = sorted((args.shared / "corpora" / "ptb_sample" / "dependency_treebank").glob("wsj_*.dp"))
    if not files:
        raise SystemExit(f"no wsj_*.dp files under {args.shared / 'corpora' / 'ptb_sample'}")
    sentences, words = 0, 0
    with open(args.out, "w", encoding="utf-8") as out:
        for path in files:
            block = []
            for line in path.read_text(encoding="utf-8").splitlines() + [""]:
                if not line.strip():
                    if block:
                        out.write("\n".join(block) + "\n\n")
                        sentences, words = sentences + 1, words + len(block)
                        block = []
                    continue
                word, tag, head = line.split("\t")
                block.append(f"{word}\t{BRACKETS.get(tag, tag)}\t{head}")
    print(f"wrote {sentences} sentences, {words} words from {len(files)} files to {args.out}")


if __name__ == "__main__":
    main()
