"""Several results at once: the grid of players (``sn.Generations``, ``sn.show``) and ``sn.Failed`` records."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import seedance_nb as sn

URL = "https://x.org/a.png"
REQ = sn.R2VRequest(prompt="[Image1] waves", reference_images=[URL], resolution="480p", duration=4)
INFO = sn.TaskInfo.from_data({"task_id": "c0ffee", "status": "success",
                              "result": {"media_urls": ["https://cdn.example/c0ffee.mp4"]}})


def gen(local_id: str, request: sn.R2VRequest = REQ, **kw: object) -> sn.Generation:
    fields: dict[str, object] = {"task_id": f"task-{local_id}", "status": "success", "credits": 11.6,
                                 "elapsed": 41.6, "info": INFO, **kw}
    return sn.Generation(local_id=local_id, request=request, **fields)  # type: ignore[arg-type]


def failed_task(local_id: str = "t9", code: int = 501) -> sn.Failed:
    """A task Crun ran and failed, as ``generate()`` raises it (``task_id``/``local_id`` set by follow)."""
    error = sn.GenerationFailedError("task c0ffee failed: the render crashed", code=code)
    error.task_id, error.local_id = "c0ffee", local_id  # type: ignore[attr-defined]
    return sn.Failed(REQ.replace(prompt="[Image1] falls"), error)


def cells(page: str) -> list[str]:
    return page.split('class="seedance-cell"')[1:]


def captions(page: str) -> list[str]:
    """The parameter caption of each cell (the line after the prompt, when there is one)."""
    return [m.group(1) if (m := re.search(r'</b></div><div style="color:#333;font-size:90%">([^<]*)</div>', c))
            else "" for c in cells(page)]


def header(page: str) -> str:
    return page.split('<div style="margin-bottom:6px">', 1)[1].split("</div>", 1)[0]


def test_captions_show_only_the_parameters_that_differ() -> None:
    grid = sn.Generations([gen("t1"), gen("t2", REQ.replace(duration=8)),
                           gen("t3", REQ.replace(duration=8, aspect_ratio="9:16"))])
    page = grid._repr_html_()
    assert captions(page) == ["16:9 · 4s", "16:9 · 8s", "9:16 · 8s"]
    assert "all: Seedance 2.0 Mini 480p +audio no last frame images: a.png" in header(page)
    assert page.count("480p") == 1  # said once, above the grid, not in every cell
    assert "display:grid" in page and "<script" not in page


def test_identical_parameters_leave_the_cells_without_a_caption() -> None:
    page = sn.Generations([gen("t1"), gen("t2", REQ.replace(prompt="[Image1] jumps"))])._repr_html_()
    assert captions(page) == ["", ""] and "[Image1] jumps" in page
    assert "2 tasks · 2 success · 23.2 credits" in header(page)


def test_a_single_generation_shows_all_its_parameters() -> None:
    page = sn.show(gen("t1"))._repr_html_()
    assert captions(page) == ["Seedance 2.0 Mini · 480p · 16:9 · 4s · +audio · no last frame · images: a.png"]
    assert "success · 11.6 credits · 42s · t1" in cells(page)[0]


def test_every_text_is_escaped() -> None:
    nasty = '<script>alert("x")</script> & "quotes"'
    request = REQ.replace(prompt=nasty, reference_images=["https://x.org/<img src=x onerror=1>.png"])
    error = sn.SubmissionUnknownError("no answer <b>at all</b>", local_id="t<1>")
    page = sn.Generations([gen("<i>id</i>", request), sn.Failed(REQ, error)])._repr_html_()
    assert "<script>" not in page and "<b>at all</b>" not in page and "<img" not in page and "<i>id" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &quot;quotes&quot;" in page  # text and title
    assert "sn.resubmit(&#x27;t&lt;1&gt;&#x27;)" in page


def test_a_long_prompt_is_shortened_and_kept_whole_in_the_tooltip() -> None:
    prompt = "[Image1] " + "walks on " * 30 + "THE END"
    page = sn.show([gen("t1", REQ.replace(prompt=prompt))])._repr_html_()
    assert f'title="{prompt}"' in page and page.count("THE END") == 1 and "…</b>" in page


def test_failures_are_shown_with_their_code_message_and_what_to_do() -> None:
    timeout = sn.Failed(REQ, sn.GenerationTimeout("task abc is still running", task_id="abc", local_id="t2"))
    unknown = sn.Failed(REQ, sn.SubmissionUnknownError("CreateTask got no answer", local_id="t3"))
    invalid = sn.Failed({"prompt": "[Image1] x", "durration": 4},
                        sn.ValidationError([sn.Problem("durration", 4, "is not a field", "Use duration.")]))
    grid = sn.Generations([gen("t1"), failed_task(), timeout, unknown, invalid])
    page = grid._repr_html_()
    one, failed, late, lost, bad = cells(page)
    assert "<video" in one and not any("<video" in c for c in (failed, late, lost, bad))
    assert "GenerationFailedError 501" in failed and "the render crashed" in failed
    assert "sn.resubmit(&#x27;t9&#x27;)" in failed and "failed · task c0ffee · t9" in failed
    assert "GenerationTimeout" in late and "await sn.resume()" in late and "timeout · task abc · t2" in late
    assert "sn.resubmit(&#x27;t3&#x27;)" in lost and "may exist" in lost
    assert "durration" in bad and "nothing was sent" in bad
    assert grid.summary() == "5 tasks · 1 success · 1 failed · 1 timeout · 1 unknown · 1 invalid · 11.6 credits"
    assert [f.status for f in grid.failed] == ["failed", "timeout", "unknown", "invalid"]
    assert grid.succeeded == [grid[0]]


def test_failed_records_say_what_happened() -> None:
    refused = sn.Failed(REQ, sn.InsufficientCreditsError("no credits", code=402))
    moderated = sn.Failed(REQ, sn.ModerationError("refused", code=451))
    assert (refused.status, refused.code, refused.local_id) == ("rejected", 402, None)
    assert "top up" in refused.advice() and "rephrase" in moderated.advice()
    assert sn.Failed(None, RuntimeError("bug")).advice() == "run it again once the cause is fixed"
    assert repr(failed_task()) == "Failed('t9', status='failed', error=GenerationFailedError(" \
        "'Crun answered 501: task c0ffee failed: the render crashed'))"


def test_show_wraps_a_list_a_single_item_and_exceptions() -> None:
    items = [gen("t1"), ValueError("from gather(return_exceptions=True)")]
    grid = sn.show(items)
    assert isinstance(grid, sn.Generations) and isinstance(grid, list) and len(grid) == 2
    assert isinstance(grid[1], sn.Failed) and "from gather" in grid._repr_html_()
    assert sn.show(grid) == grid and len(sn.show(gen("t1"))) == 1
    assert repr(sn.show([gen("t1")])) == "Generations([Generation('t1', task_id='task-t1', status='success')])"
    with pytest.raises(sn.ValidationError) as caught:
        sn.show([gen("t1"), "not a generation"])
    assert caught.value.fields == ["items[1]"]


def test_an_empty_grid_says_so() -> None:
    assert "no tasks" in sn.Generations()._repr_html_()


def test_the_video_plays_from_the_local_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    clip, frame = tmp_path / "runs" / "media" / "ab.mp4", tmp_path / "runs" / "media" / "cd.png"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    frame.write_bytes(b"\x89PNG")
    page = sn.show([gen("t1", video_path=clip, last_frame_path=frame), gen("t2")])._repr_html_()
    local, remote = cells(page)
    assert '<video src="runs/media/ab.mp4" poster="runs/media/cd.png"' in local
    assert '<video src="https://cdn.example/c0ffee.mp4"' in remote  # not archived: Crun's URL


def test_a_success_without_a_local_copy_or_url_says_why() -> None:
    page = sn.show([gen("t1", info=None, media_error="download attempt 1 failed: 503")])._repr_html_()
    assert "video not archived" in page and "download attempt 1 failed" in page
