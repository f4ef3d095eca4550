"""UPOS and XPOS decoded together, from the pairs of tags that training saw."""
from __future__ import annotations

import json
import runpy
import sys

import torch

from conftest import REPO, TINY_TREEBANK, quiet
from jmt.data.vocab import Vocabularies
from jmt.io import load_model
from jmt.predict import Predictor
from jmt.tasks.pos import PAIRS, TagPairs
from jmt.train import Trainer

UPOS, XPOS = ["DET", "NOUN", "VERB"], ["DT", "NN", "VB", "VBZ"]


def vocabs_with(pairs: list[str] | None) -> Vocabularies:
    return Vocabularies.build([], {"upos": UPOS, "xpos": XPOS}, (2, 3),
                              tables={PAIRS: pairs} if pairs is not None else None)


def test_the_best_pair_that_training_saw_wins_and_the_two_best_tags_stay_where_they_are_one():
    pairs = TagPairs(vocabs_with(["DET\tDT", "NOUN\tNN", "VERB\tVB", "VERB\tVBZ"]))
    log = torch.log
    upos = log(torch.tensor([[[0.1, 0.5, 0.4],  # NOUN best, but the XPOS is a verb's: VERB VBZ
                              [0.1, 0.8, 0.1]]]))  # NOUN NN: a pair, kept
    xpos = log(torch.tensor([[[0.05, 0.15, 0.1, 0.7],
                              [0.1, 0.6, 0.1, 0.2]]]))
    best_upos, best_xpos = pairs.best({"upos": upos, "xpos": xpos})
    assert best_upos.tolist() == [[2, 1]] and best_xpos.tolist() == [[3, 1]]
    # the logits rank pairs as the log-probabilities do
    assert [t.tolist() for t in pairs.best({"upos": upos + 5.0, "xpos": xpos - 2.0})] == [[[2, 1]], [[3, 1]]]
    assert pairs.best({"upos": upos}) is None  # the other head did not run


def test_the_best_pair_is_the_argmax_of_the_sums_over_every_allowed_pair():
    allowed = ["DET\tDT", "NOUN\tNN", "VERB\tVB", "VERB\tVBZ", "NOUN\tVBZ"]
    pairs = TagPairs(vocabs_with(allowed))
    generator = torch.Generator().manual_seed(1)
    upos, xpos = torch.randn(6, 9, 3, generator=generator), torch.randn(6, 9, 4, generator=generator)
    ids = [(UPOS.index(u), XPOS.index(x)) for u, x in (entry.split("\t") for entry in allowed)]
    sums = torch.stack([upos[..., u] + xpos[..., x] for u, x in ids], -1)  # [B, T, pairs]
    expected = torch.tensor(ids)[sums.argmax(-1)]
    got = pairs.best({"upos": upos, "xpos": xpos})
    assert torch.equal(got[0], expected[..., 0]) and torch.equal(got[1], expected[..., 1])


def test_a_model_without_the_pairs_decodes_each_tag_alone():
    assert not TagPairs(vocabs_with(None))
    assert not TagPairs(vocabs_with(["ADJ\tJJ"]))  # neither tag is in the label sets
    assert TagPairs(vocabs_with(None)).best({"upos": torch.zeros(1, 1, 3), "xpos": torch.zeros(1, 1, 4)}) is None


def test_a_trained_model_keeps_its_pairs_and_tags_only_those(config_factory, tmp_path, monkeypatch):
    cfg = config_factory(["upos", "xpos", "dep"], epochs=2)
    Trainer(cfg, tmp_path / "model", log=quiet).train()
    seen = {(w[1], w[2]) for sentence in TINY_TREEBANK for w in sentence}
    vocab = json.loads((tmp_path / "model" / "vocab.json").read_text())
    assert {tuple(entry.split("\t")) for entry in vocab["tables"][PAIRS]} == seen

    words = [["The", "big", "dogs", "sing", "loudly", "."], ["Cats", "chase", "birds"]]
    predictor = Predictor(*biased(tmp_path / "model"))
    both = predictor.tag(words)
    assert all((u, x) in seen for p in both for u, x in zip(p["upos"], p["xpos"]))
    assert [p["upos"] for p in predictor.tag(words, tasks=["upos"])] == [p["upos"] for p in both]
    assert [p["xpos"] for p in predictor.tag(words, tasks=["xpos"])] == [p["xpos"] for p in both]

    # a model saved before the pairs tags each tag alone; scripts/add_tag_pairs.py gives it them
    del vocab["tables"][PAIRS]
    (tmp_path / "model" / "vocab.json").write_text(json.dumps(vocab, indent=2) + "\n")
    alone = Predictor(*biased(tmp_path / "model")).tag(words)
    assert not all((u, x) in seen for p in alone for u, x in zip(p["upos"], p["xpos"]))
    monkeypatch.setattr(sys, "argv", ["add_tag_pairs.py", str(tmp_path / "model"), cfg.data.train["xpos"]])
    runpy.run_path(str(REPO / "scripts" / "add_tag_pairs.py"), run_name="__main__")
    again = json.loads((tmp_path / "model" / "vocab.json").read_text())
    assert {tuple(entry.split("\t")) for entry in again["tables"][PAIRS]} == seen
    assert Predictor(*biased(tmp_path / "model")).tag(words) == both


def biased(directory):
    """The saved model with its POS classifiers' biases drawn large, so that the best UPOS
    and the best XPOS of a word often make a pair that training never saw."""
    model, vocabs, _ = load_model(directory)
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for task in ("upos", "xpos"):
            bias = model.heads[task].out.bias
            bias.copy_(torch.randn(bias.shape, generator=generator) * 5)
    return model, vocabs
