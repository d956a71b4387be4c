"""The notebooks are stored clean, and each checks what it shows with assertions.

nbval runs every notebook fresh (``--nbval-lax``: a cell fails when it raises). So the notebooks keep no
outputs (no stale results, no embedded videos or widget state in git), and what a cell shows is checked by
``assert`` statements in the cell itself, which run on every ``make test``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_stored_without_outputs_and_check_with_asserts(path: Path) -> None:
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    assert not any(c["outputs"] or c["execution_count"] for c in cells), "strip the outputs before committing"
    sources = ["".join(c["source"]) for c in cells]
    assert sum(source.count("assert ") for source in sources) >= 5, "a notebook checks what it shows"
    assert not any("NBVAL_CHECK_OUTPUT" in source for source in sources)  # nothing stored to compare with
    assert sources[0].lstrip().startswith("# parameters")  # the papermill convention


def test_there_are_the_five_notebooks() -> None:
    assert [p.stem for p in NOTEBOOKS] == ["01-quickstart", "02-parameter-sweep", "03-compare-prompts",
                                           "04-assets-and-local-files", "05-research-report"]
