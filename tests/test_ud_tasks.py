"""UD morphological features and lemmas: edit scripts, training, and every output (CoNLL-U,
JSON lines, spaCy) on tiny inline treebanks."""
from __future__ import annotations

import io
import json
import random

import pytest
import spacy

from conftest import no_dropout_model, quiet
from jmt.config import Config, DataConfig, TrainConfig
from jmt.data.conllu import FEATS, LEMMA, read_conllu
from jmt.data.types import Sentence
from jmt.io import load_model
from jmt.predict import Predictor
from jmt.tagging_io import write_sentence
from jmt.tasks.lemma import apply_script, edit_script
from jmt.train import Trainer

PAIRS = [("cats", "cat"), ("Dogs", "dog"), ("was", "be"), ("n't", "not"), ("better", "good"), ("Paris", "Paris"),
         ("running", "run"), ("unhappiest", "unhappy"), ("US", "US"), ("I", "I"), ("me", "I"), ("Children", "child"),
         ("e-mails", "e-mail"), ("ESTÁN", "estar"), ("au", "à"), ("", ""), ("x", "y"), ("12,000", "12000"),
         ("KENNEDY", "Kennedy"), ("BREYER'S", "Breyer"), ("McDonald's", "McDonald"), ("1:30", "1:30"), ("a:b", "ab")]


@pytest.mark.parametrize("form,lemma", PAIRS)
def test_an_edit_script_rewrites_the_word_into_its_lemma(form, lemma):
    assert apply_script(form, edit_script(form, lemma)) == lemma


def test_edit_scripts_round_trip_on_random_pairs():
    rng = random.Random(0)
    for _ in range(2000):
        form = "".join(rng.choice("abAB-é,:") for _ in range(rng.randint(0, 7)))
        lemma = "".join(rng.choice("abAB-é,:") for _ in range(rng.randint(0, 7)))
        assert apply_script(form, edit_script(form, lemma)) == lemma, (form, lemma)


def test_a_rule_learned_on_one_word_lemmatizes_another():
    assert edit_script("cats", "cat") == edit_script("dogs", "dog") == "l:0:1:0:"
    assert apply_script("birds", edit_script("cats", "cat")) == "bird"
    assert apply_script("Walked", edit_script("played", "play")) == "walk"
    assert apply_script("a", edit_script("cats", "cat")) == ""  # cut to nothing
    assert apply_script("", "l:2:0:0:") == ""  # a rule longer than the word gives the word
    # separators deleted, and title case: rules that numbers and capitalised names share
    assert edit_script("12,000", "12000") == edit_script("3,500,000", "3500000") == "l-,:0:0:0:"
    assert apply_script("1,250", edit_script("12,000", "12000")) == "1250"
    assert edit_script("KENNEDY", "Kennedy") == edit_script("THOMAS", "Thomas") == "t:0:0:0:"
    assert apply_script("BREYER", "t:0:0:0:") == "Breyer"
    assert edit_script("Dogs", "Dog") == "k:0:1:0:"  # already in title case: kept, as before


def row(i, form, lemma, upos, feats, head, rel):
    return "\t".join([str(i), form, lemma, upos, "_", feats, str(head), rel, "_", "_"])


# (form, lemma, UPOS, FEATS, HEAD, DEPREL)
TREEBANK = [
    [("The", "the", "DET", "Definite=Def", 2, "det"), ("cats", "cat", "NOUN", "Number=Plur", 3, "nsubj"),
     ("sleep", "sleep", "VERB", "Number=Plur|Tense=Pres", 0, "root"), (".", ".", "PUNCT", "_", 3, "punct")],
    [("A", "a", "DET", "Definite=Ind", 2, "det"), ("dog", "dog", "NOUN", "Number=Sing", 3, "nsubj"),
     ("barked", "bark", "VERB", "Tense=Past", 0, "root"), (".", ".", "PUNCT", "_", 3, "punct")],
    [("Dogs", "dog", "NOUN", "Number=Plur", 2, "nsubj"), ("were", "be", "AUX", "Tense=Past", 3, "cop"),
     ("happy", "happy", "ADJ", "Degree=Pos", 0, "root")],
    [("She", "she", "PRON", "Case=Nom", 2, "nsubj"), ("played", "play", "VERB", "Tense=Past", 0, "root"),
     ("games", "game", "NOUN", "Number=Plur", 2, "obj"), (".", ".", "PUNCT", "_", 2, "punct")],
]


def treebank_text() -> str:
    return "".join(
        "# text = " + " ".join(w[0] for w in sent) + "\n"
        + "\n".join(row(i, *w) for i, w in enumerate(sent, 1)) + "\n\n" for sent in TREEBANK)


@pytest.fixture(scope="module")
def ud_model(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ud")
    path = tmp / "tb.conllu"
    path.write_text(treebank_text(), encoding="utf-8")
    tasks = ("upos", "feats", "lemma", "dep")
    cfg = Config(model=no_dropout_model(), train=TrainConfig(progress=False, epochs=25, optimizer="adam", lr=0.01,
                                                             lr_decay=0.0, batch_size=4, dep_batch_size=4, seed=0),
                 data=DataConfig(train={t: str(path) for t in tasks}, dev={t: str(path) for t in tasks}))
    Trainer(cfg, tmp / "model", log=quiet).train()
    return tmp / "model", path


@pytest.mark.slow
def test_feats_and_lemmas_train_from_a_treebank_and_fill_every_output(ud_model):
    model_dir, path = ud_model
    model, vocabs, _ = load_model(model_dir)
    predictor = Predictor(model, vocabs)
    gold = list(read_conllu(path))
    scores = predictor.evaluate_tasks(["feats", "lemma"], gold)
    assert scores["feats"]["accuracy"] == 100.0 and scores["lemma"]["accuracy"] == 100.0, scores  # train = dev

    pred = predictor.tag([["The", "dogs", "played", "."]], ["upos", "feats", "lemma"])[0]
    assert pred["lemmas"][1:3] == ["dog", "play"]  # rules learned on cats/Dogs and played/barked

    # CoNLL-U: the LEMMA and FEATS columns; JSON lines: the fields
    out = io.StringIO()
    write_sentence(out, "conllu", gold[0], predictor.tag([gold[0].words])[0])
    rows = [line.split("\t") for line in out.getvalue().splitlines() if line and not line.startswith("#")]
    assert [r[LEMMA] for r in rows] == ["the", "cat", "sleep", "."]
    assert [r[FEATS] for r in rows] == ["Definite=Def", "Number=Plur", "Number=Plur|Tense=Pres", "_"]
    out = io.StringIO()
    write_sentence(out, "jsonl", Sentence(["Dogs", "were", "happy"]), predictor.tag([["Dogs", "were", "happy"]])[0])
    record = json.loads(out.getvalue())
    assert record["lemmas"] == ["dog", "be", "happy"] and record["feats"][0] == "Number=Plur"


@pytest.mark.slow
def test_spacy_gets_token_morph_and_lemma_and_scores_them(ud_model):
    from spacy.training import Example

    model_dir, _ = ud_model
    nlp = spacy.blank("en")
    nlp.add_pipe("jmt", config={"model": str(model_dir)})
    doc = nlp("The cats sleep .")
    assert [t.lemma_ for t in doc] == ["the", "cat", "sleep", "."]
    assert str(doc[1].morph) == "Number=Plur" and str(doc[3].morph) == ""
    gold = spacy.blank("en")("The cats sleep .")
    for token, lemma, feats in zip(gold, ["the", "cat", "sleep", "."], ["Definite=Def", "Number=Sing", "", ""]):
        token.lemma_ = lemma
        token.set_morph(feats)
    scores = nlp.get_pipe("jmt").score([Example(doc, gold)])
    assert scores["lemma_acc"] == 1.0 and scores["morph_acc"] == 0.5  # "cats" is Plur, not Sing; "sleep" has feats


def test_a_treebank_without_feats_leaves_the_task_out(tmp_path):
    path = tmp_path / "tb.conllu"
    path.write_text(treebank_text().replace("Definite=Def", "_").replace("Number=Plur|Tense=Pres", "_")
                    .replace("Number=Plur", "_").replace("Number=Sing", "_").replace("Definite=Ind", "_")
                    .replace("Tense=Past", "_").replace("Degree=Pos", "_").replace("Case=Nom", "_"), encoding="utf-8")
    cfg = Config(model=no_dropout_model(), train=TrainConfig(progress=False, epochs=1, batch_size=4, seed=0),
                 data=DataConfig(train={"upos": str(path), "feats": str(path)}))
    messages: list[str] = []
    trainer = Trainer(cfg, tmp_path / "out", log=messages.append)
    assert "feats" not in trainer.model.heads and "upos" in trainer.model.heads
    assert any(m.startswith("feats left out: the FEATS column") for m in messages)


def test_scoring_feats_on_a_file_without_them_is_refused(tmp_path):
    from jmt.data.corpus import DataError, read_corpus

    path = tmp_path / "tb.conllu"
    path.write_text("".join(line if line.count("\t") != 9 else "\t".join(
        c if i != FEATS else "_" for i, c in enumerate(line.split("\t"))) for line in treebank_text().splitlines(True)),
        encoding="utf-8")
    with pytest.raises(DataError, match="needs FEATS annotation; the column is _ in every word"):
        read_corpus(path, "feats")
    assert read_corpus(path, "upos")  # the other columns are there


def test_the_lexicon_holds_the_forms_training_saw_with_one_lemma():
    from jmt.tasks import TASKS
    from jmt.tasks.lemma import LEXICON

    sentences = [Sentence(["saw", "cats", "saw"], lemmas=["see", "cat", "saw"]), Sentence(["cats"], lemmas=["cat"])]
    assert TASKS["lemma"].tables(sentences) == {LEXICON: ["cats\tcat"]}  # "saw" is ambiguous


def test_the_pos_lexicon_tells_a_form_s_lemmas_apart_by_upos():
    from jmt.tasks import TASKS
    from jmt.tasks.lemma import LEXICON, POS_LEXICON

    sentences = [Sentence(["I", "saw", "a", "saw"], upos=["PRON", "VERB", "DET", "NOUN"], lemmas=["I", "see", "a", "saw"]),
                 Sentence(["saw", "it"], upos=["VERB", "PRON"], lemmas=["saw", "it"])]  # sawing: VERB is ambiguous
    tables = TASKS["lemma"].tables(sentences)
    assert tables[LEXICON] == ["I\tI", "a\ta", "it\tit"]
    assert tables[POS_LEXICON] == ["I\tPRON\tI", "a\tDET\ta", "it\tPRON\tit", "saw\tNOUN\tsaw"]


@pytest.mark.slow
def test_a_form_in_the_lexicon_takes_its_lemma_whatever_the_classifier_says(ud_model):
    model_dir, _ = ud_model
    model, vocabs, _ = load_model(model_dir)
    head = model.heads["lemma"]
    assert head.lexicon["cats"] == "cat" and head.lexicon["were"] == "be"
    head.lexicon["sleep"] = "slumber"  # a lexicon entry wins over the edit script
    head.pos_lexicon.pop(("sleep", "VERB"), None)
    assert Predictor(model, vocabs).tag([["The", "cats", "sleep", "."]], ["lemma"])[0]["lemmas"] == ["the", "cat",
                                                                                                    "slumber", "."]


@pytest.mark.slow
def test_the_lemma_comes_from_the_pos_lexicon_then_the_form_lexicon_then_the_edit_script(ud_model):
    model_dir, _ = ud_model
    model, vocabs, _ = load_model(model_dir)
    head = model.heads["lemma"]
    assert head.pos_lexicon[("cats", "NOUN")] == "cat"
    tagged = Predictor(model, vocabs).tag([["The", "cats", "sleep", "."]], ["upos", "lemma"])[0]
    assert tagged["upos"][2] == "VERB"
    head.pos_lexicon[("sleep", "VERB")], head.lexicon["sleep"] = "doze", "slumber"
    assert Predictor(model, vocabs).tag([["The", "cats", "sleep", "."]], ["lemma"])[0]["lemmas"][2] == "doze"
    head.pos_lexicon, head.lexicon = {("Guy", "NOUN"): "guy"}, {"Guy": "guy", "saw": "see"}
    assert head.lemma("Guy", "PROPN", ["="]) == "Guy"  # a new tag, and differs in case only: the edit script's case
    assert head.lemma("Guy", None, ["="]) == "guy"  # no UPOS: the form lexicon as it is
    assert head.lemma("Guy", "NOUN", ["="]) == "guy"
    assert head.lemma("saw", "NOUN", ["="]) == "see"  # differs otherwise: the lexicon
    assert head.lemma("dogs", None, ["l:0:1:0:"]) == "dog"  # unknown: the edit script
    # the best script makes no known word ("dogg") and a runner-up makes one ("dog"): the runner-up
    assert head.known("dog") and not head.known("dogg")
    assert head.lemma("dogged", None, ["l:0:2:0:", "=", "l:0:3:0:"]) == "dog"
    assert head.lemma("xyzed", None, ["l:0:2:0:", "l:0:1:0:"]) == "xyz"  # none known: the best
    assert head.lemma("12,000", None, ["l-,:0:0:0:", "!dog"]) == "12000"  # a number is rarely a known word: the best
    assert head.lemma("xyzs", None, ["l:0:1:0:", "="]) == "xyz"  # the word itself is no candidate


@pytest.mark.slow
def test_ufeats_and_lemmas_are_scored_as_ud_s_scorer_scores_them(ud_model, tmp_path):
    udeval = pytest.importorskip("udtools.udeval")
    model_dir, path = ud_model
    model, vocabs, _ = load_model(model_dir)
    # Gold: a feature outside UD's universal list, and a word whose lemma is "_".
    gold_text = treebank_text().replace("Definite=Def", "Definite=Def|ExtPos=DET").replace(
        "\tbark\t", "\t_\t").replace("\tgame\t", "\tgames\t")
    (tmp_path / "gold.conllu").write_text(gold_text, encoding="utf-8")
    gold = list(read_conllu(tmp_path / "gold.conllu"))
    pred = Predictor(model, vocabs).tag([s.words for s in gold], ["feats", "lemma"])
    pred[1]["feats"][2] = "Tense=Past|Typo=Yes"  # right on its universal features
    pred[2]["feats"][0] = "Number=Sing"  # wrong
    with open(tmp_path / "pred.conllu", "w", encoding="utf-8") as out:
        for sentence, p in zip(gold, pred):
            write_sentence(out, "conllu", sentence, {**p, "heads": sentence.heads, "deprels": sentence.deprels,
                                                     "upos": sentence.upos})
    ud = udeval.evaluate(udeval.load_conllu_file(str(tmp_path / "gold.conllu")),
                         udeval.load_conllu_file(str(tmp_path / "pred.conllu")))
    ours = {task: model.heads[task].evaluate(gold, pred) for task in ("feats", "lemma")}
    assert ours["feats"]["accuracy"] == pytest.approx(100 * ud["UFeats"].aligned_accuracy) == pytest.approx(100 * 14 / 15)
    assert ours["lemma"]["accuracy"] == pytest.approx(100 * ud["Lemmas"].aligned_accuracy) == pytest.approx(100 * 14 / 15)
