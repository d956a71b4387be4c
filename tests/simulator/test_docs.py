"""The simulator's public names show how they are used: each has a docstring example that runs.

The examples run as doctests (``pytest --doctest-modules seedance_nb/simulator``); this test makes sure there
is one to run for each name the package exports.
"""

from __future__ import annotations

import doctest

import pytest

import seedance_nb.simulator as simulator


@pytest.mark.parametrize("name", simulator.__all__)
def test_each_public_name_has_an_example_that_is_not_skipped(name: str) -> None:
    examples = doctest.DocTestParser().get_examples(getattr(simulator, name).__doc__ or "")
    assert [e for e in examples if not e.options.get(doctest.SKIP, False)], f"{name} has no runnable example"


def test_the_public_names_are_sorted_and_all_there() -> None:
    assert simulator.__all__ == sorted(simulator.__all__) == ["FaultSpec", "Simulator", "parse_faults"]
    assert set(simulator.__all__) <= set(dir(simulator))
