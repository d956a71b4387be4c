"""The reliability suite (issue 8): fault soak, kill test, shared log, secrets. Every test here runs the real
simulator on loopback and bounds every subprocess and loop; ``reliability_kit`` holds what they share, and
``bench/soak.py`` the soak itself (the test runs it at a reduced size)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parents[1] / "bench"))
