"""How much would chunking gain from the CoNLL-2000 POS column as an input?

    python analyses/chunk_pos_oracle.py MODEL_DIR [MODEL_DIR ...] [--shared ../shared]

For a model with the ``xpos2`` task (a classifier of the CoNLL-2000 POS column whose label
embedding feeds the chunk layer), chunk F1 is scored twice on the same sentences: as the
model predicts, and with the xpos2 label embedding built from the file's own POS column (a
one-hot distribution) instead of the classifier's. The second is an upper bound on what
giving the chunker the column as an input could add without retraining it: the column is
what the classifier learns, and it is in the CoNLL-2000 test file. Scored on the recipe's
hold-out of CoNLL-2000 train (dev) and on CoNLL-2000 test.
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from jmt.data.batch import batch_indices, collate_sentences, encode_sentence  # noqa: E402
from jmt.data.vocab import IGNORE  # noqa: E402
from jmt.io import load_model  # noqa: E402
from jmt.predict import BATCH_SIZE, MAX_BATCH_TOKENS, TABLE_DTYPE  # noqa: E402
from report import chunk_analysis_args  # noqa: E402


@torch.inference_mode()
def chunk_f1(model, vocabs, sentences, given_pos: bool) -> float:
    head, tagger = model.heads["chunk"], model.heads["xpos2"]
    soft = tagger.label_embedding

    def from_column(logits, targets):
        one_hot = F.one_hot(targets.clamp(min=0), logits.shape[-1]).to(logits.dtype)
        probs = torch.where((targets == IGNORE).unsqueeze(-1), logits.softmax(-1), one_hot)
        return probs @ tagger.label_vectors

    encoded = [encode_sentence(vocabs, s) for s in sentences]
    pred = [None] * len(sentences)
    for idx in batch_indices(encoded, BATCH_SIZE, shuffle=False, max_tokens=MAX_BATCH_TOKENS):
        batch = collate_sentences([encoded[i] for i in idx])
        if given_pos:  # the column's tags for this batch, where the model knows the tag
            tagger.label_embedding = lambda logits, t=batch.targets["xpos2"]: from_column(logits, t)
        try:
            out = model(batch, head.depth, ["chunk"])
        finally:
            tagger.label_embedding = soft
        for i, p in zip(idx, head.decode(out.scores["chunk"], batch)):
            pred[i] = p
    return head.evaluate(sentences, pred)["f1"]


def main() -> None:
    args, sets = chunk_analysis_args(__doc__)
    torch.set_num_threads(1)
    print("| model | set | chunk F1, predicted POS | chunk F1, the file's POS column | difference |")
    print("|---|---|---|---|---|")
    for model_dir in args.models:
        model, vocabs, _ = load_model(model_dir, table_dtype=TABLE_DTYPE)
        if "xpos2" not in model.heads or "chunk" not in model.heads:
            sys.exit(f"{model_dir}: the model has no xpos2 or no chunk task")
        for name, sentences in sets.items():
            plain, given = (chunk_f1(model, vocabs, sentences, g) for g in (False, True))
            print(f"| {model_dir.name} | {name} | {plain:.2f} | {given:.2f} | {given - plain:+.2f} |")


if __name__ == "__main__":
    main()
