"""The dependency head's two arc and label scorers: the paper's bilinear one and biaffine."""
from __future__ import annotations

import pytest
import torch

from conftest import no_dropout_model, quiet, tiny_config
from jmt.config import ConfigError
from jmt.decode import is_tree
from jmt.io import load_model
from jmt.predict import Predictor
from jmt.tasks.dependency import Biaffine
from jmt.train import Trainer


def test_biaffine_pairs_equal_the_gathered_all_pairs_scores():
    torch.manual_seed(0)
    layer = Biaffine(5, channels=3)
    for p in layer.parameters():
        torch.nn.init.normal_(p)
    d, e = torch.randn(2, 4, 5), torch.randn(2, 4, 5)
    full = layer(d, e)  # [B, C, T, S]
    assert full.shape == (2, 3, 4, 4)
    diagonal = full.diagonal(dim1=2, dim2=3).transpose(1, 2)  # [B, T, C]: dependent t with head t
    assert torch.allclose(layer.pairs(d, e), diagonal, atol=1e-5)
    # one entry by hand
    b, c, t, s = 1, 2, 3, 0
    by_hand = d[b, t] @ layer.U[c] @ e[b, s] + layer.dep_bias[c] @ d[b, t] + layer.head_bias[c] @ e[b, s] + layer.bias[c]
    assert torch.allclose(full[b, c, t, s], by_hand, atol=1e-5)


def test_biaffine_pairs_equal_the_three_way_product_with_and_without_gradients():
    torch.manual_seed(0)
    layer = Biaffine(6, channels=4)
    for p in layer.parameters():
        torch.nn.init.normal_(p)
    d, e = torch.randn(3, 5, 6), torch.randn(3, 5, 6)
    with_grad = layer.pairs(d, e)
    assert with_grad.requires_grad
    with torch.inference_mode():
        without = layer.pairs(d, e)
    by_einsum = torch.einsum("btd,cde,bte->btc", d, layer.U, e) + e @ layer.head_bias.T + d @ layer.dep_bias.T + layer.bias
    assert torch.allclose(without, with_grad, atol=1e-5) and torch.allclose(without, by_einsum, atol=1e-5)


def test_label_scores_head_first_equal_the_dependent_first_scores(monkeypatch):
    import jmt.tasks.dependency as dependency

    monkeypatch.setattr(dependency, "PAIR_ROWS", 8)  # 30 words: blocks of 8, 8, 8 and 6
    torch.manual_seed(1)
    layer = Biaffine(6, channels=4)
    for p in layer.parameters():
        torch.nn.init.normal_(p)
    d, heads = torch.randn(30, 6), torch.randn(9, 6)
    head_of = torch.tensor([0, 0, 0, 3, 3, 1, 8, 8, 8, 8, 8, 8, 2, 0, 5, 5, 4, 4, 4, 7, 7, 6, 0, 0, 0, 0, 0, 1, 1, 2])
    with torch.inference_mode():
        by_head = layer.pairs_by_head(d, heads, head_of)
        by_dependent = layer.pairs(d.unsqueeze(0), heads[head_of].unsqueeze(0)).squeeze(0)
    assert by_head.shape == (30, 4)
    assert torch.allclose(by_head, by_dependent, atol=1e-4)
    one = d[10] @ layer.U[2] @ heads[8] + layer.dep_bias[2] @ d[10] + layer.head_bias[2] @ heads[8] + layer.bias[2]
    assert torch.allclose(by_head[10, 2], one, atol=1e-4)


def test_head_only_bias_drops_the_terms_that_cannot_change_the_best_head():
    layer = Biaffine(4, head_only_bias=True)
    assert {n for n, _ in layer.named_parameters()} == {"U", "head_bias"}


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::jmt.errors.SlowPrecisionWarning")  # bf16 on any CPU
def test_biaffine_dep_overfits_and_survives_save_and_load(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "dep"], dev=True, epochs=40,
                      model=no_dropout_model(dep_scorer="biaffine", dep_arc_dim=24))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    names = {n for n, _ in trainer.model.named_parameters()}
    assert "heads.dep.arc_biaffine.U" in names and "heads.dep.W_d" not in names
    record = trainer.train()
    assert record["dev"]["dep"]["uas"] == 100.0 and record["dev"]["dep"]["las"] == 100.0
    loaded, vocabs, loaded_cfg = load_model(tmp_path / "out")
    assert loaded_cfg.model.dep_scorer == "biaffine"
    sentences = [s.words for s in trainer.corpora.train["dep"]]
    trainer.model.eval()
    pred = Predictor(loaded, vocabs).tag(sentences, ["dep"])
    assert pred == Predictor(trainer.model, trainer.vocabs).tag(sentences, ["dep"])
    assert all(is_tree(p["heads"]) for p in pred)
    # bf16 (LSTMs and the label scorer's tensor) keeps this clear-cut model's trees and labels
    low = Predictor(loaded, vocabs, precision="bf16")
    assert loaded.heads["dep"].rel_biaffine.low_U.dtype == torch.bfloat16
    assert loaded.heads["dep"].rel_biaffine.U.dtype == torch.float32
    assert low.tag(sentences, ["dep"]) == pred


def test_unknown_dep_scorer_is_a_config_error(tiny_files):
    cfg = tiny_config(tiny_files, ["dep"], model=no_dropout_model(dep_scorer="trilinear"))
    with pytest.raises(ConfigError, match="dep_scorer"):
        cfg.validate()


def random_parser(tiny_files, tmp_path, decoder: str, seed: int):
    """(head, batch, scores) of a parser with random weights over the tiny training
    sentences: many greedy outputs are not trees."""
    from jmt.data.batch import collate_sentences, encode_sentence

    cfg = tiny_config(tiny_files, ["dep"], model=no_dropout_model(dep_scorer="biaffine"), decoder=decoder)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    head = trainer.model.heads["dep"]
    torch.manual_seed(seed)
    for p in head.parameters():
        torch.nn.init.normal_(p, std=2.0)
    trainer.model.eval()
    batch = collate_sentences([encode_sentence(trainer.vocabs, s) for s in trainer.corpora.train["dep"]])
    with torch.no_grad():
        scores = trainer.model(batch, 3).scores["dep"]
    return head, batch, scores


@pytest.mark.parametrize("decoder", ["greedy", "greedy+eisner", "eisner", "chu-liu-edmonds"])
def test_batched_decoding_equals_decoding_each_matrix(tiny_files, tmp_path, decoder):
    import numpy as np

    from jmt.decode import decode

    head, batch, scores = random_parser(tiny_files, tmp_path, decoder, seed=1)
    with torch.no_grad():
        got = head.decode(scores, batch)
    logp = scores.arcs.log_softmax(-1).numpy()
    not_trees = 0
    for b, n in enumerate(batch.lengths.tolist()):
        matrix = np.zeros((n + 1, n + 1))
        matrix[1:] = logp[b, :n, : n + 1]
        heads, was_tree = decode(matrix, decoder)
        assert got[b]["heads"] == heads.tolist() and got[b]["greedy_was_tree"] == was_tree
        not_trees += not was_tree
    if decoder.startswith("greedy"):
        assert not_trees > 0  # the repair path was exercised too
    # the labels come from the head-first scorer without gradients; with them, from the other
    chosen = torch.tensor([g["heads"] + [0] * (batch.word_ids.shape[1] - len(g["heads"])) for g in got])
    with torch.no_grad():
        head_first = head.label_logits(scores, chosen)
    dependent_first = head.label_logits(scores, chosen)
    assert torch.allclose(head_first, dependent_first, rtol=1e-5, atol=1e-3)  # scores reach 600
    labels = [[head.labels[i] for i in row[:n]] for row, n in zip(head_first.argmax(-1).tolist(), batch.lengths.tolist())]
    assert [g["deprels"] for g in got] == labels


@pytest.mark.parametrize("decoder", ["greedy+eisner", "eisner"])
def test_decoding_on_the_device_gives_the_trees_of_the_cpu_decoder(tiny_files, tmp_path, decoder, monkeypatch):
    import jmt.tasks.dependency as dependency

    head, batch, scores = random_parser(tiny_files, tmp_path, decoder, seed=2)
    with torch.no_grad():
        on_cpu = head.decode(scores, batch)
        monkeypatch.setattr(dependency, "on_device", lambda scores: True)  # the path a GPU takes
        on_device = head.decode(scores, batch)
    assert on_device == on_cpu
    assert decoder == "eisner" or not all(p["greedy_was_tree"] for p in on_cpu)  # Eisner repaired some
