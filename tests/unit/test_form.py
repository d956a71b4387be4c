"""``sn.form()`` driven from Python as a user would: set values, click, read what the widgets show.

No server here: the synchronous tests run without an event loop (nothing is scheduled, checks run at once);
the async ones run the form's background tasks on a fake Crun (``httpx.MockTransport``) and a fake clock.
The runs against the real simulator are in tests/integration/test_form_live.py.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from fake_crun import FakeClock, FakeCrun
from media_factory import audio, image, video

import seedance_nb as sn
from seedance_nb.config import home_dir
from seedance_nb.notebook._form import Form
from seedance_nb.notebook._form_model import FormValues, estimate_payload, parse_entry

URL = "https://example.com/a.png"


def upload_value(path: Path) -> tuple[dict[str, Any], ...]:
    """What ipywidgets 8 puts in ``FileUpload.value`` when the browser sends a file."""
    data = path.read_bytes()
    return ({"name": path.name, "type": "image/png", "size": len(data), "content": memoryview(data),
             "last_modified": datetime.datetime.now(datetime.UTC)},)


def test_an_empty_form_cannot_generate_and_says_the_prompt_is_missing() -> None:
    form = sn.form()
    assert form.generate_button.disabled and form.request() is None
    assert "prompt" in form.problems.value and "must not be empty or blank" in form.problems.value
    assert "at least one reference image or video is required" in form.problems.value
    assert form.generate_button.tooltip == "prompt must not be empty or blank"
    assert repr(form) == "Form('', 2 problems)"


def test_a_prompt_naming_a_missing_reference_is_refused_until_fixed() -> None:
    form = sn.form(prompt="[Image2] waves at [Image1]", reference_images=[URL])
    assert form.generate_button.disabled
    assert "[Image2]" in form.problems.value and "refers to Image 2 but the request has only 1 image" in \
        form.problems.value
    form.reference_images.entry.value = "https://example.com/b.png"
    form.reference_images.add_button.click()
    assert not form.generate_button.disabled and "✓ the request is valid" in form.problems.value
    assert form.request() == sn.R2VRequest(prompt="[Image2] waves at [Image1]",
                                           reference_images=[URL, "https://example.com/b.png"])
    form.reference_images.remove(1)
    assert form.generate_button.disabled and form.request() is None


def test_chips_follow_the_reference_counts_and_insert_their_token() -> None:
    form = sn.form(prompt="a dog runs", reference_images=[URL, URL],
                   reference_audios=["https://example.com/hum.mp3"])

    def chips() -> list[str]:
        return [chip.description for chip in form.chips.children]

    assert chips() == ["[Image1]", "[Image2]", "[Audio1]"]
    form.reference_videos.value = ["https://example.com/v.mp4"]
    assert chips() == ["[Image1]", "[Image2]", "[Video1]", "[Audio1]"]
    form.chips.children[1].click()
    assert form.prompt.value == "a dog runs [Image2] "
    form.reference_images.remove(0)
    assert chips() == ["[Image1]", "[Video1]", "[Audio1]"]
    assert "refers to Image 2 but the request has only 1 image" in form.problems.value


def test_the_resolutions_follow_the_model() -> None:
    form = sn.form(prompt="[Image1] waves", reference_images=[URL])
    assert form.resolution.options == ("480p", "720p")
    form.model.value = "bytedance/seedance2-0-r2v"
    assert form.resolution.options == ("480p", "720p", "1080p")
    form.resolution.value = "1080p"
    assert form.request() is not None and form.request().resolution == "1080p"  # type: ignore[union-attr]
    form.model.value = "bytedance/seedance2-0-mini-r2v"  # Mini has no 1080p: back to 720p, still valid
    assert (form.resolution.options, form.resolution.value) == (("480p", "720p"), "720p")
    assert not form.generate_button.disabled


def test_every_control_reaches_the_request() -> None:
    form = sn.form(prompt="[Image1] waves", reference_images=[URL])
    form.aspect_ratio.value, form.duration.value = "9:16", 12
    form.audio.value, form.return_last_frame.value = False, True
    form.resolution.value = "480p"
    assert form.request() == sn.R2VRequest(prompt="[Image1] waves", reference_images=[URL], aspect_ratio="9:16",
                                           duration=12, audio=False, return_last_frame=True, resolution="480p")
    assert (form.duration.min, form.duration.max) == (4, 15)


def test_prefills_that_the_controls_cannot_show_are_refused(tmp_path: Path) -> None:
    with pytest.raises(sn.ValidationError) as caught:
        sn.form(prompt="x", duration=20, model="no-such-model")
    assert caught.value.fields == ["model", "duration"]
    with pytest.raises(sn.ValidationError, match="durration"):
        sn.form(durration=5)
    with pytest.raises(sn.ValidationError, match="is not in the task log"):
        sn.form(from_="t-not-there", log=sn.TaskLog(tmp_path / "tasks.sqlite"))


def test_fields_without_a_control_are_kept() -> None:
    form = sn.form(prompt="[Image1] waves", reference_images=[URL], byteplus_fallback=True)
    assert form.request() is not None and form.request().byteplus_fallback is True  # type: ignore[union-attr]


def test_an_upload_becomes_a_local_path_under_the_home(tmp_path: Path) -> None:
    picture = image(tmp_path / "my photo.png")
    form = sn.form(prompt="[Image1] waves")
    form.reference_images.upload.value = upload_value(picture)  # no loop: saved and checked at once
    (saved,) = form.reference_images.value
    assert isinstance(saved, Path) and saved.name == "my photo.png" and saved.read_bytes() == picture.read_bytes()
    assert saved.is_relative_to(home_dir() / "uploads")
    assert form.reference_images.upload.value == ()  # cleared, so the same file can be chosen again
    assert not form.generate_button.disabled and form.request() is not None
    row = form.reference_images.rows.children[0].children[1].value
    assert "my photo.png" in row and "640×480" in row and "data:image/png;base64," in row  # thumbnail, size


def test_local_videos_and_audio_show_their_duration(tmp_path: Path) -> None:
    clip, hum = video(tmp_path / "clip.mp4", seconds=3), audio(tmp_path / "hum.wav", seconds=2)
    form = sn.form(prompt="[Video1] with [Audio1]", reference_videos=[clip], reference_audios=[hum])
    (video_row,) = (row.children[1].value for row in form.reference_videos.rows.children)
    (audio_row,) = (row.children[1].value for row in form.reference_audios.rows.children)
    assert "[Video1]" in video_row and "clip.mp4" in video_row and "3.0 s · 854×480" in video_row
    assert "[Audio1]" in audio_row and "hum.wav" in audio_row and "2.0 s" in audio_row
    assert not form.generate_button.disabled


def test_a_local_file_that_breaks_the_limits_disables_generate(tmp_path: Path) -> None:
    tiny = image(tmp_path / "tiny.png", width=100, height=100)
    form = sn.form(prompt="[Image1] waves", reference_images=[tiny])
    assert form.generate_button.disabled
    assert "sides must be 300–6000 px" in form.problems.value and "tiny.png" in form.problems.value
    form.reference_images.value = [image(tmp_path / "fine.png")]
    assert not form.generate_button.disabled


def test_a_typed_local_path_is_a_path_and_a_missing_one_is_named(tmp_path: Path) -> None:
    picture = image(tmp_path / "me.png")
    assert parse_entry(f"{picture} {URL} asset://asset-1") == [picture, URL, "asset://asset-1"]
    form = sn.form(prompt="[Image1] waves")
    form.reference_images.entry.value = str(tmp_path / "gone.png")
    form.reference_images.add_button.click()
    assert "no such local file" in form.problems.value and form.generate_button.disabled


def test_local_files_are_priced_as_placeholders(tmp_path: Path) -> None:
    request = sn.R2VRequest(prompt="[Image1] [Image2]", reference_images=[image(tmp_path / "me.png"), URL])
    payload = estimate_payload(request)
    assert payload["input"]["reference_images"][1] == URL
    assert payload["input"]["reference_images"][0].startswith("https://example.com/seedance-nb-estimate/")
    assert FormValues.of(request).request() == request


def test_without_an_event_loop_generate_says_where_to_run_it() -> None:
    form = sn.form(prompt="[Image1] waves", reference_images=[URL])
    form.generate_button.click()
    assert "run the form in a notebook" in form.status.value and "sn.generate_sync" in form.status.value
    assert form.task is None and not form.cancel()
    assert "shown when the form runs in a notebook" in form.cost.value


def test_the_badge_shows_only_for_the_simulator(fake_key: str) -> None:
    real = sn.Client(api_key=fake_key, base_url="http://127.0.0.1:9/api/v1")
    form = sn.form(client=real)
    assert "SIMULATOR" not in form.badge.value and form.badge.layout.display == "none"
    sn.use_simulator(latency=0)
    try:
        shown = sn.form()
        assert "SIMULATOR" in shown.badge.value and shown.badge.layout.display != "none"
    finally:
        sn.stop_simulator()


def test_the_form_shows_as_its_widgets_with_a_short_text() -> None:
    form = sn.form(prompt="[Image1] waves", reference_images=[URL])
    bundle = form._repr_mimebundle_()
    assert bundle["text/plain"] == "Form('[Image1] waves', 1 image, ready)"
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == form.root.model_id


async def test_a_click_runs_generate_in_the_background_and_shows_the_video(
        fake_client: sn.Client, fake_log: sn.TaskLog, fake_clock: FakeClock, fake_crun: FakeCrun) -> None:
    form = sn.form(prompt="[Image1] waves", reference_images=[URL], client=fake_client, log=fake_log)
    form.generate_options.update(clock=fake_clock.monotonic, sleep=fake_clock.sleep)
    form.generate_button.click()
    assert form.running and form.generate_button.description == "Cancel waiting"
    assert "checking, uploading and sending" in form.status.value  # the click returned at once
    await form.idle()
    assert not form.running and form.generate_button.description == "Generate"
    assert form.generation is not None and form.generation.status == "success"
    assert "<video" in form.result_html and "success" in form.status.value
    assert len(fake_log) == 1 and fake_log.get(form.generation.local_id)["status"] == "success"  # type: ignore[index]
    assert "estimate: about 29 credits; the balance is 1000" in form.cost.value
    assert fake_crun.calls.count("/client/job/CreateTask") == 1


async def test_an_error_of_the_run_shows_in_the_widget(fake_client: sn.Client, fake_log: sn.TaskLog,
                                                      fake_crun: FakeCrun) -> None:
    import httpx

    fake_crun.create = lambda request: httpx.Response(402, json={"code": 402, "message": "no credits", "data": None})
    form = sn.form(prompt="[Image1] waves", reference_images=[URL], client=fake_client, log=fake_log)
    form.generate_button.click()
    await form.idle()
    assert form.failed is not None and isinstance(form.failed.error, sn.InsufficientCreditsError)
    assert "InsufficientCreditsError 402" in form.result_html and "no credits" in form.result_html
    assert "top up your credits" in form.result_html  # what to do
    assert "rejected · InsufficientCreditsError" in form.status.value
    assert not form.generate_button.disabled  # fix it, then run it again


async def test_an_unexpected_error_of_a_background_task_is_shown() -> None:
    form = sn.form(prompt="[Image1] waves")
    form._background.spawn(_boom())
    await form.idle()
    assert "the form failed: RuntimeError" in form.result_html and "boom" in form.result_html


async def _boom() -> None:
    raise RuntimeError("boom")


def test_a_form_class_is_exported_lazily() -> None:
    assert sn.form.__module__ == "seedance_nb.notebook._form" and isinstance(sn.form(), Form)


def test_a_task_imported_without_its_payload_prefills_from_its_columns(tmp_path: Path) -> None:
    log = sn.TaskLog(tmp_path / "tasks.sqlite")
    log.import_records([{"local_id": "t1", "status": "success", "prompt": "[Image1] waves", "duration": 8,
                         "aspect_ratio": "9:16", "reference_images": ["https://example.com/a.png"]}])
    form = sn.form(from_="t1", log=log)
    assert form.request() == sn.R2VRequest(prompt="[Image1] waves", duration=8, aspect_ratio="9:16",
                                           reference_images=["https://example.com/a.png"])


def test_a_key_typed_into_the_form_is_never_shown_or_sent_to_a_thumbnail_host() -> None:
    key = "ak_" + "Q" * 32
    form = sn.form(prompt=f"{key} [Image1] waves", reference_images=[f"https://example.com/a.png?token={key}"])
    row = form.reference_images.rows.children[0].children[1].value  # the reference's line: token, thumbnail, URL
    assert key not in repr(form) and key not in row and "example.com/a.png" in row
    assert "<img" not in row  # no thumbnail: the browser would send the key to that host
    assert key not in str(form._repr_mimebundle_())


@pytest.mark.parametrize(("status", "says"), [("pending", "follows it instead of paying again"),
                                              ("unknown", "sn.resubmit('t1') sends it again"),
                                              ("success", "")])
def test_a_form_from_a_task_that_has_not_ended_says_so(tmp_path: Path, status: str, says: str) -> None:
    log = sn.TaskLog(tmp_path / "tasks.sqlite")
    log.import_records([{"local_id": "t1", "status": status, "prompt": "[Image1] waves",
                         "reference_images": ["https://example.com/a.png"]}])
    shown = sn.form(from_="t1", log=log).status.value
    assert (says in shown) if says else shown == ""


def test_a_board_needs_a_positive_limit_and_interval(tmp_path: Path) -> None:
    log = sn.TaskLog(tmp_path / "tasks.sqlite")
    for bad in ({"limit": 0}, {"limit": -5}, {"interval": 0}):
        with pytest.raises(ValueError, match="limit ≥ 1 and interval > 0"):
            sn.board(log, **bad)
