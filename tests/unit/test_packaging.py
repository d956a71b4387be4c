"""The package's promises about itself: dependency lists agree, the public surface is curated and lazy."""

from __future__ import annotations

import builtins
import inspect
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import seedance_nb as sn

ROOT = Path(__file__).resolve().parents[2]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~ \[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_lists_the_same_dependencies_as_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    listed = set()
    text = (ROOT / "environment.yml").read_text().split("dependencies:", 1)[1]
    for line in text.splitlines():
        item = line.strip()
        if item.startswith("- ") and not item.startswith(("- pip", "- python", "- -e")):
            listed.add(_name(item[2:]))
    assert listed == wanted


def test_public_names_are_sorted_and_importable() -> None:
    names = [n for n in sn.__all__ if n != "__version__"]
    assert names == sorted(names, key=lambda n: (not n.isupper(), n[0].islower(), n))
    for name in sn.__all__:
        assert getattr(sn, name) is not None


def test_exceptions_form_one_tree() -> None:
    errors = [getattr(sn, n) for n in sn.__all__ if isinstance(getattr(sn, n), type)
              and issubclass(getattr(sn, n), BaseException) and not issubclass(getattr(sn, n), Warning)]
    assert errors and all(issubclass(e, sn.SeedanceError) for e in errors)
    assert issubclass(sn.GenerationTimeout, TimeoutError)
    # `builtins`, not `__builtins__`: in an imported module the latter is a dict, whose dir() names dict methods.
    assert [e.__name__ for e in errors if hasattr(builtins, e.__name__)] == []


def test_all_is_exactly_the_public_names() -> None:
    public = {n for n in dir(sn) if not n.startswith("_") and not inspect.ismodule(getattr(sn, n))}
    assert set(sn.__all__) == public | {"__version__"}
    assert len(sn.__all__) == len(set(sn.__all__))


def test_import_does_not_load_pandas_or_widgets() -> None:
    code = ("import sys, seedance_nb; "
            "print(sorted(m for m in ('pandas', 'ipywidgets', 'starlette') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
