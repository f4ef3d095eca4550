"""The stack and its heads: overfitting, batching, save/load, regularization, switches, config."""
from __future__ import annotations

import copy
from dataclasses import replace
import json
import math
import pickle
import warnings

import pytest
import torch
from safetensors import safe_open

from conftest import (PAPER_TASKS, write_tiny_corpora, no_dropout_model, quiet, small_model, tiny_config)
from jmt.config import (Config, ConfigError, DataConfig, ModelConfig, TrainConfig, from_dict, load_config,
                        to_dict)
from jmt.data.batch import collate_sentences, encode_sentence
from jmt.data.types import Pair, Sentence
from jmt.io import load_model, save_model
from jmt.model.layers import BiLSTM
from jmt.errors import SlowPrecisionWarning
from jmt.predict import Predictor
from jmt.train import Trainer

# ----------------------------------------------------------------------------- helpers


def train_until(trainer: Trainer, done, max_epochs: int, every: int = 5) -> dict:
    """Run whole epochs (every pass) until ``done(train scores)``; returns the last scores."""
    scores = {}
    for epoch in range(1, max_epochs + 1):
        for p in trainer.passes:
            trainer.train_pass(p, epoch)
        if epoch % every == 0 or epoch == max_epochs:
            scores = {t: trainer.predictor.evaluate(t, trainer.corpora.train[t]) for t in trainer.model.tasks}
            if done(scores):
                break
    return scores


def short(scores: dict) -> dict:
    keep = ("accuracy", "f1", "uas", "las", "mse", "pearson")
    return {t: {k: v for k, v in s.items() if k in keep} for t, s in scores.items()}


NEW_SENTENCES = [
    ["Cats", "sleep", "."],
    ["Zebras", "gallop", "across", "the", "wide", "savannah", "every", "single", "day", "."],
    ["Hi"],
    ["The", "dog", "saw", "a", "cat", "."],
    ["She", "likes", "birds"],
]
NEW_PAIRS = [
    Pair(["A", "zebra", "is", "running"], ["An", "animal", "is", "running", "fast", "in", "the", "field"]),
    Pair(["Hi"], ["Nobody", "is", "here"]),
    Pair(["The", "dog", "is", "sleeping"], ["The", "dog", "is", "sleeping"]),
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A six-task model trained briefly on the tiny corpora, so its outputs are not uniform."""
    root = tmp_path_factory.mktemp("trained")
    files = write_tiny_corpora(root)
    cfg = tiny_config(files, PAPER_TASKS, dev=True, epochs=8)
    trainer = Trainer(cfg, root / "model", log=quiet)
    trainer.train()
    return trainer


def all_inputs(trainer: Trainer) -> tuple[list, list]:
    sentences = [s.words for s in trainer.corpora.train["upos"]] + NEW_SENTENCES
    pairs = list(trainer.corpora.train["relatedness"]) + NEW_PAIRS
    return sentences, pairs


# ----------------------------------------------------------------------------- overfitting

OVERFIT = {
    "upos": (["upos"], lambda s: s["upos"]["accuracy"] == 100.0),
    "xpos": (["xpos"], lambda s: s["xpos"]["accuracy"] == 100.0),
    "chunk": (["chunk"], lambda s: s["chunk"]["f1"] == 100.0),
    "dep": (["dep"], lambda s: s["dep"]["uas"] == 100.0 and s["dep"]["las"] == 100.0),
    "relatedness": (["relatedness"], lambda s: s["relatedness"]["mse"] < 0.05),
    "entailment": (["relatedness", "entailment"],
                   lambda s: s["entailment"]["accuracy"] == 100.0 and s["relatedness"]["mse"] < 0.1),
}


@pytest.mark.parametrize("task", list(OVERFIT))
def test_each_head_overfits_a_few_examples(task, tiny_files, tmp_path):
    tasks, done = OVERFIT[task]
    cfg = tiny_config(tiny_files, tasks, model=no_dropout_model())
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    assert trainer.model.tasks == tasks
    scores = train_until(trainer, done, max_epochs=150)
    assert done(scores), short(scores)


def test_chunk_overfit_predicts_the_gold_tags(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["chunk"], model=no_dropout_model())
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    train_until(trainer, lambda s: s["chunk"]["f1"] == 100.0, max_epochs=150)
    gold = trainer.corpora.train["chunk"]
    pred = trainer.predictor.tag(gold, ["chunk"])
    assert [p["chunks"] for p in pred] == [s.chunks for s in gold]


# ----------------------------------------------------------------------------- batched = single


@pytest.mark.slow
def test_batched_tagging_and_parsing_equal_one_by_one(trained):
    model, vocabs = trained.model, trained.vocabs
    sentences, _ = all_inputs(trained)
    model.eval()
    batched = Predictor(model, vocabs, batch_size=64).tag(sentences)
    single = Predictor(model, vocabs, batch_size=1).tag(sentences)
    assert len(batched) == len(sentences)
    for words, b, s in zip(sentences, batched, single):
        assert set(b) >= {"upos", "xpos", "chunks", "heads", "deprels"}
        assert len(b["upos"]) == len(b["heads"]) == len(words)
        for key in ("upos", "xpos", "chunks", "heads", "deprels"):
            assert b[key] == s[key], (words, key)


def test_parallel_batches_give_the_same_predictions_and_leave_the_thread_count(trained):
    sentences, pairs = all_inputs(trained)
    one = Predictor(trained.model, trained.vocabs, batch_size=2, workers=1)
    two = Predictor(trained.model, trained.vocabs, batch_size=2, workers=2)
    threads = torch.get_num_threads()
    expected = one.tag(sentences)
    assert two.tag(sentences) == expected
    assert two.pair(pairs) == one.pair(pairs)
    assert torch.get_num_threads() == threads
    assert not torch.is_inference_mode_enabled()
    # by default one worker per torch thread (at most MAX_WORKERS); two threads each here
    default = Predictor(trained.model, trained.vocabs, batch_size=2)
    torch.set_num_threads(4)
    try:
        assert default.tag(sentences) == expected and two.tag(sentences) == expected
        assert torch.get_num_threads() == 4
    finally:
        torch.set_num_threads(threads)


def test_unpacked_lstm_passes_equal_the_packed_run_and_bf16_stays_close():
    torch.manual_seed(0)
    layer = BiLSTM(6, 5)
    x, lengths = torch.randn(3, 7, 6), torch.tensor([7, 4, 1])
    with torch.inference_mode():
        packed = layer(x, lengths)
        unpacked = layer._two_passes(x, lengths, dict(layer.lstm.named_parameters()))
    layer.set_precision(torch.bfloat16)
    with torch.inference_mode():
        low = layer(x, lengths)  # float32 in and out, bfloat16 inside
    assert torch.allclose(unpacked, packed, atol=1e-6)
    assert unpacked[1, 4:].abs().sum() == 0 and unpacked[2, 1:].abs().sum() == 0  # zero on padding
    assert low.dtype == torch.float32 and torch.allclose(low, packed, atol=0.03)
    assert not torch.equal(low, packed)
    assert torch.equal(layer(x, lengths), packed.clone())  # with gradients (training): the float32 weights
    layer.set_precision(torch.float32)
    with torch.inference_mode():
        assert torch.equal(layer(x, lengths), packed)


def test_bf16_precision_predicts_nearly_the_same_and_fp32_restores_the_model(trained, monkeypatch):
    monkeypatch.setattr("jmt.predict.cpu_has_bf16_units", lambda: True)  # no warning on other CPUs
    sentences, pairs = all_inputs(trained)
    model = copy.deepcopy(trained.model)
    exact = Predictor(model, trained.vocabs, batch_size=2)
    tags, scores = exact.tag(sentences), exact.pair(pairs)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    low = Predictor(model, trained.vocabs, batch_size=2, precision="bf16")
    assert model.layers["pos"].low["weight_ih_l0"].dtype == torch.bfloat16
    low_tags, low_scores = low.tag(sentences), low.pair(pairs)
    for field in ("upos", "xpos", "chunks", "heads", "deprels"):
        same = sum(a == b for e, t in zip(tags, low_tags) for a, b in zip(e[field], t[field]))
        assert same >= 0.95 * sum(len(s) for s in sentences), field
    assert [s["relatedness"] for s in low_scores] == pytest.approx([s["relatedness"] for s in scores], abs=0.05)
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())  # what is saved stays float32
    Predictor(model, trained.vocabs, batch_size=2, precision="fp32")
    assert model.layers["pos"].low is None
    assert exact.tag(sentences) == tags and exact.pair(pairs) == scores
    with pytest.raises(ValueError, match="precision 'fp16'"):
        Predictor(model, trained.vocabs, precision="fp16")


@pytest.mark.parametrize("units", [True, False])
def test_auto_precision_is_bf16_only_where_the_cpu_has_bf16_units(trained, monkeypatch, units):
    monkeypatch.setattr("jmt.predict.cpu_has_bf16_units", lambda: units)
    model = copy.deepcopy(trained.model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # auto never warns
        Predictor(model, trained.vocabs, precision="auto")
    assert (model.layers["pos"].low is not None) == units
    if not units:
        with pytest.warns(SlowPrecisionWarning, match="no bf16 units"):
            Predictor(model, trained.vocabs, precision="bf16")
        assert model.layers["pos"].low["weight_ih_l0"].dtype == torch.bfloat16  # still what was asked


def test_batched_pairs_equal_one_by_one(trained):
    model, vocabs = trained.model, trained.vocabs
    _, pairs = all_inputs(trained)
    batched = Predictor(model, vocabs, batch_size=64).pair(pairs)
    single = Predictor(model, vocabs, batch_size=1).pair(pairs)
    assert len(batched) == len(pairs)
    for b, s in zip(batched, single):
        assert 1.0 <= b["relatedness"] <= 5.0
        assert b["relatedness"] == pytest.approx(s["relatedness"], abs=1e-5)
        assert b["entailment"] == s["entailment"]
        assert b["probabilities"] == pytest.approx(s["probabilities"], abs=1e-5)


def test_predictions_come_back_in_input_order(trained):
    sentences, _ = all_inputs(trained)
    predictor = Predictor(trained.model, trained.vocabs, batch_size=3)
    forward = predictor.tag(sentences, ["upos"])
    backward = predictor.tag(sentences[::-1], ["upos"])
    assert forward == backward[::-1]
    assert [len(p["upos"]) for p in forward] == [len(s) for s in sentences]


def test_heads_not_asked_for_stay_idle_and_the_asked_ones_do_not_change(trained):
    sentences, _ = all_inputs(trained)
    model, predictor = trained.model, Predictor(trained.model, trained.vocabs)
    batch = collate_sentences([encode_sentence(trained.vocabs, Sentence(words)) for words in sentences[:4]])
    depth = model.heads["upos"].depth
    with torch.inference_mode():
        assert {"upos", "xpos"} <= set(model(batch, depth).scores)
        assert set(model(batch, depth, ["upos"]).scores) == {"upos"}
        # below the asked depth every labelled head still runs: its label embedding feeds upward
        assert {"upos", "xpos", "chunk"} <= set(model(batch, model.heads["chunk"].depth, ["chunk"]).scores)
    everything = predictor.tag(sentences)
    for tasks in (["upos"], ["chunk"], ["xpos", "dep"]):
        fields = [f for t in tasks for f in model.heads[t].fields]
        asked = predictor.tag(sentences, tasks)
        assert [{f: p[f] for f in fields} for p in asked] == [{f: p[f] for f in fields} for p in everything]


def test_a_detached_head_trains_its_reader_alone_and_feeds_nothing_upward(tiny_files):
    cfg = replace(tiny_config(tiny_files, ("upos", "xpos", "chunk", "dep")), model=no_dropout_model(detached=["xpos"]))
    trainer = Trainer(cfg, tiny_files["conllu"].parent / "unused", log=quiet)
    model, vocabs = trainer.model, trainer.vocabs
    batch = collate_sentences([encode_sentence(vocabs, s) for s in trainer.corpora.train["xpos"][:4]])
    model.heads["xpos"].loss(model(batch, 1, ["xpos"]).scores["xpos"], batch).backward()
    own = ("heads.xpos.", "readers.xpos.")
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert all(grads[n] is not None for n in grads if n.startswith(own) and not n.endswith("label_vectors"))
    assert all(grads[n] is None for n in grads if not n.startswith(own)), "the detached head trained the stack"
    with torch.no_grad():
        before = model(batch, 3).scores["dep"]
        model.heads["xpos"].out.weight.add_(1.0)  # other xpos predictions: nothing above may change
        assert torch.equal(before.arcs, model(batch, 3).scores["dep"].arcs)


def test_detached_tasks_need_a_task_that_trains_a_layer_at_or_below_them(tiny_files):
    for tasks, detached, message in [(("upos", "dep"), ["nope"], "'nope' is not a token task"),
                                     (("upos",), ["upos"], "upos reads a layer at or below its depth"),
                                     (("upos", "dep"), ["upos"], "upos reads a layer at or below its depth")]:
        cfg = replace(tiny_config(tiny_files, tasks), model=small_model(detached=detached))
        with pytest.raises(ConfigError, match=message):
            cfg.validate()
    replace(tiny_config(tiny_files, ("upos", "dep")), model=small_model(detached=["dep"])).validate()


def test_predictor_rejects_a_task_the_model_lacks(tiny_files, tmp_path):
    trainer = Trainer(tiny_config(tiny_files, ["upos"]), tmp_path / "out", log=quiet)
    with pytest.raises(ValueError, match="chunk"):
        trainer.predictor.tag([["a", "b"]], ["chunk"])
    with pytest.raises(ValueError):
        trainer.predictor.pair([Pair(["a"], ["b"])])


# ----------------------------------------------------------------------------- save / load


def test_save_load_gives_identical_state_and_predictions(trained, tmp_path, monkeypatch):
    model, vocabs, cfg = trained.model, trained.vocabs, trained.cfg

    def no_pickle(*args, **kwargs):
        raise AssertionError("a model directory must not be pickled")

    monkeypatch.setattr(torch, "save", no_pickle)
    monkeypatch.setattr(pickle, "dump", no_pickle)
    monkeypatch.setattr(pickle, "dumps", no_pickle)
    save_model(tmp_path / "m", model, vocabs, cfg, metrics={"epoch": 3})
    monkeypatch.undo()

    loaded, loaded_vocabs, loaded_cfg = load_model(tmp_path / "m")
    assert not loaded.training
    assert loaded.tasks == model.tasks
    assert to_dict(loaded_cfg) == to_dict(cfg)
    assert loaded_vocabs.to_json() == vocabs.to_json()
    before, after = model.state_dict(), loaded.state_dict()
    assert list(after) == list(before)
    for name in before:
        assert torch.equal(before[name], after[name]), name

    sentences, pairs = all_inputs(trained)
    model.eval()
    assert Predictor(loaded, loaded_vocabs).tag(sentences) == Predictor(model, vocabs).tag(sentences)
    assert Predictor(loaded, loaded_vocabs).pair(pairs) == Predictor(model, vocabs).pair(pairs)


def test_half_precision_tables_keep_the_predictions(trained, tmp_path):
    save_model(tmp_path / "m", trained.model, trained.vocabs, trained.cfg)
    full, vocabs, _ = load_model(tmp_path / "m")
    half, _, _ = load_model(tmp_path / "m", table_dtype=torch.float16)
    tables = {"embed.words.weight", "embed.ngrams.weight", "embed.pretrained"}
    for name, tensor in half.state_dict().items():
        assert tensor.dtype == (torch.float16 if name in tables else full.state_dict()[name].dtype), name
    assert torch.equal(half.embed.ngrams.weight, full.embed.ngrams.weight.half())

    sentences, pairs = all_inputs(trained)
    batch = collate_sentences([encode_sentence(vocabs, Sentence(words)) for words in sentences])
    with torch.no_grad():
        widened, exact = half.embed(batch), full.embed(batch)
    assert widened.dtype == torch.float32
    assert torch.allclose(widened, exact, atol=2e-3) and not torch.equal(widened, exact)  # rounded, nothing more
    assert Predictor(half, vocabs).tag(sentences) == Predictor(full, vocabs).tag(sentences)
    for a, b in zip(Predictor(half, vocabs).pair(pairs), Predictor(full, vocabs).pair(pairs)):
        assert a["entailment"] == b["entailment"] and a["relatedness"] == pytest.approx(b["relatedness"], abs=0.01)


def test_the_prediction_entry_points_load_half_precision_tables(trained):
    import jmt

    assert jmt.load(trained.out_dir).model.embed.ngrams.weight.dtype == torch.float16
    assert trained.model.embed.ngrams.weight.dtype == torch.float32  # training keeps float32


@pytest.mark.slow
def test_loading_a_model_stays_clear_of_the_torch_compiler(trained):
    # The model is built on the meta device and its weights assigned. Some init ops' meta
    # kernels import torch._dynamo and sympy (about 70 MB resident in every tagging process).
    import subprocess
    import sys

    code = ("import sys, jmt; nlp = jmt.load(sys.argv[1]); nlp.predictor.tag([['A', 'test', '.']]); "
            "print(sorted(m for m in ('torch._dynamo', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code, str(trained.out_dir)], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stdout


def test_model_directory_holds_json_and_safetensors_only(trained):
    directory = trained.out_dir
    names = {p.name for p in directory.iterdir()}
    assert {"config.json", "vocab.json", "model.safetensors", "metrics.json"} <= names
    # training also leaves its record and the resume checkpoint (not needed to use the model)
    assert names <= {"config.json", "vocab.json", "model.safetensors", "metrics.json", "metrics.jsonl",
                     "training.json", "resume.safetensors"}

    config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    assert config["tasks"] == trained.model.tasks
    for section, cls in (("model", ModelConfig), ("train", TrainConfig), ("data", DataConfig)):
        assert set(config[section]) == {f for f in cls.__dataclass_fields__}, section  # defaults included
    assert {k: config[k] for k in ("model", "train", "data")} == to_dict(trained.cfg)

    vocab = json.loads((directory / "vocab.json").read_text(encoding="utf-8"))
    assert set(vocab["labels"]) == {"upos", "xpos", "chunk", "deprel"}
    metrics = json.loads((directory / "metrics.json").read_text(encoding="utf-8"))
    assert "epoch" in metrics and "dev" in metrics

    with safe_open(str(directory / "model.safetensors"), framework="pt") as f:
        keys = set(f.keys())
    assert keys == set(trained.model.state_dict())
    # nothing in the directory is pickled: each file is JSON (lines) or safetensors. (A
    # safetensors file starts with its header's length, whose first byte may be 0x80, a
    # pickle's first byte too; so the files are read, not sniffed.)
    for path in directory.iterdir():
        if path.suffix == ".safetensors":
            with safe_open(str(path), framework="pt") as f:
                assert list(f.keys()), path
        else:
            text = path.read_text(encoding="utf-8")
            for line in text.splitlines() if path.suffix == ".jsonl" else [text]:
                json.loads(line)


def test_load_model_of_a_directory_without_config_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="config.json"):
        load_model(tmp_path)


# ----------------------------------------------------------------------------- successive regularization


def _expected_successive(trainer: Trainer, depth: int) -> float:
    t = trainer.cfg.train
    total = 0.0
    depths = trainer.model.parameter_depths()
    for name, p in trainer.model.named_parameters():
        if depths[name] < depth:
            delta = t.sr_delta_classifier if name.startswith("heads.") else t.sr_delta
            total += delta * (p.detach() - trainer.regularizer.anchor[name]).pow(2).sum().item()
    return total


def test_successive_regularization_zero_after_snapshot_and_grows_with_lower_layers(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "chunk", "dep"], model=no_dropout_model())
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    reg, model = trainer.regularizer, trainer.model
    assert reg.successive(3).item() == 0.0  # no snapshot yet: nothing to keep

    reg.snapshot()
    for depth in (1, 2, 3, 4):
        assert reg.successive(depth).item() == 0.0

    # optimizer steps on POS move the embeddings, layer 1 and the POS head (the first step
    # moves only the zero-initialised softmax layer: no gradient flows through zero weights)
    upos = next(p for p in trainer.passes if p.tasks == ["upos"])
    batch = collate_sentences(upos.examples)
    model.train()
    for _ in range(3):
        loss = model.heads["upos"].loss(model(batch, 1).scores["upos"], batch)
        trainer.optimizer.zero_grad()
        loss.backward()
        trainer.optimizer.step()

    s1, s2, s3 = (reg.successive(d).item() for d in (1, 2, 3))
    assert s1 > 0  # embeddings (depth 0) moved
    assert s2 > s1  # plus layer 1 and the POS head
    assert s3 == pytest.approx(s2)  # layer 2 and the chunk head did not move
    for depth, value in ((1, s1), (2, s2), (3, s3)):
        assert value == pytest.approx(_expected_successive(trainer, depth), rel=1e-5)

    # it keeps growing as a lower parameter moves further from its snapshot
    with torch.no_grad():
        weight = model.layers["pos"].lstm.weight_ih_l0
        values = []
        for _ in range(3):
            weight[0, 0] += 0.5
            values.append(reg.successive(2).item())
    assert values[0] < values[1] < values[2]
    # only parameters below the depth count: moving layer 2 or the chunk head changes depth 3, not 2
    before2, before3 = reg.successive(2).item(), reg.successive(3).item()
    with torch.no_grad():
        model.layers["chunk"].lstm.weight_hh_l0[0, 0] += 1.0
        model.heads["chunk"].hidden.bias[0] += 1.0
    assert reg.successive(2).item() == pytest.approx(before2)
    assert reg.successive(3).item() == pytest.approx(before3 + cfg.train.sr_delta + cfg.train.sr_delta_classifier,
                                                     rel=1e-5)


def test_successive_regularization_has_gradient_toward_the_snapshot(tiny_files, tmp_path):
    trainer = Trainer(tiny_config(tiny_files, ["upos", "chunk"]), tmp_path / "out", log=quiet)
    reg, model = trainer.regularizer, trainer.model
    reg.snapshot()
    with torch.no_grad():
        model.layers["pos"].lstm.bias_hh_l0[0] += 1.0
    model.zero_grad()
    reg.successive(2).backward()
    grad = model.layers["pos"].lstm.bias_hh_l0.grad
    assert grad[0].item() == pytest.approx(2 * trainer.cfg.train.sr_delta)  # d/dp delta (p - p')^2
    assert model.layers["chunk"].lstm.bias_hh_l0.grad is None  # not below depth 2


def test_a_training_pass_snapshots_its_parameters(tiny_files, tmp_path):
    trainer = Trainer(tiny_config(tiny_files, ["upos", "chunk"]), tmp_path / "out", log=quiet)
    trainer.train_pass(trainer.passes[0], 1)
    assert trainer.regularizer.successive(3).item() == 0.0
    trainer.train_pass(trainer.passes[1], 1)  # chunking moves layers below it only through the SR pull
    assert trainer.regularizer.successive(3).item() == 0.0


# ----------------------------------------------------------------------------- switches and stack shape

SWITCHES = {
    "no shortcut": ({"shortcut": False}, {}),
    "no vertical": ({"vertical": False}, {}),
    "no shortcut, no vertical": ({"shortcut": False, "vertical": False}, {}),
    "no label embeddings": ({"label_embeddings": False}, {}),
    "no successive regularization": ({}, {"successive_regularization": False}),
}


@pytest.mark.parametrize("name", list(SWITCHES))
def test_each_switch_builds_a_model_that_trains(name, tiny_files, tmp_path, monkeypatch):
    model_kw, train_kw = SWITCHES[name]
    # batches of 2: the softmax layers start at zero, so only a second step reaches the layers below
    cfg = tiny_config(tiny_files, PAPER_TASKS, model=small_model(**model_kw), batch_size=2, dep_batch_size=2, **train_kw)
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    model = trainer.model
    H2, Dx, L = 2 * cfg.model.hidden, model.embed.out_dim, cfg.model.label_dim
    vertical, shortcut, labels = cfg.model.vertical, cfg.model.shortcut, cfg.model.label_embeddings
    expected_dim2 = (H2 if vertical else 0) + (Dx if shortcut or not vertical else 0) + (L if labels else 0)
    assert model.layers["chunk"].lstm.input_size == expected_dim2
    assert model.layers["pos"].lstm.input_size == Dx

    calls = []
    original = trainer.regularizer.successive
    monkeypatch.setattr(trainer.regularizer, "successive", lambda d: calls.append(d) or original(d))
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    losses = {}
    for p in trainer.passes:
        losses.update(trainer.train_pass(p, 1))
    assert set(losses) == set(PAPER_TASKS)
    assert all(math.isfinite(v) for v in losses.values()), losses
    # without label embeddings the label vectors feed nothing (only weight decay touches them)
    unused = set() if labels else {n for n, _ in model.named_parameters() if n.endswith("label_vectors")}
    for name_, p in model.named_parameters():
        if name_ not in unused:
            assert not torch.equal(before[name_], p.detach()), f"{name_} did not train"
    assert bool(calls) == cfg.train.successive_regularization

    tagged = trainer.predictor.tag([["The", "cat", "sleeps", "."]])
    assert len(tagged[0]["heads"]) == 4
    paired = trainer.predictor.pair([Pair(["A", "cat"], ["A", "dog"])])
    assert paired[0]["entailment"] in ("ENTAILMENT", "NEUTRAL", "CONTRADICTION")


@pytest.mark.parametrize("sharing", ["hard", "soft"])
def test_a_model_saved_with_numbered_layers_loads_under_their_names(tiny_files, tmp_path, sharing):
    """Format 1 numbered the layers by depth (layers.3.*, copies.3_1.*); format 2 names them."""
    from safetensors.torch import load_file, save_file

    cfg = tiny_config(tiny_files, ["upos", "chunk", "dep"], model=small_model(sharing=sharing))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    save_model(tmp_path / "new", trainer.model, trainer.vocabs, cfg)
    weights = load_file(str(tmp_path / "new" / "model.safetensors"))
    assert "layers.dep.lstm.weight_ih_l0" in weights
    assert sharing == "hard" or "copies.dep_pos.lstm.weight_ih_l0" in weights
    numbers = {"pos": "1", "chunk": "2", "dep": "3"}
    old = {}
    for key, value in weights.items():
        kind, _, rest = key.partition(".")
        head, _, tail = rest.partition(".")
        if kind == "layers":
            key = f"layers.{numbers[head]}.{tail}"
        elif kind == "copies":
            key = "copies." + "_".join(numbers[n] for n in head.split("_")) + f".{tail}"
        old[key] = value
    (tmp_path / "old").mkdir()
    save_file(old, str(tmp_path / "old" / "model.safetensors"))
    for name in ("vocab.json", "config.json"):
        (tmp_path / "old" / name).write_text((tmp_path / "new" / name).read_text())
    config = json.loads((tmp_path / "old" / "config.json").read_text())
    (tmp_path / "old" / "config.json").write_text(json.dumps({**config, "format_version": 1}))
    sentences = [["The", "cat", "sleeps", "."], ["She", "saw", "a", "big", "bird", "today", "."]]
    tagged = [Predictor(*load_model(tmp_path / d)[:2]).tag(sentences) for d in ("new", "old")]
    assert tagged[0] == tagged[1]


def test_pos_and_dep_alone_build_no_chunk_layer(tiny_files, tmp_path):
    cfg = tiny_config(tiny_files, ["upos", "dep"])
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    model = trainer.model
    assert model.tasks == ["upos", "dep"]
    assert sorted(model.layers) == ["dep", "pos"]
    assert sorted(model.heads) == ["dep", "upos"]
    assert 2 not in model.parameter_depths().values()
    # layer 3 reads layer 1's states, the shortcut and the POS label embedding
    assert model.layers["dep"].lstm.input_size == 2 * cfg.model.hidden + model.embed.out_dim + cfg.model.label_dim
    assert [p.tasks for p in trainer.passes] == [["upos"], ["dep"]]
    for p in trainer.passes:
        assert all(math.isfinite(v) for v in trainer.train_pass(p, 1).values())
    out = trainer.predictor.tag([["The", "cat", "sleeps", "."]])[0]
    assert set(out) >= {"upos", "heads", "deprels"} and "chunks" not in out and "xpos" not in out


def test_pair_tasks_alone_build_only_their_layers(tiny_files, tmp_path):
    trainer = Trainer(tiny_config(tiny_files, ["relatedness", "entailment"]), tmp_path / "out", log=quiet)
    assert sorted(trainer.model.layers) == ["entailment", "relatedness"]
    assert trainer.model.layers["relatedness"].lstm.input_size == trainer.model.embed.out_dim
    assert trainer.predictor.tag([["a", "b"]]) == [{}]


def test_upos_and_xpos_share_one_layer_and_one_pass(tiny_files, tmp_path):
    trainer = Trainer(tiny_config(tiny_files, ["upos", "xpos"]), tmp_path / "out", log=quiet)
    assert sorted(trainer.model.layers) == ["pos"]
    assert [p.tasks for p in trainer.passes] == [["upos", "xpos"]]


def test_a_model_needs_a_task():
    from jmt.data.vocab import Vocabularies
    from jmt.model import JointManyTask

    vocabs = Vocabularies.build([["a"]], {}, (2, 4))
    with pytest.raises(ValueError):
        JointManyTask(small_model(), vocabs, [])


def test_the_ngram_id_cache_is_bounded_and_later_words_still_encode(monkeypatch):
    import jmt.data.vocab as vocab_module

    monkeypatch.setattr(vocab_module, "NGRAM_CACHE_SIZE", 3)
    vocabs = vocab_module.Vocabularies.build([["cats", "dogs", "birds", "fish", "owls"]], {}, (2, 4))
    words = ["cats", "dogs", "birds", "fish", "owls", "cat"]
    ids = [vocabs.word_ngram_ids(w) for w in words]
    assert list(vocabs._ngram_cache) == ["cats", "dogs", "birds"]  # full: later forms are not kept
    assert ids == [vocabs.word_ngram_ids_uncached(w) for w in words] and all(ids)


# ----------------------------------------------------------------------------- configuration


def test_unknown_config_key_is_an_error_naming_it():
    with pytest.raises(ConfigError, match="model.hiden"):
        from_dict(Config, {"model": {"hiden": 50}})
    with pytest.raises(ConfigError, match="'trian'"):
        from_dict(Config, {"trian": {}})


@pytest.mark.parametrize("section, key, value", [
    ("train", "epochs", "3"),
    ("train", "epochs", 2.5),
    ("train", "epochs", True),
    ("model", "shortcut", 1),
    ("train", "lr", "0.1"),
    ("train", "optimizer", 3),
    ("data", "train", {"upos": []}),
    ("data", "train", {"upos": ["a.conllu", 3]}),
])
def test_wrong_config_type_is_an_error(section, key, value):
    with pytest.raises(ConfigError, match=f"{section}.{key}"):
        from_dict(Config, {section: {key: value}})


def test_config_section_must_be_a_table():
    with pytest.raises(ConfigError, match="model"):
        from_dict(Config, {"model": 3})


@pytest.mark.parametrize("data", [{"vectors": 5}, {"train": {"upos": 5}}, {"train": "upos"}])
def test_wrong_type_in_data_section_is_an_error(data):
    with pytest.raises(ConfigError, match="data"):
        from_dict(Config, {"data": data})


def test_int_is_accepted_for_a_float():
    cfg = from_dict(Config, {"train": {"lr": 1}})
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(value)


def to_toml(data: dict) -> str:
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None]
    return "\n".join(lines) + "\n"


def test_toml_load_round_trip(tmp_path):
    path = tmp_path / "jmt.toml"
    path.write_text(
        "[model]\nhidden = 16\nshortcut = false\n\n"
        "[train]\nepochs = 2\nlr = 1\noptimizer = \"adam\"\n\n"
        "[data]\ntrain = { upos = \"a.conllu\", dep = \"a.conllu\", xpos = [\"a.conllu\", \"b.txt\"] }\ndev = { upos = \"holdout:0.1\" }\n",
        encoding="utf-8")
    cfg = load_config(path)
    assert cfg.model.hidden == 16 and cfg.model.shortcut is False and cfg.model.word_dim == 100
    assert cfg.train.epochs == 2 and cfg.train.lr == 1.0 and cfg.train.optimizer == "adam"
    assert cfg.data.train == {"upos": "a.conllu", "dep": "a.conllu", "xpos": ["a.conllu", "b.txt"]}
    assert cfg.data.dev == {"upos": "holdout:0.1"}

    # the full config written back as TOML reads in unchanged
    again = tmp_path / "again.toml"
    again.write_text(to_toml(to_dict(cfg)), encoding="utf-8")
    assert to_dict(load_config(again)) == to_dict(cfg)
    assert to_dict(from_dict(Config, to_dict(cfg))) == to_dict(cfg)


def test_load_config_errors_name_the_file(tmp_path):
    assert to_dict(load_config(None)) == to_dict(Config())
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nhidden = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="bad.toml"):
        load_config(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[train]\nepoch = 3\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"unknown\.toml.*train\.epoch"):
        load_config(unknown)


def test_entailment_without_relatedness_is_rejected(tiny_files, tmp_path):
    cfg = Config(data=DataConfig(train={"entailment": str(tiny_files["pairs"])}))
    with pytest.raises(ConfigError, match="relatedness"):
        cfg.validate()
    with pytest.raises(ConfigError, match="relatedness"):
        Trainer(cfg, tmp_path / "out", log=quiet)


@pytest.mark.parametrize("data, match", [
    ({"train": {"pos": "x"}}, "pos"),
    ({"train": {"upos": "x"}, "dev": {"dep": "y"}}, "dep"),
])
def test_validate_rejects_unknown_tasks_and_dev_without_train(data, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(Config, {"data": data}).validate()


@pytest.mark.parametrize("train, match", [({"optimizer": "rmsprop"}, "optimizer"), ({"epochs": 0}, "epochs")])
def test_validate_rejects_bad_training_settings(train, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(Config, {"train": train}).validate()


@pytest.mark.parametrize("train", [{"decoder": "eisner2"}, {"select_metric": "pos.accuracy"}])
def test_validate_rejects_bad_decoder_and_select_metric_before_training(train):
    cfg = from_dict(Config, {"train": train, "data": {"train": {"upos": "x.conllu"}}})
    with pytest.raises(ConfigError, match=next(iter(train))):
        cfg.validate()


# ----------------------------------------------------------------------------- edge cases

UNLABELED_DP = "The DT 2\ncat NN 3\nsleeps VBZ 0\n. . 3\n\nDogs NNS 2\nbark VBP 0\nloudly RB 2\n\nShe PRP 2\nsaw VBD 0\nbirds NNS 2\n"


def test_dep_on_unlabeled_trees_trains_and_predicts_heads(tmp_path):
    path = tmp_path / "unlabeled.dp"  # word, xpos, head columns (like the PTB sample)
    path.write_text(UNLABELED_DP, encoding="utf-8")
    cfg = Config(model=no_dropout_model(), train=TrainConfig(optimizer="adam", lr=0.01, batch_size=8,
                                                             dep_batch_size=8, seed=0, progress=False),
                 data=DataConfig(train={"dep": str(path)}))
    trainer = Trainer(cfg, tmp_path / "out", log=quiet)
    scores = train_until(trainer, lambda s: s["dep"]["uas"] == 100.0, max_epochs=150)
    assert scores["dep"]["uas"] == 100.0
    assert scores["dep"]["las"] == scores["dep"]["uas"]  # no labels: LAS is UAS
    pred = trainer.predictor.tag([["Cats", "sleep"]])[0]
    assert len(pred["heads"]) == 2


def test_empty_sentence_gets_empty_annotations(trained):
    predictor = Predictor(trained.model, trained.vocabs, batch_size=64)
    out = predictor.tag([["The", "cat"], []])
    assert set(out[1]) >= {"upos", "xpos", "chunks", "heads", "deprels"}
    assert all(out[1][k] == [] for k in ("upos", "xpos", "chunks", "heads", "deprels"))
    assert len(out[0]["upos"]) == 2
