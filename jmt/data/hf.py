"""Reader for Hugging Face ``datasets``: hub names and local datasets, as JMT examples.

Integer label columns are decoded with the dataset's own ``ClassLabel`` names, since hub
datasets number their labels in their own order.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .pairs import NO_GOLD, PairReadStats, parse_label, parse_score, sentence_tokens
from .types import DataError, Pair, Sentence

# example field -> dataset column names tried in order (the first present one is used): the
# words and a pair's parts here, each task's own fields from its hf_columns (jmt.tasks)
TOKEN_COLUMNS = {"words": ("tokens", "words")}
PAIR_COLUMNS = {
    "premise": ("sentence_A", "premise", "sentence1"),
    "hypothesis": ("sentence_B", "hypothesis", "sentence2"),
    "pair_id": ("pair_ID", "pairID", "id", "idx"),
}
DATA_FILE_BUILDERS = {".parquet": "parquet", ".json": "json", ".jsonl": "json", ".csv": "csv"}
BLANK = (None, "_", "None", "")  # UD multiword ranges carry these as head


def known_columns(kind: str) -> dict[str, tuple[str, ...]]:
    """Every example field of a ``kind`` of task ("token", "pair") and its column names."""
    from ..tasks import TASKS

    known = dict(TOKEN_COLUMNS if kind == "token" else PAIR_COLUMNS)
    for task in TASKS.values():
        if task.kind == kind:
            known.update(task.hf_columns)
    return known


def read_hf(
    name_or_path: str,
    *,
    task: str,
    split: str = "train",
    config: str | None = None,
    columns: dict[str, str] | None = None,
    stats: PairReadStats | None = None,
) -> Iterator[Sentence | Pair]:
    """Stream a Hugging Face dataset as :class:`Sentence` (token tasks) or :class:`Pair`.

    ``name_or_path`` is a hub name (needs the network), a directory saved with
    ``save_to_disk`` or a data file (.parquet/.json/.jsonl/.csv). ``columns`` maps an
    example field (words, upos, xpos, chunks, heads, deprels, premise, hypothesis,
    relatedness, entailment, pair_id) to a dataset column, overriding the known names.
    For a task that skips pairs without a gold label (``Task.skips_no_gold``: entailment),
    pairs whose label is -1 or missing are skipped and counted in ``stats.skipped``.
    """
    from .corpus import task_kind

    tokens = task_kind(task) == "token"
    dataset = _load(name_or_path, split, config)
    known = known_columns("token" if tokens else "pair")
    mapping = _mapping(dataset.column_names, known, columns or {})
    where = f"{name_or_path}[{split}]"
    decoders = {field: _decoder(dataset.features[col]) for field, col in mapping.items()}
    if tokens:
        if "words" not in mapping:
            raise DataError(where, None, f"expected a tokens column, found {dataset.column_names}")
        for i, row in enumerate(dataset, start=1):
            yield _sentence(where, i, {field: decoders[field](row[col]) for field, col in mapping.items()})
    else:
        if "premise" not in mapping or "hypothesis" not in mapping:
            raise DataError(where, None, f"expected premise and hypothesis columns, found {dataset.column_names}")
        from ..tasks import TASKS

        stats = stats if stats is not None else PairReadStats()
        spec = TASKS.get(task)
        for i, row in enumerate(dataset, start=1):
            values = {field: decoders[field](row[col]) for field, col in mapping.items()}
            if spec is not None and spec.skips_no_gold and values.get(spec.field) in NO_GOLD:
                stats.skipped += 1
                continue
            stats.read += 1
            yield _pair(where, i, values)


@contextmanager
def unreadable_as_data_error(name_or_path: str) -> Iterator[None]:
    """A local file or folder that the datasets library cannot read is one DataError naming
    it, with the library's first line, instead of its traceback."""
    from datasets.exceptions import DatasetGenerationError

    try:
        yield
    except DataError:
        raise
    except (DatasetGenerationError, ValueError, TypeError, KeyError) as err:
        cause = err.__cause__ or err
        detail = next((line.strip() for line in str(cause).splitlines() if line.strip()), type(cause).__name__)
        raise DataError(name_or_path, None, f"not readable as a dataset ({detail[:200]})") from None


def _load(name_or_path: str, split: str, config: str | None):
    import datasets

    path = Path(name_or_path)
    if path.is_dir() and any((path / f).exists() for f in ("dataset_dict.json", "state.json")):
        dataset = datasets.load_from_disk(str(path))
        if isinstance(dataset, datasets.DatasetDict):
            if split not in dataset:
                raise DataError(name_or_path, None, f"expected a split {split!r}, found {list(dataset)}")
            dataset = dataset[split]
        return dataset
    if path.is_file():
        builder = DATA_FILE_BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise DataError(name_or_path, None, f"expected a data file ending in {', '.join(DATA_FILE_BUILDERS)}")
        with unreadable_as_data_error(name_or_path):
            return datasets.load_dataset(builder, data_files={split: str(path)}, split=split)
    if path.is_dir() or path.is_absolute() or name_or_path.startswith("."):
        if not path.exists():
            raise DataError(name_or_path, None, "file not found")
        with unreadable_as_data_error(name_or_path):
            return datasets.load_dataset(str(path), config, split=split)  # a folder of data files
    return datasets.load_dataset(name_or_path, config, split=split)  # hub name


def _mapping(present: list[str], known: dict[str, tuple[str, ...]], override: dict[str, str]) -> dict[str, str]:
    unknown = set(override) - set(known)
    if unknown:
        raise ValueError(f"columns: unknown fields {sorted(unknown)}, expected among {list(known)}")
    mapping = {}
    for field, names in known.items():
        if field in override:
            if override[field] not in present:
                raise ValueError(f"columns: {field} -> {override[field]!r} is not a column of {present}")
            mapping[field] = override[field]
        else:
            found = next((name for name in names if name in present), None)
            if found is not None:
                mapping[field] = found
    return mapping


def _decoder(feature: Any):
    """A function turning a column value into strings via ClassLabel names, if it has them."""
    import datasets

    def label(names: datasets.ClassLabel, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return None if value < 0 else names.int2str(value)
        return value

    if isinstance(feature, datasets.ClassLabel):
        return lambda value: label(feature, value)
    inner = getattr(feature, "feature", None)
    if isinstance(inner, datasets.ClassLabel):
        return lambda values: None if values is None else [label(inner, v) for v in values]
    return lambda value: value


def _sentence(where: str, i: int, values: dict[str, Any]) -> Sentence:
    n = len(values["words"])
    for field, tags in values.items():
        if tags is not None and len(tags) != n:
            raise DataError(where, i, f"expected {n} values in {field} like the tokens, got {len(tags)}")
    heads = values.get("heads")
    if heads is not None:
        keep = [j for j, head in enumerate(heads) if head not in BLANK]
        if not keep:
            values["heads"] = None
        elif len(keep) < n:  # drop UD multiword-range rows
            values = {field: None if tags is None else [tags[j] for j in keep] for field, tags in values.items()}
    for field, tags in values.items():
        if field not in ("words", "heads") and tags is not None and not all(isinstance(t, str) or t is None for t in tags):
            raise DataError(where, i, f"expected string tags or ClassLabel names in the {field} column, got {tags}")
    annotations = {field: _strings_or_none(tags) for field, tags in values.items() if field != "words"}
    sentence = Sentence(words=list(values["words"]), **annotations, source=f"{where}:{i}")
    if sentence.heads is not None:
        sentence.heads = _heads(where, i, sentence.heads)
    return sentence


def _strings_or_none(tags: list | None) -> list | None:
    """A column blank on every token is no annotation."""
    if tags is None or all(tag in BLANK for tag in tags):
        return None
    return list(tags)


def _heads(where: str, i: int, heads: list) -> list[int]:
    try:
        result = [int(head) for head in heads]
    except (TypeError, ValueError):
        raise DataError(where, i, f"expected integer heads, got {heads}") from None
    if any(not 0 <= head <= len(result) for head in result):
        raise DataError(where, i, f"expected heads between 0 and the sentence length {len(result)}, got {result}")
    return result


def _pair(where: str, i: int, values: dict[str, Any]) -> Pair:
    def text(field: str) -> Any:
        return sentence_tokens(where, i, field, values[field])

    entailment = values.get("entailment")
    if entailment is not None and not isinstance(entailment, str):
        raise DataError(where, i, f"expected a string or ClassLabel entailment label, got {entailment!r}")
    pair_id = values.get("pair_id")
    return Pair(
        premise=text("premise"),
        hypothesis=text("hypothesis"),
        relatedness=parse_score(where, i, values.get("relatedness")),
        entailment=parse_label(where, i, entailment),
        pair_id=None if pair_id is None else str(pair_id),
        source=f"{where}:{i}",
    )
