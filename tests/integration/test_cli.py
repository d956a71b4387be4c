"""The seedance-nb command line: simulate, demo, log, resume."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from seedance_nb.tasklog._ledger import Ledger


def run(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CRUN_API_KEY", "CRUN_BASE_URL")}
    env["SEEDANCE_NB_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "seedance_nb.cli", *args], capture_output=True, text=True,
                          env=env, timeout=timeout, check=False, cwd=home.parent)


def test_demo_generates_a_matching_video_and_log_and_resume_read_it(tmp_path: Path) -> None:
    home = tmp_path / "runs"
    demo = run("demo", "--latency", "0.2", home=home)
    assert demo.returncode == 0, demo.stderr[-2000:]
    assert demo.stdout.count("ok ") == 4 and "BAD" not in demo.stdout
    video = next(line.split("video: ", 1)[1] for line in demo.stdout.splitlines() if line.startswith("video: "))
    assert Path(video).is_file() and Path(video).parent == home / "media"
    listing = run("log", home=home)
    assert listing.returncode == 0 and "success" in listing.stdout and "drifts across" in listing.stdout
    resumed = run("resume", home=home)
    assert resumed.returncode == 0 and "nothing to resume" in resumed.stdout


def test_log_on_an_empty_home(tmp_path: Path) -> None:
    out = run("log", home=tmp_path / "runs")
    assert out.returncode == 0 and "empty" in out.stdout


def test_resume_without_a_key_says_how_to_set_one(tmp_path: Path) -> None:
    import seedance_nb as sn

    log = sn.TaskLog(tmp_path / "runs" / "tasks.sqlite")
    ledger = Ledger(log)
    ledger.mark_pending(ledger.begin({"model": "m", "input": {"prompt": "x"}}, "h"), "task-1")
    out = run("resume", home=tmp_path / "runs")
    assert out.returncode == 2 and "CRUN_API_KEY" in out.stderr and "Traceback" not in out.stderr


def test_simulate_serves_in_the_foreground_with_a_banner(tmp_path: Path, fake_key: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "CRUN_API_KEY": fake_key}
    proc = subprocess.Popen([sys.executable, "-m", "seedance_nb.cli", "simulate", "--port", str(port), "--latency",
                             "0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        base = f"http://127.0.0.1:{port}/api/v1"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(f"{base}/client/account/balance", headers={"x-api-key": fake_key})
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline and proc.poll() is None
                time.sleep(0.1)
        assert answer.json()["code"] == 200
    finally:
        proc.terminate()
        banner, _ = proc.communicate(timeout=20)
    assert base in banner and "CRUN_BASE_URL" in banner and fake_key not in banner


@pytest.mark.parametrize("args", [["simulate", "--faults", "nope:500=2"], ["frobnicate"]])
def test_bad_arguments_fail_clearly(tmp_path: Path, args: list[str]) -> None:
    out = run(*args, home=tmp_path / "runs", timeout=30)
    assert out.returncode != 0 and "Traceback" not in out.stderr


def test_unknown_submissions_are_listed_loudly(tmp_path: Path) -> None:
    import seedance_nb as sn

    log = sn.TaskLog(tmp_path / "runs" / "tasks.sqlite")
    local_id = Ledger(log).begin({"model": "m", "input": {"prompt": "x"}}, "h")
    Ledger(log).mark_unknown(local_id, "no answer")
    for command in ("log", "resume"):
        out = run(command, home=tmp_path / "runs")
        assert out.returncode == 0, out.stderr
        assert "WARNING" in out.stderr and local_id in out.stderr and "resubmit" in out.stderr
