"""sn.board(): the live table of tasks in flight and recent ones (rows, order, badges, errors, actions, ticking)."""

from __future__ import annotations

import asyncio
import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fake_crun import FakeClock

import seedance_nb as sn
from seedance_nb.notebook._board import Board
from seedance_nb.notebook._table import badge_colours

NASTY = '<script>alert("x")</script> & "quotes"'


def records(clock: FakeClock) -> list[dict[str, Any]]:
    """Six tasks, one of each kind, submitted a minute apart (t1 oldest, t6 newest)."""
    def at(minutes: int) -> Any:
        return clock.now() - timedelta(minutes=10 - minutes)

    return [
        {"local_id": "t1", "status": "success", "prompt": "waves", "credits": 11.6, "submitted_at": at(1),
         "finished_at": at(1) + timedelta(seconds=75), "task_id": "a1"},
        {"local_id": "t2", "status": "failed", "prompt": "jumps", "task_id": "a2", "submitted_at": at(2),
         "error_code": 501, "error_message": "the render crashed"},
        {"local_id": "t3", "status": "running", "prompt": "runs", "task_id": "a3", "submitted_at": at(3)},
        {"local_id": "t4", "status": "unknown", "prompt": "falls", "submitted_at": at(4),
         "error_message": "CreateTask got no answer"},
        {"local_id": "t5", "status": "rejected", "prompt": "flies", "submitted_at": at(5), "error_code": 402,
         "error_message": "not enough credits"},
        {"local_id": "t6", "status": "pending", "prompt": "swims", "task_id": "a6", "submitted_at": at(6)},
    ]


@pytest.fixture
def log(fake_log: sn.TaskLog, fake_clock: FakeClock) -> sn.TaskLog:
    fake_log.import_records(records(fake_clock))
    return fake_log


def row_markup(board: Board) -> dict[str, str]:
    """Each shown row's HTML by its local id."""
    return {m.group(1): m.group(0) for m in re.finditer(r'<div class="seedance-board-row".*?<code>([^<]*)</code>'
                                                        r"</div></div>", board.html)}


def test_in_flight_first_then_the_most_recent_others_up_to_the_limit(log: sn.TaskLog) -> None:
    board = sn.board(log)
    assert [r["local_id"] for r in board.rows] == ["t6", "t4", "t3", "t5", "t2", "t1"]
    assert board.total == 6 and not board.running  # no event loop here: rendered once, nothing in the background
    assert board.heading == "6 of 6 tasks, in flight first · 2 in flight · 1 unknown · 2 failed"
    short = sn.board(log, limit=4)
    assert [r["local_id"] for r in short.rows] == ["t6", "t4", "t3", "t5"]
    assert list(row_markup(short)) == ["t6", "t4", "t3", "t5"]  # the widgets follow the same order
    board.close(), short.close()


def test_badges_stand_out_and_errors_show_code_and_message(log: sn.TaskLog) -> None:
    board = sn.board(log)
    rows = row_markup(board)
    for local_id, status in (("t1", "success"), ("t2", "failed"), ("t3", "running"), ("t4", "unknown")):
        colour, background = badge_colours(status)
        assert f"color:{colour};background:{background}" in rows[local_id] and f">{status}</span>" in rows[local_id]
    assert "#fffbeb" in rows["t4"] and "#fef2f2" in rows["t2"] and "#fef2f2" in rows["t5"]
    assert not any(colour in rows[i] for i in ("t1", "t3", "t6") for colour in ("#fffbeb", "#fef2f2"))
    assert "501 · the render crashed" in rows["t2"] and "402 · not enough credits" in rows["t5"]
    assert "CreateTask got no answer" in rows["t4"]
    assert ">11.6<" in rows["t1"] and ">1m15s<" in rows["t1"]  # credits and elapsed of a finished task
    board.close()


def test_every_text_is_escaped(fake_log: sn.TaskLog) -> None:
    fake_log.import_records([{"local_id": "t<1>", "status": "failed", "prompt": NASTY,
                              "error_message": "no <b>answer</b>"}])
    board = sn.board(fake_log)
    page = board.html
    assert "<script" not in page and "<b>answer" not in page and "t<1>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page  # shown and tooltip
    assert "no &lt;b&gt;answer&lt;/b&gt;" in page and "t&lt;1&gt;" in page
    board.close()


def test_a_long_prompt_is_shortened_and_whole_in_its_tooltip(fake_log: sn.TaskLog) -> None:
    prompt = "[Image1] " + "walks on " * 20 + "THE END"
    fake_log.import_records([{"local_id": "t1", "status": "success", "prompt": prompt}])
    board = sn.board(fake_log)
    assert f'title="{prompt}"' in board.html and board.html.count("THE END") == 1
    board.close()


def test_elapsed_ticks_for_tasks_in_flight_only(log: sn.TaskLog, fake_clock: FakeClock) -> None:
    board = sn.board(log)
    assert ">7m00s<" in row_markup(board)["t3"] and ">1m15s<" in row_markup(board)["t1"]
    fake_clock.t += 65
    board.refresh()
    rows = row_markup(board)
    assert ">8m05s<" in rows["t3"] and ">5m05s<" in rows["t6"]  # now - submitted_at
    assert ">1m15s<" in rows["t1"]  # finished: its recorded time
    assert "m0" not in rows["t4"].split("</span>", 1)[1].split("CreateTask")[0]  # unknown does not tick
    board.close()


async def test_the_background_task_ticks_without_a_change_in_the_log(log: sn.TaskLog, fake_clock: FakeClock) -> None:
    board = sn.board(log, interval=0.02)
    assert board.running
    rows_before = board.rows
    fake_clock.t += 65
    await board.wait_for(lambda b: ">8m05s<" in row_markup(b)["t3"], timeout=5)
    assert board.rows is rows_before  # the log did not change: ticked, not read again
    board.close()
    await asyncio.sleep(0)
    assert not board.running


async def test_a_change_made_elsewhere_shows_without_a_refresh(log: sn.TaskLog, tmp_path: Path) -> None:
    board = sn.board(log, interval=0.02)
    other = sn.TaskLog(log.path)  # another connection, as another notebook or process has

    def elsewhere() -> None:
        other.import_records([{"local_id": "t7", "status": "running", "task_id": "a7", "prompt": "new"}])

    thread = threading.Thread(target=elsewhere)
    thread.start()
    await asyncio.to_thread(thread.join)
    await board.wait_for(lambda b: "t7" in [r["local_id"] for r in b.rows], timeout=5)
    assert "t7" in row_markup(board) and board.total == 7
    board.close()
    other.close()


def test_each_kind_of_row_carries_its_action(log: sn.TaskLog, fake_clock: FakeClock) -> None:
    log.import_records([{"local_id": "s1", "status": "submitting", "submitted_at": fake_clock.now()},
                        {"local_id": "s2", "status": "submitting",
                         "submitted_at": fake_clock.now() - timedelta(minutes=10)}])
    board = sn.board(log, limit=10)
    labels = {local_id: button.description for local_id, button in board.actions.items()}
    assert labels == {"t2": "Resubmit", "t5": "Resubmit", "t4": "Resubmit…", "t3": "Resume", "t6": "Resume",
                      "s2": "Resume"}  # s1 is being sent right now; s2's process died while sending
    assert board.actions["t4"].button_style == "warning" and not board.actions["t4"].disabled
    board.close()


def test_an_unknown_row_asks_to_confirm_before_it_resubmits(log: sn.TaskLog) -> None:
    board = sn.board(log)
    board.actions["t4"].click()  # the first click only arms the button
    button = board.actions["t4"]
    assert button.description == "Resubmit (may pay again)" and button.button_style == "danger"
    assert board.messages == [] and log.get("t4")["status"] == "unknown"
    board.refresh()  # the armed state survives a re-render
    assert board.actions["t4"].description == "Resubmit (may pay again)"
    assert board.actions["t3"].description == "Resume"
    board.close()


async def test_a_failed_action_shows_its_error_in_the_board(log: sn.TaskLog) -> None:
    board = sn.board(log, interval=0.05)
    board.actions["t2"].click()  # no API key is configured in this test: resubmit() cannot build a client
    assert board.actions["t2"].description == "Resubmitting…" and board.actions["t2"].disabled
    await board.settled()
    assert len(board.messages) == 1 and board.messages[0].startswith("resubmit t2 failed: ConfigError")
    assert "resubmit t2 failed: ConfigError" in board.html and "#b91c1c" in board.html
    assert board.actions["t2"].description == "Resubmit" and not board.actions["t2"].disabled
    assert log.get("t2")["status"] == "failed"
    board.close()


def test_the_text_form_and_the_display_bundle(log: sn.TaskLog) -> None:
    board = sn.board(log, limit=2)
    assert repr(board).splitlines() == [
        "2 of 6 tasks, in flight first · 1 in flight · 1 unknown",
        "local_id  status   credits  elapsed  shape  prompt",
        "t6        pending           4m00s           swims",
        "t4        unknown                           falls"]
    bundle = board._repr_mimebundle_()
    assert bundle["text/plain"] == repr(board) and "application/vnd.jupyter.widget-view+json" in bundle
    board.close()
    empty = sn.board(sn.TaskLog(Path(log.path).parent / "empty.sqlite"))
    assert repr(empty) == "no tasks in the log" and empty.rows == [] and empty.actions == {}
    empty.close()


def test_options_other_than_those_of_resume_and_resubmit_are_refused(log: sn.TaskLog) -> None:
    with pytest.raises(TypeError, match="concurrency"):
        sn.board(log, concurrency=2)
