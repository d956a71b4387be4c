"""report(): the folder's contents — a page that needs no network, media named by checksum, a manifest that
matches the files, contact sheets per group, failures with their error, no key anywhere, comparison."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from media_factory import image, video

import seedance_nb as sn
from seedance_nb._report import report
from seedance_nb._report._manifest import payload_sha256

MODEL = "bytedance/seedance2-0-mini-r2v"
URL = "https://example.com/street.png"
T0 = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


class _Page(HTMLParser):
    """Every tag with its attributes, and whether the document's tags close properly."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.open: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "img", "br", "link", "source"):
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes {self.open[-1:]}"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: Path) -> _Page:
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    assert parser.open == []
    return parser


def _payload(prompt: str, ratio: str, refs: list[str]) -> dict[str, Any]:
    return {"model": MODEL, "input": {"prompt": prompt, "reference_images": refs, "resolution": "480p",
                                      "aspect_ratio": ratio, "duration": 4, "audio": False,
                                      "return_last_frame": False}}


@pytest.fixture
def logged(tmp_path: Path) -> tuple[sn.TaskLog, dict[str, Path]]:
    """A log of 5 tasks in sweep s1: 16:9 ×2 repeats (one video each), 9:16 ×2 (one failed), 1:1 with a video
    whose archive file is gone. One 16:9 task used a local reference file."""
    clips = {"wide": video(tmp_path / "wide.mp4", 640, 360, seconds=1),
             "tall": video(tmp_path / "tall.mp4", 360, 640, seconds=1)}
    ref = image(tmp_path / "me.png", 64, 64)
    uploaded = "https://storage.example.com/u/me.png"
    log = sn.TaskLog(tmp_path / "runs" / "tasks.sqlite")
    records = []
    specs = [("t1", "16:9", "wide", "success", 1), ("t2", "16:9", "wide", "success", 2),
             ("t3", "9:16", "tall", "success", 1), ("t4", "9:16", None, "failed", 2),
             ("t5", "1:1", "gone", "success", 1)]
    for local_id, ratio, clip, status, repeat in specs:
        refs = [uploaded] if local_id == "t1" else [URL]
        payload = _payload("[Image1] waves <b>hi</b>", ratio, refs)
        path = str(clips[clip]) if clip in clips else (str(tmp_path / "gone.mp4") if clip else None)
        records.append({
            "local_id": local_id, "task_id": f"task-{local_id}", "status": status, "model": MODEL,
            "prompt": payload["input"]["prompt"], "reference_images": refs, "aspect_ratio": ratio, "duration": 4,
            "resolution": "480p", "payload": json.dumps(payload), "request_hash": f"h-{ratio}",
            "local_paths": json.dumps({uploaded: str(ref)}) if local_id == "t1" else None,
            "submitted_at": T0, "finished_at": T0 + timedelta(seconds=10 + repeat), "sweep_id": "s1",
            "repeat": repeat, "credits": 23.2 if status == "success" else 0.0, "video_path": path,
            "video_sha256": hashlib.sha256(clips[clip].read_bytes()).hexdigest() if clip in clips else None,
            "error_code": 501 if status == "failed" else None,
            "error_message": "the render crashed" if status == "failed" else None})
    assert log.import_records(records) == 5
    return log, {"ref": ref, **clips}


def test_the_folder_holds_a_page_media_and_a_manifest_that_agree(tmp_path: Path,
                                                                 logged: tuple[sn.TaskLog, dict[str, Path]]) -> None:
    log, files = logged
    page = report(log.df(), tmp_path / "rep", title="Ratios <i>", notes="line 1\nline 2", by="aspect_ratio", log=log)
    folder = page.parent
    assert page == folder / "index.html" and (folder / "manifest.json").is_file()
    parsed = _parse(page)
    videos = [attrs for tag, attrs in parsed.tags if tag == "video"]
    assert len(videos) == 3  # t1, t2 (one file, shared), t3: the failed task and the missing file have none
    for attrs in videos:
        src = str(attrs["src"])
        assert src.startswith("media/") and (folder / src).is_file()
        assert hashlib.sha256((folder / src).read_bytes()).hexdigest() == Path(src).stem
        assert attrs["poster"] and (folder / str(attrs["poster"])).is_file()
    linked = [v for _, attrs in parsed.tags for k, v in attrs.items() if k in ("src", "href", "poster") and v]
    assert linked and all(not v.startswith(("http:", "https:", "//", "data:")) for v in linked)
    text = page.read_text()
    assert "<script" not in text and "url(" not in text and "<link" not in text
    assert "Ratios &lt;i&gt;" in text and "[Image1] waves &lt;b&gt;hi&lt;/b&gt;" in text  # escaped, not markup
    assert "501 · the render crashed" in text and "Not succeeded (1)" in text
    assert "the video was not archived locally" in text  # t5: success, but its file is gone
    assert sorted(p.name for p in (folder / "media").iterdir()) == sorted(
        f"{hashlib.sha256(files[c].read_bytes()).hexdigest()}.mp4" for c in ("wide", "tall"))

    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["title"] == "Ratios <i>" and manifest["notes"] == "line 1\nline 2"
    assert manifest["sweep_ids"] == ["s1"] and manifest["by"] == ["aspect_ratio"]
    assert set(manifest["versions"]) >= {"seedance_nb", "python", "pandas"}
    assert manifest["versions"]["seedance_nb"] == sn.__version__
    tasks = {t["local_id"]: t for t in manifest["tasks"]}
    assert list(tasks) == ["t1", "t2", "t3", "t4", "t5"]
    assert tasks["t3"]["payload"] == _payload("[Image1] waves <b>hi</b>", "9:16", [URL])
    assert tasks["t3"]["payload_sha256"] == payload_sha256(tasks["t3"]["payload"])
    assert (tasks["t3"]["status"], tasks["t3"]["credits"], tasks["t3"]["elapsed_s"]) == ("success", 23.2, 11.0)
    assert tasks["t4"]["media"] is None and tasks["t4"]["error_code"] == 501 and tasks["t5"]["media"] is None
    for task in (tasks["t1"], tasks["t2"], tasks["t3"]):
        media = task["media"]
        assert hashlib.sha256((folder / media["file"]).read_bytes()).hexdigest() == media["sha256"]
        assert media["matches_log"] is True
    assert tasks["t1"]["references"] == [{"field": "reference_images", "index": 0,
                                          "url": "https://storage.example.com/u/me.png", "local_file": "me.png",
                                          "sha256": hashlib.sha256(files["ref"].read_bytes()).hexdigest()}]
    assert tasks["t3"]["references"][0]["sha256"] is None and tasks["t3"]["references"][0]["url"] == URL

    groups = manifest["groups"]
    assert [(g["title"], g["local_ids"]) for g in groups] == [
        ("aspect_ratio = 16:9 · 2 tasks", ["t1", "t2"]), ("aspect_ratio = 9:16 · 2 tasks", ["t3", "t4"]),
        ("aspect_ratio = 1:1 · 1 task", ["t5"])]
    for group in groups[:2]:  # a contact sheet per group with a video: a JPEG, shown on the page
        sheet = folder / group["contact_sheet"]
        assert sheet.read_bytes()[:2] == b"\xff\xd8" and any(
            tag == "img" and attrs.get("src") == group["contact_sheet"] for tag, attrs in parsed.tags)
    assert groups[2]["contact_sheet"] is None  # nothing to tile
    summary = {r["aspect_ratio"]: r for r in manifest["summary"]}
    assert summary["9:16"]["succeeded"] == 1 and summary["16:9"]["repeat_spread_s"] == pytest.approx(0.7071, 1e-3)


def test_no_key_shaped_text_lands_in_the_folder(tmp_path: Path, logged: tuple[sn.TaskLog, dict[str, Path]],
                                                fake_key: str) -> None:
    log, _ = logged
    folder = report(log.df(), tmp_path / "rep", title=f"run with {fake_key}", notes=f"key={fake_key}", log=log).parent
    files = [p for p in folder.rglob("*") if p.is_file()]
    assert len(files) >= 5
    for path in files:
        assert fake_key.encode() not in path.read_bytes(), path
    assert fake_key[:6] in (folder / "index.html").read_text()  # masked, not dropped: the text still reads


def test_a_frame_without_payloads_reads_them_from_the_log_and_an_empty_frame_works(
        tmp_path: Path, logged: tuple[sn.TaskLog, dict[str, Path]]) -> None:
    log, _ = logged
    df = log.df()
    assert "payload" not in df.columns  # df() leaves the payload out; report() reads it from the log
    manifest = json.loads((report(df[df.status == "failed"], tmp_path / "one", log=log).parent
                           / "manifest.json").read_text())
    assert [t["local_id"] for t in manifest["tasks"]] == ["t4"] and manifest["tasks"][0]["payload"]["input"]
    empty = report(df.iloc[:0], tmp_path / "empty", log=log)
    assert _parse(empty).tags and json.loads((empty.parent / "manifest.json").read_text())["tasks"] == []
    with pytest.raises(KeyError):
        report(df, tmp_path / "bad", by="no_such_column", log=log)


def test_compare_to_shows_both_reports_side_by_side(tmp_path: Path,
                                                    logged: tuple[sn.TaskLog, dict[str, Path]]) -> None:
    log, _ = logged
    df = log.df()
    first = report(df, tmp_path / "first", title="First run", log=log)
    second = report(df[df.aspect_ratio == "9:16"], tmp_path / "second", title="Second", log=log,
                    compare_to=first.parent / "manifest.json")
    text = second.read_text()
    assert "Side by side: First run (left)" in text
    parsed = _parse(second)
    srcs = [str(a["src"]) for t, a in parsed.tags if t == "video"]
    assert len(srcs) == 3 + 1 + 1  # the first report's 3 players, this one's in the pairs, and its own card
    assert all((second.parent / s).is_file() for s in srcs)  # the first report's media copied in
    manifest = json.loads((second.parent / "manifest.json").read_text())
    assert manifest["compare_to"]["title"] == "First run" and manifest["compare_to"]["sweep_ids"] == ["s1"]
    with pytest.raises(sn.ValidationError, match=r"not a report manifest|cannot be read"):
        report(df, tmp_path / "third", log=log, compare_to=tmp_path / "nowhere.json")
