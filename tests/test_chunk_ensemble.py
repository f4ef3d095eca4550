"""scripts/chunk_ensemble.py: chunk F1 of CRF models alone and averaged into one decoder."""
from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from conftest import TINY_CHUNKS, chunk_text, no_dropout_model, quiet, tiny_config
from jmt.data.corpus import read_corpus
from jmt.io import load_model
from jmt.predict import TABLE_DTYPE, Predictor
from jmt.train import Trainer


def _script():
    spec = importlib.util.spec_from_file_location(
        "chunk_ensemble", Path(__file__).resolve().parents[1] / "scripts" / "chunk_ensemble.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    return script


@pytest.mark.slow
def test_each_model_alone_scores_as_it_tags_and_every_pair_is_scored(tiny_files, tmp_path, monkeypatch, capsys):
    dirs = []
    for seed, epochs in ((0, 30), (1, 2)):  # one model that has learned the tags, one that has barely started
        cfg = tiny_config(tiny_files, ["chunk"], model=no_dropout_model(chunk_crf=True), epochs=epochs, seed=seed)
        Trainer(cfg, tmp_path / f"m{seed}", log=quiet).train()
        dirs.append(tmp_path / f"m{seed}")
    conll = tmp_path / "shared" / "corpora" / "conll2000"
    conll.mkdir(parents=True)
    (conll / "train.txt").write_text(chunk_text(TINY_CHUNKS * 8), encoding="utf-8")
    (conll / "test.txt").write_text(chunk_text(TINY_CHUNKS), encoding="utf-8")

    monkeypatch.setattr(sys, "argv", ["chunk_ensemble.py", *map(str, dirs), "--shared", str(tmp_path / "shared")])
    _script().main()
    rows = {m[0]: (float(m[1]), float(m[2]))
            for m in re.findall(r"^\| (m\d(?: \+ m\d)*) \| ([\d.]+) \| ([\d.]+) \|$", capsys.readouterr().out, re.M)}
    assert set(rows) == {"m0", "m1", "m0 + m1"}

    test = read_corpus(str(conll / "test.txt"), "chunk")
    for d in dirs:  # alone, a model scores what its own tagger scores
        model, vocabs, _ = load_model(d, table_dtype=TABLE_DTYPE)
        own = Predictor(model, vocabs).evaluate("chunk", test)["f1"]
        assert rows[d.name][1] == pytest.approx(own, abs=0.005)
    assert rows["m0"][1] == 100.0 and rows["m1"][1] < 100.0

    # averaged with itself, a model decodes as it does alone
    monkeypatch.setattr(sys, "argv", ["chunk_ensemble.py", str(dirs[1]), str(dirs[1]), "--shared", str(tmp_path / "shared")])
    _script().main()
    twice = re.search(r"^\| m1 \+ m1 \| ([\d.]+) \| ([\d.]+) \|$", capsys.readouterr().out, re.M)
    assert (float(twice[1]), float(twice[2])) == rows["m1"]


def test_models_without_a_crf_chunker_are_refused(tiny_files, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_files, ["chunk"], model=no_dropout_model())
    Trainer(cfg, tmp_path / "softmax", log=quiet).train()
    (tmp_path / "shared" / "corpora" / "conll2000").mkdir(parents=True)
    for name in ("train.txt", "test.txt"):
        (tmp_path / "shared" / "corpora" / "conll2000" / name).write_text(chunk_text(), encoding="utf-8")
    monkeypatch.setattr(sys, "argv", ["chunk_ensemble.py", str(tmp_path / "softmax"), str(tmp_path / "softmax"),
                                      "--shared", str(tmp_path / "shared")])
    with pytest.raises(SystemExit, match="softmax: the model has no CRF chunker"):
        _script().main()
