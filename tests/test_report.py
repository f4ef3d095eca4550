"""Results files written by the scripts keep the notes written into them by hand."""
from __future__ import annotations

import importlib.util

from conftest import REPO

_spec = importlib.util.spec_from_file_location("report", REPO / "scripts" / "report.py")
report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(report)


def test_a_rewrite_replaces_the_generated_part_and_keeps_the_notes(tmp_path):
    path = tmp_path / "results" / "bench.md"
    report.write_with_notes(path, "# Bench\n\n## Table\n\n| a | 1 |\n")
    assert path.read_text() == "# Bench\n\n## Table\n\n| a | 1 |\n"  # nothing to keep yet
    path.write_text(path.read_text() + "\n## Notes\n\nMeasured on a busy host.\n")
    report.write_with_notes(path, "# Bench\n\n## Table\n\n| a | 2 |")
    assert path.read_text() == "# Bench\n\n## Table\n\n| a | 2 |\n\n## Notes\n\nMeasured on a busy host.\n"


def test_a_run_is_a_section_of_one_file_replaced_when_its_seed_runs_again(tmp_path):
    path = tmp_path / "runs.md"
    report.write_section(path, "Seed 1", "Run one.\n\n## Test scores\n\n| a | 1 |", "Every run")
    report.write_section(path, "Seed 2", "Run two.\n\n## Test scores\n\n| a | 2 |", "Every run")
    assert path.read_text() == ("# Every run\n\n## Seed 1\n\nRun one.\n\n### Test scores\n\n| a | 1 |\n\n"
                                "## Seed 2\n\nRun two.\n\n### Test scores\n\n| a | 2 |\n")
    report.write_section(path, "Seed 1", "Run one again.", "ignored: the file has its title")
    text = path.read_text()
    assert text.startswith("# Every run\n\n## Seed 1\n\nRun one again.\n\n## Seed 2\n") and "| a | 1 |" not in text
