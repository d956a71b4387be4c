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


def test_demo_runs_a_priced_sweep_summarizes_it_and_ends_with_its_report(tmp_path: Path) -> None:
    home = tmp_path / "runs"
    demo = run("demo", "--latency", "0.2", home=home)
    assert demo.returncode == 0, demo.stderr[-2000:]
    out = demo.stdout
    assert "8 tasks (2 prompts × 2 ratios × 2 repeats), 8 to send, estimated 92.8 credits; budget 150" in out
    assert ": 8 success, 92.8 credits" in out
    table = out.split("summary by prompt and aspect ratio:\n", 1)[1].splitlines()
    assert table[0].split()[:4] == ["prompt", "aspect_ratio", "tasks", "succeeded"]
    assert sum("drifts across" in line or "misty forest" in line for line in table[1:5]) == 4
    assert all(line.split()[-6:-4] == ["2", "2"] for line in table[1:5])  # tasks, succeeded per group
    assert out.count("  ok  task ") == 8 and "BAD" not in out
    last = out.splitlines()[-1]
    assert last.startswith("report: ")
    page = Path(last.removeprefix("report: "))
    assert page.is_absolute() and page.is_file() and page.name == "index.html"
    assert page.parent == home / "demo" / "report" and (page.parent / "manifest.json").is_file()
    assert len(list((page.parent / "media").glob("*.mp4"))) == 4  # repeats of one payload: one video each
    listing = run("log", home=home)
    assert listing.returncode == 0 and listing.stdout.count("success") == 8 and "drifts across" in listing.stdout
    resumed = run("resume", home=home)
    assert resumed.returncode == 0 and "nothing to resume" in resumed.stdout
    again = run("demo", "--latency", "0.2", home=home)  # the same sweep: continued, nothing paid again
    assert again.returncode == 0, again.stderr[-2000:]
    assert "0 to send" in again.stdout and "8 already in the log" in again.stdout
    assert again.stdout.splitlines()[-1] == last


def test_demo_check_fails_on_a_task_without_its_video(capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from seedance_nb.demo import _verify

    rows = pd.DataFrame([{"status": "failed", "aspect_ratio": "16:9", "repeat": 0, "video_path": None,
                          "error_message": "501: generation failed", "duration": 4, "audio": True}])
    assert _verify(rows) is False
    assert "BAD task 0 (16:9, repeat 0): failed, 501: generation failed — failed: archived" in capsys.readouterr().out


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
