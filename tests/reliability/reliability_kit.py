"""What the reliability tests share: child processes with a bounded life, the simulator's task table, waits."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = "https://example.com/street.png"


def child_env(base_url: str, key: str, home: Path, **extra: str) -> dict[str, str]:
    """The environment of a child process: this checkout importable, the simulator, the key, the home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRUN_", "SEEDANCE_NB_"))}
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env | {"PYTHONPATH": path, "CRUN_BASE_URL": base_url, "CRUN_API_KEY": key,
                  "SEEDANCE_NB_HOME": str(home), **extra}


def spawn(code: str, args: list[str], env: Mapping[str, str], stderr: Path) -> subprocess.Popen[bytes]:
    """Start ``python -c code args``, its stderr into a file (a pipe nobody reads could block it); the caller
    waits with a timeout, or kills it."""
    with open(stderr, "wb") as err:
        return subprocess.Popen([sys.executable, "-c", code, *args], env=dict(env), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=err)


def tail(path: Path, chars: int = 3000) -> str:
    """The end of a child's stderr file, for a failure message."""
    return path.read_text(errors="replace")[-chars:] if path.exists() else ""


def wait_for(condition: Callable[[], bool], seconds: float = 30.0, what: str = "condition") -> None:
    """Wait (bounded) until ``condition()`` holds."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not reached in {seconds:g} s"
        time.sleep(0.02)


def integrity(path: Path) -> str:
    """``PRAGMA integrity_check`` of an SQLite file, read-only."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()
