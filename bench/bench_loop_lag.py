"""How long does `await sn.generate(...)` block the event loop? Worst lag of a 10 ms ticker, measured in one run.

A notebook's widgets, progress lines and other tasks share the kernel's one event loop: whatever
`generate()` does on the loop itself (probing, hashing, fsync'd log writes, media checks, loading modules)
freezes them. This starts an out-of-process simulator and runs `tests/loop_lag_probe.py` in a fresh process
(as a new kernel): real generations with a new local 1280x720 reference each, with the default client and
task log, while a ticker records how late it wakes.

    python bench/bench_loop_lag.py              # 5 generations
    python bench/bench_loop_lag.py --runs 10
    PYTHONPATH=/path/to/older/checkout python bench/bench_loop_lag.py   # the same figure for another version
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

PROBE = Path(__file__).resolve().parents[1] / "tests" / "loop_lag_probe.py"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_simulator(key: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "seedance_nb.cli", "simulate", "--port", str(port),
                             "--latency", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "CRUN_API_KEY": key})
    base = f"http://127.0.0.1:{port}/api/v1"
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{base}/client/account/balance", headers={"x-api-key": key}, trust_env=False)
            return proc, base
        except httpx.TransportError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("the simulator did not start") from None
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    key = "ak_" + secrets.token_hex(16)
    proc, base = start_simulator(key)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "CRUN_BASE_URL": base, "CRUN_API_KEY": key, "SEEDANCE_NB_HOME": f"{tmp}/home"}
            out = subprocess.run([sys.executable, str(PROBE), tmp, str(args.runs)], capture_output=True, text=True,
                                 env=env, check=True)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    measured = json.loads(out.stdout.strip().splitlines()[-1])
    worst = measured["worst_s"]
    for i, (lag, ticks) in enumerate(zip(worst, measured["ticks"], strict=True), 1):
        cold = "  (cold: modules, log and caches are new)" if i == 1 else ""
        print(f"run {i}: worst loop lag {lag * 1000:7.1f} ms over {ticks} ticks{cold}")
    print(f"seedance_nb {measured['version']} at {measured['package']}")
    print(f"worst loop lag over {len(worst)} generate() calls: {max(worst) * 1000:.1f} ms; median of the runs' worst "
          f"{statistics.median(worst) * 1000:.1f} ms (target: under 100 ms)")


if __name__ == "__main__":
    main()
