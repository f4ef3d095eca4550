"""The tagging commands fix glibc's mmap and trim thresholds (unless the user set one) and
freeze the loaded objects out of the garbage collector while they tag."""
from __future__ import annotations

import sys

import pytest
from typer.testing import CliRunner

import jmt.memory as memory
from conftest import SAMPLE
from jmt.cli import app


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
@pytest.mark.parametrize("variable", ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"])
def test_the_thresholds_are_set_unless_the_environment_sets_one(monkeypatch, variable):
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    assert memory.fix_malloc_thresholds() is True
    monkeypatch.setenv(variable, "131072")
    assert memory.fix_malloc_thresholds() is False


@pytest.mark.slow
def test_jmt_tag_fixes_the_thresholds_and_tags_with_the_loaded_objects_frozen(monkeypatch, tmp_path):
    import gc

    from jmt.predict import Predictor

    calls, frozen_while_tagging = [], []
    monkeypatch.setattr(memory, "fix_malloc_thresholds", lambda: calls.append(1) or True)
    real_tag = Predictor.tag

    def tag(self, *args, **kwargs):
        frozen_while_tagging.append(gc.get_freeze_count())
        return real_tag(self, *args, **kwargs)

    monkeypatch.setattr(Predictor, "tag", tag)
    model = tmp_path / "m"
    trained = CliRunner().invoke(app, ["train", "-o", str(model), "--epochs", "1", "--device", "cpu",
                                       "--train", f"upos={SAMPLE / 'train.conllu'}"])
    assert trained.exit_code == 0, trained.output
    text = tmp_path / "in.txt"
    text.write_text("The cat sleeps .\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["tag", str(model), str(text), "--input-format", "tokenized", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert calls == [1] and "cat" in result.stdout
    assert frozen_while_tagging and all(n > 1000 for n in frozen_while_tagging)
    assert gc.get_freeze_count() == 0


def test_objects_are_frozen_only_inside_the_block():
    import gc

    assert gc.get_freeze_count() == 0
    with memory.frozen_objects():
        assert gc.get_freeze_count() > 1000  # torch's and pytest's objects, at least
        garbage = [[]]
        garbage[0].append(garbage)  # a cycle made inside the block is collectable there
        del garbage
        assert gc.collect() >= 1
    assert gc.get_freeze_count() == 0
