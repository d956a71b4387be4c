"""Several OS processes write one task log at once while another reads it; a killed writer corrupts nothing."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from seedance_nb.tasklog import TaskLog
from seedance_nb.tasklog._ledger import Ledger
from seedance_nb.tasklog._schema import DTYPES

ROOT = Path(__file__).resolve().parents[2]
PER_WRITER = 200

# Each writer runs a task's whole life per loop: begin -> pending -> success -> media (four transactions).
WRITER = """
import pathlib, sys, time
from seedance_nb.tasklog import TaskLog
from seedance_nb.tasklog._ledger import Ledger

path, name, count, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), pathlib.Path(sys.argv[4])
log = TaskLog(path)
ledger = Ledger(log)
pathlib.Path(f"{path}.ready-{name}").touch()
while not go.exists():
    time.sleep(0.002)
i = 0
while count < 0 or i < count:
    body = {"model": "bytedance/seedance2-0-mini-r2v",
            "input": {"prompt": f"{name} {i}", "reference_images": [f"https://x.org/{i % 5}.png"],
                      "resolution": "720p", "aspect_ratio": "16:9", "duration": 4 + i % 3, "audio": True,
                      "return_last_frame": False}}
    lid = ledger.begin(body, f"{name}-{i}", sweep_id=name, repeat=i)
    ledger.mark_pending(lid, f"{name}-task-{i}")
    ledger.record_status(lid, "success", credits=2.9 * (4 + i % 3), video_url=f"https://cdn/{name}/{i}.mp4")
    ledger.record_media(lid, video_path=f"/media/{name}-{i}.mp4", video_sha256=f"{name}{i:060d}", width=1280,
                        height=720, fps=24.0, video_duration_s=4.0 + i % 3, has_audio=True)
    i += 1
    time.sleep(0.002)  # paced, so the two writers overlap even when one is scheduled late
log.close()
"""


# Opens (and so creates) the log only after the go signal, so every process races to create the schema.
CREATOR = """
import pathlib, sys, time
from seedance_nb.tasklog import TaskLog
from seedance_nb.tasklog._ledger import Ledger

path, name, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
pathlib.Path(f"{path}.ready-{name}").touch()
while not go.exists():
    time.sleep(0.001)
with TaskLog(path) as log:
    for i in range(5):
        Ledger(log).begin({"model": "m", "input": {"prompt": f"{name} {i}"}}, f"{name}-{i}")
"""


def start_writer(path: Path, name: str, count: int, go: Path, script: str = WRITER) -> subprocess.Popen[bytes]:
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    args = [str(path), name, *([str(count)] if script == WRITER else []), str(go)]
    return subprocess.Popen([sys.executable, "-c", script, *args], env=env, stderr=subprocess.PIPE)


def wait_ready(path: Path, names: list[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not all(Path(f"{path}.ready-{n}").exists() for n in names):
        assert time.monotonic() < deadline, "writers did not start"
        time.sleep(0.01)


def check_snapshot(frame: pd.DataFrame) -> None:
    """Every row is in a state one committed transaction left: never half of an update."""
    assert {c: str(t) for c, t in frame.dtypes.items()} == dict(DTYPES)
    done = frame["status"] == "success"
    assert frame.loc[done, "credits"].notna().all() and frame.loc[done, "video_url"].notna().all()
    archived = frame["video_sha256"].notna()
    media = ["video_path", "width", "height", "fps", "video_duration_s", "has_audio"]
    assert frame.loc[archived, media].notna().all().all()
    assert frame.loc[frame["status"] != "submitting", "task_id"].notna().all()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def test_two_writers_and_a_reader_share_one_log(tmp_path: Path) -> None:
    path, go = tmp_path / "tasks.sqlite", tmp_path / "go"
    with TaskLog(path) as reader:
        writers = {name: start_writer(path, name, PER_WRITER, go) for name in ("a", "b")}
        wait_ready(path, list(writers))
        go.touch()
        sizes, snapshots = [], 0
        while any(w.poll() is None for w in writers.values()):
            frame = reader.df()
            check_snapshot(frame)
            sizes.append(len(frame))
            snapshots += 1
        for name, writer in writers.items():
            _, errors = writer.communicate(timeout=60)
            assert writer.returncode == 0, (name, errors.decode(errors="replace"))
        assert sizes == sorted(sizes), "the reader saw rows disappear"
        assert snapshots >= 2, "the reader never read while the writers wrote"

        frame = reader.df()
        check_snapshot(frame)
        assert len(frame) == 2 * PER_WRITER and frame["local_id"].is_unique
        assert (frame["status"] == "success").all()
        assert frame["sweep_id"].value_counts().to_dict() == {"a": PER_WRITER, "b": PER_WRITER}
        assert frame["video_sha256"].notna().all() and frame["elapsed_s"].notna().all()
        # both writers' rows are interleaved in time: they really wrote at once
        order = frame["sweep_id"].tolist()
        assert sum(x != y for x, y in itertools.pairwise(order)) > 2
        events = reader.events()
        assert events.groupby("local_id").size().eq(4).all() and len(events) == 4 * 2 * PER_WRITER
    assert integrity(path) == "ok"


def test_a_writer_killed_mid_stream_leaves_a_consistent_log(tmp_path: Path) -> None:
    path, go = tmp_path / "tasks.sqlite", tmp_path / "go"
    with TaskLog(path) as reader:
        writer = start_writer(path, "k", -1, go)
        wait_ready(path, ["k"])
        go.touch()
        deadline = time.monotonic() + 30
        while len(reader) < 50:
            assert time.monotonic() < deadline and writer.poll() is None
            time.sleep(0.01)
        os.kill(writer.pid, signal.SIGKILL)
        writer.communicate(timeout=10)
        frame = reader.df()
        check_snapshot(frame)
        assert len(frame) >= 50
        Ledger(reader).begin({"model": "m", "input": {"prompt": "after the crash"}}, "after")  # still writable
    assert integrity(path) == "ok"


def test_processes_racing_to_create_a_new_log_all_succeed(tmp_path: Path) -> None:
    path, go = tmp_path / "new" / "tasks.sqlite", tmp_path / "go"
    path.parent.mkdir()
    names = [f"p{i}" for i in range(4)]
    creators = {name: start_writer(path, name, 0, go, CREATOR) for name in names}
    wait_ready(path, names)
    go.touch()
    for name, creator in creators.items():
        _, errors = creator.communicate(timeout=60)
        assert creator.returncode == 0, (name, errors.decode(errors="replace"))
    with TaskLog(path) as log:
        assert len(log) == 20 and log.df()["local_id"].is_unique
    assert integrity(path) == "ok"
