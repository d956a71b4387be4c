"""Names a package exports but loads on first use, so that importing it stays fast (PEP 562).

Example:
    >>> getattr_, dir_ = lazy_names("seedance_nb", {"TaskLog": "tasklog"})   # what seedance_nb/__init__ does
    >>> getattr_("TaskLog").__module__, "TaskLog" in dir_()
    ('seedance_nb.tasklog._log', True)
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_names"]


def lazy_names(package: str, table: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """A module ``__getattr__`` and ``__dir__`` for ``package``: ``table`` maps a name to its submodule.

    The first access imports the submodule and keeps the value in the package, so later ones cost nothing.
    """

    def __getattr__(name: str) -> Any:
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
