"""Raw text in, CoNLL-U sentences out, with every character accounted for.

A text is read in blocks (paragraphs: lines up to a blank line; or single lines) and each
block is split by a segmenter (the model's trained :class:`jmt.segment.Segmenter`, or
spaCy's English rules) into sentences of tokens. The sentences carry what CoNLL-U needs to
give the text back exactly: ``# newdoc`` and ``# newpar``, ``# text``, multiword-token
lines, and the whitespace after each token in MISC (``SpaceAfter=No`` for none,
``SpacesAfter=\\n`` and so on for anything but one space, ``SpacesBefore`` for what comes
before the first token). :func:`rebuild_text` reads it back.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from .data.conllu import FORM, ID, MISC
from .data.types import ConlluExtras, Sentence
from .segment import SPACE, Token, is_space

BLOCK_CHARS = 100_000  # a paragraph longer than this is cut at a line end (not a new paragraph)
GROUP_CHARS = 200_000  # characters of blocks segmented in one batch
ESCAPES = {" ": "\\s", "\t": "\\t", "\n": "\\n", "\r": "\\r", "|": "\\p", "\\": "\\\\"}
UNESCAPES = {"s": " ", "t": "\t", "n": "\n", "r": "\r", "p": "|", "\\": "\\"}


class RuleSegmenter:
    """spaCy's rule-based English tokenizer and sentencizer, with the segmenter's interface."""

    lang = "en"

    def __init__(self):
        import spacy

        self.nlp = spacy.blank("en")
        self.nlp.add_pipe("sentencizer")

    def segment_many(self, texts: Sequence[str], one_sentence: bool = False, adjacent: bool = False
                     ) -> list[list[list[Token]]]:
        out = []
        for text in texts:
            doc = self.nlp.make_doc(text)
            if not one_sentence:
                doc = self.nlp.get_pipe("sentencizer")(doc)
            spans = [doc[:]] if one_sentence else doc.sents
            sentences = [[piece for t in span if not t.is_space for piece in _solid_pieces(text, t.idx, t.idx + len(t.text))]
                         for span in spans]
            out.append([s for s in sentences if s])
        return out


def _solid_pieces(text: str, start: int, end: int) -> Iterator[Token]:
    """The parts of ``text[start:end]`` between whitespace and control characters."""
    begin = None
    for i in range(start, end):
        if is_space(text[i]):
            if begin is not None:
                yield Token(begin, i, [text[begin:i]])
                begin = None
        elif begin is None:
            begin = i
    if begin is not None:
        yield Token(begin, end, [text[begin:end]])


def split_blocks(lines: Iterable[str], one_per_line: bool = False) -> Iterator[tuple[str, str, int, bool]]:
    """``(before, block, line, new paragraph)`` for each block of a text read as lines with
    their line ends: ``block`` starts at a character that is not whitespace and runs to the
    next block's first such character; ``before`` is the whitespace before the first block
    (empty for the others). The blocks are paragraphs (blank lines between them), or single
    lines with ``one_per_line``; a paragraph over ``BLOCK_CHARS`` goes on in a new block."""
    before, current, size, start, blank, new_par = "", None, 0, 0, False, True
    for lineno, line in enumerate(lines, 1):
        k = 0
        while k < len(line) and is_space(line[k]):
            k += 1
        if k == len(line):  # a blank line
            if current is None:
                before += line
            else:
                current.append(line)
                blank = True
            continue
        if current is not None and (one_per_line or blank or size > BLOCK_CHARS):
            current.append(line[:k])
            yield before, "".join(current), start, new_par
            before, current, new_par = "", None, blank
        if current is None:
            if not start:
                before += line[:k]
            current, size, start, blank = [line[k:]], len(line) - k, lineno, False
        else:
            current.append(line)
            size += len(line)
    if current is not None:
        yield before, "".join(current), start, new_par


def read_text(lines: Iterable[str], segmenter, source: str, one_per_line: bool = False) -> Iterator[Sentence]:
    """Sentences of a raw text (one document), each ready to be written as CoNLL-U."""
    group: list[tuple[str, str, int, bool]] = []
    size = 0
    first = True
    for block in split_blocks(lines, one_per_line):
        if size >= GROUP_CHARS:
            yield from _sentences(group, segmenter, source, one_per_line, first, last=False)
            group, size, first = [], 0, False
        group.append(block)
        size += len(block[1])
    if group:
        yield from _sentences(group, segmenter, source, one_per_line, first, last=True)


def _sentences(group, segmenter, source: str, one_per_line: bool, first: bool, last: bool) -> Iterator[Sentence]:
    """The sentences of a group of blocks; ``first``/``last``: the group starts/ends the document."""
    segmented = segmenter.segment_many([block for _, block, _, _ in group], one_sentence=one_per_line, adjacent=True)
    for b, ((before, block, line, new_par), sentences) in enumerate(zip(group, segmented)):
        tokens = [t for s in sentences for t in s]
        # the whitespace after each token, as MISC says it: one space is the default, none at the document's end
        spacing = [_spacing(block[t.end : nxt.start]) for t, nxt in zip(tokens, tokens[1:])]
        if tokens:
            spacing.append(_spacing(block[tokens[-1].end :], last and b == len(group) - 1))
        k, lineno, seen = 0, line, 0
        for s, sentence in enumerate(sentences):
            lineno += block.count("\n", seen, sentence[0].start)
            seen = sentence[0].start
            comments = []
            if first and s == 0:
                comments.append("# newdoc")
            elif new_par and s == 0 and not one_per_line:
                comments.append("# newpar")
            comments.append(f"# text = {one_line(block[sentence[0].start : sentence[-1].end])}")
            extras = ConlluExtras(comments=comments)
            rows = extras.rows
            for t in sentence:
                misc = spacing[k]
                k += 1
                if first and s == 0 and not rows and before:
                    misc = _add_misc(misc, "SpacesBefore=" + escape_spaces(before))
                if len(t.words) > 1:
                    extras.before.setdefault(len(rows), []).append(
                        "\t".join([f"{len(rows) + 1}-{len(rows) + len(t.words)}", block[t.start : t.end], *["_"] * 7, misc]))
                    misc = "_"
                for word in t.words:
                    rows.append([str(len(rows) + 1), word, "_", "_", "_", "_", "_", "_", "_", misc])
            yield Sentence([row[FORM] for row in rows], source=f"{source}:{lineno}",
                           conllu=extras)
        first = False


def one_line(text: str) -> str:
    """A sentence's text as ``# text`` holds it: line breaks, tabs and control characters
    become spaces."""
    return SPACE.sub(" ", text)


def _spacing(after: str, doc_end: bool = False) -> str:
    """MISC for the whitespace after a token: one space is the default between tokens, and
    none at the end of a document."""
    if after == ("" if doc_end else " "):
        return "_"
    return "SpaceAfter=No" if not after else "SpacesAfter=" + escape_spaces(after)


def _add_misc(misc: str, item: str) -> str:
    return item if misc == "_" else f"{misc}|{item}"


def escape_spaces(spaces: str) -> str:
    """Whitespace as UD's MISC writes it: ``\\s`` a space, ``\\n``, ``\\t``, ``\\r``,
    ``\\uXXXX`` anything else."""
    return "".join(ESCAPES.get(ch) or f"\\u{ord(ch):04X}" for ch in spaces)


def unescape_spaces(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value):
            code = value[i + 1]
            if code == "u":
                out.append(chr(int(value[i + 2 : i + 6], 16)))
                i += 6
                continue
            out.append(UNESCAPES.get(code, code))
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def rebuild_text(path: str | Path) -> str:
    """The text a CoNLL-U file was made from: forms, and the whitespace that SpaceAfter,
    SpacesAfter and SpacesBefore record (one space by default, none at a document's end)."""
    docs: list[list[tuple[str, dict]]] = []
    skip_to = 0
    with open(path, encoding="utf-8", newline="") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line.startswith("# newdoc"):
                docs.append([])
            if not line or line.startswith("#"):
                continue
            if not docs:
                docs.append([])
            cols = line.split("\t")
            token_id = cols[ID]
            if "." in token_id:
                continue
            if "-" in token_id:
                skip_to = int(token_id.split("-")[1])
            elif int(token_id) <= skip_to:
                continue
            else:
                skip_to = 0
            misc = dict(item.split("=", 1) if "=" in item else (item, "") for item in cols[MISC].split("|"))
            docs[-1].append((cols[FORM], misc))
    parts = []
    for doc in docs:
        for k, (form, misc) in enumerate(doc):
            parts.append(unescape_spaces(misc.get("SpacesBefore", "")) + form)
            if "SpacesAfter" in misc:
                parts.append(unescape_spaces(misc["SpacesAfter"]))
            elif misc.get("SpaceAfter") != "No" and k < len(doc) - 1:
                parts.append(" ")
    return "".join(parts)
