"""Every name on the public surface shows how it is used: a docstring example that really runs.

The examples themselves run as doctests (``pytest --doctest-modules seedance_nb``); this test makes sure
there is one to run for each public function and class and each public method of those classes, so a name
added to ``sn.__all__`` without an example fails here.
"""

from __future__ import annotations

import doctest
import inspect
from collections.abc import Iterator
from typing import Any

import seedance_nb as sn
import seedance_nb.errors

_PARSER = doctest.DocTestParser()


def _public_methods(cls: type) -> Iterator[tuple[str, Any]]:
    """Public methods a class defines or inherits from the package: functions, class and static methods.

    Properties and dunder methods are not methods a user calls by name; dataclass-generated and ``object``
    methods are not ours to document.
    """
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        owner = next((k for k in cls.__mro__ if name in vars(k)), None)
        if owner is None or not owner.__module__.startswith("seedance_nb"):
            continue
        attr = vars(owner)[name]
        if isinstance(attr, (classmethod, staticmethod)):
            attr = attr.__func__
        if inspect.isfunction(attr):
            yield f"{cls.__name__}.{name}", attr


def documented_objects() -> list[tuple[str, Any]]:
    """(qualified name, object) of every public function and class of ``sn`` and their public methods.

    Exception and warning classes are left out: the exception tree has its one example in ``errors.py``.
    """
    found: list[tuple[str, Any]] = []
    for name in sn.__all__:
        obj = getattr(sn, name)
        if inspect.isclass(obj):
            if issubclass(obj, BaseException):
                continue
            found.append((name, obj))
            found.extend(_public_methods(obj))
        elif inspect.isfunction(obj):
            found.append((name, obj))
    return found


def example_problem(obj: Any) -> str | None:
    """Why ``obj``'s docstring fails the rule, or ``None`` when it has an example that is not skipped."""
    doc = inspect.getdoc(obj) if not inspect.isclass(obj) else obj.__doc__
    if not doc or ">>>" not in doc:
        return "no >>> example"
    examples = _PARSER.get_examples(doc)
    if all(example.options.get(doctest.SKIP, False) for example in examples):
        return "every example is # doctest: +SKIP"
    return None


def test_the_walk_finds_the_public_surface() -> None:
    names = {name for name, _ in documented_objects()}
    assert {"generate", "generate_sync", "use_simulator", "TaskLog", "TaskLog.df", "Client.create_task",
            "R2VRequest.from_fields", "TaskInfo.from_data"} <= names
    assert not names & {"SeedanceError", "ValidationError", "ExtraFieldsWarning", "MODEL_PROFILES"}
    assert not any(name.endswith((".is_final", ".references", ".video_url")) for name in names)  # properties


def test_every_public_function_class_and_method_has_a_runnable_example() -> None:
    offenders = [f"{name}: {problem}" for name, obj in documented_objects()
                 if (problem := example_problem(obj)) is not None]
    assert not offenders, "public names without a runnable docstring example:\n  " + "\n  ".join(offenders)


def test_the_exception_tree_has_its_example() -> None:
    assert example_problem(seedance_nb.errors) is None


def test_the_check_catches_a_missing_or_skipped_example() -> None:
    def bare() -> None:
        """No example here."""

    def skipped() -> None:
        """Skipped.

        Example:
            >>> bare()  # doctest: +SKIP
        """

    def runnable() -> None:
        """Runs.

        Example:
            >>> 1 + 1
            2
        """

    assert example_problem(bare) == "no >>> example"
    assert example_problem(skipped) == "every example is # doctest: +SKIP"
    assert example_problem(runnable) is None

