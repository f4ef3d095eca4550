"""Cross-stitch and sluice sharing (jmt.model.stitch): alpha, the orthogonality penalty, beta,
and models that train, save, load and tag with them."""
from __future__ import annotations

import pytest
import torch

from conftest import PAPER_TASKS, no_dropout_model, quiet, small_model, tiny_config
from jmt.config import ConfigError
from jmt.io import load_model
from jmt.model.stitch import CrossStitch, initial_alpha, level_mix, orthogonality
from jmt.predict import Predictor
from jmt.train import Trainer


def test_alpha_starts_near_the_identity_and_its_rows_sum_to_one():
    alpha = initial_alpha(3, 0.9)
    assert torch.allclose(alpha.diagonal(), torch.full((3,), 0.9))
    assert torch.allclose(alpha.sum(1), torch.ones(3))
    assert torch.equal(initial_alpha(1, 0.9), torch.ones(1, 1))


@pytest.mark.parametrize("subspaces", [1, 2, 4])
def test_alpha_at_the_identity_leaves_the_columns_apart(subspaces):
    states = [torch.randn(2, 5, 8) for _ in range(3)]
    stitch = CrossStitch(3, subspaces, diagonal=1.0)
    assert all(torch.equal(a, b) for a, b in zip(stitch(states), states))


def test_alpha_mixes_columns_and_subspaces_linearly():
    a, b = torch.randn(2, 3, 4), torch.randn(2, 3, 4)
    stitch = CrossStitch(2, 1)
    with torch.no_grad():
        stitch.alpha.copy_(torch.tensor([[0.7, 0.3], [0.2, 0.8]]))
    mixed = stitch([a, b])
    assert torch.allclose(mixed[0], 0.7 * a + 0.3 * b) and torch.allclose(mixed[1], 0.2 * a + 0.8 * b)
    sluice = CrossStitch(2, 2, diagonal=1.0)  # rows: a's part 0, a's part 1, b's part 0, b's part 1
    with torch.no_grad():
        sluice.alpha.copy_(torch.eye(4)[[0, 3, 2, 1]])  # a's part 1 and b's part 1 change places
    first, second = sluice([a, b])
    assert torch.equal(first, torch.cat([a[..., :2], b[..., 2:]], -1))
    assert torch.equal(second, torch.cat([b[..., :2], a[..., 2:]], -1))


def test_the_orthogonality_penalty_is_zero_for_orthogonal_subspaces_and_positive_otherwise():
    mask = torch.tensor([[True, True, False]])
    apart = torch.tensor([[[1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 1.0], [5.0, 5.0, 5.0, 5.0]]])  # padding ignored
    assert orthogonality(apart, mask, 2).item() == 0.0
    overlapping = torch.tensor([[[1.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]])
    assert orthogonality(overlapping, mask, 2).item() == pytest.approx(1.0)  # G_1^T G_2 = [[1, 0], [0, 0]]
    x = torch.randn(2, 4, 6)
    assert orthogonality(x, torch.ones(2, 4, dtype=torch.bool), 3).item() > 0


def test_beta_on_the_own_level_reads_that_level_alone():
    levels = [torch.randn(2, 3, 4) for _ in range(3)]
    assert torch.equal(level_mix(levels, torch.eye(3)[-1]), levels[-1])
    assert torch.allclose(level_mix(levels, torch.tensor([0.5, 0.5, 0.0])), (levels[0] + levels[1]) / 2)


@pytest.mark.parametrize("sharing", ["cross-stitch", "sluice"])
def test_a_stitched_model_has_a_column_per_depth_and_identity_alpha_equals_separate_columns(tiny_files, tmp_path,
                                                                                            sharing, monkeypatch):
    cfg = tiny_config(tiny_files, ["upos", "chunk", "dep"], model=small_model(sharing=sharing, alpha_init=1.0))
    model = Trainer(cfg, tmp_path / "out", log=quiet).model.eval()
    assert {c: sorted(levels) for c, levels in model.columns.items()} == {
        "pos": ["pos"], "chunk": ["chunk", "pos"], "dep": ["chunk", "dep", "pos"]}
    assert not model.layers and sorted(model.stitches) == ["chunk", "dep", "pos"]
    assert model.stitches["pos"].alpha.shape[0] == 3 * (2 if sharing == "sluice" else 1)
    assert (sorted(model.betas) == ["chunk", "dep", "pos"]) == (sharing == "sluice")
    predictor = Predictor(model, Trainer(cfg, tmp_path / "again", log=quiet).vocabs)
    sentences = [["The", "cat", "sleeps", "."], ["A", "dog", "barks"]]
    stitched = predictor.tag(sentences)
    monkeypatch.setattr(CrossStitch, "forward", lambda self, states: states)  # no mixing at all
    assert predictor.tag(sentences) == stitched


@pytest.mark.slow
@pytest.mark.parametrize("sharing", ["cross-stitch", "sluice"])
@pytest.mark.parametrize("schedule", ["jmt", "joint", "uncertainty"])
def test_each_stitched_sharing_overfits_saves_loads_and_tags_the_same(tiny_files, tmp_path, sharing, schedule):
    cfg = tiny_config(tiny_files, PAPER_TASKS, dev=True, epochs=10 if schedule == "jmt" else 2, schedule=schedule,
                      model=no_dropout_model(sharing=sharing))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    alpha_before = trainer.model.stitches["pos"].alpha.detach().clone()
    record = trainer.train()
    model, vocabs, saved = load_model(tmp_path / "out")
    assert saved.model.sharing == sharing
    assert not torch.equal(model.stitches["pos"].alpha, alpha_before)  # alpha is learned and saved
    if schedule == "jmt":  # overfits the training sentences
        assert record["dev"]["upos"]["accuracy"] >= 95.0, record["dev"]
    sentences = [s.words for s in trainer.corpora.train["upos"]]
    tagged = Predictor(model, vocabs).tag(sentences)
    assert tagged == trainer.predictor.tag(sentences)
    # --tasks: upos alone reads the same first level as the whole stack
    assert [t["upos"] for t in Predictor(model, vocabs).tag(sentences, ["upos"])] == [t["upos"] for t in tagged]


def test_sluice_training_adds_the_orthogonality_term(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "dep"], model=small_model(sharing="sluice"), orthogonality_weight=0.5)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    p = next(p for p in trainer.passes if "dep" in p.tasks)
    from jmt.data.batch import collate_sentences
    batch = collate_sentences(p.examples[:2])
    trainer.model.train()
    _, terms = trainer.loss_module.terms(batch, 3, list(p.tasks), False)
    assert terms["orthogonality"].item() > 0


@pytest.mark.parametrize("settings,match", [({"sharing": "sluice", "subspaces": 3}, "subspaces"),
                                           ({"sharing": "cross-stitch", "alpha_init": 0.0}, "alpha_init"),
                                           ({"sharing": "sluice", "growing_depth": False}, "growing_depth"),
                                           ({"sharing": "woven"}, "sharing must be one of")])
def test_bad_stitch_settings_are_config_errors(tiny_files, settings, match):
    with pytest.raises(ConfigError, match=match):
        tiny_config(tiny_files, ["upos"], model=small_model(**settings)).validate()


def test_jmt_info_shows_alpha_and_beta(tiny_files, tmp_path):
    from typer.testing import CliRunner

    from jmt.cli import app

    cfg = tiny_config(tiny_files, ["upos", "dep"], model=small_model(sharing="sluice"))
    Trainer(cfg, tmp_path / "out", log=quiet).train()
    result = CliRunner().invoke(app, ["info", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "sharing    sluice, 2 subspaces" in result.stdout
    assert "alpha pos (row reads column)" in result.stdout and "alpha dep" in result.stdout
    assert "beta dep" in result.stdout and "beta pos" in result.stdout


def test_jmt_plot_draws_alpha_and_beta(tiny_files, tmp_path):
    pytest.importorskip("matplotlib")
    from typer.testing import CliRunner

    from jmt.cli import app

    cfg = tiny_config(tiny_files, ["upos", "chunk", "dep"], dev=True, model=small_model(sharing="sluice"))
    Trainer(cfg, tmp_path / "out", log=quiet).train()
    result = CliRunner().invoke(app, ["plot", str(tmp_path / "out"), "-o", str(tmp_path / "png")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "png" / "sharing.png").stat().st_size > 1000
    assert (tmp_path / "png" / "dev_curves.png").is_file()
