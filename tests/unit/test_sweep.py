"""sn.sweep(): the plan (pure), pricing once per shape, the budget, the shared 429 limiter and the concurrency
bound, on the fake Crun and the fake clock (tests/fake_crun.py)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from fake_crun import FakeClock, FakeCrun

import seedance_nb as sn
from seedance_nb._sweep import sweep
from seedance_nb._sweep._budget import Budget
from seedance_nb._sweep._limiter import SharedLimiter
from seedance_nb._sweep._plan import check_plan, expand, sweep_id_of

URL = "https://x.org/a.png"
BASE_REQ = {"prompt": "[Image1] waves", "reference_images": [URL], "duration": 4, "resolution": "480p"}
MINI, FULL = "bytedance/seedance2-0-mini-r2v", "bytedance/seedance2-0-r2v"


def options(client: sn.Client, log: sn.TaskLog, clock: FakeClock, **kw: Any) -> dict[str, Any]:
    async def sleep(seconds: float) -> None:  # the fake clock, but other workers get a turn (as a real wait)
        await clock.sleep(seconds)
        await asyncio.sleep(0)

    return {"client": client, "log": log, "clock": clock.monotonic, "sleep": sleep, "progress": False, **kw}


def creates(crun: FakeCrun) -> int:
    return int(crun.calls.count("/client/job/CreateTask"))


# --- the plan ---------------------------------------------------------------------------------------------

def test_the_grid_is_a_product_with_repeats_outermost() -> None:
    plan = expand(BASE_REQ, grid={"duration": [4, 8], "aspect_ratio": ["16:9", "9:16", "1:1"]}, repeats=2)
    assert len(plan) == 12 and [p.index for p in plan] == list(range(12))
    assert [(p.request.duration, p.request.aspect_ratio, p.repeat) for p in plan[:4]] == [
        (4, "16:9", 0), (4, "9:16", 0), (4, "1:1", 0), (8, "16:9", 0)]
    assert {p.repeat for p in plan[6:]} == {1} and plan[6].request == plan[0].request
    assert plan[3].label == "duration=8, aspect_ratio=16:9"


def test_models_reference_sets_and_prompt_lists_are_axes() -> None:
    sets = [[URL], ["https://x.org/b.png", "https://x.org/c.png"]]
    plan = expand(sn.R2VRequest(prompt="[Image1] waves"), grid={"reference_images": sets, "model": [MINI, FULL]},
                  prompts=["[Image1] waves", "[Image1] jumps"])
    assert len(plan) == 8
    assert [p.request.prompt for p in plan[::4]] == ["[Image1] waves", "[Image1] jumps"]
    assert plan[2].request.reference_images == ("https://x.org/b.png", "https://x.org/c.png")
    assert [p.request.model for p in plan[:2]] == [MINI, FULL]
    lone = expand(BASE_REQ, grid={"reference_images": [URL, "https://x.org/b.png"]})  # a lone ref is a set of one
    assert [p.request.reference_images for p in lone] == [(URL,), ("https://x.org/b.png",)]


def test_templates_fill_placeholders_from_the_grid() -> None:
    plan = expand({"reference_images": [URL]}, grid={"animal": ["cat", "dog"], "duration": [4, 8]},
                  prompts="[Image1] a {animal} runs for {duration} s")
    assert [p.request.prompt for p in plan] == ["[Image1] a cat runs for 4 s", "[Image1] a cat runs for 8 s",
                                                "[Image1] a dog runs for 4 s", "[Image1] a dog runs for 8 s"]
    with pytest.raises(sn.ValidationError) as caught:
        expand(BASE_REQ, grid={"duration": [4]}, prompts="[Image1] a {animal} in {place}")
    assert caught.value.fields == ["prompts", "prompts"] and "{animal}" in str(caught.value)


def test_every_argument_problem_is_reported_at_once() -> None:
    with pytest.raises(sn.ValidationError) as caught:
        expand({"prompt": "[Image1]", "durration": 4}, grid={"colour": ["red"], "duration": []}, repeats=0)
    assert caught.value.fields == ["base['durration']", "grid['colour']", "grid['duration']", "repeats"]
    with pytest.raises(sn.ValidationError, match="gives the same request"):
        expand(BASE_REQ, grid={"duration": [4, 4]})
    with pytest.raises(sn.ValidationError, match="prompt = null: is required"):
        expand({"reference_images": [URL]})


def test_a_resolution_a_model_cannot_do_is_refused_naming_the_combination() -> None:
    plan = expand(BASE_REQ, grid={"model": [MINI, "bytedance/seedance2-0-fast-r2v", FULL],
                                  "resolution": ["720p", "1080p"]})
    with pytest.raises(sn.ValidationError) as caught:
        check_plan(plan)
    assert caught.value.fields == [f"resolution [model={MINI}, resolution=1080p]",
                                   "resolution [model=bytedance/seedance2-0-fast-r2v, resolution=1080p]"]
    bad = expand({**BASE_REQ, "duration": 30}, grid={"aspect_ratio": ["16:9", "9:16"]})
    with pytest.raises(sn.ValidationError) as once:  # the base's own problem, once, not per combination
        check_plan(bad)
    assert len(once.value.problems) == 1


def test_the_sweep_id_is_stable_and_names_what_the_sweep_asks() -> None:
    a = sweep_id_of(BASE_REQ, {"duration": [4, 8]}, None, 2)
    assert a == sweep_id_of(sn.R2VRequest(**BASE_REQ), {"duration": [4, 8]}, None, 2)  # type: ignore[arg-type]
    assert a != sweep_id_of(BASE_REQ, {"duration": [4, 8]}, None, 3) != sweep_id_of(BASE_REQ, {"duration": [8]})


# --- pricing and the budget ----------------------------------------------------------------------------------

async def test_one_estimate_per_shape_and_none_per_task(fake_client: sn.Client, fake_crun: FakeCrun,
                                                        fake_log: sn.TaskLog, fake_clock: FakeClock) -> None:
    df = await sweep(BASE_REQ, grid={"duration": [4, 8]}, prompts=["[Image1] a", "[Image1] b", "[Image1] c"],
                     repeats=2, **options(fake_client, fake_log, fake_clock))
    assert len(df) == 12 and df.status.tolist() == ["success"] * 12
    assert fake_crun.calls.count("/client/job/EstimateTask") == 2  # two shapes (4 s and 8 s), 12 tasks
    assert creates(fake_crun) == 12 and df.plan_index.tolist() == list(range(12))
    assert df.repeat.tolist() == [0] * 6 + [1] * 6 and df.sweep_id.nunique() == 1
    assert df.estimated_credits.tolist() == [29.0] * 12


async def test_a_dry_run_prices_the_plan_and_sends_nothing(fake_client: sn.Client, fake_crun: FakeCrun,
                                                           fake_log: sn.TaskLog, fake_clock: FakeClock) -> None:
    plan = await sweep(BASE_REQ, grid={"aspect_ratio": ["16:9", "9:16"]}, repeats=3, dry_run=True,
                       max_credits=10, **options(fake_client, fake_log, fake_clock))
    assert len(plan) == 6 and plan.repeat.tolist() == [0, 0, 1, 1, 2, 2]
    assert plan.attrs["estimated_credits"] == 174.0 and set(plan.action) == {"to send"}
    assert plan.shape_label.tolist()[:2] == ["seedance2-0-mini-r2v 480p 16:9 4s audio 1 image",
                                       "seedance2-0-mini-r2v 480p 9:16 4s audio 1 image"]
    assert creates(fake_crun) == 0 and len(fake_log) == 0


async def test_above_the_cap_nothing_is_sent(fake_client: sn.Client, fake_crun: FakeCrun, fake_log: sn.TaskLog,
                                             fake_clock: FakeClock) -> None:
    with pytest.raises(sn.BudgetExceededError) as caught:
        await sweep(BASE_REQ, grid={"duration": [4, 8]}, repeats=2, max_credits=100,
                    **options(fake_client, fake_log, fake_clock))
    assert (caught.value.estimate, caught.value.cap) == (116.0, 100)
    assert "116 credits (4 tasks)" in str(caught.value) and "max_credits=100" in str(caught.value)
    assert creates(fake_crun) == 0 and len(fake_log) == 0


async def test_the_running_cap_stops_submitting(fake_client: sn.Client, fake_crun: FakeCrun, fake_log: sn.TaskLog,
                                                fake_clock: FakeClock) -> None:
    answer = fake_crun.task_info

    def dearer(task_id: str) -> Any:  # each task costs twice its estimate
        data = answer(task_id).json()["data"]
        return FakeCrun.ok({**data, "credits": 58.0})

    fake_crun.task_info = dearer
    df = await sweep(BASE_REQ, grid={"aspect_ratio": ["16:9", "9:16", "1:1", "4:3"]}, concurrency=1,
                     max_credits=120, **options(fake_client, fake_log, fake_clock))
    assert df.status.tolist() == ["success", "success", "skipped", "skipped"]
    assert df.error_message.tolist()[2:] == ["skipped: budget"] * 2 and df.local_id.isna().tolist()[2:] == [True] * 2
    assert df.aspect_ratio.tolist() == ["16:9", "9:16", "1:1", "4:3"] and creates(fake_crun) == 2


def test_the_budget_counts_spent_and_in_flight() -> None:
    budget = Budget(cap=100.0, spent=40.0)
    assert budget.admit(0, 30.0) and budget.committed == 70.0
    assert not budget.admit(1, 31.0) and budget.stopped and not budget.admit(2, 1.0)  # stopped: no more sends
    budget.settle(0, None)  # no final price (unknown): its estimate stays counted
    assert budget.committed == 70.0 and Budget(None).admit(0, 1e9)


# --- rate limits, failures, concurrency -----------------------------------------------------------------------

async def test_the_limiter_holds_every_request_until_retry_after(fake_client: sn.Client, fake_crun: FakeCrun,
                                                                 fake_clock: FakeClock) -> None:
    limiter = SharedLimiter(fake_clock.monotonic, fake_clock.sleep)
    answer = fake_crun.__call__
    seen: list[float] = []

    def busy_once(request: httpx.Request) -> Any:
        seen.append(fake_clock.t)
        if len(seen) == 1:
            return httpx.Response(429, headers={"Retry-After": "30"}, json={"code": 429, "message": "slow down"})
        return answer(request)

    fake_client.http._transport = httpx.MockTransport(busy_once)
    with limiter.attach(fake_client):
        req = sn.R2VRequest(**BASE_REQ)  # type: ignore[arg-type]
        await asyncio.gather(fake_client.estimate(req), fake_client.estimate(req.replace(duration=8)))
    assert limiter.pauses == 1 and seen[0] == 1000.0 and all(t >= 1030.0 for t in seen[1:])
    assert len(fake_client.http.event_hooks["request"]) == 1  # the sweep's hooks are gone


async def test_a_429_on_create_pauses_the_whole_sweep(fake_client: sn.Client, fake_crun: FakeCrun,
                                                      fake_log: sn.TaskLog, fake_clock: FakeClock) -> None:
    arrivals: list[tuple[float, str]] = []
    answer = fake_crun.__call__

    def once_busy(request: httpx.Request) -> Any:
        arrivals.append((fake_clock.t, request.url.path.rsplit("/", 1)[-1]))
        if request.url.path.endswith("/CreateTask") and not fake_crun.created and "busy" not in fake_crun.calls:
            fake_crun.calls.append("busy")
            return httpx.Response(429, headers={"Retry-After": "30"}, json={"code": 429, "message": "slow"})
        return answer(request)

    fake_client.http._transport = httpx.MockTransport(once_busy)
    df = await sweep(BASE_REQ, grid={"duration": [4, 5, 6, 8]}, concurrency=4,
                     **options(fake_client, fake_log, fake_clock))
    assert df.status.tolist() == ["success"] * 4 and len(fake_crun.created) == 4
    busy_at = next(t for t, what in arrivals if what == "CreateTask")
    after = [t for t, what in arrivals[arrivals.index((busy_at, "CreateTask")) + 1:] if what != "EstimateTask"]
    assert after and min(after) >= busy_at + 30  # no worker sent anything during the pause
    rows = fake_log.df()
    assert sorted(rows.status) == ["rejected"] + ["success"] * 4 and rows.error_code.max() == 429


async def test_concurrency_bounds_the_tasks_in_flight(fake_client: sn.Client, fake_crun: FakeCrun,
                                                      fake_log: sn.TaskLog, fake_clock: FakeClock) -> None:
    answer, info = fake_crun.__call__, fake_crun.task_info
    live: set[str] = set()
    peak = [0]

    def counting(request: httpx.Request) -> Any:
        response = answer(request)
        if request.url.path.endswith("/CreateTask"):
            live.add(response.json()["data"]["task_id"])
            peak[0] = max(peak[0], len(live))
        return response

    def finishing(task_id: str) -> Any:
        response = info(task_id)
        if response.json()["data"]["status"] == "success":
            live.discard(task_id)
        return response

    fake_crun.task_info = finishing
    fake_client.http._transport = httpx.MockTransport(counting)
    df = await sweep(BASE_REQ, prompts=[f"[Image1] take {n}" for n in range(9)], concurrency=3,
                     **options(fake_client, fake_log, fake_clock))
    assert df.status.tolist() == ["success"] * 9 and 2 <= peak[0] <= 3


async def test_an_unknown_submission_is_reported_not_resent(fake_client: sn.Client, fake_crun: FakeCrun,
                                                            fake_log: sn.TaskLog, fake_clock: FakeClock) -> None:
    def lost(request: httpx.Request) -> Any:
        raise httpx.ReadTimeout("no answer", request=request)

    fake_crun.create = lost
    grid = {"duration": [4, 8]}
    first = await sweep(BASE_REQ, grid=grid, **options(fake_client, fake_log, fake_clock))
    assert first.status.tolist() == ["unknown", "unknown"]
    fake_crun.create = None
    again = await sweep(BASE_REQ, grid=grid, **options(fake_client, fake_log, fake_clock))
    assert again.status.tolist() == ["unknown", "unknown"] and again.local_id.tolist() == first.local_id.tolist()
    assert creates(fake_crun) == 2 and not fake_crun.created  # the two lost ones, never sent again


async def test_the_progress_bar_counts_statuses_and_credits(fake_client: sn.Client, fake_log: sn.TaskLog,
                                                            fake_clock: FakeClock,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    await sweep(BASE_REQ, grid={"duration": [4, 8]}, **{**options(fake_client, fake_log, fake_clock),
                                                       "progress": True})
    shown = capsys.readouterr().err
    assert "2/2" in shown and "success=2" in shown and "credits=58" in shown


async def test_bad_options_are_refused_before_anything(fake_client: sn.Client, fake_crun: FakeCrun,
                                                       fake_log: sn.TaskLog, fake_clock: FakeClock,
                                                       tmp_path: Path) -> None:
    with pytest.raises(sn.ValidationError) as caught:
        await sweep(BASE_REQ, concurrency=0, max_credits=-1, **options(fake_client, fake_log, fake_clock))
    assert caught.value.fields == ["concurrency", "max_credits"]
    with pytest.raises(sn.ValidationError):
        await sweep({**BASE_REQ, "reference_images": [tmp_path / "none.png"]}, **options(fake_client, fake_log,
                                                                                         fake_clock))
    assert fake_crun.calls == []
