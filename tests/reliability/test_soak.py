"""The fault soak of ``bench/soak.py`` at a reduced size: 200 ``generate()`` calls, half against each error
style, under every fault the simulator injects (plus corrupt and truncated media from the client side), then
``resume()`` until nothing is in flight, then the audit of the log against the simulator's books.

Asserted: nothing the simulator created is missing from the log, no request is paid twice, every request has
its row, nothing is left in flight, every row's final status is the simulator's, every success has a verified
video (the file exists, its SHA-256 is its name and the log's), no ``.part`` file is left, the credits in the
log (plus those behind ``unknown`` rows) are what the simulator charged, no undocumented exception escaped,
and the ``unknown`` rows are exactly the lost answers. ``python bench/soak.py --tasks 1000`` is the full size.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import soak

pytestmark = pytest.mark.slow


async def test_soak_200_tasks_loses_nothing_and_pays_nothing_twice(tmp_path: Path) -> None:
    report = await soak.soak(200, concurrency=16, seed=8, workdir=tmp_path, scripted_lost=1)
    print(soak.format_report(report))
    assert report.total("requests") + report.total("twin_calls") == 200
    assert report.total("lost_answers") >= 2  # one scripted per style, and the 1 % on top
    assert all(run.faults[kind] > 0 for run in report.runs for kind in ("createtask:lost", "taskinfo:429"))
    assert report.total("unknown_rows") == report.total("lost_answers")
    assert {name: report.total(name) for name in soak.MUST_BE_ZERO} == dict.fromkeys(soak.MUST_BE_ZERO, 0)
