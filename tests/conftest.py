"""Shared tiny corpora and configurations for the model, training and CLI tests.

Everything here is small enough that a test trains on it in a second or two on a CPU.
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from jmt.config import Config, DataConfig, ModelConfig, TrainConfig

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "corpora" / "sample"

torch.set_num_threads(1)  # tests share the machine; small models gain nothing from threads


def _row(i, word, upos, xpos, head, rel):
    return "\t".join([str(i), word, word.lower(), upos, xpos, "_", str(head), rel, "_", "_"])


# (word, UPOS, XPOS, HEAD, DEPREL) per word; sentences of different lengths so batches pad.
TINY_TREEBANK = [
    [("The", "DET", "DT", 2, "det"), ("cat", "NOUN", "NN", 3, "nsubj"), ("sleeps", "VERB", "VBZ", 0, "root"),
     (".", "PUNCT", ".", 3, "punct")],
    [("A", "DET", "DT", 2, "det"), ("dog", "NOUN", "NN", 3, "nsubj"), ("barks", "VERB", "VBZ", 0, "root"),
     ("loudly", "ADV", "RB", 3, "advmod"), (".", "PUNCT", ".", 3, "punct")],
    [("Dogs", "NOUN", "NNS", 2, "nsubj"), ("chase", "VERB", "VBP", 0, "root"), ("the", "DET", "DT", 4, "det"),
     ("cats", "NOUN", "NNS", 2, "obj"), (".", "PUNCT", ".", 2, "punct")],
    [("She", "PRON", "PRP", 2, "nsubj"), ("saw", "VERB", "VBD", 0, "root"), ("a", "DET", "DT", 5, "det"),
     ("big", "ADJ", "JJ", 5, "amod"), ("bird", "NOUN", "NN", 2, "obj"), ("today", "NOUN", "NN", 2, "obl:tmod"),
     (".", "PUNCT", ".", 2, "punct")],
    [("Birds", "NOUN", "NNS", 2, "nsubj"), ("sing", "VERB", "VBP", 0, "root")],
    [("He", "PRON", "PRP", 2, "nsubj"), ("likes", "VERB", "VBZ", 0, "root"), ("old", "ADJ", "JJ", 4, "amod"),
     ("books", "NOUN", "NNS", 2, "obj"), ("very", "ADV", "RB", 6, "advmod"), ("much", "ADV", "RB", 2, "advmod"),
     (".", "PUNCT", ".", 2, "punct")],
]

TINY_CHUNKS = [
    [("The", "DT", "B-NP"), ("cat", "NN", "I-NP"), ("sleeps", "VBZ", "B-VP"), (".", ".", "O")],
    [("She", "PRP", "B-NP"), ("saw", "VBD", "B-VP"), ("a", "DT", "B-NP"), ("big", "JJ", "I-NP"),
     ("bird", "NN", "I-NP"), ("in", "IN", "B-PP"), ("the", "DT", "B-NP"), ("park", "NN", "I-NP"), (".", ".", "O")],
    [("Dogs", "NNS", "B-NP"), ("chase", "VBP", "B-VP"), ("cats", "NNS", "B-NP"), (".", ".", "O")],
    [("He", "PRP", "B-NP"), ("is", "VBZ", "B-VP"), ("very", "RB", "B-ADJP"), ("happy", "JJ", "I-ADJP"),
     (".", ".", "O")],
    [("Birds", "NNS", "B-NP"), ("will", "MD", "B-VP"), ("sing", "VB", "I-VP")],
]

# (premise, hypothesis, relatedness, entailment)
TINY_PAIRS = [
    ("A man is playing a guitar", "A man is playing an instrument", 4.6, "ENTAILMENT"),
    ("A man is playing a guitar", "Nobody is playing a guitar", 3.6, "CONTRADICTION"),
    ("A woman is slicing an onion", "A dog is running in the park", 1.1, "NEUTRAL"),
    ("The kids are playing outside", "The children are playing outdoors", 4.9, "ENTAILMENT"),
    ("A cat is sleeping", "A cat is not sleeping", 3.9, "CONTRADICTION"),
    ("Two dogs are fighting", "A man is cooking pasta", 1.4, "NEUTRAL"),
    ("A boy is riding a horse", "A boy is sitting on a horse", 3.2, "NEUTRAL"),
    ("The girl is dancing", "A girl is dancing on a stage", 2.4, "NEUTRAL"),
]


def conllu_text(sentences=TINY_TREEBANK) -> str:
    blocks = []
    for n, sent in enumerate(sentences, 1):
        lines = [f"# sent_id = s{n}", f"# text = {' '.join(w for w, *_ in sent)}"]
        lines += [_row(i, *tok) for i, tok in enumerate(sent, 1)]
        blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\n"


def chunk_text(sentences=TINY_CHUNKS) -> str:
    return "\n".join("".join(f"{w} {p} {c}\n" for w, p, c in sent) for sent in sentences)


def pairs_text(pairs=TINY_PAIRS) -> str:
    rows = ["pair_ID\tsentence_A\tsentence_B\trelatedness_score\tentailment_judgment"]
    rows += [f"{i}\t{a}\t{b}\t{r}\t{e}" for i, (a, b, r, e) in enumerate(pairs, 1)]
    return "\n".join(rows) + "\n"


def write_tiny_corpora(directory: Path) -> dict[str, Path]:
    """Write the tiny corpora into ``directory``: keys ``conllu``, ``chunk``, ``pairs``."""
    files = {"conllu": directory / "tiny.conllu", "chunk": directory / "tiny_chunk.txt",
             "pairs": directory / "tiny_pairs.tsv"}
    files["conllu"].write_text(conllu_text(), encoding="utf-8")
    files["chunk"].write_text(chunk_text(), encoding="utf-8")
    files["pairs"].write_text(pairs_text(), encoding="utf-8")
    return files


@pytest.fixture
def tiny_files(tmp_path) -> dict[str, Path]:
    """The tiny corpora written to ``tmp_path``."""
    return write_tiny_corpora(tmp_path)


# the paper's six tasks (jmt.config.TASKS also has xpos2, a second XPOS tag set)
PAPER_TASKS = ("upos", "xpos", "chunk", "dep", "relatedness", "entailment")

# which tiny file each task reads
TASK_FILE = {"upos": "conllu", "xpos": "conllu", "xpos2": "chunk", "dep": "conllu", "chunk": "chunk",
             "relatedness": "pairs", "entailment": "pairs"}


def small_model(**overrides) -> ModelConfig:
    sizes = dict(word_dim=32, char_dim=32, hidden=32, label_dim=32, head_hidden=32, dep_label_hidden=32)
    sizes.update(overrides)
    return ModelConfig(**sizes)


def no_dropout_model(**overrides) -> ModelConfig:
    settings = dict(dropout=0.0, embed_dropout=0.0, word_dropout_alpha=0.0)
    settings.update(overrides)
    return small_model(**settings)


def tiny_config(files: dict[str, Path], tasks, *, dev: bool = False, model: ModelConfig | None = None,
                **train) -> Config:
    """A Config training ``tasks`` on the tiny corpora (Adam, lr 0.01, no progress bar)."""
    settings = dict(optimizer="adam", lr=0.01, lr_decay=0.0, batch_size=8, dep_batch_size=8, epochs=1,
                    seed=0, progress=False)
    settings.update(train)
    paths = {t: str(files[TASK_FILE[t]]) for t in tasks}
    return Config(model=model or small_model(), train=TrainConfig(**settings),
                  data=DataConfig(train=paths, dev=dict(paths) if dev else {}))


def quiet(_message: str) -> None:
    pass


@pytest.fixture
def config_factory(tiny_files):
    """``make(tasks, dev=False, model=None, **train)`` -> Config on the tiny corpora."""
    return lambda tasks, **kw: tiny_config(tiny_files, tasks, **kw)
