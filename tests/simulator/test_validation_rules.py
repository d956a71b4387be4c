"""CRUN_API.md §4 rules 1–6, checked on the validator itself: every rejection names the field."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from seedance_nb.simulator.validation import (
    DOWNLOAD_FAILED,
    Rejection,
    TaskRequest,
    asset_id_of,
    is_http_url,
    parse_json_object,
    validate_task_body,
)

URL = "https://example.com/x.png"


def fields(result: TaskRequest | Rejection) -> list[str]:
    assert isinstance(result, Rejection), result
    assert result.code == 422
    return [e.split(":", 1)[0] for e in result.errors]


def test_defaults_follow_section_0(body: Callable[..., dict[str, Any]]) -> None:
    ok = validate_task_body(body())
    assert isinstance(ok, TaskRequest)
    assert (ok.resolution, ok.aspect_ratio, ok.duration, ok.audio, ok.return_last_frame) == (
        "720p", "16:9", 5, True, False)
    assert ok.input == body()["input"]  # kept verbatim for the echo


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt": None}, "input.prompt"),
        ({"prompt": "   "}, "input.prompt"),
        ({"prompt": 42}, "input.prompt"),
        ({"reference_images": None}, "input.reference_images"),
        ({"reference_images": []}, "input.reference_images"),
        ({"reference_images": "https://example.com/a.png"}, "input.reference_images"),
        ({"reference_images": [URL] * 10}, "input.reference_images"),
        ({"reference_videos": [URL] * 4}, "input.reference_videos"),
        ({"reference_audios": [URL] * 4}, "input.reference_audios"),
        ({"reference_images": [URL] * 9, "reference_videos": [URL] * 3, "reference_audios": [URL]}, "input"),
        ({"reference_images": ["ftp://example.com/a.png"]}, "input.reference_images[0]"),
        ({"reference_images": [URL, "data:image/png;base64,AAAA"]}, "input.reference_images[1]"),
        ({"reference_images": [URL, 7]}, "input.reference_images[1]"),
        ({"reference_videos": ["asset://"]}, "input.reference_videos[0]"),
        ({"resolution": "1080p"}, "input.resolution"),
        ({"resolution": "4k"}, "input.resolution"),
        ({"aspect_ratio": "2:1"}, "input.aspect_ratio"),
        ({"aspect_ratio": "adaptive"}, "input.aspect_ratio"),
        ({"duration": 3}, "input.duration"),
        ({"duration": 16}, "input.duration"),
        ({"duration": -1}, "input.duration"),
        ({"duration": 5.0}, "input.duration"),
        ({"duration": "5"}, "input.duration"),
        ({"duration": True}, "input.duration"),
        ({"audio": "yes"}, "input.audio"),
        ({"audio": 1}, "input.audio"),
        ({"return_last_frame": "false"}, "input.return_last_frame"),
        ({"byteplus_fallback": 0}, "input.byteplus_fallback"),
    ],
)
def test_each_rule_names_its_field(body: Callable[..., dict[str, Any]], change: dict[str, Any], field: str) -> None:
    data = body()
    for name, value in change.items():
        if value is None:
            data["input"].pop(name, None)
        else:
            data["input"][name] = value
    assert field in fields(validate_task_body(data))


def test_audio_alone_is_refused(body: Callable[..., dict[str, Any]]) -> None:
    data = body(reference_images=None, reference_audios=[URL])
    assert fields(validate_task_body(data)) == ["input.reference_images", "input.reference_audios"]
    message = validate_task_body(body(reference_images=None))
    assert isinstance(message, Rejection)
    assert message.message == "At least one of reference_images or reference_videos must be provided"


def test_top_level_fields(body: Callable[..., dict[str, Any]]) -> None:
    assert fields(validate_task_body(body(model="bytedance/seedance-9"))) == ["model"]
    assert fields(validate_task_body({"input": body()["input"]})) == ["model"]
    assert fields(validate_task_body(body(callback_url="not a url"))) == ["callback_url"]
    assert fields(validate_task_body({"model": body()["model"], "input": [1]})) == ["input"]
    assert fields(validate_task_body([1, 2])) == ["body"]


def test_every_problem_is_listed(body: Callable[..., dict[str, Any]]) -> None:
    data = body(duration=99, aspect_ratio="5:4", audio="no", prompt="")
    assert fields(validate_task_body(data)) == ["input.prompt", "input.aspect_ratio", "input.duration",
                                                 "input.audio"]


def test_valid_variants(body: Callable[..., dict[str, Any]]) -> None:
    assert isinstance(validate_task_body(body(reference_images=None, reference_videos=[URL])), TaskRequest)
    full = body(reference_images=[URL] * 9, reference_videos=[URL] * 3, resolution="480p", aspect_ratio="auto",
                duration=15, audio=False, return_last_frame=True, byteplus_fallback=True, seed=7)
    assert isinstance(validate_task_body(full), TaskRequest)
    big = validate_task_body(body(model="bytedance/seedance2-0-r2v", resolution="1080p"))
    assert isinstance(big, TaskRequest) and big.resolution == "1080p"
    assert isinstance(validate_task_body(body(callback_url="http://127.0.0.1:9/cb")), TaskRequest)


def test_fast_model_has_no_1080p(body: Callable[..., dict[str, Any]]) -> None:
    assert fields(validate_task_body(body(model="bytedance/seedance2-0-fast-r2v", resolution="1080p"))) == [
        "input.resolution"]


def test_assets_must_exist_be_active_and_of_the_right_type(body: Callable[..., dict[str, Any]]) -> None:
    table = {"a1": ("Active", "Image"), "p1": ("Processing", "Image"), "f1": ("Failed", "Image"),
             "v1": ("Active", "Video")}
    lookup = table.get
    assert isinstance(validate_task_body(body(reference_images=["asset://a1"]), assets=lookup), TaskRequest)
    for ref in ("asset://nope", "asset://p1", "asset://f1", "asset://v1"):
        result = validate_task_body(body(reference_images=[URL, ref]), assets=lookup)
        assert fields(result) == ["input.reference_images[1]"], ref


def test_unreachable_host_is_a_download_failure(body: Callable[..., dict[str, Any]]) -> None:
    result = validate_task_body(body(reference_videos=["https://cdn.example.invalid/v.mp4"]))
    assert isinstance(result, Rejection)
    assert result.message == DOWNLOAD_FAILED
    assert fields(result) == ["input.reference_videos[0]"]


@pytest.mark.parametrize(
    ("raw", "field"),
    [(b"{", "body"), (b"", "body"), (b"[]", "body"), (b"null", "body"), (b'"x"', "body"),
     (b'{"a": NaN}', "body"), (b"\xff\xfe\x00", "body"), (b"[" * 100000 + b"]" * 100000, "body")],
)
def test_bodies_that_are_not_json_objects(raw: bytes, field: str) -> None:
    result = parse_json_object(raw)
    assert isinstance(result, Rejection)
    assert result.errors[0].startswith(field + ":")


@pytest.mark.parametrize("n", [20_000, 62_000])
def test_reference_checks_take_linear_time(body: Callable[..., dict[str, Any]], n: int) -> None:
    refs = ["http://" + "a" * n + " ", "https://" + "b/" * (n // 2) + "\t", "asset://" + "c" * n + " "]
    started = time.perf_counter()
    result = validate_task_body(body(reference_images=refs, callback_url=refs[0]))
    assert time.perf_counter() - started < 0.25
    assert fields(result) == ["callback_url", *(f"input.reference_images[{i}]" for i in range(3))]


@pytest.mark.parametrize(
    ("url", "ok"),
    [("https://example.com/a.png", True), ("http://127.0.0.1:8765/files/x.png?a=b#c", True),
     ("http://[::1]:9/cb", True), ("HTTPS://example.com/a.png", False), ("https://", False),
     ("https:///a.png", False), ("https://example.com/a b.png", False), ("https://example.com:99999/", False),
     ("http://localhost:port/", False), ("http://[::1/", False), ("ftp://example.com/a", False), ("", False)],
)
def test_what_counts_as_an_http_url(url: str, ok: bool) -> None:
    assert is_http_url(url) is ok


def test_asset_references() -> None:
    assert asset_id_of("asset://asset-20260420153000-ab12c") == "asset-20260420153000-ab12c"
    assert [asset_id_of(v) for v in ("asset://", "asset://a b", "asset:/x", 7)] == [None] * 4
