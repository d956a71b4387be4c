"""R2VRequest: validation before any HTTP, and the exact CreateTask payload."""

from __future__ import annotations

from pathlib import Path

import media_factory
import pytest
from hypothesis import given
from hypothesis import strategies as st

import seedance_nb as sn
from seedance_nb._answers import TaskInfo, parse_time, split_media_urls

URL = "https://example.com/a.png"


def fields_of(req: sn.R2VRequest, **kw: object) -> list[str]:
    return [p.field for p in req.validate(**kw)]  # type: ignore[arg-type]


def test_defaults_follow_crun_api_section_0() -> None:
    req = sn.R2VRequest(prompt="[Image1] waves", reference_images=[URL])
    assert (req.resolution, req.aspect_ratio, req.duration, req.audio, req.return_last_frame) == (
        "720p", "16:9", 5, True, False)
    assert req.model == "bytedance/seedance2-0-mini-r2v"
    assert req.byteplus_fallback is None
    assert req.validate() == []


def test_payload_equals_cruns_own_example_with_the_mini_model_id() -> None:
    # CRUN_API.md §3: Crun's 2.0 r2v example; our payload rule must reproduce it exactly.
    expected = {
        "model": "bytedance/seedance2-0-mini-r2v",
        "callback_url": "https://your-domain.com/api/callback",
        "input": {
            "prompt": "[Image1] the boy wearing glasses and a blue T-shirt and the corgi from [Image2] sit on the "
                      "lawn from [Image3] in a 3D cartoon style, with background audio based on [Audio1].",
            "reference_images": ["https://example.com/reference-image-1.png",
                                 "https://example.com/reference-image-2.png",
                                 "https://example.com/reference-image-3.png"],
            "reference_audios": ["https://example.com/reference-audio-1.mp3"],
            "resolution": "720p", "aspect_ratio": "16:9", "duration": 8, "audio": True,
            "return_last_frame": False,
        },
    }
    req = sn.R2VRequest(prompt=expected["input"]["prompt"],  # type: ignore[index]
                        reference_images=expected["input"]["reference_images"],  # type: ignore[index]
                        reference_audios=expected["input"]["reference_audios"],  # type: ignore[index]
                        duration=8)
    payload = req.to_payload(callback_url="https://your-domain.com/api/callback")
    assert payload == expected
    assert list(payload) == ["model", "callback_url", "input"]


def test_payload_leaves_out_empty_lists_and_unset_flags_but_sends_defaults() -> None:
    body = sn.R2VRequest(prompt="[Video1] dances", reference_videos=["https://x.org/v.mp4"]).to_payload()
    assert "callback_url" not in body
    assert set(body["input"]) == {"prompt", "reference_videos", "resolution", "aspect_ratio", "duration",
                                  "audio", "return_last_frame"}
    flagged = sn.R2VRequest(prompt="x", reference_images=[URL], byteplus_fallback=False).to_payload()
    assert flagged["input"]["byteplus_fallback"] is False


def test_extra_fields_pass_through_verbatim_with_a_warning() -> None:
    with pytest.warns(sn.ExtraFieldsWarning, match="seed"):
        body = sn.R2VRequest(prompt="x", reference_images=[URL], extra={"seed": 7}).to_payload()
    assert body["input"]["seed"] == 7
    problems = sn.R2VRequest(prompt="x", reference_images=[URL], extra={"duration": 4}).validate()
    assert [p.field for p in problems] == ["extra['duration']"]


def test_all_problems_are_reported_together_naming_field_value_limit_and_fix() -> None:
    req = sn.R2VRequest(prompt="  ", reference_images=[], reference_audios=[URL], resolution="1080p",
                        aspect_ratio="2:1", duration=20, audio="yes")  # type: ignore[arg-type]
    with pytest.raises(sn.ValidationError) as caught:
        req.to_payload()
    err = caught.value
    assert err.fields == ["prompt", "reference_audios", "resolution", "aspect_ratio", "duration", "audio"]
    duration = next(p for p in err.problems if p.field == "duration")
    assert duration.value == 20 and "4–15" in duration.limit and "15" in duration.fix
    assert "6 problems" in str(err) and "nothing was sent" in str(err)


@pytest.mark.parametrize("duration", [-1, 0, 3, 16, 4.5, True, "5"])
def test_bad_durations(duration: object) -> None:
    assert fields_of(sn.R2VRequest(prompt="x", reference_images=[URL], duration=duration)) == ["duration"]  # type: ignore[arg-type]


def test_minus_one_duration_says_mini_does_not_take_it() -> None:
    problem = sn.R2VRequest(prompt="x", reference_images=[URL], duration=-1).validate()[0]
    assert "Mini" in problem.limit


@given(st.integers(min_value=-50, max_value=60))
def test_duration_limit_is_exactly_4_to_15(duration: int) -> None:
    ok = sn.R2VRequest(prompt="x", reference_images=[URL], duration=duration).validate(check_files=False) == []
    assert ok == (4 <= duration <= 15)


@given(st.integers(0, 12), st.integers(0, 5), st.integers(0, 5))
def test_reference_count_limits(n_images: int, n_videos: int, n_audios: int) -> None:
    req = sn.R2VRequest(prompt="x", reference_images=[URL] * n_images,
                        reference_videos=["https://x.org/v.mp4"] * n_videos,
                        reference_audios=["https://x.org/a.mp3"] * n_audios)
    allowed = (n_images <= 9 and n_videos <= 3 and n_audios <= 3 and n_images + n_videos + n_audios <= 12
               and n_images + n_videos >= 1)
    assert (req.validate(check_files=False) == []) == allowed


def test_audio_alone_is_refused_with_its_own_message() -> None:
    problems = sn.R2VRequest(prompt="x", reference_audios=["https://x.org/a.mp3"]).validate()
    assert [p.field for p in problems] == ["reference_audios"]
    assert "alone" in problems[0].limit


@pytest.mark.parametrize("model,resolution,ok", [
    ("bytedance/seedance2-0-mini-r2v", "480p", True),
    ("bytedance/seedance2-0-mini-r2v", "1080p", False),
    ("bytedance/seedance2-0-fast-r2v", "720p", True),
    ("bytedance/seedance2-0-r2v", "1080p", True),
    ("bytedance/seedance2-0-t2v", "720p", False),
])
def test_model_profiles_and_resolutions(model: str, resolution: str, ok: bool) -> None:
    req = sn.R2VRequest(prompt="x", reference_images=[URL], model=model, resolution=resolution)
    assert (req.validate() == []) == ok


def test_byteplus_fallback_only_on_mini() -> None:
    req = sn.R2VRequest(prompt="x", reference_images=[URL], model="bytedance/seedance2-0-r2v", byteplus_fallback=True)
    assert fields_of(req) == ["byteplus_fallback"]


@pytest.mark.parametrize("ratio", ["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto"])
def test_every_documented_aspect_ratio_is_accepted(ratio: str) -> None:
    assert sn.R2VRequest(prompt="x", reference_images=[URL], aspect_ratio=ratio).validate() == []


@pytest.mark.parametrize("ref,fix_word", [
    ("ftp://x.org/a.png", "URL"),
    ("https://", "full URL"),
    ("data:image/png;base64,AAAA", "Path"),
    ("asset://", "asset"),
    (42, "Path"),
])
def test_reference_forms(ref: object, fix_word: str) -> None:
    problems = sn.R2VRequest(prompt="x", reference_images=[ref]).validate()  # type: ignore[list-item]
    assert [p.field for p in problems] == ["reference_images[0]"]
    assert fix_word in problems[0].fix


def test_asset_ids_and_urls_are_accepted() -> None:
    req = sn.R2VRequest(prompt="x", reference_images=["asset://asset-20260420153000-ab12c", "http://a.org/x.png"])
    assert req.validate() == []


def test_a_string_naming_a_local_file_gets_a_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    media_factory.image(tmp_path / "me.png")
    monkeypatch.chdir(tmp_path)
    problem = sn.R2VRequest(prompt="x", reference_images=["me.png"]).validate()[0]
    assert "Path('me.png')" in problem.fix


@pytest.mark.parametrize("prompt,have,bad", [
    ("[Image3] and [Image1]", 2, "[Image3]"),
    ("[Video1] runs", 0, "[Video1]"),
    ("[Audio2]", 0, "[Audio2]"),
])
def test_prompt_tokens_beyond_the_counts(prompt: str, have: int, bad: str) -> None:
    req = sn.R2VRequest(prompt=prompt, reference_images=[URL] * max(have, 1))
    problems = req.validate()
    assert [p.value for p in problems] == [bad]


@pytest.mark.parametrize("images,videos,prompt,fix", [
    (1, 0, "[Image2] waves", "Add reference_images entries or use [Image1]."),
    (2, 0, "[Image3] waves", "Add reference_images entries or use [Image1]…[Image2]."),
    (3, 0, "[Image1] and [Image9]", "Add reference_images entries or use [Image1]…[Image3]."),
    (1, 1, "[Image1] in [Video2]", "Add reference_videos entries or use [Video1]."),
])
def test_a_token_beyond_the_count_names_the_tokens_that_exist(images: int, videos: int, prompt: str,
                                                              fix: str) -> None:
    # Issue 9: one image gave "use [Image1]…[Image1]"; a range is only written when there are two or more.
    req = sn.R2VRequest(prompt=prompt, reference_images=[URL] * images, reference_videos=[URL] * videos)
    assert [p.fix for p in req.validate()] == [fix]


@pytest.mark.parametrize("spelling,right", [("[image1]", "[Image1]"), ("@Image1", "[Image1]"),
                                            ("@image2", "[Image2]"), ("[Image 1]", "[Image1]"),
                                            ("[VIDEO1]", "[Video1]")])
def test_misspelled_tokens_get_a_hint(spelling: str, right: str) -> None:
    req = sn.R2VRequest(prompt=f"{spelling} walks", reference_images=[URL, URL], reference_videos=[URL])
    problems = req.validate()
    assert any(p.value == spelling and right in p.fix for p in problems)


def test_callback_url_rules() -> None:
    req = sn.R2VRequest(prompt="x", reference_images=[URL])
    assert req.to_payload("https://cb.example.com/x")["callback_url"] == "https://cb.example.com/x"
    assert req.to_payload("http://127.0.0.1:8000/cb")["callback_url"] == "http://127.0.0.1:8000/cb"
    assert req.to_payload("http://localhost/cb")
    for bad in ("http://example.com/cb", "ftp://x/cb", "not a url"):
        with pytest.raises(sn.ValidationError) as caught:
            req.to_payload(bad)
        assert caught.value.fields == ["callback_url"]


def test_from_fields_names_unknown_fields() -> None:
    with pytest.raises(sn.ValidationError) as caught:
        sn.R2VRequest.from_fields(prompt="x", reference_images=[URL], ratio="16:9")
    assert caught.value.fields == ["ratio"]
    base = sn.R2VRequest(prompt="x", reference_images=[URL])
    assert sn.R2VRequest.from_fields(base, duration=9).duration == 9


def test_request_hash_is_stable_and_sensitive() -> None:
    a = sn.R2VRequest(prompt="x", reference_images=[URL])
    assert a.request_hash() == sn.R2VRequest(prompt="x", reference_images=(URL,)).request_hash()
    assert a.request_hash() != a.replace(duration=6).request_hash()


# -- local files ---------------------------------------------------------------------------------------

def test_a_good_local_image_passes_but_cannot_be_put_in_a_payload(tmp_path: Path) -> None:
    path = media_factory.image(tmp_path / "me.png", 640, 480)
    req = sn.R2VRequest(prompt="[Image1] waves", reference_images=[path])
    assert req.validate() == []
    with pytest.raises(sn.ValidationError) as caught:
        req.to_payload()
    assert "upload" in caught.value.problems[0].fix
    uploaded = req.with_uploads({path: "https://files.example.com/me.png"})
    assert uploaded.to_payload()["input"]["reference_images"] == ["https://files.example.com/me.png"]


@pytest.mark.parametrize("size,word", [((200, 400), "300–6000"), ((1300, 400), "0.4–2.5")])
def test_local_image_sides_and_ratio(tmp_path: Path, size: tuple[int, int], word: str) -> None:
    path = media_factory.image(tmp_path / "a.jpg", *size)
    problems = sn.R2VRequest(prompt="x", reference_images=[path]).validate()
    assert [p.field for p in problems] == ["reference_images[0]"]
    assert word in problems[0].limit


def test_local_file_format_and_existence(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    fake_png = tmp_path / "fake.png"
    fake_png.write_text("not an image")
    req = sn.R2VRequest(prompt="x", reference_images=[text, fake_png, tmp_path / "missing.png"])
    problems = req.validate()
    assert [p.field for p in problems] == ["reference_images[0]", "reference_images[1]", "reference_images[2]"]
    assert ".png" in problems[0].limit and "readable" in problems[1].limit and "no such" in problems[2].limit


def test_local_video_and_audio_limits(tmp_path: Path) -> None:
    short = media_factory.video(tmp_path / "short.mp4", 854, 480, seconds=1)
    small = media_factory.video(tmp_path / "small.mp4", 320, 240, seconds=3)
    slow = media_factory.video(tmp_path / "slow.mp4", 854, 480, seconds=3, fps=12)
    req = sn.R2VRequest(prompt="x", reference_videos=[short, small, slow])
    limits = {p.field: p.limit for p in req.validate()}
    assert "1.8" in limits["reference_videos[0]"]
    assert "409,600" in limits["reference_videos[1]"]
    assert "24–60" in limits["reference_videos[2]"]
    long_audio = media_factory.audio(tmp_path / "long.mp3", seconds=16)
    good = media_factory.video(tmp_path / "good.mp4", 854, 480, seconds=3)
    req = sn.R2VRequest(prompt="x", reference_videos=[good], reference_audios=[long_audio])
    assert [p.field for p in req.validate()] == ["reference_audios"]


def test_videos_too_long_in_all(tmp_path: Path) -> None:
    clips = [media_factory.video(tmp_path / f"v{i}.mp4", 854, 480, seconds=6) for i in range(3)]
    problems = sn.R2VRequest(prompt="x", reference_videos=clips).validate()
    assert [p.field for p in problems] == ["reference_videos"]
    assert "18.0 s" in str(problems[0].value)


# -- answers -------------------------------------------------------------------------------------------

def test_task_info_parses_the_documented_success_shape() -> None:
    data = {"task_id": "d695", "status": "success", "provider": "ByteDance", "model_version": "seedance2-0-mini-r2v",
            "param": {"model": "bytedance/seedance2-0-mini-r2v", "callback_url": None, "input": {"prompt": "x"}},
            "create_at": 1768900378, "complete_at": 1768900561, "duration_s": 183, "source": "api",
            "credits": 23.4, "result": {"code": 200, "message": "success",
                                        "media_urls": ["https://cdn/x/abc.mp4", "https://cdn/x/abc_1.png"]}}
    info = TaskInfo.from_data(data)
    assert info.succeeded and info.is_final
    assert info.video_url == "https://cdn/x/abc.mp4" and info.last_frame_url == "https://cdn/x/abc_1.png"
    assert info.credits == 23.4 and info.duration_s == 183.0
    assert info.created_at is not None and info.created_at.tzinfo is not None
    assert (info.completed_at - info.created_at).total_seconds() == 183  # type: ignore[operator]
    assert info.model == "bytedance/seedance2-0-mini-r2v"


def test_task_info_is_tolerant() -> None:
    running = TaskInfo.from_data({"task_id": "t", "status": "RUNNING", "result": None,
                                  "create_at": "2026-01-01T00:00:00Z"})
    assert running.status == "running" and not running.is_final and running.video_url is None
    assert running.created_at is not None and running.created_at.year == 2026
    odd = TaskInfo.from_data({"task_id": "t", "status": "queued", "credits": "n/a"})
    assert odd.status == "queued" and not odd.is_final and odd.credits is None
    wrapped = TaskInfo.from_data({"code": 200, "message": "ok", "data": {"task_id": "w", "status": "failed",
                                  "result": {"code": 501, "message": "Generation failed", "media_urls": []}}})
    assert wrapped.task_id == "w" and wrapped.result_code == 501


def test_time_and_url_helpers() -> None:
    assert parse_time(1768900378000) == parse_time(1768900378)  # milliseconds tolerated
    assert parse_time("1768900378") == parse_time(1768900378)
    assert parse_time("garbage") is None and parse_time(True) is None
    assert split_media_urls(["https://cdn/v?sig=1"]) == ("https://cdn/v?sig=1", None)


def test_asset_info_and_estimate() -> None:
    asset = sn.AssetInfo.from_data({"AssetId": "asset-1", "Name": "n", "AssetType": "Image", "Status": "Processing",
                                    "CreateTime": "2026-04-21T02:41:43Z", "UpdateTime": 1768900378})
    assert not asset.is_active and asset.uri == "asset://asset-1"
    assert asset.created_at is not None and asset.updated_at is not None
    est = sn.Estimate.from_data({"estimated_credits": "29", "balance": 10})
    assert est.estimated_credits == 29.0 and est.affordable is False
