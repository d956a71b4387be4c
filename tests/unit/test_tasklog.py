"""TaskLog: the write-ahead ledger, its events, and the DataFrame view (a real SQLite file in tmp_path)."""

from __future__ import annotations

import json
import re
import sqlite3
import tempfile
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import seedance_nb as sn
from seedance_nb import tasklog
from seedance_nb.errors import SeedanceError
from seedance_nb.tasklog import TaskLog
from seedance_nb.tasklog._ledger import Ledger
from seedance_nb.tasklog._schema import DTYPES, SCHEMA_VERSION, new_local_id

CONTRACT = [
    "local_id", "task_id", "status", "model", "prompt", "reference_images", "reference_videos",
    "reference_audios", "resolution", "aspect_ratio", "duration", "audio", "return_last_frame", "n_images",
    "n_videos", "n_audios", "submitted_at", "finished_at", "elapsed_s", "credits", "error_code",
    "error_message", "video_url", "video_path", "video_sha256", "last_frame_url", "last_frame_path", "width",
    "height", "fps", "video_duration_s", "has_audio", "simulated", "sweep_id", "repeat", "tags", "rating",
    "notes",
]
EXTRA = ["request_hash", "media_error", "payload", "local_paths", "updated_at", "reference_files"]
RAW_JSON = ("payload", "local_paths")  # get() has them; df() leaves them out (the spread columns show them)
FRAME_EXTRA = [c for c in EXTRA if c not in RAW_JSON]
KEY = "ak_" + "A1b2C3d4" * 4
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def payload(prompt: str = "[Image1] runs through the rain", **fields: Any) -> dict[str, Any]:
    body = {"prompt": prompt, "reference_images": ["https://x.org/a.png", "asset://asset-20260420153000-ab12c"],
            "resolution": "720p", "aspect_ratio": "16:9", "duration": 5, "audio": True,
            "return_last_frame": False} | fields
    return {"model": "bytedance/seedance2-0-mini-r2v", "input": body, "callback_url": None}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def log(tmp_path: Path, clock: FakeClock) -> Any:
    with TaskLog(tmp_path / "tasks.sqlite", clock=clock) as opened:
        yield opened


@pytest.fixture
def ledger(log: TaskLog) -> Ledger:
    return Ledger(log)


def run_to_success(log: TaskLog, clock: FakeClock, *, seconds: float = 120, **begin: Any) -> str:
    ledger = Ledger(log)
    lid = ledger.begin(payload(), "hash-1", **begin)
    ledger.mark_pending(lid, "task-" + lid)
    clock.advance(seconds)
    ledger.record_status(lid, "success", credits=29.0, video_url="https://cdn.example/v.mp4")
    return lid


def test_empty_log_has_every_column_with_its_dtype(log: TaskLog) -> None:
    frame = log.df()
    assert list(frame.columns) == CONTRACT + FRAME_EXTRA
    assert {c: str(t) for c, t in frame.dtypes.items()} == dict(DTYPES)
    assert len(frame) == 0 and len(log) == 0


def test_default_path_is_resolved_when_built_from_the_environment(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("SEEDANCE_NB_HOME", str(tmp_path / "home"))
    with TaskLog() as opened:
        assert opened.path == tmp_path / "home" / "tasks.sqlite"
        assert opened.path.exists()


def test_log_is_wal_with_a_schema_version(log: TaskLog) -> None:
    conn = sqlite3.connect(log.path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    finally:
        conn.close()


def test_a_log_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "new.sqlite")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SeedanceError, match="newer"):
        TaskLog(tmp_path / "new.sqlite")


def _as_v1(path: Path) -> None:
    """Turn a log written by this code into the schema-1 file it would have been (no reference_files)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("ALTER TABLE tasks DROP COLUMN reference_files")
        conn.execute("PRAGMA user_version = 1")
        conn.commit()
    finally:
        conn.close()


def test_a_schema_1_log_is_migrated_and_keeps_its_rows(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "old.sqlite"
    with TaskLog(path, clock=clock) as old:
        first = run_to_success(old, clock, local_paths={"https://x.org/a.png": "/pics/a.png"})
        old.tag(first, "keeper")
        before = old.df().drop(columns="reference_files")
    _as_v1(path)
    conn = sqlite3.connect(path)
    assert "reference_files" not in [r[1] for r in conn.execute("PRAGMA table_info(tasks)")]
    conn.close()
    with TaskLog(path, clock=clock) as migrated:
        frame = migrated.df()
        assert list(frame.columns) == CONTRACT + FRAME_EXTRA
        assert {c: str(t) for c, t in frame.dtypes.items()} == dict(DTYPES)
        pd.testing.assert_frame_equal(frame.drop(columns="reference_files"), before)
        assert frame.loc[0, "reference_files"] == []  # names were not recorded before schema 2
        assert migrated.get(first)["tags"] == ["keeper"] and len(migrated.events(first)) == 3
        second = Ledger(migrated).begin(payload(), "hash-2", local_paths={"https://x.org/a.png": "/pics/b.png"})
        assert migrated.get(second)["reference_files"] == ["b.png"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    finally:
        conn.close()


def test_reference_files_are_the_local_file_names_in_request_order(log: TaskLog, ledger: Ledger) -> None:
    body = payload(reference_images=["https://up/2", "https://x.org/web.png", "https://up/1"],
                   reference_audios=["https://up/3"])
    uploaded = {"https://up/1": "/home/me/shots/street.png", "https://up/3": "voice.mp3",
                "https://up/2": str(Path("/home/me/me.jpg"))}
    lid = ledger.begin(body, "h", local_paths=uploaded)
    assert log.get(lid)["reference_files"] == ["me.jpg", "street.png", "voice.mp3"]
    assert log.df().set_index("local_id").at[lid, "reference_files"] == ["me.jpg", "street.png", "voice.mp3"]
    only_urls = ledger.begin(payload(), "h2")
    assert log.get(only_urls)["reference_files"] == []
    assert json.loads(log.get(only_urls)["payload"])["input"]["reference_images"][0] == "https://x.org/a.png"


def test_a_log_held_by_another_writer_raises_a_seedance_error(tmp_path: Path) -> None:
    with TaskLog(tmp_path / "t.sqlite", busy_timeout_s=0.05) as opened:
        blocker = sqlite3.connect(opened.path, isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")
            with pytest.raises(SeedanceError, match=r"t\.sqlite failed: database is locked") as caught:
                Ledger(opened).begin(payload(), "h")
            assert isinstance(caught.value.__cause__, sqlite3.OperationalError)
            assert len(opened.df()) == 0  # readers are not blocked by a writer (WAL)
            blocker.execute("ROLLBACK")
        finally:
            blocker.close()
        assert Ledger(opened).begin(payload(), "h")


def test_begin_commits_a_submitting_row_with_the_payload_verbatim(log: TaskLog, clock: FakeClock,
                                                                  ledger: Ledger) -> None:
    body = payload(reference_videos=["https://x.org/v.mp4"])
    lid = ledger.begin(body, "hash-1", sweep_id="s1", repeat=2, tags=["a", "b", "a"],
                    local_paths={"https://up/a.png": "/home/me/a.png"})
    # visible to another connection at once: committed before CreateTask would be sent
    other = sqlite3.connect(log.path)
    try:
        assert other.execute("SELECT status FROM tasks WHERE local_id = ?", (lid,)).fetchone() == ("submitting",)
    finally:
        other.close()
    row = log.get(lid)
    assert row is not None
    assert re.fullmatch(r"t[0-9a-f]{16}", lid)
    assert json.loads(row["payload"]) == body
    assert row["reference_images"] == body["input"]["reference_images"]
    assert row["reference_videos"] == ["https://x.org/v.mp4"] and row["reference_audios"] == []
    assert (row["n_images"], row["n_videos"], row["n_audios"]) == (2, 1, 0)
    assert (row["resolution"], row["aspect_ratio"], row["duration"]) == ("720p", "16:9", 5)
    assert row["audio"] is True and row["return_last_frame"] is False and row["simulated"] is False
    assert row["submitted_at"] == T0 and row["task_id"] is None and row["elapsed_s"] is None
    assert (row["sweep_id"], row["repeat"], row["tags"]) == ("s1", 2, ["a", "b"])
    assert json.loads(row["local_paths"]) == {"https://up/a.png": "/home/me/a.png"}
    assert list(row) == CONTRACT + EXTRA


def test_begin_refuses_a_payload_without_input(log: TaskLog, ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="input"):
        ledger.begin({"model": "m"}, "h")


def test_odd_payload_values_are_kept_verbatim_and_leave_their_column_empty(log: TaskLog, ledger: Ledger) -> None:
    body = payload(duration="auto", audio="yes")
    lid = ledger.begin(body, "h")
    row = log.get(lid)
    assert row is not None and json.loads(row["payload"]) == body
    assert row["duration"] is None and row["audio"] is None and row["resolution"] == "720p"


def test_full_lifecycle_records_every_status_change_as_an_event(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    lid = ledger.begin(payload(), "hash-1")
    clock.advance(1)
    assert ledger.mark_pending(lid, "task-1")
    clock.advance(10)
    assert ledger.record_status(lid, "running")
    clock.advance(100)
    info = {"task_id": "task-1", "status": "success"}
    assert ledger.record_status(lid, "success", credits=29.0, video_url="https://cdn/v.mp4", task_info=info)
    assert ledger.record_media(lid, video_path="media/abc.mp4", video_sha256="abc", width=1280, height=720,
                            fps=24.0, video_duration_s=5.0, has_audio=True)
    row = log.get(lid)
    assert row is not None
    assert row["status"] == "success" and row["task_id"] == "task-1" and row["credits"] == 29.0
    assert row["finished_at"] == T0 + timedelta(seconds=111) and row["elapsed_s"] == 111.0
    assert row["video_path"] == str(Path("media/abc.mp4").absolute()) and Path(row["video_path"]).is_absolute()
    assert (row["width"], row["height"], row["fps"], row["has_audio"]) == (1280, 720, 24.0, True)
    assert log.task_info(lid) == info and log.task_info("t-missing") is None
    events = log.events(lid)
    assert events["status"].tolist() == ["submitting", "pending", "running", "success", "success"]
    assert json.loads(events["detail"].iloc[1]) == {"task_id": "task-1"}
    assert json.loads(events["detail"].iloc[4])["video_sha256"] == "abc"
    assert events["at"].iloc[-1] == pd.Timestamp(T0 + timedelta(seconds=111))
    assert str(events["at"].dtype) == "datetime64[us, UTC]" and str(events["seq"].dtype) == "Int64"


def test_a_repeated_status_with_nothing_new_appends_no_event(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    lid = ledger.begin(payload(), "h")
    ledger.mark_pending(lid, "task-1")
    assert not ledger.mark_pending(lid, "task-1")
    assert ledger.record_status(lid, "running")
    for _ in range(3):
        clock.advance(5)
        assert not ledger.record_status(lid, "running", task_info={"status": "running"})
    assert ledger.record_status(lid, "running", credits=3.0)  # something new is news
    assert log.events(lid)["status"].tolist() == ["submitting", "pending", "running", "running"]


def test_a_stale_poll_does_not_reopen_a_finished_task(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    lid = run_to_success(log, clock)
    assert not ledger.record_status(lid, "running")
    row = log.get(lid)
    assert row is not None and row["status"] == "success"
    assert log.events(lid)["status"].tolist() == ["submitting", "pending", "success"]


def test_an_unknown_status_is_kept_verbatim(log: TaskLog, ledger: Ledger) -> None:
    lid = ledger.begin(payload(), "h")
    ledger.mark_pending(lid, "task-1")
    ledger.record_status(lid, "queued")
    assert log.df()["status"].tolist() == ["queued"]


def test_failed_and_rejected_carry_code_and_message(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    failed = ledger.begin(payload(), "h1")
    ledger.mark_pending(failed, "task-1")
    clock.advance(30)
    ledger.record_status(failed, "failed", error_code=451, error_message="output moderation")
    rejected = ledger.begin(payload(), "h2")
    ledger.mark_rejected(rejected, 402, "Insufficient credits")
    frame = log.df().set_index("local_id")
    assert frame.loc[failed, "error_code"] == 451 and frame.loc[failed, "elapsed_s"] == 30.0
    assert frame.loc[rejected, "status"] == "rejected" and frame.loc[rejected, "error_code"] == 402
    assert frame.loc[rejected, "error_message"] == "Insufficient credits"
    assert frame.loc[rejected, "finished_at"] == pd.Timestamp(clock.now)


def test_unknown_is_listed_and_only_an_explicit_resubmit_resets_it(log: TaskLog, clock: FakeClock,
                                                                   ledger: Ledger) -> None:
    lid = ledger.begin(payload(), "h")
    ledger.mark_unknown(lid, "ReadTimeout after CreateTask was sent")
    assert [r["local_id"] for r in log.unknown()] == [lid]
    assert ledger.find_in_flight("h") is None and log.unfinished() == []
    clock.advance(60)
    assert ledger.mark_submitting(lid)
    row = log.get(lid)
    assert row is not None
    assert row["status"] == "submitting" and row["task_id"] is None and row["error_message"] is None
    assert row["submitted_at"] == clock.now
    ledger.mark_pending(lid, "task-2")
    assert log.unknown() == [] and [r["task_id"] for r in log.unfinished()] == ["task-2"]
    assert log.events(lid)["status"].tolist() == ["submitting", "unknown", "submitting", "pending"]


def test_find_in_flight_returns_the_newest_unfinished_twin(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    first = ledger.begin(payload(), "same")
    clock.advance(1)
    second = ledger.begin(payload(), "same")
    ledger.begin(payload("other"), "other")
    found = ledger.find_in_flight("same")
    assert found is not None and found["local_id"] == second
    ledger.mark_pending(second, "task-2")
    ledger.record_status(second, "success")
    found = ledger.find_in_flight("same")
    assert found is not None and found["local_id"] == first
    ledger.mark_rejected(first, 422, "bad")
    assert ledger.find_in_flight("same") is None


def test_unfinished_lists_pending_and_running_with_a_task_id(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    submitting = ledger.begin(payload(), "a")
    pending = ledger.begin(payload(), "b")
    ledger.mark_pending(pending, "task-b")
    running = ledger.begin(payload(), "c")
    ledger.mark_pending(running, "task-c")
    ledger.record_status(running, "running")
    run_to_success(log, clock)
    assert [r["local_id"] for r in log.unfinished()] == [pending, running]
    assert submitting not in [r["local_id"] for r in log.unfinished()]


def test_stale_submitting_rows_are_found(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    lid = ledger.begin(payload(), "a")
    assert ledger.stale_submitting(older_than_s=60) == []
    clock.advance(61)
    assert [r["local_id"] for r in ledger.stale_submitting(older_than_s=60)] == [lid]


def test_missing_media_until_archived_or_given_up(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    archived, expired, waiting = (run_to_success(log, clock) for _ in range(3))
    ledger.begin(payload(), "never-finished")
    assert [r["local_id"] for r in log.missing_media()] == [archived, expired, waiting]
    ledger.record_media(archived, video_path="/m/x.mp4", video_sha256="x", width=1, height=1, fps=24.0,
                     video_duration_s=1.0, has_audio=False)
    ledger.record_media_error(expired, "expired")
    assert [r["local_id"] for r in log.missing_media()] == [waiting]
    row = log.get(expired)
    assert row is not None and row["media_error"] == "expired"


def test_rate_annotate_and_tag(log: TaskLog, clock: FakeClock) -> None:
    lid = run_to_success(log, clock, tags=["first"])
    log.rate(lid, 4)
    log.annotate(lid, "nice motion")
    log.tag(lid, "keep", "first", "blue")
    row = log.get(lid)
    assert row is not None
    assert (row["rating"], row["notes"], row["tags"]) == (4, "nice motion", ["first", "keep", "blue"])
    log.rate(lid, None)
    assert log.df()["rating"].isna().all()


def test_unknown_local_ids_raise_key_error(log: TaskLog, ledger: Ledger) -> None:
    for call in (lambda: ledger.mark_pending("t-missing", "x"), lambda: log.rate("t-missing", 1),
                 lambda: log.tag("t-missing", "a"), lambda: ledger.record_status("t-missing", "running")):
        with pytest.raises(KeyError, match="t-missing"):
            call()
    assert log.get("t-missing") is None


def test_durations_of_recent_successes_filtered_by_shape(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    for seconds in (100, 200, 300):
        run_to_success(log, clock, seconds=seconds)
    other = ledger.begin(payload(resolution="480p", duration=8), "h480")
    ledger.mark_pending(other, "task-480")
    clock.advance(50)
    ledger.record_status(other, "success")
    simulated = ledger.begin(payload(), "sim", simulated=True)
    clock.advance(2)
    ledger.record_status(simulated, "success")
    assert log.durations() == [2.0, 50.0, 300.0, 200.0, 100.0]
    assert log.durations({"resolution": "720p", "duration": 5, "simulated": False}) == [300.0, 200.0, 100.0]
    assert log.durations({"resolution": "480p"}) == [50.0]
    assert log.durations(limit=2) == [2.0, 50.0]
    with pytest.raises(ValueError, match="prompt"):
        log.durations({"prompt": "x"})


def test_api_keys_are_never_stored(log: TaskLog, ledger: Ledger) -> None:
    with pytest.raises(ValueError) as caught:
        ledger.begin(payload(f"use {KEY} please"), "h")
    assert KEY not in str(caught.value)
    assert len(log) == 0
    lid = ledger.begin(payload(), "h")
    for call in (lambda: log.annotate(lid, KEY), lambda: log.tag(lid, KEY)):  # what a user writes: refused
        with pytest.raises(sn.ValidationError, match="API key"):
            call()
    # What Crun answers after the task is paid for is recorded, never refused: a key-shaped word is redacted.
    ledger.mark_pending(lid, "task-1")
    assert ledger.record_status(lid, "running", task_info={"echo": KEY}, video_url=f"https://cdn/v.mp4?k={KEY}")
    assert ledger.record_status(lid, "failed", error_message=f"Authorization: Bearer {KEY}")
    assert ledger.record_media_error(lid, f"GET ?key={KEY}")
    row = log.get(lid)
    assert row is not None and row["status"] == "failed"
    assert row["error_message"] == "Authorization: Bearer [redacted key]"
    assert row["video_url"] == "https://cdn/v.mp4?k=[redacted key]"
    with sqlite3.connect(log.path) as conn:
        dump = "\n".join(conn.iterdump())
    assert "ak_" not in dump


def test_naive_timestamps_are_refused(log: TaskLog, ledger: Ledger) -> None:
    lid = ledger.begin(payload(), "h")
    with pytest.raises(ValueError, match="timezone-aware"):
        ledger.record_status(lid, "success", finished_at=datetime(2026, 1, 1))


def test_df_is_sorted_by_submission_and_typed(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    late = run_to_success(log, clock)
    clock.now = T0 - timedelta(hours=1)  # a clock that went backwards still sorts by submitted_at
    early = ledger.begin(payload(prompt="early"), "h2", simulated=True)
    frame = log.df()
    assert frame["local_id"].tolist() == [early, late]
    assert {c: str(t) for c, t in frame.dtypes.items()} == dict(DTYPES)
    assert frame["submitted_at"].dt.tz is not None
    assert frame["simulated"].tolist() == [True, False]
    assert pd.isna(frame["elapsed_s"].iloc[0]) and frame["elapsed_s"].iloc[1] == 120.0
    assert frame["task_id"].iloc[0] is pd.NA
    # list cells are independent lists: editing one leaves its twin alone
    first, second = frame["reference_images"].iloc[0], frame["reference_images"].iloc[1]
    assert first == second and first is not second
    first.append("x")
    assert log.df()["reference_images"].iloc[0] == second


def test_df_matches_get_for_many_repeated_rows(log: TaskLog, clock: FakeClock, ledger: Ledger) -> None:
    ids = []
    for i in range(60):
        lid = ledger.begin(payload(duration=4 + i % 3), f"h{i % 7}", sweep_id=f"s{i % 2}", repeat=i % 3)
        if i % 4:
            ledger.mark_pending(lid, f"task-{i}")
        if i % 5 == 0:
            ledger.record_status(lid, "success", credits=2.9 * (4 + i % 3), video_url=f"https://c/{i}.mp4")
        clock.advance(0.5)
        ids.append(lid)
    frame = log.df()
    for record in frame.to_dict("records"):
        expected = log.get(record["local_id"])
        assert expected is not None
        for name, value in expected.items():
            if name in RAW_JSON:
                continue
            got = record[name]
            if value is None:
                assert pd.isna(got), name
            else:
                assert got == value, name


def test_import_records_round_trips_a_frame(log: TaskLog, clock: FakeClock, tmp_path: Path, ledger: Ledger) -> None:
    lid = run_to_success(log, clock, tags=["x"], sweep_id="s")
    log.rate(lid, 5)
    ledger.begin(payload(), "h2")
    with TaskLog(tmp_path / "copy.sqlite") as copy:
        assert copy.import_records(log.df().to_dict("records")) == 2
        assert copy.import_records(log.df().to_dict("records")) == 0  # existing ids are skipped
        pd.testing.assert_frame_equal(copy.df(), log.df())
        with pytest.raises(ValueError, match="API key"):
            copy.import_records([{"prompt": KEY}])


def test_threads_share_one_log(log: TaskLog, ledger: Ledger) -> None:
    ids: list[str] = []
    lock = threading.Lock()

    def work() -> None:
        for _ in range(25):
            lid = ledger.begin(payload(), "h")
            ledger.mark_pending(lid, "task-" + lid)
            with lock:
                ids.append(lid)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 200
    assert (log.df()["status"] == "pending").sum() == 200


def test_local_ids_are_unique_and_ordered_even_with_a_frozen_clock() -> None:
    ids = [new_local_id(T0) for _ in range(1000)]
    assert ids == sorted(ids) and len(set(ids)) == 1000
    assert new_local_id(T0 + timedelta(seconds=1)) > ids[-1]


def test_the_module_docstring_documents_every_column() -> None:
    doc = tasklog.__doc__ or ""
    missing = [c for c in DTYPES if not re.search(rf"(^|[\s,]){c}(,|\s)", doc, re.M)]
    assert missing == []


@settings(max_examples=40, deadline=None)
@given(
    prompt=st.text(min_size=1, max_size=40),
    refs=st.lists(st.text(max_size=20), max_size=3),
    tags=st.lists(st.text(min_size=1, max_size=8), max_size=3),
)
def test_any_text_round_trips_through_df(prompt: str, refs: list[str], tags: list[str]) -> None:
    prompt = prompt.replace("\x00", "")
    with tempfile.TemporaryDirectory() as folder, TaskLog(Path(folder) / "t.sqlite") as fresh:
        lid = Ledger(fresh).begin(payload(prompt, reference_images=refs), "h", tags=tags)
        row = fresh.df().iloc[0]
        assert row["local_id"] == lid
        assert row["prompt"] == prompt
        assert row["reference_images"] == refs and row["n_images"] == len(refs)
        assert row["tags"] == list(dict.fromkeys(tags))


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_export_writes_every_row_and_column_readably(log: TaskLog, clock: FakeClock, tmp_path: Path,
                                                     suffix: str) -> None:
    lid = run_to_success(log, clock, tags=["keep", "blue"])
    log.rate(lid, 5)
    written = log.export(tmp_path / "out" / f"tasks{suffix}")
    frame = pd.read_csv(written) if suffix == ".csv" else pd.read_json(written, lines=suffix == ".jsonl")
    assert list(frame.columns) == list(log.df().columns) and len(frame) == 1
    row = frame.iloc[0]
    tags = json.loads(row["tags"]) if suffix == ".csv" else row["tags"]
    assert (row["local_id"], row["rating"], tags) == (lid, 5, ["keep", "blue"])
    assert str(row["submitted_at"]).startswith("2026-03-01")


def test_export_refuses_an_unknown_format_before_writing(log: TaskLog, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.csv, \.jsonl, \.json"):
        log.export(tmp_path / "tasks.xlsx")
    assert not (tmp_path / "tasks.xlsx").exists()
