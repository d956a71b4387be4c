"""How long `import seedance_nb` takes, measured beside `import httpx` in fresh interpreters (printed).

Target: under 0.5 s. seedance_nb imports httpx itself, so the difference is what the toolkit adds.
Run: .venv/bin/python bench/bench_import.py
"""

from __future__ import annotations

import statistics
import subprocess
import sys

REPEATS = 7
TARGET_S = 0.5


def import_seconds(module: str) -> float:
    """Median wall time of importing ``module`` in a fresh interpreter (interpreter start-up excluded)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    times = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
             for _ in range(REPEATS)]
    return statistics.median(times)


def main() -> None:
    httpx_s = import_seconds("httpx")
    ours_s = import_seconds("seedance_nb")
    print(f"import httpx        {httpx_s * 1000:7.1f} ms (median of {REPEATS})")
    print(f"import seedance_nb  {ours_s * 1000:7.1f} ms (includes httpx; adds {(ours_s - httpx_s) * 1000:.1f} ms)")
    print(f"seedance_nb / httpx = {ours_s / httpx_s:.2f}x; seedance_nb / target {TARGET_S} s = {ours_s / TARGET_S:.2f}"
          f" -> {'OK' if ours_s < TARGET_S else 'OVER TARGET'}")


if __name__ == "__main__":
    main()
