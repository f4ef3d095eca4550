"""Training from any UD treebank: a segmenter with the model, no XPOS column, no English rules."""
from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from jmt.cli import app

SENTENCES = [
    ("Le chat dort.", [("Le", "DET", 2, "det"), ("chat", "NOUN", 3, "nsubj"), ("dort", "VERB", 0, "root"),
                       (".", "PUNCT", 3, "punct")]),
    ("Il boit du vin.", [("Il", "PRON", 2, "nsubj"), ("boit", "VERB", 0, "root"), ("du", None, None, None),
                         ("de", "ADP", 5, "case"), ("le", "DET", 5, "det"), ("vin", "NOUN", 2, "obl"),
                         (".", "PUNCT", 2, "punct")]),
    ("Elle parle au chien.", [("Elle", "PRON", 2, "nsubj"), ("parle", "VERB", 0, "root"), ("au", None, None, None),
                              ("à", "ADP", 5, "case"), ("le", "DET", 5, "det"), ("chien", "NOUN", 2, "obl"),
                              (".", "PUNCT", 2, "punct")]),
]


def treebank(copies: int = 8) -> str:
    """CoNLL-U with an empty XPOS column and multiword tokens, as French Sequoia has."""
    blocks = []
    for n in range(copies):
        for k, (text, rows) in enumerate(SENTENCES):
            lines = [f"# sent_id = s{n}-{k}", f"# text = {text}"]
            i = 0
            for j, (form, upos, head, rel) in enumerate(rows):
                if upos is None:  # a multiword range over the next two words
                    lines.append(f"{i + 1}-{i + 2}\t{form}\t_\t_\t_\t_\t_\t_\t_\t_")
                    continue
                i += 1
                misc = "SpaceAfter=No" if j + 1 < len(rows) and rows[j + 1][0] == "." else "_"
                lines.append("\t".join([str(i), form, form.lower(), upos, "_", "_", str(head), rel, "_", misc]))
            blocks.append("\n".join(lines) + "\n")
    return "\n".join(blocks) + "\n"


@pytest.fixture(scope="module")
def french(tmp_path_factory):
    d = tmp_path_factory.mktemp("fr")
    train = d / "fr_tiny-ud-train.conllu"
    train.write_text(treebank(), encoding="utf-8")
    (d / "recipe.toml").write_text("[train]\nsegmenter_epochs = 3\nbatch_size = 8\ndep_batch_size = 8\n"
                                   "[model]\nhidden = 32\nword_dim = 32\nchar_dim = 32\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["train", str(d / "recipe.toml"), "-o", str(d / "model"), "--epochs", "2",
                                      "--train", f"upos={train}", "--train", f"xpos={train}", "--train", f"dep={train}",
                                      "--dev", f"upos={train}", "--dev", f"xpos={train}", "--dev", f"dep={train}",
                                      "--segmenter"])
    assert result.exit_code == 0, result.output
    return d


@pytest.mark.slow
def test_an_empty_xpos_column_gives_a_model_without_xpos_and_the_language_is_read_from_the_file_name(french):
    config = json.loads((french / "model" / "config.json").read_text(encoding="utf-8"))
    assert config["tasks"] == ["upos", "dep"]
    assert config["data"]["lang"] == "fr"
    meta = json.loads((french / "model" / "segmenter.json").read_text(encoding="utf-8"))
    assert meta["lang"] == "fr" and meta["splits"]["du"] == ["de", "le"] and meta["splits"]["au"] == ["à", "le"]


@pytest.mark.slow
def test_raw_text_goes_through_the_models_segmenter(french, tmp_path):
    raw = tmp_path / "in.txt"
    raw.write_text("Le chat boit du vin.\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["tag", str(french / "model"), str(raw)])
    assert result.exit_code == 0, result.output
    assert "# text = Le chat boit du vin." in result.stdout
    from jmt.rawtext import rebuild_text

    out = tmp_path / "out.conllu"
    out.write_text(result.stdout, encoding="utf-8")
    assert rebuild_text(out) == raw.read_text(encoding="utf-8")


@pytest.mark.slow
def test_without_a_segmenter_raw_text_of_another_language_is_refused_in_one_line(french, tmp_path):
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(french / "model", bare)
    (bare / "segmenter.json").unlink()
    (bare / "segmenter.safetensors").unlink()
    result = CliRunner().invoke(app, ["tag", str(bare)], input="Le chat dort.\n")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "no segmenter" in result.stderr and "(fr)" in result.stderr
    tokenized = CliRunner().invoke(app, ["tag", str(bare), "--input-format", "tokenized"], input="Le chat dort .\n")
    assert tokenized.exit_code == 0 and "\tchat\t" in tokenized.stdout
    rules = CliRunner().invoke(app, ["tag", str(bare), "--tokenizer", "spacy"], input="Le chat dort.\n")
    assert rules.exit_code == 0 and "\tdort\t" in rules.stdout
    info = CliRunner().invoke(app, ["info", str(bare)])
    assert info.exit_code == 0 and "segmenter  none: raw text is refused (no rules for fr)" in info.stdout


@pytest.mark.slow
def test_train_segmenter_adds_one_to_a_model_directory(french, tmp_path):
    import shutil

    model = tmp_path / "model"
    shutil.copytree(french / "model", model)
    for name in ("segmenter.json", "segmenter.safetensors"):
        (model / name).unlink()
    train = french / "fr_tiny-ud-train.conllu"
    result = CliRunner().invoke(app, ["train-segmenter", str(model), "--train", str(train), "--dev", str(train),
                                      "--epochs", "2"])
    assert result.exit_code == 0, result.output
    assert "dev F1" in result.stderr and json.loads((model / "segmenter.json").read_text())["lang"] == "fr"
