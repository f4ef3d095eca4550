"""The linear-chain CRF for chunking: exact against enumeration, and it trains end to end."""
from __future__ import annotations

import itertools

import pytest
import torch

from conftest import no_dropout_model, quiet, tiny_config
from jmt.io import load_model
from jmt.predict import Predictor
from jmt.tasks.crf import LinearChainCRF
from jmt.tasks.tagger import iob_transitions
from jmt.train import Trainer


def path_score(crf: LinearChainCRF, emissions: torch.Tensor, tags) -> torch.Tensor:
    score = crf.start[tags[0]] + emissions[0, tags[0]]
    for prev, tag, t in zip(tags, tags[1:], range(1, len(tags))):
        score = score + crf.transitions[prev, tag] + emissions[t, tag]
    return score + crf.end[tags[-1]]


@pytest.fixture
def random_crf():
    torch.manual_seed(3)
    crf = LinearChainCRF(3)
    for p in crf.parameters():
        p.data.normal_()
    emissions = torch.randn(3, 5, 3)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    return crf, emissions, mask


def test_partition_viterbi_and_loss_match_enumerating_every_path(random_crf):
    crf, emissions, mask = random_crf
    gold = torch.tensor([[0, 2, 1, 1, 0], [1, 2, -100, -100, -100], [2, -100, -100, -100, -100]])
    log_z, best = crf.log_partition(emissions, mask), crf.decode(emissions, mask)
    expected_nll = 0.0
    for b, n in enumerate(mask.sum(1).tolist()):
        paths = list(itertools.product(range(3), repeat=n))
        scores = torch.stack([path_score(crf, emissions[b], y) for y in paths])
        assert log_z[b].item() == pytest.approx(torch.logsumexp(scores, 0).item(), abs=1e-5)
        assert best[b, :n].tolist() == list(paths[int(scores.argmax())])
        assert best[b, n:].tolist() == [0] * (5 - n)
        expected_nll += torch.logsumexp(scores, 0).item() - path_score(crf, emissions[b], gold[b, :n].tolist()).item()
    assert crf.nll(emissions, gold, mask).item() == pytest.approx(expected_nll, abs=1e-4)


def test_transitions_change_the_decoded_sequence(random_crf):
    # Emissions alone would pick tag 0 everywhere; a large 0 -> 0 penalty forces alternation.
    crf, _, _ = random_crf
    for p in crf.parameters():
        p.data.zero_()
    emissions = torch.tensor([[[2.0, 1.0, 0.0], [2.0, 1.5, 0.0]] * 2])
    mask = torch.ones(1, 4, dtype=torch.bool)
    assert crf.decode(emissions, mask).tolist() == [[0, 0, 0, 0]]
    crf.transitions.data[0, 0] = -10.0
    assert crf.decode(emissions, mask).tolist() == [[0, 1, 0, 1]]


def test_viterbi_keeps_to_the_allowed_transitions(random_crf):
    crf, emissions, mask = random_crf
    allowed = torch.tensor([[True, True, False], [True, True, True], [False, True, True]])
    start = torch.tensor([True, False, True])
    constrained = LinearChainCRF(3, allowed, start)
    constrained.load_state_dict(crf.state_dict())  # the masks are not part of the saved weights
    assert set(constrained.state_dict()) == {"transitions", "start", "end"}
    best = constrained.decode(emissions * 5, mask)
    for b, n in enumerate(mask.sum(1).tolist()):
        paths = [y for y in itertools.product(range(3), repeat=n)
                 if start[y[0]] and all(allowed[i, j] for i, j in zip(y, y[1:]))]
        scores = torch.stack([path_score(crf, emissions[b] * 5, y) for y in paths])
        assert best[b, :n].tolist() == list(paths[int(scores.argmax())])
    unconstrained = crf.decode(emissions * 5, mask)
    assert not torch.equal(best, unconstrained)  # the fixture's best paths break the constraint


def test_iob_transitions():
    labels = ["B-NP", "I-NP", "B-VP", "I-VP", "O"]
    allowed, start = iob_transitions(labels)
    ok = {(prev, tag) for prev in labels for tag in labels if allowed[labels.index(prev), labels.index(tag)]}
    assert {(p, t) for p, t in itertools.product(labels, labels) if (p, t) not in ok} == {
        ("B-VP", "I-NP"), ("I-VP", "I-NP"), ("O", "I-NP"), ("B-NP", "I-VP"), ("I-NP", "I-VP"), ("O", "I-VP")}
    assert [labels[i] for i in range(len(labels)) if not start[i]] == ["I-NP", "I-VP"]


@pytest.mark.slow
def test_chunk_crf_overfits_and_survives_save_and_load(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["chunk"], dev=True, model=no_dropout_model(chunk_crf=True), epochs=60)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    assert trainer.model.heads["chunk"].crf is not None
    best = trainer.train()
    assert best["dev"]["chunk"]["f1"] == 100.0, best["dev"]["chunk"]
    model, vocabs, saved = load_model(tmp_path / "out")
    assert saved.model.chunk_crf
    gold = trainer.corpora.train["chunk"]
    pred = Predictor(model, vocabs).tag(gold, ["chunk"])
    assert [p["chunks"] for p in pred] == [s.chunks for s in gold]
    transitions = model.heads["chunk"].crf.transitions
    assert transitions.abs().max() > 0  # the transitions were learned and saved
