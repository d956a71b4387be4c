"""The notebooks keep the expected output of every checked cell, and nothing else.

nbval passes a ``# NBVAL_CHECK_OUTPUT`` cell whose stored output is empty, so a notebook saved unexecuted
would check nothing while ``make test`` stays green; this test makes that a failure.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[2] / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_checked_cells_keep_their_outputs(path: Path) -> None:
    cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c["cell_type"] == "code"]
    checked = [c for c in cells if "# NBVAL_CHECK_OUTPUT" in "".join(c["source"])]
    assert checked, "no checked cell"
    assert all(c["outputs"] and c["execution_count"] for c in checked), "a checked cell has no stored output"
    assert not any(c["outputs"] for c in cells if c not in checked), "an unchecked cell keeps outputs"
    counts = [c["execution_count"] for c in checked]
    assert counts == sorted(counts)
    assert path.stat().st_size < 30_000  # no embedded videos or widget state


def test_there_are_the_five_notebooks() -> None:
    assert [p.stem for p in NOTEBOOKS] == ["01-quickstart", "02-parameter-sweep", "03-compare-prompts",
                                           "04-assets-and-local-files", "05-research-report"]
