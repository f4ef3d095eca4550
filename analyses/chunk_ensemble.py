"""How far is one model's chunk F1 from an ensemble of several?

    python analyses/chunk_ensemble.py MODEL_DIR MODEL_DIR [MODEL_DIR ...] [--shared ../shared]

For models with a CRF chunker (``[model] chunk_crf = true``) trained on the same label set,
chunk F1 is scored for each model alone and for every combination of two or more: the
combination averages the models' per-word tag scores and their CRF transition, start and end
scores, then decodes once with Viterbi (a product of experts). Scored on the recipe's
hold-out of CoNLL-2000 train (dev) and on CoNLL-2000 test. The ensemble is a bound on what
one model might reach by learning from several (distillation); jmt ships single models.
Results file: results/experiments.md, row 41.
"""
from __future__ import annotations

import copy
import itertools
import sys
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from jmt.data.batch import batch_indices, collate_sentences, encode_sentence  # noqa: E402
from jmt.io import load_model  # noqa: E402
from jmt.predict import BATCH_SIZE, MAX_BATCH_TOKENS, TABLE_DTYPE  # noqa: E402
from report import chunk_analysis_args  # noqa: E402


@torch.inference_mode()
def tag_scores(model, vocabs, sentences) -> list[torch.Tensor]:
    """The chunk head's per-word tag scores of each sentence: [n_words, n_tags] each."""
    head = model.heads["chunk"]
    encoded = [encode_sentence(vocabs, s) for s in sentences]
    scores: list[torch.Tensor] = [torch.empty(0)] * len(sentences)
    for idx in batch_indices(encoded, BATCH_SIZE, shuffle=False, max_tokens=MAX_BATCH_TOKENS):
        batch = collate_sentences([encoded[i] for i in idx])
        logits = model(batch, head.depth, ["chunk"]).scores["chunk"].float()  # [B, T, L]
        for b, (i, n) in enumerate(zip(idx, batch.lengths.tolist())):
            scores[i] = logits[b, :n]
    return scores


@torch.inference_mode()
def ensemble_f1(heads, scores, sentences) -> float:
    """Chunk F1 of the heads' averaged tag and transition scores, decoded by Viterbi."""
    head = copy.deepcopy(heads[0])
    for name in ("transitions", "start", "end"):
        getattr(head.crf, name).copy_(torch.stack([getattr(h.crf, name) for h in heads]).mean(0))
    pred = []
    for i in range(len(sentences)):
        emissions = torch.stack([s[i] for s in scores]).mean(0).unsqueeze(0)  # [1, n, L]
        ids = head.crf.decode(emissions, torch.ones(emissions.shape[:2], dtype=torch.bool))[0].tolist()
        pred.append({head.field: [head.labels[t] for t in ids]})
    return head.evaluate(sentences, pred)["f1"]


def main() -> None:
    args, sets = chunk_analysis_args(__doc__, min_models=2)
    loaded = [load_model(d, table_dtype=TABLE_DTYPE)[:2] for d in args.models]
    for d, (model, _) in zip(args.models, loaded):
        head = model.heads["chunk"] if "chunk" in model.heads else None
        if head is None or head.crf is None:
            sys.exit(f"{d}: the model has no CRF chunker")
        if head.labels != loaded[0][0].heads["chunk"].labels:
            sys.exit(f"{d}: its chunk labels differ from {args.models[0]}'s")
    names = [d.name for d in args.models]
    print("| models | " + " | ".join(f"chunk F1, {name}" for name in sets) + " |")
    print("|---|" + "---|" * len(sets))
    rows: dict[tuple[int, ...], list[float]] = {}
    for sentences in sets.values():
        scores = [tag_scores(model, vocabs, sentences) for model, vocabs in loaded]
        for k in range(1, len(loaded) + 1):
            for combo in itertools.combinations(range(len(loaded)), k):
                heads = [loaded[c][0].heads["chunk"] for c in combo]
                rows.setdefault(combo, []).append(ensemble_f1(heads, [scores[c] for c in combo], sentences))
    for combo, f1s in rows.items():
        print(f"| {' + '.join(names[c] for c in combo)} | " + " | ".join(f"{f:.2f}" for f in f1s) + " |")


if __name__ == "__main__":
    main()
