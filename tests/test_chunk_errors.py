"""scripts/chunk_errors.py: the chunk error shares by word and the probes on a model's states."""
from __future__ import annotations

import gzip
import importlib.util
import re
import sys
from pathlib import Path

from conftest import TINY_CHUNKS, chunk_text, conllu_text, quiet, tiny_config
from jmt.train import Trainer


def test_error_shares_and_probes_on_a_tiny_model(tiny_files, tmp_path, monkeypatch, capsys):
    Trainer(tiny_config(tiny_files, ["upos", "chunk", "dep"], epochs=2), tmp_path / "model", log=quiet).train()
    shared = tmp_path / "shared"
    for folder in ("corpora/conll2000", "corpora/ud_english_ewt", "vectors"):
        (shared / folder).mkdir(parents=True)
    (shared / "corpora/conll2000/train.txt").write_text(chunk_text(TINY_CHUNKS * 8), encoding="utf-8")
    # Test: the training sentences, then one with a word only GloVe knows and one no resource has.
    unseen = [("Zebras", "NNS", "B-NP"), ("qwxzv", "VBP", "B-VP"), (".", ".", "O")]
    (shared / "corpora/conll2000/test.txt").write_text(chunk_text(TINY_CHUNKS + [unseen]), encoding="utf-8")
    (shared / "corpora/ud_english_ewt/en_ewt-ud-train.conllu").write_text(conllu_text(), encoding="utf-8")
    with gzip.open(shared / "vectors/glove.6B.50d.txt.gz", "wt", encoding="utf-8") as f:
        f.write("zebras 0.1 0.2\nthe 0.3 0.4\n")

    spec = importlib.util.spec_from_file_location(
        "chunk_errors", Path(__file__).resolve().parents[1] / "scripts" / "chunk_errors.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    monkeypatch.setattr(sys, "argv", ["chunk_errors.py", str(tmp_path / "model"), "--shared", str(shared),
                                      "--epochs", "1"])
    script.main()
    out = capsys.readouterr().out

    words = {m[0]: int(m[1]) for m in re.findall(r"^\| (seen in training|in GloVe only|in neither) \| (\d+) \|", out, re.M)}
    assert words == {"seen in training": sum(map(len, TINY_CHUNKS)) + 1, "in GloVe only": 1, "in neither": 1}
    probes = re.findall(r"^\| (.+?) \| (chunk layer|chunk and dependency layers) \| ([\d.]+) \| ([\d.]+) \|$", out, re.M)
    assert [(p[0], p[1]) for p in probes] == [
        ("the model's own chunk head", "chunk layer"), ("ReLU layer + CRF", "chunk layer"),
        ("ReLU layer + CRF", "chunk and dependency layers"), ("BiLSTM + ReLU layer + CRF", "chunk layer")]
    assert all(0 <= float(score) <= 100 for p in probes for score in p[2:])
