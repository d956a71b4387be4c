"""Knobs, the lazy task lifecycle, money and frame sizes, without a server."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from seedance_nb.simulator.knobs import Knobs, parse_latency
from seedance_nb.simulator.persist import SimStore
from seedance_nb.simulator.render_command import RenderSpec, Tile, build_command, frame_size
from seedance_nb.simulator.state import InsufficientCredits, SimState
from seedance_nb.simulator.validation import TaskRequest, validate_task_body


def request(body: Callable[..., dict[str, Any]], **fields: Any) -> TaskRequest:
    result = validate_task_body(body(**fields))
    assert isinstance(result, TaskRequest)
    return result


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, (0.0, 0.0)), (2.5, (2.5, 2.5)), ("3", (3.0, 3.0)), ("1-4", (1.0, 4.0)), ("0.5 - 1.5", (0.5, 1.5)),
     ((1, 2), (1.0, 2.0)), ([0, 0.1], (0.0, 0.1)), (None, (0.0, 0.0))],
)
def test_latency_forms(value: Any, expected: tuple[float, float]) -> None:
    assert parse_latency(value) == expected


@pytest.mark.parametrize("value", ["-1", "5-2", "soon", (1, 2, 3), float("nan"), -0.5, "1-x"])
def test_bad_latency(value: Any) -> None:
    with pytest.raises(ValueError):
        parse_latency(value)


def test_knobs_check_their_values() -> None:
    assert Knobs(rates={"480p": 1}).rates == {"480p": 1.0, "720p": 5.8, "1080p": 11.6}
    assert Knobs().price("480p", 15) == 43.5
    assert "ak_" not in repr(Knobs(api_key="ak_" + "s" * 32))
    for bad in ({"fail_rate": 2}, {"retry_after": -1}, {"asset_delay": -1}, {"rates": {"720p": -5}},
                {"media_ttl": "never"}):
        with pytest.raises(ValueError):
            Knobs(**bad)


def test_lifecycle_is_computed_from_the_clock(body: Callable[..., dict[str, Any]], clock: Any) -> None:
    state = SimState(Knobs(latency=10, clock=clock))
    task = state.create_task(request(body))
    root = "http://127.0.0.1:1"
    assert task.status(clock()) == "pending"
    data = task.data(clock(), root)
    assert data["result"] is None and data["complete_at"] is None and data["duration_s"] is None
    clock.advance(1.9)
    assert task.status(clock()) == "pending"
    clock.advance(0.2)
    assert task.status(clock()) == "running"
    clock.advance(7.8)
    assert task.status(clock()) == "running"
    clock.advance(0.2)
    data = task.data(clock(), root)
    assert data["status"] == "success"
    assert data["duration_s"] == 10.0 and data["complete_at"] == data["create_at"] + 10
    assert data["result"] == {"code": 200, "message": "success", "media_urls": [f"{root}/media/{task.task_id}.mp4"]}


def test_latency_range_draws_within_bounds(body: Callable[..., dict[str, Any]], clock: Any) -> None:
    state = SimState(Knobs(latency="2-4", seed=3, clock=clock))
    spans = [t.final_at - t.created for t in (state.create_task(request(body)) for _ in range(50))]
    assert all(2 <= s <= 4 for s in spans)
    assert max(spans) - min(spans) > 1  # really drawn, not a constant


def test_callbacks_fall_due_at_the_final_time(body: Callable[..., dict[str, Any]], clock: Any) -> None:
    state = SimState(Knobs(latency=10, clock=clock))
    task = state.create_task(request(body, callback_url="http://127.0.0.1:9/hook"))
    state.create_task(request(body))  # no callback_url: never due
    assert state.next_callback_at() == task.final_at
    assert state.due_callbacks(task.final_at - 0.5) == []
    assert state.due_callbacks(task.final_at) == [task]
    assert state.due_callbacks(task.final_at + 100) == [] and state.next_callback_at() is None  # handed out once


def test_failed_tasks_are_refunded_when_they_end(body: Callable[..., dict[str, Any]], clock: Any) -> None:
    state = SimState(Knobs(latency=5, clock=clock, balance=100))
    task = state.create_task(request(body, prompt="x [simulate:failed]", duration=10, resolution="480p"))
    assert state.balance() == 71.0 and task.credits == 29.0
    clock.advance(5)
    assert state.balance() == 100.0
    assert task.credits == 0.0 and task.status(clock()) == "failed" and task.result_code == 501
    stats = state.stats()
    assert stats["credits_charged"] == 0 and stats["credits_refunded"] == 29.0


def test_polling_reads_the_store_only_when_it_can_tell_more(body: Callable[..., dict[str, Any]], clock: Any,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    store = SimStore(None, balance=100)
    state, other = SimState(Knobs(latency=5, clock=clock), store), SimState(Knobs(latency=5, clock=clock), store)
    task = state.create_task(request(body, prompt="x [simulate:failed]", duration=10, resolution="480p"))
    reads: list[str] = []
    real_read = store.task
    monkeypatch.setattr(store, "task", lambda task_id: reads.append(task_id) or real_read(task_id))
    assert state.polled_task(task.task_id) is task and reads == []  # running: only the clock moves it
    clock.advance(5)
    assert other.balance() == 100.0  # the other simulator on the store books the refund first …
    polled = state.polled_task(task.task_id)
    assert polled is task and reads == [task.task_id]  # … so this one reads it back once,
    assert task.settled and task.credits == 0.0 and task.data(clock(), "")["credits"] == 0.0
    assert state.polled_task(task.task_id) is task and len(reads) == 1  # and never again once settled
    assert other.polled_task(task.task_id) == task and state.polled_task("no-such-task") is None


def test_moderated_and_fail_rate(body: Callable[..., dict[str, Any]], clock: Any) -> None:
    state = SimState(Knobs(clock=clock, fail_rate=0.5, seed=1))
    moderated = state.create_task(request(body, prompt="[simulate:moderated] a beach"))
    assert (moderated.outcome, moderated.result_code) == ("failed", 451)
    outcomes = [state.create_task(request(body)).outcome for _ in range(400)]
    assert 150 < outcomes.count("failed") < 250


def test_insufficient_credits_creates_nothing(body: Callable[..., dict[str, Any]], clock: Any) -> None:
    state = SimState(Knobs(clock=clock, balance=30))
    state.create_task(request(body))  # 29 credits
    with pytest.raises(InsufficientCredits):
        state.create_task(request(body))
    assert state.stats()["tasks_created"] == 1 and state.balance() == 1.0


@pytest.mark.parametrize(
    ("resolution", "ratio", "size"),
    [("720p", "16:9", (1280, 720)), ("720p", "9:16", (720, 1280)), ("720p", "1:1", (720, 720)),
     ("720p", "4:3", (960, 720)), ("720p", "3:4", (720, 960)), ("720p", "21:9", (1680, 720)),
     ("720p", "auto", (1280, 720)), ("480p", "16:9", (854, 480)), ("480p", "9:16", (480, 854)),
     ("480p", "1:1", (480, 480)), ("480p", "4:3", (640, 480)), ("480p", "21:9", (1120, 480)),
     ("1080p", "16:9", (1920, 1080)), ("1080p", "3:4", (1080, 1440))],
)
def test_frame_sizes(resolution: str, ratio: str, size: tuple[int, int]) -> None:
    assert frame_size(resolution, ratio) == size
    assert size[0] % 2 == 0 and size[1] % 2 == 0


def test_render_command_shape() -> None:
    spec = RenderSpec(1280, 720, 6, True, "50% off: it's {fun}, [Image1]", (Tile("Image1", "u", "/x/a.png"),
                                                                          Tile("Video1", "https://v")))
    argv, files = build_command(spec, "ffmpeg", {0: "/x/a.png"})
    joined = " ".join(argv)
    assert "-i /x/a.png" in joined and "overlay=" in joined
    assert "libx264" in argv and "+faststart" in argv and "yuv420p" in argv and "aac" in argv
    assert argv[argv.index("-frames:v") + 1] == "144"
    assert files["prompt.txt"].startswith("50% off")  # text travels in files, never in the filter graph
    assert "url1.txt" in files and "url0.txt" not in files  # a placeholder only where nothing is overlaid
    silent, _ = build_command(RenderSpec(640, 480, 4, False, "x"), "ffmpeg", {}, with_text=False)
    assert "aac" not in silent and "drawtext" not in " ".join(silent)
