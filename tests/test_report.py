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
