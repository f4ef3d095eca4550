"""What the benchmark and results scripts share: the CPU model they name beside their
numbers, writing a results file without losing the notes written into it by hand, and the
command line of the chunking analyses."""
from __future__ import annotations

import argparse
import platform
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# A section under one of these headings, at the end of a results file, is written by hand.
NOTE_HEADINGS = ("## Reading", "## Notes")


def cpu_name() -> str:
    """The first "model name" of /proc/cpuinfo, else what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(detail: str = "") -> str:
    """Cores, CPU model, an optional detail (such as torch's thread count) and the OS."""
    import os

    return ", ".join(part for part in (f"{os.cpu_count()} cores", cpu_name(), detail, platform.system()) if part)


def write_with_notes(path: Path, text: str) -> None:
    """Write a generated results file; the old file's hand-written notes (from its first
    ``## Reading`` or ``## Notes`` heading to the end) follow the new text."""
    old = path.read_text(encoding="utf-8").splitlines(keepends=True) if path.is_file() else []
    start = next((i for i, line in enumerate(old) if line.startswith(NOTE_HEADINGS)), len(old))
    notes = "".join(old[start:])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip() + "\n" + ("\n" + notes if notes else ""), encoding="utf-8")


def write_section(path: Path, heading: str, text: str, title: str) -> None:
    """Put one run's text into a file of runs as the section ``## heading`` (its own headings
    one level down), replacing a section of that heading or else appended; a new file gets
    ``# title``. One file keeps every seed of a recipe instead of a file per seed."""
    body = "\n".join("#" + line if line.startswith("## ") else line for line in text.strip().splitlines())
    section = f"## {heading}\n\n{body}\n"
    old = path.read_text(encoding="utf-8") if path.is_file() else f"# {title}\n"
    parts = old.split("\n## ")
    head, sections = parts[0], ["## " + part for part in parts[1:]]
    for i, existing in enumerate(sections):
        if existing.split("\n", 1)[0] == f"## {heading}":
            sections[i] = section
            break
    else:
        sections.append(section)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head.rstrip() + "\n\n" + "\n".join(s.rstrip() + "\n" for s in sections), encoding="utf-8")


def chunk_analysis_args(doc: str, min_models: int = 1) -> tuple[argparse.Namespace, dict[str, list]]:
    """The command line of a chunking analysis (MODEL_DIR ... [--shared DIR]) and the
    sentences it scores: the recipe's hold-out of CoNLL-2000 train, and CoNLL-2000 test.
    The calling script has put the repository on ``sys.path``."""
    from jmt.config import TrainConfig
    from jmt.data.corpus import read_corpus
    from jmt.train import holdout_split

    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("models", nargs="+", type=Path)
    ap.add_argument("--shared", type=Path, default=REPO.parent / "shared")
    args = ap.parse_args()
    if len(args.models) < min_models:
        ap.error(f"give {min_models} or more model directories")
    conll = args.shared / "corpora" / "conll2000"
    train = read_corpus(str(conll / "train.txt"), "chunk")
    return args, {"dev (hold-out)": holdout_split(train, "holdout:0.1", TrainConfig().holdout_seed)[1],
                  "test": read_corpus(str(conll / "test.txt"), "chunk")}
