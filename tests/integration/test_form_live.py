"""``sn.form()`` against the real simulator on loopback: click Generate, watch it tick, cancel, upload, prefill.

The tests click as a user does and await ``form.idle()`` (the form's background tasks: the run, estimates,
file checks and uploads), then read what the widgets show and what the task log and the simulator recorded.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable
from pathlib import Path
from typing import Any

from media_factory import image
from sim_helpers import URL, quick

import seedance_nb as sn
from seedance_nb.notebook._form_run import DOUBLE_CLICK_S
from seedance_nb.simulator import Simulator

QUICK_RUN: dict[str, Any] = {"sleep": quick}  # polls often; the status line still ticks by the clock


def new_form(client: sn.Client, log: sn.TaskLog, **fields: Any) -> Any:
    form = sn.form(client=client, log=log, **{"prompt": "[Image1] crosses the street", "reference_images": [URL],
                                              "duration": 4, "resolution": "480p", **fields})
    form.generate_options.update(QUICK_RUN)
    return form


async def until(check: Callable[[], bool], seconds: float = 20.0) -> None:
    """Wait (bounded) until ``check()`` holds."""
    for _ in range(int(seconds / 0.05)):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the condition never held")


async def test_a_click_logs_one_task_and_plays_its_video(sim: Simulator, client: sn.Client, log: sn.TaskLog) -> None:
    async with client:
        form = new_form(client, log)
        assert not form.generate_button.disabled
        form.generate_button.click()
        assert form.generate_button.description == "Cancel waiting" and form.task is not None
        await form.idle()
        await asyncio.sleep(0)  # the run's done-callback asks for a new estimate: the balance changed
        await form.idle()
    assert f"the balance is {sim.stats()['balance']:g}" in form.cost.value  # after the payment, not before
    assert form.task.done() and form.generate_button.description == "Generate"
    assert form.generation is not None and form.generation.status == "success"
    assert "<video" in form.result_html and "success" in form.status.value
    df = log.df()
    assert len(df) == 1 and df.status.tolist() == ["success"] and df.local_id[0] == form.generation.local_id
    assert sim.stats()["tasks_created"] == 1
    assert "SIMULATOR" in form.badge.value  # noticed from the simulator's answers


async def test_the_status_line_ticks_while_the_task_runs(fake_key: str, log: sn.TaskLog) -> None:
    with Simulator(latency=3.0, api_key=fake_key) as sim:
        async with sn.Client(api_key=fake_key, base_url=sim.base_url, timeout=2.0) as client:
            form = new_form(client, log)
            seen: list[str] = []
            form.status.observe(lambda change: seen.append(change["new"]), names="value")
            form.generate_button.click()
            await form.idle()
    ticks = [text for text in seen if "elapsed" in text]
    assert len(set(ticks)) >= 3, seen  # elapsed moves every second while the task runs
    assert any("1s elapsed" in t for t in ticks) and any("2s elapsed" in t for t in ticks)
    assert form.generation is not None and form.generation.status == "success"


async def test_cancel_detaches_and_resume_finishes_it(fake_key: str, log: sn.TaskLog) -> None:
    with Simulator(latency=4.0, api_key=fake_key) as sim:
        async with sn.Client(api_key=fake_key, base_url=sim.base_url, timeout=2.0) as client:
            form = new_form(client, log)
            form.generate_button.click()
            await until(lambda: len(log) == 1 and bool(log.df().task_id.notna().all()))
            await asyncio.sleep(DOUBLE_CLICK_S)  # a quicker second click is taken for a double click
            form.generate_button.click()  # now "Cancel waiting"
            await form.idle()
            local_id = log.df().local_id[0]
            assert form.task is not None and form.task.cancelled() and not form.running
            assert "detached" in form.status.value and "it goes on at Crun" in form.status.value
            assert local_id in form.result_html and "sn.resume()" in form.result_html
            assert form.generate_button.description == "Generate" and not form.generate_button.disabled
            assert log.get(local_id)["status"] in ("pending", "running")  # type: ignore[index]
            report = await sn.resume(client=client, log=log, progress=False, sleep=quick)
        assert report.status.tolist() == ["success"] and sim.stats()["tasks_created"] == 1


async def test_a_double_click_on_generate_runs_once_and_does_not_cancel(fake_key: str, log: sn.TaskLog) -> None:
    with Simulator(latency=1.0, api_key=fake_key) as sim:
        async with sn.Client(api_key=fake_key, base_url=sim.base_url) as client:
            form = new_form(client, log)
            form.generate_button.click()
            form.generate_button.click()  # the second click of a double click
            await form.idle()
        assert form.generation is not None and form.generation.status == "success"
        assert sim.stats()["tasks_created"] == 1 and len(log) == 1


async def test_an_uploaded_file_is_sent_and_its_name_logged(sim: Simulator, client: sn.Client, log: sn.TaskLog,
                                                            tmp_path: Path) -> None:
    picture = image(tmp_path / "my photo.png")
    data = picture.read_bytes()
    async with client:
        form = new_form(client, log, reference_images=[])
        form.reference_images.upload.value = ({"name": "my photo.png", "type": "image/png", "size": len(data),
                                                "content": memoryview(data),
                                                "last_modified": datetime.datetime.now(datetime.UTC)},)
        await form.idle()  # saved in a worker thread, then checked (ffmpeg) in another
        (saved,) = form.reference_images.value
        assert isinstance(saved, Path) and saved.name == "my photo.png" and saved.read_bytes() == data
        assert "data:image/png;base64," in form.reference_images.rows.children[0].children[1].value
        assert not form.generate_button.disabled
        form.generate_button.click()
        await form.idle()
    assert form.generation is not None and form.generation.status == "success"
    row = log.df().iloc[0]
    assert row.reference_files == ["my photo.png"] and row.reference_images[0].startswith("http")
    assert sim.stats()["uploads_completed"] == 1


async def test_from_a_logged_task_prefills_every_field(sim: Simulator, client: sn.Client, log: sn.TaskLog,
                                                       tmp_path: Path) -> None:
    picture = image(tmp_path / "me.png")
    async with client:
        gen = await sn.generate(prompt="[Image1] meets [Image2]", reference_images=[picture, URL], duration=6,
                                resolution="480p", aspect_ratio="9:16", audio=False, return_last_frame=True,
                                model="bytedance/seedance2-0-fast-r2v", client=client, log=log, progress=False,
                                sleep=quick)
        form = sn.form(from_=gen.local_id, client=client, log=log)
        assert form.prompt.value == "[Image1] meets [Image2]"
        assert form.reference_images.value == (picture, URL)  # the local file, as the user gave it
        assert (form.model.value, form.resolution.value, form.aspect_ratio.value) == \
            ("bytedance/seedance2-0-fast-r2v", "480p", "9:16")
        assert (form.duration.value, form.audio.value, form.return_last_frame.value) == (6, False, True)
        await form.idle()  # the local file is checked in a worker thread
        assert form.request() == gen.request
        picture.unlink()  # gone: the form falls back to the URL it was uploaded to
        again = sn.form(from_=gen.local_id, client=client, log=log)
        first = again.reference_images.value[0]
        assert isinstance(first, str) and first.startswith("http") and not again.generate_button.disabled
        await again.idle()


async def test_the_estimate_and_the_balance_show_before_generating(sim: Simulator, client: sn.Client,
                                                                   log: sn.TaskLog) -> None:
    async with client:
        form = new_form(client, log, resolution="720p")
        await form.idle()
        assert "estimate: about 23.2 credits; the balance is 100000" in form.cost.value
        form.prompt.value = ""  # invalid: no estimate, the balance still shows
        await form.idle()
        assert "balance: 100000 credits" in form.cost.value and form.generate_button.disabled
        form.prompt.value = "[Image1] waves"
        form.reference_images.value = ["https://cdn.example.invalid/a.png"]  # a URL the simulator cannot fetch
        await form.idle()
        assert "estimate unavailable: RejectedError" in form.cost.value
        assert not form.generate_button.disabled  # a failing estimate never blocks Generate by itself
    assert sim.stats()["tasks_created"] == 0


async def test_a_failed_task_shows_its_code_and_what_to_do(fake_key: str, log: sn.TaskLog) -> None:
    with Simulator(latency=0.3, api_key=fake_key, fail_rate=1.0) as sim:
        async with sn.Client(api_key=fake_key, base_url=sim.base_url, timeout=2.0) as client:
            form = new_form(client, log)
            form.generate_button.click()
            await form.idle()
    assert form.failed is not None and form.failed.code == 501 and form.generation is None
    local_id = log.df().local_id[0]
    assert "GenerationFailedError 501" in form.result_html
    assert f"await sn.resubmit(&#x27;{local_id}&#x27;) sends it again" in form.result_html
    assert "failed" in form.status.value and not form.generate_button.disabled
