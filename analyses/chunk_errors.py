"""Where are a trained model's chunking errors, and could its own states fix them?

    python analyses/chunk_errors.py MODEL_DIR [--shared ../shared] [--epochs 8]

Two diagnostics on CoNLL-2000, for a model with the chunk and dep tasks:

1. The chunk tag errors on CoNLL-2000 test, split by the word: seen in a training corpus
   (CoNLL-2000 train or UD EWT train, lowercased), only in the GloVe vectors, or in neither.
   If the errors sat on unseen words, better vectors for them would be the lever.
2. Probes: fresh chunk classifiers (the chunk head's ReLU layer and CRF) trained on the
   frozen model's states over CoNLL-2000 train without the recipe's hold-out, then scored on
   the hold-out (dev) and test. Inputs: the chunk layer's states; those and the dependency
   layer's above it; and a new BiLSTM over the chunk layer's states. If the dependency layer,
   or more context over what the chunk layer computes, held what the chunker misses, a probe
   would beat the model's own chunk head.

Prints Markdown tables. One CPU thread; a few minutes per probe.
"""
from __future__ import annotations

import argparse
import gzip
import random
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from jmt.config import TrainConfig  # noqa: E402
from jmt.data.batch import batch_indices, collate_sentences, encode_sentence  # noqa: E402
from jmt.data.corpus import read_corpus  # noqa: E402
from jmt.io import load_model  # noqa: E402
from jmt.metrics import chunk_scores  # noqa: E402
from jmt.model.layers import BiLSTM  # noqa: E402
from jmt.predict import TABLE_DTYPE, Predictor  # noqa: E402
from jmt.tasks.crf import LinearChainCRF  # noqa: E402
from jmt.tasks.tagger import iob_transitions  # noqa: E402
from jmt.train import holdout_split  # noqa: E402

CHUNK, DEP = 2, 3  # the depths of the chunk and dependency layers


def error_shares(test, pred: list[dict], known: set[str], glove: set[str]) -> list[str]:
    words, errors = {}, {}
    for sentence, p in zip(test, pred):
        for word, gold, tag in zip(sentence.words, sentence.chunks, p["chunks"]):
            kind = ("seen in training" if word.lower() in known
                    else "in GloVe only" if word.lower() in glove else "in neither")
            words[kind] = words.get(kind, 0) + 1
            errors[kind] = errors.get(kind, 0) + (gold != tag)
    total = sum(errors.values())
    rows = ["| word | words | tag errors | error rate | share of the errors |", "|---|---|---|---|---|"]
    for kind in ("seen in training", "in GloVe only", "in neither"):
        n, e = words.get(kind, 0), errors.get(kind, 0)
        rows.append(f"| {kind} | {n:,} | {e:,} | {100 * e / max(n, 1):.2f} % | {100 * e / max(total, 1):.1f} % |")
    return rows


@torch.inference_mode()
def states(model, vocabs, sentences) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Each sentence's chunk-layer and dependency-layer states, [n, 2H] each."""
    encoded = [encode_sentence(vocabs, s) for s in sentences]
    out: list = [None] * len(sentences)
    for idx in batch_indices(encoded, 64, shuffle=False, max_tokens=3000):
        batch = collate_sentences([encoded[i] for i in idx])
        hidden = model(batch, DEP, ["chunk", "dep"]).hidden
        for k, (i, n) in enumerate(zip(idx, batch.lengths.tolist())):
            out[i] = (hidden[CHUNK][k, :n].clone(), hidden[DEP][k, :n].clone())
    return out


class Probe(nn.Module):
    def __init__(self, in_dim: int, labels: list[str], lstm: bool, size: int):
        super().__init__()
        self.lstm = BiLSTM(in_dim, size) if lstm else None
        self.drop = nn.Dropout(0.2)
        self.hidden = nn.Linear(2 * size if lstm else in_dim, size)
        self.out = nn.Linear(size, len(labels))
        self.crf = LinearChainCRF(len(labels), *iob_transitions(labels))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.lstm is not None:
            x = self.lstm(self.drop(x), mask.sum(1))
        return self.out(F.relu(self.hidden(self.drop(x))))


def padded(items, layers) -> tuple[torch.Tensor, torch.Tensor]:
    xs = [torch.cat([item[layer] for layer in layers], -1) for item in items]
    x = torch.zeros(len(xs), max(len(v) for v in xs), xs[0].shape[1])
    mask = torch.zeros(x.shape[:2], dtype=torch.bool)
    for i, v in enumerate(xs):
        x[i, : len(v)], mask[i, : len(v)] = v, True
    return x, mask


def probe(labels, layers, lstm, data, epochs) -> tuple[float, float]:
    """Train a probe on the training states; its hold-out and test F1 after the last epoch."""
    torch.manual_seed(1)
    rng = random.Random(1)
    (train, train_states), evaluated = data[0], data[1:]
    index = {label: i for i, label in enumerate(labels)}
    gold = [torch.tensor([index.get(t, 0) for t in s.chunks]) for s in train]
    state_dim = train_states[0][0].shape[-1]  # 2H, as wide as the model's layers
    model = Probe(state_dim * len(layers), labels, lstm, state_dim // 2)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    order = list(range(len(train)))
    for _ in range(epochs):
        model.train()
        rng.shuffle(order)
        for k in range(0, len(order), 32):
            idx = order[k : k + 32]
            x, mask = padded([train_states[i] for i in idx], layers)
            tags = torch.zeros(mask.shape, dtype=torch.long)
            for j, i in enumerate(idx):
                tags[j, : len(gold[i])] = gold[i]
            loss = model.crf.nll(model(x, mask), tags, mask) / len(idx)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    scores = []
    with torch.no_grad():
        for sentences, sentence_states in evaluated:
            pred = []
            for k in range(0, len(sentences), 128):
                x, mask = padded(sentence_states[k : k + 128], layers)
                ids = model.crf.decode(model(x, mask), mask).tolist()
                pred += [[labels[t] for t in row[: int(m.sum())]] for row, m in zip(ids, mask)]
            scores.append(chunk_scores([s.chunks for s in sentences], pred)["f1"])
    return scores[0], scores[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model", type=Path)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    ap.add_argument("--epochs", type=int, default=8, help="probe training epochs")
    args = ap.parse_args()
    torch.set_num_threads(1)
    corpora = args.shared / "corpora"
    train_all = read_corpus(str(corpora / "conll2000" / "train.txt"), "chunk")
    train, dev = holdout_split(train_all, "holdout:0.1", TrainConfig().holdout_seed)
    test = read_corpus(str(corpora / "conll2000" / "test.txt"), "chunk")
    known = {w.lower() for s in train_all for w in s.words}
    known |= {w.lower() for s in read_corpus(str(corpora / "ud_english_ewt" / "en_ewt-ud-train.conllu"), "upos")
              for w in s.words}
    with gzip.open(args.shared / "vectors" / "glove.6B.50d.txt.gz", "rt", encoding="utf-8") as f:
        glove = {line.split(" ", 1)[0] for line in f}

    model, vocabs, _ = load_model(args.model, table_dtype=TABLE_DTYPE)  # as `jmt evaluate` loads it
    if not {"chunk", "dep"} <= set(model.heads):
        sys.exit(f"{args.model}: the model has no chunk or no dep task")
    predictor = Predictor(model, vocabs)
    pred = {"dev": predictor.tag(dev, ["chunk"]), "test": predictor.tag(test, ["chunk"])}
    print(f"Chunk tag errors of {args.model.name} on CoNLL-2000 test, by word\n")
    print("\n".join(error_shares(test, pred["test"], known, glove)))

    labels = model.heads["chunk"].labels
    own = [chunk_scores([s.chunks for s in sents], [p["chunks"] for p in pred[name]])["f1"]
           for name, sents in (("dev", dev), ("test", test))]
    data = [(sents, states(model, vocabs, sents)) for sents in (train, dev, test)]
    print(f"\nProbes on the frozen states ({args.epochs} epochs on CoNLL-2000 train less the hold-out)\n")
    print("| chunk classifier | input | hold-out F1 | test F1 |\n|---|---|---|---|")
    print(f"| the model's own chunk head | chunk layer | {own[0]:.2f} | {own[1]:.2f} |")
    for name, layers, lstm in (("ReLU layer + CRF", [0], False), ("ReLU layer + CRF", [0, 1], False),
                               ("BiLSTM + ReLU layer + CRF", [0], True)):
        where = "chunk and dependency layers" if len(layers) == 2 else "chunk layer"
        d, t = probe(labels, layers, lstm, data, args.epochs)
        print(f"| {name} | {where} | {d:.2f} | {t:.2f} |", flush=True)


if __name__ == "__main__":
    main()
