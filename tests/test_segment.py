"""The raw-text segmenter (jmt.segment) and CoNLL-U from raw text (jmt.rawtext)."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import SAMPLE
from jmt.data.conllu import UPOS, read_conllu, write_conllu
from jmt.rawtext import RuleSegmenter, escape_spaces, read_text, rebuild_text, split_blocks, unescape_spaces
from jmt.segment import (INSIDE, MWT, MWT_SENTENCE, SENTENCE, TOKEN, Segmenter, SegmenterConfig, SegmenterNet,
                         has_segmenter, is_space, load_segmenter, score_segmentation, token_lexicon, train_segmenter,
                         treebank_example)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"

TREEBANK = """# newdoc id = d1
# sent_id = 1
# text = I don't know.
1	I	I	PRON	PRP	_	3	nsubj	_	_
2-3	don't	_	_	_	_	_	_	_	_
2	do	do	AUX	VBP	_	4	aux	_	_
3	n't	not	PART	RB	_	4	advmod	_	_
4	know	know	VERB	VB	_	0	root	_	SpaceAfter=No
5	.	.	PUNCT	.	_	4	punct	_	_

# sent_id = 2
# text = Fine!
1	Fine	fine	ADJ	JJ	_	0	root	_	SpaceAfter=No
2	!	!	PUNCT	.	_	1	punct	_	_

# newpar
# sent_id = 3
# text = Du vin.
1-2	Du	_	_	_	_	_	_	_	_
1	de	de	ADP	IN	_	3	case	_	_
2	le	le	DET	DT	_	3	det	_	_
3	vin	vin	NOUN	NN	_	0	root	_	SpaceAfter=No
4	.	.	PUNCT	.	_	3	punct	_	_

"""


def write(tmp_path, text=TREEBANK, name="t.conllu") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def untrained(chars="abcdefghijklmnopqrstuvwxyz.!'", splits=None, suffixes=("n't", "'s"), meta=None) -> Segmenter:
    torch.manual_seed(0)
    return Segmenter(SegmenterNet(len(chars) + 2, channels=8, dilations=(1, 2)), ["<pad>", "<unk>", *chars],
                     splits or {}, list(suffixes), meta)


def test_the_labels_mark_token_sentence_and_multiword_ends(tmp_path):
    example, splits, skipped = treebank_example(write(tmp_path))
    assert skipped == 0
    assert example.text == "I don't know. Fine!\n\nDu vin."
    ends = {example.text[: i + 1].split()[-1]: int(lab) for i, lab in enumerate(example.labels) if lab != INSIDE}
    assert ends == {"I": TOKEN, "don't": MWT, "know": TOKEN, "know.": SENTENCE, "Fine": TOKEN, "Fine!": SENTENCE,
                    "Du": MWT, "vin": TOKEN, "vin.": SENTENCE}
    assert {k: n for k, n in splits.items() if len(k[1]) > 1} == {("don't", ("do", "n't")): 1, ("du", ("de", "le")): 1}
    assert splits[("know", ("know",))] == 1


def test_forms_that_training_always_splits_are_split_whatever_the_network_says():
    from collections import Counter

    from jmt.segment import split_table

    counts = Counter({("don't", ("do", "n't")): 30, ("its", ("it", "s")): 5, ("its", ("its",)): 95,
                      ("gotta", ("got", "ta")): 3, ("video's", ("video", "'s")): 6, ("cannot", ("can", "not")): 2})
    splits, suffixes, always = split_table(counts)
    assert always == ["don't", "gotta", "video's"]  # its: mostly one word; cannot: too rare to trust
    assert splits["its"] == ["it", "s"] and suffixes == ["n't", "'s"]
    seg = untrained(splits=splits)
    seg.always_split = set(always)
    text = "gotta go"
    tokens = seg.decode([text], [np.zeros(len(text), dtype=np.int64)])[0][0]
    assert [t.words for t in tokens] == [["got", "ta"], ["go"]]


def test_a_form_the_treebank_keeps_whole_is_joined_again_before_its_full_stop(tmp_path):
    rows = "".join("# text = Acme Inc. sells.\n1\tAcme\t_\t_\t_\t_\t0\troot\t_\t_\n2\tInc.\t_\t_\t_\t_\t1\tflat\t_\t_\n"
                   "3\tsells\t_\t_\t_\t_\t1\tdep\t_\tSpaceAfter=No\n4\t.\t_\t_\t_\t_\t1\tpunct\t_\t_\n\n" for _ in range(3))
    rows += "# text = Acme Inc.\n1\tAcme\t_\t_\t_\t_\t0\troot\t_\t_\n2\tInc\t_\t_\t_\t_\t1\tflat\t_\tSpaceAfter=No\n3\t.\t_\t_\t_\t_\t1\tpunct\t_\t_\n\n"
    assert token_lexicon(write(tmp_path, rows)) == ({}, ["Inc."])  # whole 3 times of 4; "sells." left to the network
    seg = untrained(meta={"kept_whole": ["Inc.", "Sat."], "token_splits": {}})
    text = "Acme INC. sells. Ok."
    labels = np.zeros(len(text), dtype=np.int64)
    for end, lab in ((3, TOKEN), (7, TOKEN), (8, SENTENCE), (14, TOKEN), (15, SENTENCE), (18, TOKEN), (19, SENTENCE)):
        labels[end] = lab
    sentences = seg.decode([text], [labels])[0]
    assert [[text[t.start : t.end] for t in s] for s in sentences] == [["Acme", "INC."], ["sells", "."], ["Ok", "."]]
    assert sentences[0][1].words == ["INC."]
    # a form kept whole in its own case only: "Sat." (Saturday) is, "sat." (the verb and a full stop) is not
    text = "The cat sat. See you Sat."
    labels = np.zeros(len(text), dtype=np.int64)
    for end, lab in ((2, TOKEN), (6, TOKEN), (11, SENTENCE), (15, TOKEN), (19, TOKEN), (24, SENTENCE)):
        labels[end] = lab
    sentences = seg.decode([text], [labels])[0]
    assert [[text[t.start : t.end] for t in s] for s in sentences] == [["The", "cat", "sat", "."], ["See", "you", "Sat."]]


def test_forms_that_training_cuts_into_tokens_are_cut_and_a_full_stop_goes_unless_kept(tmp_path):
    row = "{}\t{}\t_\t_\t_\t_\t0\troot\t_\t{}\n"
    rows = ("# text = alot of a/c\n" + row.format(1, "a", "SpaceAfter=No") + row.format(2, "lot", "_")
            + row.format(3, "of", "_") + row.format(4, "a", "SpaceAfter=No") + row.format(5, "/", "SpaceAfter=No")
            + row.format(6, "c", "_") + "\n")
    rows = rows * 2 + "# text = alot\n" + row.format(1, "alot", "_") + "\n"  # whole once in three: still cut
    rows += "# text = e.g.\n" + row.format(1, "e.g.", "_") + "\n"
    splits, whole = token_lexicon(write(tmp_path, rows))
    assert splits == {"/c": [1], "a/": [1], "a/c": [1, 2], "alot": [1]} and whole == ["e.g."]
    seg = untrained()
    seg.token_splits, seg.kept_whole = splits, set(whole)
    text = "Alot of A/C, e.g. too."
    labels = np.zeros(len(text), dtype=np.int64)
    for end in (3, 6, 10, 11, 16):  # the network leaves "Alot", "A/C" and "too." whole
        labels[end] = TOKEN
    labels[21] = SENTENCE
    tokens = seg.decode([text], [labels])[0][0]
    assert [text[t.start : t.end] for t in tokens] == ["A", "lot", "of", "A", "/", "C", ",", "e.g.", "too", "."]
    assert [t.words for t in tokens][:2] == [["A"], ["lot"]]
    seg.token_splits = None  # a segmenter saved before the tables: tokens as the network gives them
    assert [text[t.start : t.end] for t in seg.decode([text], [labels])[0][0]] == ["Alot", "of", "A/C", ",", "e.g.", "too."]


def test_a_sentence_whose_forms_do_not_match_its_text_is_skipped(tmp_path):
    bad = TREEBANK.replace("# text = Fine!", "# text = Fine?")
    example, _, skipped = treebank_example(write(tmp_path, bad))
    assert skipped == 1 and "Fine" not in example.text


def test_multiword_tokens_are_split_as_training_split_them_and_keep_their_case():
    seg = untrained(splits={"don't": ["do", "n't"], "du": ["de", "le"]})
    assert seg.split("Don't") == ["Do", "n't"]
    assert seg.split("DON'T") == ["DO", "N'T"]
    assert seg.split("Du") == ["De", "le"] and seg.split("DU") == ["DE", "LE"]
    assert seg.split("Mary's") == ["Mary", "'s"]  # never seen: a known ending split off
    assert seg.split("xyz") == ["xyz"]  # nothing known: one word


def test_decoding_never_puts_whitespace_in_a_token_and_always_ends_the_text():
    seg = untrained()
    text = "ab cd\n\tef"
    labels = np.zeros(len(text), dtype=np.int64)
    labels[0] = TOKEN  # a | b
    labels[4] = MWT_SENTENCE  # "cd" ends a sentence; unknown to the split table: one word
    sentences = seg.decode([text], [labels])[0]
    assert [[text[t.start : t.end] for t in s] for s in sentences] == [["a", "b", "cd"], ["ef"]]
    assert seg.decode([text], [labels], one_sentence=True)[0][0][-1].words == ["ef"]


def wide_untrained() -> Segmenter:
    torch.manual_seed(0)
    chars = "abcdefghijklmnopqrstuvwxyz.!' "
    return Segmenter(SegmenterNet(len(chars) + 2, channels=8, dilations=(1, 2, 4)), ["<pad>", "<unk>", *chars], {}, [])


def test_a_long_text_labelled_in_overlapping_windows_gets_the_labels_of_one_pass(monkeypatch):
    import jmt.segment as segment

    seg = wide_untrained()
    rng = np.random.default_rng(0)
    text = "".join(rng.choice(list("abc. d'!\n"), size=3000))
    whole = seg.label([text])[0]
    monkeypatch.setattr(segment, "ROW_CHARS", 97)  # windows far shorter than the text
    assert np.array_equal(seg.label([text])[0], whole)
    assert len(set(whole.tolist())) > 1  # the random network does label more than one thing


def test_windows_line_ends_are_segmented_as_line_feeds_alone():
    seg = wide_untrained()
    rng = np.random.default_rng(1)
    lf = ["".join(rng.choice(list("abc. d'!\n"), size=400)) for _ in range(5)]
    crlf = [text.replace("\n", "\r\n") for text in lf]

    def pieces(text, sentences):
        return [[(text[t.start : t.end], t.words) for t in s] for s in sentences]

    got = seg.segment_many(crlf)
    assert [pieces(c, s) for c, s in zip(crlf, got)] == [pieces(t, s) for t, s in zip(lf, seg.segment_many(lf))]
    assert all("\r" not in c[t.start : t.end] for c, s in zip(crlf, got) for sent in s for t in sent)


def test_texts_segmented_together_get_what_each_gets_alone():
    seg = wide_untrained()
    texts = ["ab cd. ef", "gh!ij", "", "  kl mn.  ", "op"]
    together = seg.segment_many(texts)
    assert together == [seg.segment(text) for text in texts]


def test_adjacent_blocks_see_each_other_but_no_token_spans_two():
    seg = wide_untrained()
    texts = ["ab cd", "ef gh. ", "ij"]  # "cd" and "ef" touch: one word if the labels were read across
    sentences = seg.segment_many(texts, adjacent=True)
    for text, block in zip(texts, sentences):
        tokens = [t for s in block for t in s]
        assert all(0 <= t.start < t.end <= len(text) for t in tokens)
        assert "".join(text[t.start : t.end] for t in tokens) == text.replace(" ", "")
    rng = np.random.default_rng(1)
    texts = ["".join(rng.choice(list("abc. d'!"), size=200)) for _ in range(4)]
    labels = seg.label(texts, adjacent=True)
    apart = seg.label(texts)
    assert all(np.array_equal(a[10:-10], b[10:-10]) for a, b in zip(labels, apart))  # beyond the edges: the same
    assert not all(np.array_equal(a, b) for a, b in zip(labels, apart))  # at the edges the neighbours count


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list("ab.!' \n\t\r\x07\u00a0é") + ["\r\n", "\n\n"]), max_size=60).map("".join))
def test_any_text_comes_back_exactly_from_the_conllu(text):
    seg = untrained()  # random labels: the text must come back whatever they say
    out = io.StringIO()
    for n, sentence in enumerate(read_text(io.StringIO(text, newline=""), seg, "t"), 1):
        write_conllu(sentence, out, sent_id=str(n))
    path = Path(_tmp_file(out.getvalue()))
    has_token = any(not is_space(ch) for ch in text)
    assert rebuild_text(path) == (text if has_token else "")  # whitespace alone is no sentence


def _tmp_file(content: str) -> str:
    import tempfile

    f = tempfile.NamedTemporaryFile("w", suffix=".conllu", delete=False, encoding="utf-8", newline="")
    f.write(content)
    f.close()
    return f.name


def test_blocks_are_paragraphs_and_carry_all_whitespace():
    lines = ["  \n", "  One two.\n", "Three.\n", "\n", "\n", "  Four.\r\n"]
    blocks = list(split_blocks(io.StringIO("".join(lines), newline="")))
    assert blocks == [("  \n  ", "One two.\nThree.\n\n\n  ", 2, True), ("", "Four.\r\n", 6, True)]
    assert [b[1] for b in split_blocks(io.StringIO("a\nb\n"), one_per_line=True)] == ["a\n", "b\n"]


def test_spaces_escape_as_ud_writes_them():
    odd = " \t\n\r\u00a0\u3000|\\"
    assert escape_spaces(odd) == "\\s\\t\\n\\r\\u00A0\\u3000\\p\\\\"
    assert unescape_spaces(escape_spaces(odd)) == odd


def test_conllu_from_raw_text_has_ids_text_multiword_lines_and_spacing(tmp_path):
    seg = untrained(splits={"don't": ["do", "n't"]})
    text = "I don't know.  Fine!\n\nNext one"

    class Fixed:  # the labels a trained segmenter would give
        def segment_many(self, texts, one_sentence=False, adjacent=False):
            out = []
            for t in texts:
                labels = np.zeros(len(t), dtype=np.int64)
                for end, lab in ((0, TOKEN), (6, MWT), (11, TOKEN), (12, SENTENCE), (18, TOKEN), (19, SENTENCE)):
                    if end < len(t) and t.startswith("I don't"):
                        labels[end] = lab
                out.append(labels)
            return seg.decode(texts, out, one_sentence, adjacent)

    buf = io.StringIO()
    for n, sentence in enumerate(read_text(io.StringIO(text), Fixed(), "in.txt"), 1):
        write_conllu(sentence, buf, {UPOS: ["X"] * len(sentence)}, sent_id=str(n))
    conllu = buf.getvalue()
    assert conllu.startswith("# newdoc\n# sent_id = 1\n# text = I don't know.\n1\tI\t")
    assert "2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n2\tdo\t" in conllu
    assert "5\t.\t_\tX\t_\t_\t_\t_\t_\tSpacesAfter=\\s\\s\n" in conllu
    assert "2\t!\t_\tX\t_\t_\t_\t_\t_\tSpacesAfter=\\n\\n\n\n# newpar\n# sent_id = 3\n# text = Next one\n" in conllu
    path = write(tmp_path, conllu, "out.conllu")
    assert rebuild_text(path) == text
    sentences = list(read_conllu(path))
    assert [s.words for s in sentences] == [["I", "do", "n't", "know", "."], ["Fine", "!"], ["Next", "one"]]


def test_spacy_rules_give_the_text_back_too(tmp_path):
    text = "Hello world.  It's here!\nA second\tline.\n"
    buf = io.StringIO()
    for n, sentence in enumerate(read_text(io.StringIO(text), RuleSegmenter(), "in"), 1):
        write_conllu(sentence, buf, sent_id=str(n))
    assert rebuild_text(write(tmp_path, buf.getvalue(), "o.conllu")) == text


@pytest.mark.slow
def test_a_segmenter_learns_the_sample_treebank_saves_and_loads(tmp_path):
    scores = train_segmenter(SAMPLE / "train.conllu", SAMPLE / "dev.conllu", tmp_path / "m",
                             SegmenterConfig(epochs=8, batch_size=16, lr=0.005), lang="en", log=lambda m: None)
    assert scores["tokens"] > 95 and scores["sentences"] > 80, scores
    seg = load_segmenter(tmp_path / "m")
    assert seg.lang == "en" and seg.meta["dev_scores"] == scores
    dev = list(read_conllu(SAMPLE / "dev.conllu"))
    assert score_segmentation(seg, dev) == pytest.approx({k: scores[k] for k in ("tokens", "words", "sentences")})


def test_tables_only_learns_the_tables_again_and_keeps_the_network(tmp_path):
    from typer.testing import CliRunner

    from jmt.cli import app

    seg = untrained()
    seg.meta = {"sizes": {"channels": 8, "dilations": [1, 2]}, "lang": "en", "dev_scores": {"epoch": 7}}
    seg.save(tmp_path / "m")  # saved before the tables: no token_splits
    weights = (tmp_path / "m" / "segmenter.safetensors").read_bytes()
    row = "{}\t{}\t_\t_\t_\t_\t0\troot\t_\t{}\n"
    train = write(tmp_path, TREEBANK + "\n# text = a/b\n" + row.format(1, "a", "SpaceAfter=No")
                  + row.format(2, "/", "SpaceAfter=No") + row.format(3, "b", "_") + "\n")
    result = CliRunner().invoke(app, ["train-segmenter", str(tmp_path / "m"), "--train", str(train), "--dev", str(train),
                                      "--tables-only"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "segmenter.safetensors").read_bytes() == weights
    meta = json.loads((tmp_path / "m" / "segmenter.json").read_text(encoding="utf-8"))
    assert meta["token_splits"] == {"/b": [1], "a/": [1], "a/b": [1, 2]} and meta["splits"]["don't"] == ["do", "n't"]
    assert meta["dev_scores"]["epoch"] == 7 and "words" in meta["dev_scores"]
    assert load_segmenter(tmp_path / "m").token_splits["a/b"] == [1, 2]


def test_a_damaged_segmenter_is_one_error_naming_the_file(tmp_path):
    from jmt.config import ConfigError

    seg = untrained()
    seg.meta = {"sizes": {"channels": 8, "dilations": [1, 2]}}
    seg.save(tmp_path)
    assert load_segmenter(tmp_path).segment("ab. cd")
    (tmp_path / "segmenter.safetensors").write_bytes(b"junk")
    with pytest.raises(ConfigError, match="segmenter.safetensors"):
        load_segmenter(tmp_path)
    meta = json.loads((tmp_path / "segmenter.json").read_text(encoding="utf-8"))
    (tmp_path / "segmenter.json").write_text(json.dumps({**meta, "format_version": 1}), encoding="utf-8")
    with pytest.raises(ConfigError, match="segmenter.json: a segmenter of an older jmt .*jmt train-segmenter"):
        load_segmenter(tmp_path)
    (tmp_path / "segmenter.json").write_text(json.dumps({**meta, "format_version": 9}), encoding="utf-8")
    with pytest.raises(ConfigError, match="format version 9, this jmt reads 2; .*newer jmt: upgrade jmt"):
        load_segmenter(tmp_path)
    (tmp_path / "segmenter.json").unlink()  # half a segmenter is an error, not raw text split by other rules
    with pytest.raises(ConfigError, match="segmenter.json: missing beside segmenter.safetensors"):
        has_segmenter(tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED / "ud_english_ewt").is_dir(), reason="needs ../shared/corpora")
def test_the_raw_text_of_ewt_test_comes_back_exactly(tmp_path):
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    from eval_raw import gold_text

    gold = SHARED / "ud_english_ewt" / "en_ewt-ud-test.conllu"
    text = gold_text(gold)
    buf = io.StringIO()
    for n, sentence in enumerate(read_text(io.StringIO(text), untrained(), "ewt"), 1):
        write_conllu(sentence, buf, sent_id=str(n))
    assert rebuild_text(write(tmp_path, buf.getvalue(), "o.conllu")) == text
