"""sn.gallery(): players grouped by a column, captions of what differs, ratings and tags written to the log."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import seedance_nb as sn
from seedance_nb.notebook._gallery import Gallery

NASTY = '<script>alert("x")</script> & "quotes"'
URL = "https://x.org/street.png"


def record(n: int, **fields: Any) -> dict[str, Any]:
    return {"local_id": f"t{n}", "status": "success", "prompt": f"[Image1] waves {n}", "resolution": "480p",
            "aspect_ratio": "16:9", "duration": 4, "audio": True, "return_last_frame": False,
            "reference_images": [URL], "credits": 11.6} | fields


@pytest.fixture
def log(tmp_path: Path) -> Any:
    with sn.TaskLog(tmp_path / "tasks.sqlite") as opened:
        opened.import_records([record(1), record(2, aspect_ratio="9:16", duration=8),
                               record(3, duration=8), record(4, status="failed", error_code=501,
                                                             error_message="the render crashed")])
        yield opened


def card(view: Gallery, local_id: str) -> str:
    return view.cells[local_id].card_html


def caption(view: Gallery, local_id: str) -> str:
    """The caption of a card: the parameters that differ (empty when none)."""
    found = re.search(r'</b></div><div style="color:#333;font-size:90%">([^<]*)</div>', card(view, local_id))
    return found.group(1) if found else ""


def test_one_titled_section_per_value_of_the_column(log: sn.TaskLog) -> None:
    view = sn.gallery(log.df(), by="aspect_ratio", columns=2, log=log)
    assert view.groups == [("16:9", ["t1", "t3", "t4"]), ("9:16", ["t2"])]
    assert "aspect_ratio = 16:9 · 3 videos" in view.html and "aspect_ratio = 9:16 · 1 video<" in view.html
    sections = view.widget.children[1:]
    assert [len(s.children) for s in sections if hasattr(s, "children")] == [3, 1]
    assert [b.children[0] for b in sections[1].children] == [view.cells[i].card for i in ("t1", "t3", "t4")]
    assert sections[1].layout.grid_template_columns == "repeat(2, minmax(0, 1fr))"
    by_status = sn.gallery(log.df(), by="status", log=log)
    assert [value for value, _ in by_status.groups] == ["success", "failed"]
    one_group = sn.gallery(log.df(), log=log)
    assert one_group.groups == [(None, ["t1", "t2", "t3", "t4"])] and " = " not in one_group.html
    for opened in (view, by_status, one_group):
        opened.close()


def test_captions_show_only_the_parameters_that_differ(log: sn.TaskLog) -> None:
    view = sn.gallery(log.df(), log=log)
    assert [caption(view, i) for i in ("t1", "t2", "t3")] == ["16:9 · 4s", "9:16 · 8s", "16:9 · 8s"]
    assert view.shared == {"model": "Seedance 2.0 Mini", "resolution": "480p", "audio": "+audio",
                           "return_last_frame": "no last frame", "reference_images": "images: street.png"}
    assert view.html.count("480p") == 1 and view.heading.startswith("gallery of 4 videos · all: Seedance")
    assert "the render crashed" in card(view, "t4") and "501" in card(view, "t4") and "<video" not in card(view, "t4")
    assert "11.6 credits" in card(view, "t1") and "t1" in card(view, "t1")
    view.close()


def test_the_video_plays_from_the_archived_copy(tmp_path: Path, fake_mp4: bytes, monkeypatch: pytest.MonkeyPatch,
                                                log: sn.TaskLog) -> None:
    clip = tmp_path / "media" / "clip.mp4"
    clip.parent.mkdir()
    clip.write_bytes(fake_mp4)
    log.import_records([record(5, video_path=str(clip), video_url="https://cdn.example/5.mp4")])
    monkeypatch.chdir(tmp_path)  # the notebook's folder: JupyterLab serves the file relative to it
    view = sn.gallery(["t5", "t1"], log=log)
    assert '<video src="media/clip.mp4"' in card(view, "t5")
    assert view.cells["t5"].card.outputs[0]["data"]["text/html"] == card(view, "t5")  # in an Output: src resolves
    assert "video not archived" in card(view, "t1")  # neither a copy nor a URL
    view.close()


def test_the_request_is_rebuilt_from_the_payload_with_local_file_names(tmp_path: Path, log: sn.TaskLog) -> None:
    photo = tmp_path / "me.png"
    photo.write_bytes(b"png")
    uploaded = "https://files.example/upload/abc123.png"
    payload = {"model": "bytedance/seedance2-0-mini-r2v",
               "input": {"prompt": "[Image1] waves", "reference_images": [uploaded], "duration": 5}}
    log.import_records([record(6, payload=json.dumps(payload), local_paths=json.dumps({uploaded: str(photo)}),
                               reference_images=[uploaded], duration=5)])
    view = sn.gallery(["t6", "t1"], log=log)
    assert "images: me.png" in caption(view, "t6") and "5s" in caption(view, "t6")
    view.close()


def test_every_text_is_escaped(log: sn.TaskLog) -> None:
    log.import_records([record(7, prompt=NASTY, tags=["<b>bold</b>"], error_message="<i>x</i>")])
    view = sn.gallery(log.df(), by="prompt", log=log)
    page = view.html
    assert "<script" not in page and "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert f"prompt = {NASTY}" not in page and "prompt = &lt;script&gt;" in page  # the group title too
    assert view.cells["t7"].tags.value == "<b>bold</b>"  # a widget's value is text, never markup
    view.close()


async def test_a_rating_reaches_the_log_and_sorts_the_frame(log: sn.TaskLog) -> None:
    view = sn.gallery(log.df(), log=log)
    assert view.cells["t2"].rating.value == 0
    view.cells["t2"].rating.value = 4
    view.cells["t3"].rating.value = 2
    await view.saved()
    assert log.get("t2")["rating"] == 4 and log.get("t3")["rating"] == 2
    ranked = log.df().sort_values("rating", ascending=False, na_position="last")
    assert ranked.local_id.tolist()[:2] == ["t2", "t3"]
    assert "saved: ★4" in view.cells["t2"].status.value
    view.cells["t2"].rating.value = 0  # "–" clears it
    await view.saved()
    assert log.get("t2")["rating"] is None
    again = sn.gallery(log.df(), log=log)
    assert again.cells["t3"].rating.value == 2  # a new gallery shows the saved rating
    view.close(), again.close()


async def test_quick_changes_land_in_the_order_they_were_made(log: sn.TaskLog) -> None:
    view = sn.gallery(["t1"], log=log)
    for value in (1, 5, 3, 2, 4):
        view.cells["t1"].rating.value = value
    await view.saved()
    assert log.get("t1")["rating"] == 4
    view.close()


async def test_tags_typed_replace_the_task_s_tags(log: sn.TaskLog) -> None:
    log.tag("t1", "old")
    view = sn.gallery(log.df(), log=log)
    assert view.cells["t1"].tags.value == "old"
    view.cells["t1"].tags.value = "dusk,  keeper, "
    await view.saved()
    assert log.get("t1")["tags"] == ["dusk", "keeper"]
    assert view.cells["t1"].tags.value == "dusk, keeper"  # the field shows what was saved, tidied
    view.cells["t1"].tags.value = "keeper"  # a tag deleted from the field leaves the log too
    await view.saved()
    assert log.get("t1")["tags"] == ["keeper"] and "saved: tags keeper" in view.cells["t1"].status.value
    view.close()


async def test_a_failed_write_shows_in_its_cell(log: sn.TaskLog, tmp_path: Path) -> None:
    other = sn.TaskLog(tmp_path / "other.sqlite")  # t1 is not in this log
    view = sn.gallery(log.df(), log=other)
    view.cells["t1"].rating.value = 5
    view.cells["t2"].tags.value = "ak_" + "a1" * 16  # shaped like an API key: the log refuses it
    await view.saved()
    assert "not saved: KeyError: no task &#x27;t1&#x27; in the task log" in view.cells["t1"].status.value
    assert "#b91c1c" in view.cells["t1"].status.value and "not saved: KeyError" in view.html
    assert "not saved" in view.cells["t2"].status.value
    assert view.cells["t2"].tags.value == ""  # the refused key-shaped text does not stay in the widget's state
    assert "a1a1a1a1a1a1a1a1" not in view.html
    assert log.get("t1")["rating"] is None
    view.close()
    other.close()


def test_without_an_event_loop_a_change_is_written_at_once(log: sn.TaskLog) -> None:
    view = sn.gallery(["t1"], log=log)
    view.cells["t1"].rating.value = 3
    assert log.get("t1")["rating"] == 3 and view.cells["t1"].row["rating"] == 3
    view.close()


def test_generations_and_local_ids_are_accepted_and_bad_input_is_refused(log: sn.TaskLog) -> None:
    req = sn.R2VRequest(prompt="[Image1] waves", reference_images=[URL])
    items = sn.Generations([sn.Generation(local_id="t3", task_id="a", status="success", request=req),
                            sn.Failed(req, sn.GenerationTimeout("late", task_id="b", local_id="t1"))])
    view = sn.gallery(items, log=log)
    assert list(view.cells) == ["t3", "t1"]
    view.close()
    with pytest.raises(ValueError, match="no such column; use one of"):
        sn.gallery(log.df(), by="aspect", log=log)
    with pytest.raises(sn.ValidationError, match="names no task"):
        sn.gallery([3], log=log)


def test_the_text_form_and_the_display_bundle(log: sn.TaskLog) -> None:
    log.rate("t3", 5)
    view = sn.gallery(log.df(), by="duration", log=log)
    assert repr(view).splitlines() == [
        "gallery of 4 videos by duration · all: Seedance 2.0 Mini 480p +audio no last frame images: street.png",
        "duration = 4 · 2 videos: t1, t4",
        "duration = 8 · 2 videos: t2, t3 ★5"]
    bundle = view._repr_mimebundle_()
    assert bundle["text/plain"] == repr(view) and "application/vnd.jupyter.widget-view+json" in bundle
    view.close()


def test_a_gallery_of_what_is_not_in_the_log_is_refused_not_made_up(log: sn.TaskLog) -> None:
    import pandas as pd

    with pytest.raises(sn.ValidationError, match="has no local_id column"):
        sn.gallery(pd.DataFrame({"a": [1, 2]}), log=log)
    with pytest.raises(sn.ValidationError, match="1 of these local ids are not in the task log"):
        sn.gallery(["t1", "nope"], log=log)
    assert len(sn.gallery(pd.DataFrame({"local_id": []}), log=log).cells) == 0  # an empty selection is fine
