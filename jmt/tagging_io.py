"""Streaming input and output for ``jmt tag`` and ``jmt pair``.

Inputs are read lazily and tagged in chunks, so memory stays bounded on large files and
output appears as chunks finish.
"""
from __future__ import annotations

import json
import sys
from itertools import chain
from pathlib import Path
from typing import Callable, Iterable, Iterator, TextIO

from .data.conllu import read_conllu, sentence_text, write_conllu
from .data.corpus import utf8_errors
from .data.types import DataError, Pair, Sentence

INPUT_FORMATS = ("auto", "raw", "tokenized", "conllu")
OUTPUT_FORMATS = ("conllu", "jsonl", "html")


def input_format_of(path: str | None, given: str) -> str:
    """The format an input is read in: ``given``, or for ``auto`` CoNLL-U where the file name
    ends in ``.conllu`` and raw text otherwise (standard input included)."""
    if given != "auto":
        return given
    return "conllu" if path is not None and str(path).endswith(".conllu") else "raw"


def read_tokenized(lines: Iterable[str], source: str) -> Iterator[Sentence]:
    """Pre-tokenized text: one sentence a line, tokens separated by whitespace."""
    for lineno, line in enumerate(lines, 1):
        words = line.split()
        if words:
            yield Sentence(words, source=f"{source}:{lineno}")


def read_input(path: str | None, stream: TextIO | None, input_format: str, one_per_line: bool,
               on_error: Callable[[DataError], None] | None = None, segmenter=None) -> Iterator[Sentence]:
    """Sentences of one input. ``on_error``: report a bad CoNLL-U sentence and go on.

    Raw text is split by ``segmenter`` (a model's :class:`jmt.segment.Segmenter`; by default
    spaCy's English rules) in paragraphs, or with ``one_per_line`` one sentence a line; its
    whitespace is kept exactly (see :mod:`jmt.rawtext`)."""
    if input_format == "conllu":
        if path is None:
            raise DataError("<stdin>", None, "CoNLL-U input must be a file: give its path")  # the reader needs a path
        with utf8_errors(path):
            yield from read_conllu(path, on_error)
        return
    source = path or "<stdin>"
    # newline="": a raw text's line ends are kept as they are, for CoNLL-U to give them back
    handle = open(path, encoding="utf-8-sig", newline="" if input_format == "raw" else None) if path is not None else stream
    try:
        with utf8_errors(path):
            if input_format == "tokenized":
                yield from read_tokenized(handle, source)
            else:
                from .rawtext import RuleSegmenter, read_text

                yield from read_text(handle, segmenter or RuleSegmenter(), source, one_per_line)
    finally:
        if path is not None:
            handle.close()


def write_sentence(out: TextIO, fmt: str, sentence: Sentence, pred: dict, sent_id: str | None = None) -> None:
    """One tagged sentence; ``sent_id`` names it in CoNLL-U where the input did not. Each task
    whose predictions ``pred`` holds writes them (``jmt.tasks.Task.conllu`` and ``json``)."""
    if fmt == "html":
        out.write(render_html(sentence, pred))
        return
    from .tasks import TASKS

    tasks = [task for task in TASKS.values() if task.kind == "token" and task.predicted(pred)]
    if fmt == "conllu":
        columns: dict[int, list] = {}
        misc: dict[str, list] = {}
        for task in tasks:
            task.conllu(pred, columns, misc)
        write_conllu(sentence, out, columns, misc, sent_id=sent_id)
        return
    record = {"tokens": sentence.words}
    text = sentence_text(sentence)
    if text is not None:
        record["text"] = text
    for task in tasks:
        task.json(pred, record)
    out.write(json.dumps(record, ensure_ascii=False) + "\n")


HTML_HEAD = ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>jmt</title></head>\n'
             '<body style="font-family: sans-serif">\n')
HTML_TAIL = "</body></html>\n"


def render_html(sentence: Sentence, pred: dict) -> str:
    """One sentence's dependency tree and chunks, drawn by displaCy, as an HTML fragment.

    A page is ``HTML_HEAD``, the fragments, ``HTML_TAIL``: written as it goes, so it streams.
    """
    from spacy import displacy

    from .tasks.tagger import iob_spans

    words = sentence.words
    from .tasks import TASKS

    # the tags of the first task at the bottom of the stack that was predicted (upos, then xpos)
    tags = next((pred[t.target] for t in TASKS.values() if t.depth == 1 and t.target in pred), [""] * len(words))
    parts = []
    if "heads" in pred:
        arcs = []
        for i, (head, rel) in enumerate(zip(pred["heads"], pred["deprels"])):
            if head == 0:
                continue
            h = head - 1
            arcs.append({"start": min(i, h), "end": max(i, h), "label": rel, "dir": "left" if i < h else "right"})
        parts.append(displacy.render({"words": [{"text": w, "tag": t} for w, t in zip(words, tags)], "arcs": arcs},
                                     style="dep", manual=True, page=False, options={"distance": 100, "compact": True}))
    if "chunks" in pred:
        spans = [{"start_token": s["start"], "end_token": s["end"], "label": s["label"]}
                 for s in iob_spans(pred["chunks"])]
        parts.append(displacy.render({"text": " ".join(words), "tokens": words, "spans": spans},
                                     style="span", manual=True, page=False))
    if not parts:
        parts.append("<p>" + " ".join(f"{w}/{t}" for w, t in zip(words, tags)) + "</p>")
    return "\n".join(parts) + "\n<hr>\n"


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of ``size`` items. Where reading the items fails, the items read before come
    out first, then the error: what was good in a bad file is tagged and written."""
    batch: list = []
    try:
        for item in items:
            batch.append(item)
            if len(batch) == size:
                yield batch
                batch = []
    except Exception as err:
        if batch:
            yield batch
        raise err
    if batch:
        yield batch


def read_pairs(path: str, stdin: TextIO | None = None) -> Iterator[Pair]:
    """Sentence pairs to score: a SICK file, NLI JSON lines (labels not needed), or a TSV whose
    lines hold premise and hypothesis as two tab-separated columns. ``-`` reads standard input
    (``stdin``, by default ``sys.stdin``), where JSON lines are known by their first line's
    ``{`` rather than by a file suffix."""
    with utf8_errors(None if path == "-" else path):
        yield from _read_pairs(path, stdin)


def _read_pairs(path: str, stdin: TextIO | None) -> Iterator[Pair]:
    if path == "-":
        yield from _pairs_from("<stdin>", stdin or sys.stdin, json_lines=None)
        return
    p = Path(path)
    if not p.is_file():
        raise DataError(path, None, "file not found")
    with open(p, encoding="utf-8-sig") as f:
        yield from _pairs_from(path, f, json_lines=p.suffix in (".jsonl", ".json"))


def _pairs_from(name: str, lines: Iterable[str], json_lines: bool | None) -> Iterator[Pair]:
    """The pairs of ``lines``: SICK if the first non-blank line is its header; otherwise JSON
    lines or TSV (``json_lines`` None: JSON if that line starts with ``{``)."""
    from .data.pairs import sick_pairs

    lines, head = iter(lines), []
    for line in lines:  # up to the first non-blank line, to tell the format
        head.append(line.lstrip("\ufeff") if not head else line)
        if head[-1].strip():
            break
    first = head[-1] if head else ""
    lines = chain(head, lines)
    if "sentence_A" in first:
        yield from sick_pairs(name, lines)
    else:
        yield from _plain_pairs(name, lines, first.lstrip().startswith("{") if json_lines is None else json_lines)


def _plain_pairs(path: str, lines: Iterable[str], json_lines: bool) -> Iterator[Pair]:
    """Pairs from JSON lines or from premise<TAB>hypothesis lines."""
    from .data.pairs import tokenize

    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        if json_lines:
            try:
                item = json.loads(line)
            except json.JSONDecodeError as err:
                raise DataError(path, lineno, f"expected a JSON object ({err.msg})") from None
            a = item.get("sentence1", item.get("premise")) if isinstance(item, dict) else None
            b = item.get("sentence2", item.get("hypothesis")) if isinstance(item, dict) else None
            if not isinstance(a, str) or not isinstance(b, str):
                raise DataError(path, lineno, "expected sentence1/sentence2 (or premise/hypothesis) strings")
        else:
            cols = line.rstrip("\r\n").split("\t")
            if len(cols) != 2:
                raise DataError(path, lineno, f"expected 2 tab-separated sentences, got {len(cols)} columns")
            a, b = cols
        premise, hypothesis = tokenize(a), tokenize(b)
        if not premise or not hypothesis:
            raise DataError(path, lineno, "expected two non-empty sentences")
        yield Pair(premise, hypothesis, source=f"{path}:{lineno}")
