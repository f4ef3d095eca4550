"""CoNLL-U reading and writing (Universal Dependencies treebanks).

A sentence is a block of lines ended by a blank line: ``#`` comments, then one row of ten
tab-separated columns per word (ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC).
Multiword ranges (``3-4``) and empty nodes (``8.1``) are not words; they are kept verbatim
in :class:`ConlluExtras` so that :func:`write_conllu` can write the sentence back unchanged.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TextIO

from .types import ConlluExtras, DataError, Sentence

N_COLUMNS = 10
ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD, DEPREL, DEPS, MISC = range(N_COLUMNS)
COLUMN_NAMES = ("ID", "FORM", "LEMMA", "UPOS", "XPOS", "FEATS", "HEAD", "DEPREL", "DEPS", "MISC")


def read_conllu(path: str | Path, on_error: Callable[[DataError], None] | None = None) -> Iterator[Sentence]:
    """Stream the sentences of a CoNLL-U file.

    An annotation column that is ``_`` on every word of a sentence becomes ``None``.
    Raises :class:`DataError` (``path:line: ...``) on malformed rows, or, with
    ``on_error``, passes it the error and goes on with the next sentence.
    """
    path = str(path)
    block: list[tuple[int, str]] = []

    def parse() -> Iterator[Sentence]:
        try:
            sentence = _parse_sentence(path, block)
        except DataError as err:
            if on_error is None:
                raise
            on_error(err)
            return
        yield sentence

    # utf-8-sig drops a BOM; universal newlines turn CRLF into LF.
    with open(path, encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, start=1):
            line = line.rstrip("\n")
            if line.strip():
                block.append((number, line))
            elif block:
                yield from parse()
                block = []
    if block:
        yield from parse()


def _parse_sentence(path: str, block: list[tuple[int, str]]) -> Sentence:
    extras = ConlluExtras()
    rows = extras.rows
    row_lines: list[int] = []
    ranges: list[tuple[int, str, int]] = []  # multiword tokens: (line, ID, last word)
    for number, line in block:
        if line.startswith("#"):
            if rows or extras.before:  # a comment among the words: keep it in place
                extras.before.setdefault(len(rows), []).append(line)
            else:
                extras.comments.append(line)
            continue
        cols = line.split("\t")
        if len(cols) != N_COLUMNS:
            raise DataError(path, number, f"expected {N_COLUMNS} tab-separated columns, got {len(cols)}")
        token_id = cols[ID]
        if "-" in token_id or "." in token_id:
            _check_special_id(path, number, token_id)
            if "-" in token_id:
                first, last = map(int, token_id.split("-"))
                if first != len(rows) + 1 or last <= first:
                    raise DataError(path, number, f"multiword range {token_id} must start at the next word "
                                                  f"({len(rows) + 1}) and span two words or more")
                ranges.append((number, token_id, last))
            extras.before.setdefault(len(rows), []).append(line)
            continue
        try:
            index = int(token_id)
        except ValueError:
            raise DataError(path, number, f"expected an integer ID, got {token_id!r}") from None
        if index != len(rows) + 1:
            raise DataError(path, number, f"IDs not consecutive: expected ID {len(rows) + 1}, got {index}")
        if not cols[FORM].strip():
            raise DataError(path, number, "expected a FORM, got an empty or whitespace-only column")
        rows.append(cols)
        row_lines.append(number)

    first_line = block[0][0]
    if not rows:
        raise DataError(path, first_line, "expected at least one word row in the sentence")
    for number, token_id, last in ranges:
        if last > len(rows):
            raise DataError(path, number,
                            f"multiword range {token_id} goes past the sentence's last word ({len(rows)})")
    return Sentence(
        words=[row[FORM] for row in rows],
        lemmas=_column(rows, LEMMA),
        upos=_column(rows, UPOS),
        xpos=_column(rows, XPOS),
        heads=_heads(path, rows, row_lines),
        deprels=_column(rows, DEPREL),
        feats=[row[FEATS] for row in rows],  # "_" is a value here: a word without features
        source=f"{path}:{first_line}",
        conllu=extras,
    )


def _check_special_id(path: str, number: int, token_id: str) -> None:
    """Multiword ranges are ``int-int``, empty nodes ``int.int``."""
    parts = token_id.split("-") if "-" in token_id else token_id.split(".")
    if len(parts) != 2 or not all(part.isdigit() for part in parts):
        raise DataError(path, number, f"expected an integer ID, a range like 3-4 or an empty node like 8.1, got {token_id!r}")


def _column(rows: list[list[str]], col: int) -> list[str] | None:
    values = [row[col] for row in rows]
    return None if all(value == "_" for value in values) else values


def _heads(path: str, rows: list[list[str]], row_lines: list[int]) -> list[int] | None:
    values = [row[HEAD] for row in rows]
    if all(value == "_" for value in values):
        return None
    heads = []
    for value, number in zip(values, row_lines):
        if value == "_":
            raise DataError(path, number, "expected an integer HEAD ('_' is allowed only if HEAD is '_' on every word)")
        try:
            head = int(value)
        except ValueError:
            raise DataError(path, number, f"expected an integer HEAD, got {value!r}") from None
        if head < 0:
            raise DataError(path, number, f"expected HEAD >= 0, got {head}")
        if head > len(rows):
            raise DataError(path, number, f"HEAD {head} is beyond the sentence length {len(rows)}")
        if head == len(heads) + 1:
            raise DataError(path, number, f"expected a HEAD other than the word's own ID {head}")
        heads.append(head)
    return heads


def write_conllu(
    sentence: Sentence,
    out: TextIO,
    columns: Mapping[int, Sequence] | None = None,
    misc: Mapping[str, Sequence[str]] | None = None,
    sent_id: str | None = None,
) -> None:
    """Write one sentence as CoNLL-U, followed by a blank line.

    ``columns`` maps a column index (``UPOS``, ``HEAD``, ...) to one predicted value per word,
    ``misc`` a MISC key to one value per word (``{"Chunk": ["B-NP", ...]}`` gives
    ``Chunk=B-NP``). Only those are replaced; comments, multiword ranges, empty nodes and
    every other column are written as read. A sentence not read from CoNLL-U gets fresh rows
    from its own annotations and ``_``, and a ``# text`` of its words joined by spaces.
    ``sent_id`` is written as ``# sent_id`` unless the sentence has one.
    """
    n = len(sentence.words)
    columns, misc = dict(columns or {}), dict(misc or {})
    for name, values in [*columns.items(), *misc.items()]:
        if len(values) != n:
            raise ValueError(f"column {name}: expected {n} values for {sentence.source or 'sentence'}, got {len(values)}")

    extras = sentence.conllu
    if extras is None:
        extras = ConlluExtras(comments=["# text = " + " ".join(sentence.words)],
                              rows=[_fresh_row(sentence, i) for i in range(n)])
    elif len(extras.rows) != n:
        raise ValueError(f"{sentence.source or 'sentence'}: {n} words but {len(extras.rows)} CoNLL-U rows")

    lines = list(extras.comments)
    if sent_id is not None and not any(line.startswith("# sent_id") for line in lines):
        at = next((k for k, line in enumerate(lines) if line.startswith("# text")), len(lines))
        lines.insert(at, f"# sent_id = {sent_id}")
    for i, row in enumerate(extras.rows):
        lines.extend(extras.before.get(i, ()))
        row = list(row)
        for col, values in columns.items():
            row[col] = str(values[i])
        for key, values in misc.items():
            row[MISC] = _set_misc(row[MISC], key, values[i])
        lines.append("\t".join(row))
    lines.extend(extras.before.get(len(extras.rows), ()))
    out.write("\n".join(lines) + "\n\n")


def _fresh_row(sentence: Sentence, i: int) -> list[str]:
    def value(annotation: list | None) -> str:
        return "_" if annotation is None else str(annotation[i])

    row = ["_"] * N_COLUMNS
    row[ID], row[FORM] = str(i + 1), sentence.words[i]
    row[LEMMA], row[UPOS], row[XPOS] = value(sentence.lemmas), value(sentence.upos), value(sentence.xpos)
    row[FEATS], row[HEAD], row[DEPREL] = value(sentence.feats), value(sentence.heads), value(sentence.deprels)
    if sentence.chunks is not None:
        row[MISC] = _set_misc(row[MISC], "Chunk", sentence.chunks[i])
    return row


def _set_misc(misc: str, key: str, value: str) -> str:
    """Set ``key=value`` in a ``|``-separated MISC field, keeping the other entries."""
    entries = [] if misc == "_" else misc.split("|")
    item = f"{key}={value}"
    for j, entry in enumerate(entries):
        if entry.split("=", 1)[0] == key:
            entries[j] = item
            break
    else:
        entries.append(item)
    return "|".join(entries)


def sentence_text(sentence: Sentence) -> str | None:
    """The ``# text`` of a sentence read from CoNLL-U or raw text, if it has one."""
    if sentence.conllu is not None:
        for line in sentence.conllu.comments:
            if line.startswith("# text ="):
                return line[len("# text =") :].strip()
    return None


def conllu_column_is_empty(path: str | Path, column: int) -> bool:
    """Whether ``column`` is ``_`` on every word row of a CoNLL-U file (a missing file is not
    empty: reading it reports that)."""
    try:
        with open(path, encoding="utf-8-sig") as lines:
            for line in lines:
                cols = line.rstrip("\n").split("\t")
                if len(cols) == N_COLUMNS and cols[ID].isdigit() and cols[column] != "_":
                    return False
    except (OSError, UnicodeDecodeError):
        return False
    return True
