"""One entry point for every corpus format: detect the format, read, check the task's annotation."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .columns import read_columns
from .conllu import read_conllu
from .pairs import PairReadStats, read_nli_jsonl, read_sick
from .types import DataError, Pair, Sentence

FORMATS = ("conllu", "columns", "sick", "nli", "hf")
HF_PREFIX = "hf:"
log = logging.getLogger("jmt")
DP_COLUMNS = {"words": 0, "xpos": 1, "heads": 2}  # column files whose third field is a head (PTB .dp)


def detect_format(path: str | Path) -> str:
    """Recognise a corpus format: one of ``FORMATS``.

    ``hf:NAME`` (hub name or local dataset), a directory or a ``.parquet`` file -> hf;
    ``.conllu`` or a first data line with 10 tab-separated columns -> conllu;
    ``.jsonl``/``.json`` -> nli; a header line naming ``sentence_A`` -> sick; else columns.
    """
    text = str(path)
    if text.startswith(HF_PREFIX):
        return "hf"
    path = Path(path)
    if not path.exists():
        raise DataError(text, None, "file not found")
    suffix = path.suffix.lower()
    if path.is_dir():
        check_dataset_folder(path)
        return "hf"
    if suffix == ".parquet":
        return "hf"
    if suffix == ".conllu":
        return "conllu"
    if suffix in (".jsonl", ".json"):
        return "nli"
    with open(path, encoding="utf-8-sig") as lines:
        first = next((line for line in lines if line.strip()), "")
        if "sentence_A" in first:
            return "sick"
        # CoNLL-U comments come before the first word row
        data = first if not first.startswith("#") else next((line for line in lines if line.strip() and not line.startswith("#")), "")
    return "conllu" if len(data.rstrip("\r\n").split("\t")) == 10 else "columns"


HF_FOLDER_FILES = ("dataset_info.json", "state.json", "dataset_dict.json")  # what save_to_disk writes
HF_DATA_SUFFIXES = (".parquet", ".arrow", ".csv", ".json", ".jsonl")  # data files load_dataset reads from a folder


def check_dataset_folder(path: Path) -> None:
    """A folder is read as a Hugging Face dataset: one that ``save_to_disk`` wrote, or data
    files ``load_dataset`` reads. Any other folder (a treebank's, say) is a DataError that
    names a corpus file in it, rather than the datasets library's own message."""
    if (path / "model.safetensors").is_file():
        raise DataError(str(path), None, "a jmt model directory, not a corpus; give a corpus file")
    files = [p for p in path.rglob("*") if p.is_file()]
    if any(p.name in HF_FOLDER_FILES or p.suffix.lower() in HF_DATA_SUFFIXES for p in files):
        return
    corpora = sorted((p for p in files if p.suffix.lower() in (".conllu", ".txt", ".tsv")
                      and not p.name.upper().startswith(("LICENSE", "README"))),
                     key=lambda p: (p.suffix.lower() != ".conllu", str(p)))
    hint = f"; give a corpus file, e.g. {corpora[0]}" if corpora else "; give a corpus file"
    raise DataError(str(path), None, "a folder with no Hugging Face dataset in it (save_to_disk output, or "
                                     f"{', '.join(HF_DATA_SUFFIXES)} files){hint}")


def third_field_is_head(path: str | Path) -> bool:
    """Whether a column file's first token line reads ``word POS HEAD`` (a number), as the
    PTB ``.dp`` files do; CoNLL-2000's third field is a chunk tag."""
    with open(path, encoding="utf-8-sig") as lines:
        for line in lines:
            fields = line.split("\t") if "\t" in line else line.split()
            if fields and fields[0].strip() != "-DOCSTART-":
                return len(fields) >= 3 and fields[2].strip().isdigit()
    return False


def task_kind(task: str) -> str:
    """``"token"`` or ``"pair"``: what kind of examples ``task`` learns from."""
    from ..tasks import TASKS  # the task files import this package

    if task not in TASKS:
        raise ValueError(f"task: expected one of {', '.join(TASKS)}, got {task!r}")
    return TASKS[task].kind


def task_field(task: str) -> str:
    """The example field ``task`` learns from (``heads`` for dep)."""
    from ..tasks import TASKS

    task_kind(task)
    return TASKS[task].field


def read_corpus(path: str | Path, task: str, **options) -> list[Sentence] | list[Pair]:
    """Read a whole corpus for ``task`` and check that every example carries its annotation.

    ``options`` go to the format's reader (``columns=`` for column files; ``split=``,
    ``config=``, ``columns=`` for hf; ``stats=`` for nli and hf).
    Raises :class:`DataError` naming the file for a missing file, an empty corpus, a format
    that does not fit the task, or examples lacking the task's annotation.
    """
    task_kind(task)
    text = str(path)
    with utf8_errors(path):
        examples = _read(path, text, task, options)
    if not examples:
        raise DataError(text, None, "expected at least one example, the corpus is empty")
    require_annotation(examples, task, text)
    return examples


@contextmanager
def utf8_errors(path) -> Iterator[None]:
    """Turn a UnicodeDecodeError while reading ``path`` into a DataError with its line."""
    try:
        yield
    except UnicodeDecodeError as err:
        line = line_of_byte(path, err) if path is not None else None
        raise DataError(str(path or "<stdin>"), line, f"expected UTF-8 text ({err.reason})") from None


def line_of_byte(path, err: UnicodeDecodeError) -> int | None:
    """The line of the first byte that is not UTF-8 (decoding errors only give a position)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as whole:
        return data.count(b"\n", 0, whole.start) + 1
    return None


def check_trees(examples: list[Sentence], path: str) -> None:
    """Gold trees trained on must be trees: one word attached to the root, no cycles."""
    for sent in examples:
        heads = sent.heads or []
        roots = [i + 1 for i, h in enumerate(heads) if h == 0]
        if len(roots) != 1:
            raise DataError(path, _line(sent), f"expected one word attached to the root, got {len(roots)}"
                            + (f" (words {', '.join(map(str, roots))})" if roots else ""))
        for start in range(1, len(heads) + 1):
            seen, node = [], start
            while node != 0 and node not in seen:
                seen.append(node)
                node = heads[node - 1]
            if node != 0:
                cycle = seen[seen.index(node):]
                raise DataError(path, _line(sent), "the gold heads form a cycle: "
                                + " -> ".join(map(str, cycle + [node])))


def _line(sent: Sentence) -> int | None:
    where = (sent.source or "").rpartition(":")[2]
    return int(where) if where.isdigit() else None


def parse_hf_spec(spec: str) -> dict[str, str]:
    """``NAME[:CONFIG][@SPLIT]`` (after the ``hf:`` prefix) -> read_hf arguments."""
    rest, _, split = spec.partition("@")
    name, _, config = rest.partition(":") if not Path(rest).exists() else (rest, "", "")
    out = {"name_or_path": name, "split": split or "train"}
    if config:
        out["config"] = config
    return out


def _read(path, text: str, task: str, options: dict) -> list:
    fmt = detect_format(path)
    if fmt == "hf":
        from .hf import read_hf  # imports `datasets` only when needed

        stats = options.setdefault("stats", PairReadStats())
        spec = parse_hf_spec(text.removeprefix(HF_PREFIX)) if text.startswith(HF_PREFIX) else {"name_or_path": text}
        examples = list(read_hf(**spec, task=task, **options))
    else:
        pair_format = fmt in ("sick", "nli")
        if pair_format != (task_kind(task) == "pair"):
            kinds = ("sentence pairs", "tagged sentences")
            kind, wanted = kinds if pair_format else kinds[::-1]
            raise DataError(text, None, f"task {task!r} reads {wanted}, and this file holds {kind} ({fmt} format)")
        if fmt == "columns" and (task_field(task) == "heads" or third_field_is_head(path)):
            options.setdefault("columns", DP_COLUMNS)
        if fmt == "nli":
            stats = options.setdefault("stats", PairReadStats())
        reader = {"conllu": read_conllu, "columns": read_columns, "sick": read_sick, "nli": read_nli_jsonl}[fmt]
        examples = list(reader(path, **options))
    if fmt in ("nli", "hf") and stats.skipped:
        log.warning("%s: skipped %d items without a gold label", text, stats.skipped)
    return examples


def require_annotation(examples: list[Sentence] | list[Pair], task: str, path: str) -> None:
    """Raise DataError unless every example carries the annotation ``task`` learns from."""
    field = task_field(task)
    if (task_kind(task) == "pair") != isinstance(examples[0], Pair):
        raise DataError(path, None, f"task {task!r} cannot use this corpus: wrong kind of examples")
    for example in examples:
        if getattr(example, field) is None:
            raise DataError(path, None, f"task {task!r} needs {field} annotation, which {example.source} lacks")
    if field == "feats" and all(value == "_" for example in examples for value in example.feats):
        # "_" is a word without features; a file with none anywhere has no FEATS annotation
        raise DataError(path, None, f"task {task!r} needs FEATS annotation; the column is _ in every word")
