"""The models that ship inside the package (jmt/models/NAME): they load by name, reproduce
their model cards' scores on a slice of EWT test, and tag from a fresh virtualenv."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import jmt
from jmt.api import SHIPPED, shipped_models

REPO = Path(__file__).resolve().parents[1]
EWT_TEST = REPO.parent / "shared" / "corpora" / "ud_english_ewt" / "en_ewt-ud-test.conllu"


def needs_encoder(name: str) -> None:
    """Skip unless the encoder a shipped model reads (en-accurate's) is installed: jmt[accurate]."""
    from jmt.model.encoder import PACKAGED

    encoder = json.loads((SHIPPED / name / "config.json").read_text(encoding="utf-8"))["model"].get("encoder")
    if encoder:
        pytest.importorskip("transformers")
        pytest.importorskip(PACKAGED[encoder][0])


def test_the_english_model_ships_and_loads_by_name():
    nlp = jmt.load("en")
    assert nlp.path == SHIPPED / "en"
    assert {"upos", "xpos", "dep", "chunk"} <= set(nlp.tasks)
    sentences = nlp.tag("I don't like it. It's raining!")
    assert [s["text"] for s in sentences] == ["I don't like it.", "It's raining!"]
    assert sentences[0]["words"] == ["I", "do", "n't", "like", "it", "."]
    assert sentences[0]["tokens"][1] == {"text": "don't", "start": 2, "end": 7, "words": ["do", "n't"]}
    assert sentences[0]["lemmas"] == ["I", "do", "not", "like", "it", "."]  # features and lemmas, added (row 66)
    assert sentences[0]["feats"][0] == "Case=Nom|Number=Sing|Person=1|PronType=Prs"
    size = sum(p.stat().st_size for p in (SHIPPED / "en").iterdir())
    assert size < 40 * 2**20  # float16 weights, a cut vocabulary of pretrained-only words


def test_jmt_info_says_the_shipped_weights_are_an_average_of_epochs():
    from typer.testing import CliRunner

    from jmt.cli import app

    averaged = json.loads((SHIPPED / "en" / "metrics.json").read_text(encoding="utf-8"))["averaged_epochs"]
    info = CliRunner().invoke(app, ["info", "en"])
    assert info.exit_code == 0 and f"dev scores of epochs {averaged[0]}-{averaged[-1]} averaged:" in info.output


@pytest.mark.slow
def test_the_ewt_only_model_tags_and_refuses_pairs_before_writing_anything(tmp_path):
    nlp = jmt.load("en-ewt")
    assert set(nlp.tasks) == {"upos", "xpos", "dep", "feats", "lemma"}
    assert nlp.tag("It's here.")[0]["words"] == ["It", "'s", "here", "."]
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("A man eats.\tA person eats.\n", encoding="utf-8")
    out = tmp_path / "out.tsv"
    done = subprocess.run([sys.executable, "-m", "jmt", "pair", "en-ewt", str(pairs), "-o", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and not out.exists()
    assert done.stderr.strip().splitlines() == [f"error: {SHIPPED / 'en-ewt'}: the model has no sentence-pair task "
                                                "(relatedness, entailment); it tags and parses: jmt tag"]


@pytest.mark.slow
@pytest.mark.skipif(not EWT_TEST.is_file(), reason="needs ../shared/corpora")
@pytest.mark.parametrize("name", shipped_models())
def test_a_shipped_model_reproduces_its_card_on_a_slice_of_ewt_test(name):
    from jmt.data.conllu import read_conllu
    from jmt.segment import score_segmentation

    needs_encoder(name)
    card = json.loads((SHIPPED / name / "card.json").read_text(encoding="utf-8"))
    assert card["slice_source"] == EWT_TEST.name
    gold = [s for s, _ in zip(read_conllu(EWT_TEST), range(card["slice_sentences"]))]
    nlp = jmt.load(name)
    scores = nlp.predictor.evaluate_tasks(["upos", "dep"], gold)
    assert round(scores["upos"]["accuracy"], 2) == card["slice"]["upos"]
    assert round(scores["dep"]["las"], 2) == card["slice"]["las"]
    segmentation = score_segmentation(nlp.segmenter, gold)
    assert round(segmentation["tokens"], 2) == card["slice"]["tokens"]
    assert round(segmentation["sentences"], 2) == card["slice"]["sentences"]


@pytest.mark.slow
def test_jmt_tag_en_works_from_a_fresh_virtualenv(tmp_path):
    """The wheel built from this checkout, installed into a new virtualenv: jmt's own
    dependencies are borrowed from this environment (a .pth file), jmt itself and its
    model come from the wheel alone, and nothing reaches the network."""
    offline = {**os.environ, "PIP_NO_INDEX": "1", "HF_HUB_OFFLINE": "1"}
    run = lambda *cmd, **kw: subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=offline, **kw)  # noqa: E731
    built = run(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w",
                str(tmp_path / "dist"), str(REPO))
    assert built.returncode == 0, built.stderr
    venv = tmp_path / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", str(venv)).returncode == 0
    python = venv / "bin" / "python"
    site = run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout.strip()
    Path(site, "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    wheel = next((tmp_path / "dist").glob("jmt-*.whl"))
    installed = run(sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel))
    assert installed.returncode == 0, installed.stderr
    text = tmp_path / "notes.txt"
    text.write_text("The shipped model tags this. It needs no training!\n", encoding="utf-8")
    tagged = run(str(venv / "bin" / "jmt"), "tag", "en", str(text), cwd=tmp_path)
    assert tagged.returncode == 0, tagged.stderr
    assert "# text = The shipped model tags this." in tagged.stdout and "# text = It needs no training!" in tagged.stdout
    where = run(str(python), "-c", "import jmt; print(jmt.__file__)", cwd=tmp_path).stdout
    assert where.startswith(str(venv))  # jmt came from the wheel, not from this checkout


@pytest.mark.slow
def test_the_accurate_model_tags_raw_text_with_its_encoder():
    needs_encoder("en-accurate")
    nlp = jmt.load("en-accurate")
    assert nlp.config.model.encoder == "sentence-transformers/all-MiniLM-L6-v2"
    sentences = nlp.tag("I don't like it. It's raining!")
    assert [s["words"] for s in sentences] == [["I", "do", "n't", "like", "it", "."], ["It", "'s", "raining", "!"]]
    assert sentences[0]["upos"] == ["PRON", "AUX", "PART", "VERB", "PRON", "PUNCT"]


@pytest.mark.parametrize("name", shipped_models())
def test_a_shipped_model_names_the_model_its_detached_tasks_were_added_to_by_what_a_user_has(name):
    # jmt info prints this name; a training run's directory name means nothing to a user
    config = json.loads((SHIPPED / name / "config.json").read_text(encoding="utf-8"))
    detached = config["model"]["detached"]
    base = json.loads((SHIPPED / name / "metrics.json").read_text(encoding="utf-8")).get("base")
    if detached and base:
        assert base["model"] == f"{name} without {' and '.join(detached)}"
        assert config["train"]["init_from"] == base["model"]  # what the run started from, named so too


def test_ship_model_names_the_base_model_after_the_shipped_one(tmp_path):
    sys.path.insert(0, str(REPO / "scripts"))
    from ship_model import name_base

    (tmp_path / "metrics.json").write_text(json.dumps({"epoch": 12, "base": {"model": "run6", "epoch": 12}}))
    name_base(tmp_path, "en", ["feats", "lemma"])
    assert json.loads((tmp_path / "metrics.json").read_text())["base"] == {"model": "en without feats and lemma",
                                                                            "epoch": 12}
    (tmp_path / "metrics.json").write_text(json.dumps({"epoch": 12}))  # a model without added tasks: as it was
    name_base(tmp_path, "en", [])
    assert json.loads((tmp_path / "metrics.json").read_text()) == {"epoch": 12}
