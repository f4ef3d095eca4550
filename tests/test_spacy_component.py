"""The spaCy pipeline component (``nlp.add_pipe("jmt")``) on a tiny six-task model."""
from __future__ import annotations

import importlib.metadata
import shutil

import pytest
import spacy
import torch
from spacy.tokens import Doc, Span
from spacy.training import Example

from conftest import write_tiny_corpora, quiet, small_model, tiny_config

import jmt
from jmt.train import Trainer

TASKS = ["upos", "xpos", "chunk", "dep", "relatedness", "entailment"]
TEXTS = ["The cat sleeps .", "She saw a big bird today .", "Dogs chase the cats", "Birds sing ."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("spacy_jmt")
    files = write_tiny_corpora(root)
    Trainer(tiny_config(files, TASKS, epochs=3, model=small_model()), root / "model", log=quiet).train()
    return root / "model"


@pytest.fixture(scope="module")
def nlp(model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(model_dir)})
    return nlp


@pytest.fixture(scope="module")
def reference(model_dir):
    return jmt.load(model_dir)


def annotations(doc):
    return ([t.tag_ for t in doc], [t.pos_ for t in doc], [t.head.i for t in doc], [t.dep_ for t in doc],
            [(s.start, s.end, s.label_) for s in doc.spans["chunks"]], [t.is_sent_start for t in doc])


def expected_chunks(tags):
    spans, start = [], None
    for n, tag in enumerate(tags + ["O"]):
        if start is not None and not tag.startswith("I-"):
            spans.append((start, n, tags[start][2:]))
            start = None
        if tag.startswith("B-"):
            start = n
    return spans


def test_factory_is_an_entry_point():
    names = [ep.name for ep in importlib.metadata.entry_points(group="spacy_factories")]
    assert "jmt" in names


@pytest.mark.slow
def test_annotations_equal_the_python_api(nlp, reference):
    for text in TEXTS:
        doc = nlp(text)
        pred = reference.tag([[t.text for t in doc]])[0]
        assert [t.tag_ for t in doc] == pred["xpos"]
        assert [t.pos_ for t in doc] == pred["upos"]
        assert [t.head.i + 1 if t.head.i != t.i else 0 for t in doc] == pred["heads"]
        assert [t.dep_.lower() for t in doc] == [r.lower() for r in pred["deprels"]]
        assert [(s.start, s.end, s.label_) for s in doc.spans["chunks"]] == expected_chunks(pred["chunks"])


def test_pretokenized_doc(nlp, reference):
    words = ["Dogs", "chase", "the", "cats", "."]
    doc = nlp(Doc(nlp.vocab, words=words))
    pred = reference.tag([words])[0]
    assert [t.tag_ for t in doc] == pred["xpos"]
    assert [t.pos_ for t in doc] == pred["upos"]


def test_existing_sentence_boundaries_are_tagged_separately(model_dir, reference):
    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("jmt", config={"model": str(model_dir)})
    doc = nlp("The cat sleeps . Birds sing .")
    first, second = reference.tag([["The", "cat", "sleeps", "."], ["Birds", "sing", "."]])
    assert [t.tag_ for t in doc] == first["xpos"] + second["xpos"]
    assert all(t.head.i >= 4 for t in doc[4:]) and all(t.head.i < 4 for t in doc[:4])
    assert doc[4].is_sent_start


def test_whitespace_tokens_are_skipped(nlp, reference):
    doc = nlp("The cat  sleeps .")
    assert any(t.is_space for t in doc)
    words = [t.text for t in doc if not t.is_space]
    assert [t.tag_ for t in doc if not t.is_space] == reference.tag([words])[0]["xpos"]
    assert [t.pos_ for t in doc if t.is_space] == ["SPACE"]


def test_pipe_equals_one_by_one(nlp):
    batched = [annotations(d) for d in nlp.pipe(TEXTS, batch_size=2)]
    assert batched == [annotations(nlp(t)) for t in TEXTS]


@pytest.mark.slow
def test_to_disk_and_load_without_the_model_directory(model_dir, tmp_path):
    copy = tmp_path / "model_copy"
    shutil.copytree(model_dir, copy)
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(copy)})
    before = [annotations(nlp(t)) for t in TEXTS]
    nlp.to_disk(tmp_path / "pipeline")
    shutil.rmtree(copy)
    loaded = spacy.load(tmp_path / "pipeline")
    assert [annotations(loaded(t)) for t in TEXTS] == before


def test_evaluate_reports_all_scores(nlp):
    from conftest import TINY_CHUNKS, TINY_TREEBANK

    examples = []
    for sent in TINY_TREEBANK:
        words = [w for w, *_ in sent]
        ref = Doc(nlp.vocab, words=words, tags=[x for _, _, x, _, _ in sent], pos=[u for _, u, _, _, _ in sent],
                  heads=[h - 1 if h else i for i, (_, _, _, h, _) in enumerate(sent)],
                  deps=["ROOT" if h == 0 else r for _, _, _, h, r in sent])
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    for sent in TINY_CHUNKS:
        words = [w for w, *_ in sent]
        ref = Doc(nlp.vocab, words=words, tags=[p for _, p, _ in sent])
        ref.spans["chunks"] = [Span(ref, s, e, label=lab) for s, e, lab in expected_chunks([c for *_, c in sent])]
        examples.append(Example(Doc(nlp.vocab, words=words), ref))
    scores = nlp.evaluate(examples)
    for key in ("tag_acc", "pos_acc", "dep_uas", "dep_las", "chunks_p", "chunks_r", "chunks_f"):
        assert scores[key] is not None and 0.0 <= scores[key] <= 1.0, key
    # the scorer sees this component's own predictions: tag accuracy recomputed by hand agrees
    gold = [(t.tag_, p.tag_) for ex in examples for t, p in zip(ex.reference, nlp(ex.reference.text))]
    assert scores["tag_acc"] == pytest.approx(sum(g == p for g, p in gold) / len(gold))
    gold_chunks = sum(len(ex.reference.spans.get("chunks", [])) for ex in examples)
    assert gold_chunks > 0 and "NP" in scores["chunks_per_type"]


def test_pairs(nlp):
    from jmt.spacy_component import pair_docs

    a, b = nlp("A man is playing a guitar"), nlp("A man is playing an instrument")
    result = pair_docs(nlp, a, b)
    assert 1.0 <= result["relatedness"] <= 5.0
    assert result["entailment"] in ("ENTAILMENT", "CONTRADICTION", "NEUTRAL")
    assert a._.jmt_pair(b) == result
    assert a._.jmt_pair(b, component=nlp.get_pipe("jmt")) == result


def test_tasks_config_sets_only_those_annotations(model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(model_dir), "tasks": ["upos"]})
    doc = nlp("The cat sleeps .")
    assert all(t.pos_ for t in doc)
    assert not doc.has_annotation("TAG") and not doc.has_annotation("DEP")
    assert "chunks" not in doc.spans
    assert nlp.evaluate([Example(Doc(nlp.vocab, words=["A", "dog"]),
                                 Doc(nlp.vocab, words=["A", "dog"], pos=["DET", "NOUN"]))])["pos_acc"] is not None


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::jmt.errors.SlowPrecisionWarning")  # bf16 on any CPU
def test_precision_config_reaches_the_model_and_survives_saving(model_dir, tmp_path):
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(model_dir), "precision": "bf16"})
    doc = nlp("The cat sleeps on the mat .")
    assert all(t.pos_ and t.tag_ for t in doc) and doc.has_annotation("DEP")
    assert nlp.get_pipe("jmt").jmt.model.layers["pos"].low["weight_ih_l0"].dtype == torch.bfloat16
    nlp.to_disk(tmp_path / "pipeline")
    assert spacy.load(tmp_path / "pipeline").get_pipe("jmt").precision == "bf16"
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        spacy.blank("en").add_pipe("jmt", config={"model": str(model_dir), "precision": "fp16"})


def test_a_second_xpos_tag_set_is_a_token_extension(tmp_path, nlp):
    files = write_tiny_corpora(tmp_path)
    Trainer(tiny_config(files, ["upos", "xpos2", "chunk"], epochs=2, model=small_model()), tmp_path / "model",
            log=quiet).train()
    nlp2 = spacy.blank("en")
    nlp2.add_pipe("jmt", config={"model": str(tmp_path / "model")})
    doc = nlp2("She saw a  big bird .")
    words = [t.text for t in doc if not t.is_space]
    xpos2 = jmt.load(tmp_path / "model").tag([words])[0]["xpos2"]
    assert [t._.jmt_xpos2 for t in doc if not t.is_space] == xpos2
    assert [t._.jmt_xpos2 for t in doc if t.is_space] == ["_SP"]
    assert [t.tag_ for t in doc if not t.is_space] == xpos2  # no xpos task: tag_ holds the second set
    assert {t._.jmt_xpos2 for t in nlp("The cat sleeps .")} == {None}  # a model without xpos2


def test_empty_text(nlp):
    assert len(nlp("")) == 0
    assert [len(d) for d in nlp.pipe(["", "Birds sing ."], batch_size=2)] == [0, 3]
    assert list(nlp("").spans["chunks"]) == []  # so that `for chunk in doc.spans["chunks"]` works on any text


def test_the_device_config_reaches_the_model_and_a_device_torch_lacks_fails_at_once(model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(model_dir), "device": "auto"})
    nlp("Birds sing .")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert next(nlp.get_pipe("jmt").jmt.model.parameters()).device.type == expected
    if not torch.cuda.is_available():
        with pytest.raises(Exception, match="sees no CUDA device"):
            spacy.blank("en").add_pipe("jmt", config={"model": str(model_dir), "device": "cuda"})


def test_a_whitespace_token_keeps_what_no_task_sets(model_dir):
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(model_dir), "tasks": ["upos", "dep"]})
    doc = Doc(nlp.vocab, words=["Birds", "  ", "sing"], spaces=[False] * 3, lemmas=["bird", "  ", "sing"],
              tags=["NNS", "_SP", "VBP"])
    nlp(doc)
    assert [t.lemma_ for t in doc] == ["bird", "  ", "sing"]  # no lemma task: lemmas stay as they were
    assert [t.tag_ for t in doc] == ["NNS", "_SP", "VBP"]  # no xpos task: tags too
    assert doc[1].pos_ == "SPACE" and doc[0].pos_ != ""


@pytest.mark.slow
def test_a_pipeline_that_tagged_raw_text_forks_worker_processes(model_dir, tmp_path):
    """spaCy's ``n_process`` forks the process. The segmenter ran torch with two threads in
    the parent before; the workers must not hang on the OpenMP pool they inherit."""
    import os
    import signal
    import subprocess
    import sys

    from jmt.segment import Segmenter, SegmenterNet

    d = tmp_path / "model"
    shutil.copytree(model_dir, d)
    chars = ["<pad>", "<unk>", *"abcdefghijklmnopqrstuvwxyz.!' "]
    Segmenter(SegmenterNet(len(chars), channels=8, dilations=(1, 2)), chars, {}, [],
              {"sizes": {"channels": 8, "dilations": [1, 2]}, "lang": "en"}).save(d)
    tokenizer = {"nlp": {"tokenizer": {"@tokenizers": "jmt.Tokenizer.v1", "model": str(d)}}}
    code = ("import spacy, torch\n"
            "torch.set_num_threads(2)\n"
            f"nlp = spacy.blank('en', config={tokenizer!r})\n"
            f"nlp.add_pipe('jmt', config={{'model': {str(d)!r}}})\n"
            "nlp('The cat sleeps . Birds sing .')\n"  # short: on one thread
            "nlp('Birds sing . ' * 2000)\n"  # long: in the segmenter's own thread, on two
            "docs = list(nlp.pipe(['The cat sleeps .', 'Birds sing .'] * 4, n_process=2))\n"
            "print(len(docs), sum(len(doc) for doc in docs))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # spaCy's hung workers too, not only the parent
        proc.communicate()
        pytest.fail("nlp.pipe(n_process=2) hung after the parent had segmented text")
    assert proc.returncode == 0, err
    assert out.split()[0] == "8"


@pytest.mark.slow
def test_factory_is_found_in_a_fresh_interpreter_without_importing_jmt(model_dir):
    import subprocess
    import sys

    code = ("import sys, spacy\n"
            "nlp = spacy.blank('en')\n"
            f"nlp.add_pipe('jmt', config={{'model': {str(model_dir)!r}}})\n"
            "doc = nlp('The cat sleeps .')\n"
            "assert 'jmt.spacy_component' in sys.modules\n"
            "print(' '.join(t.pos_ for t in doc))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.split()) == 4


# -- the segmenter as spaCy's tokenizer ------------------------------------------------------

@pytest.fixture(scope="module")
def seg_model(model_dir, tmp_path_factory):
    """The tiny model with an (untrained) segmenter: its tokens are arbitrary, which is what
    the text checks want: doc.text must be the input whatever the segmenter says."""
    from jmt.segment import Segmenter, SegmenterNet

    d = tmp_path_factory.mktemp("seg") / "model"
    shutil.copytree(model_dir, d)
    torch.manual_seed(0)
    chars = ["<pad>", "<unk>", *"abcdefghijklmnopqrstuvwxyz.!' "]
    seg = Segmenter(SegmenterNet(len(chars), channels=8, dilations=(1, 2)), chars, {"du": ["de", "le"], "don't": ["do", "n't"]},
                    ["n't"], {"sizes": {"channels": 8, "dilations": [1, 2]}, "lang": "en"})
    seg.save(d)
    return d


class FixedSegmenter:
    """Tokens at whitespace, sentences at '.', multiword tokens from a table."""

    def __init__(self, splits):
        self.splits = splits

    def segment_many(self, texts, one_sentence=False, adjacent=False):
        from jmt.rawtext import _solid_pieces
        from jmt.segment import Token

        out = []
        for text in texts:
            sentences, current = [], []
            for t in _solid_pieces(text, 0, len(text)):
                current.append(Token(t.start, t.end, self.splits.get(t.words[0].lower(), t.words)))
                if t.words[0].endswith(".") and not one_sentence:
                    sentences.append(current)
                    current = []
            out.append(sentences + ([current] if current else []))
        return out


@pytest.mark.parametrize("text", ["", "   ", "x", "  Two  spaces.\n\nA new\tparagraph!\r\n", "a\x07b \u00a0c\n",
                                  "don't du vin. Du pain.  "])
def test_the_tokenizer_keeps_the_text_exactly(seg_model, text):
    from jmt.spacy_component import JMTTokenizer

    nlp = spacy.blank("en")
    nlp.tokenizer = JMTTokenizer(nlp.vocab, str(seg_model))
    assert nlp(text).text == text
    nlp.tokenizer.segmenter = FixedSegmenter({"don't": ["do", "n't"], "du": ["de", "le"]})
    doc = nlp(text)
    assert doc.text == text
    assert all(not t.is_space or not t.text.strip() for t in doc)


def test_multiword_tokens_in_spacy_split_where_their_words_spell_them(seg_model):
    from jmt.spacy_component import JMTTokenizer

    nlp = spacy.blank("en")
    nlp.tokenizer = JMTTokenizer(nlp.vocab, str(seg_model))
    nlp.tokenizer.segmenter = FixedSegmenter({"don't": ["do", "n't"], "du": ["de", "le"]})
    nlp.add_pipe("jmt", config={"model": str(seg_model)})
    doc = nlp("I don't eat. Du pain.")
    assert [t.text for t in doc] == ["I", "do", "n't", "eat.", "Du", "pain."]
    assert doc[4]._.jmt_words == ["de", "le"] and doc[0]._.jmt_words is None
    assert [s.text for s in doc.sents] == ["I don't eat.", "Du pain."]
    reference = jmt.load(seg_model).tag([["de", "le", "pain."]])[0]
    head_word = next(k for k in (0, 1) if reference["heads"][k] not in (1, 2))  # the word attached outside "Du"
    if head_word is not None:
        assert doc[4].pos_ == reference["upos"][head_word]
    assert all(t.head.i in range(4, 6) for t in doc[4:])


def test_a_pipeline_with_the_jmt_tokenizer_saves_and_loads(seg_model, tmp_path):
    config = {"nlp": {"tokenizer": {"@tokenizers": "jmt.Tokenizer.v1", "model": str(seg_model)}}}
    nlp = spacy.blank("en", config=config)
    nlp.add_pipe("jmt", config={"model": str(seg_model)})
    text = "Birds  sing.\nThe cat sleeps ."
    before = annotations(nlp(text))
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded(text).text == text and annotations(loaded(text)) == before


@pytest.mark.slow
def test_spacy_package_makes_a_wheel_that_spacy_load_accepts(model_dir, tmp_path):
    import os
    import subprocess
    import sys

    pytest.importorskip("build")  # spacy package asks for it
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(model_dir)})
    expected = [t.pos_ for t in nlp("The cat sleeps .")]
    nlp.to_disk(tmp_path / "pipeline")
    (tmp_path / "dist").mkdir()
    # PIP_NO_INDEX: no network; `python -m build` then fails to fetch its build environment
    # and spacy package falls back to setup.py bdist_wheel with the installed setuptools
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    run = lambda *cmd: subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env)  # noqa: E731
    made = run(sys.executable, "-m", "spacy", "package", "pipeline", "dist", "--name", "jmt_test", "--version", "0.0.1",
               "--build", "wheel", "--force")
    assert made.returncode == 0, made.stdout + made.stderr
    wheel = next((tmp_path / "dist").rglob("*.whl"))
    installed = run(sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--target", "site",
                    str(wheel))
    assert installed.returncode == 0, installed.stderr
    code = "import spacy; print(' '.join(t.pos_ for t in spacy.load('en_jmt_test')('The cat sleeps .')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(tmp_path / "site")})
    assert loaded.returncode == 0, loaded.stderr
    assert loaded.stdout.split() == expected
