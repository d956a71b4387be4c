"""Rendered results: real MP4s (probed), the last-frame PNG, Range requests, the render cache, expiry."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from seedance_nb._probe import decodes_cleanly, ffmpeg_exe, probe
from seedance_nb.simulator import Simulator


def finished(c: httpx.Client, sent: dict[str, Any]) -> dict[str, Any]:
    task_id = c.post("/client/job/CreateTask", json=sent).json()["data"]["task_id"]
    data: dict[str, Any] = c.get("/client/job/TaskInfo", params={"task_id": task_id}).json()["data"]
    assert data["status"] == "success"
    return data


def download(url: str, path: Path) -> Path:
    r = httpx.get(url, trust_env=False, timeout=30)
    assert r.status_code == 200
    assert r.headers["x-crun-simulator"] == "seedance_nb"
    path.write_bytes(r.content)
    return path


@pytest.mark.parametrize(
    ("fields", "size", "audio"),
    [
        ({"resolution": "720p", "aspect_ratio": "16:9", "duration": 5, "audio": True}, (1280, 720), True),
        ({"resolution": "480p", "aspect_ratio": "9:16", "duration": 4, "audio": False}, (480, 854), False),
        ({"resolution": "720p", "aspect_ratio": "21:9", "duration": 4, "audio": False}, (1680, 720), False),
        ({"resolution": "480p", "aspect_ratio": "3:4", "duration": 6, "audio": True}, (480, 640), True),
    ],
)
def test_rendered_mp4_matches_the_request(session_api: httpx.Client, body: Callable[..., dict[str, Any]],
                                          tmp_path: Path, fields: dict[str, Any], size: tuple[int, int],
                                          audio: bool) -> None:
    data = finished(session_api, body(prompt=f"probe {fields}", **fields))
    (url,) = data["result"]["media_urls"]
    assert url.endswith(".mp4")
    info = probe(download(url, tmp_path / "clip.mp4"))
    assert (info.width, info.height) == size
    assert info.duration_s == pytest.approx(fields["duration"], abs=0.05)
    assert info.fps == 24
    assert (info.video_codec, info.pixel_format) == ("h264", "yuv420p")
    assert info.has_audio is audio
    if audio:
        assert info.audio_codec == "aac"


def test_clip_is_faststart_and_decodes(session_api: httpx.Client, body: Callable[..., dict[str, Any]],
                                       tmp_path: Path) -> None:
    data = finished(session_api, body(prompt="faststart check", duration=4))
    clip = download(data["result"]["media_urls"][0], tmp_path / "c.mp4").read_bytes()
    assert clip.index(b"moov") < clip.index(b"mdat")  # +faststart: the index comes first
    assert decodes_cleanly(tmp_path / "c.mp4")


def test_last_frame_png(session_api: httpx.Client, body: Callable[..., dict[str, Any]], tmp_path: Path) -> None:
    data = finished(session_api, body(prompt="last frame", aspect_ratio="1:1", duration=4, return_last_frame=True))
    video_url, frame_url = data["result"]["media_urls"]
    assert frame_url == video_url.removesuffix(".mp4") + "_1.png"
    frame = download(frame_url, tmp_path / "last.png")
    assert frame.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    info = probe(frame)
    assert (info.video_codec, info.width, info.height) == ("png", 720, 720)


COUNTER = "crop=440:60:840:660"  # the frame counter, bottom right of a 1280x720 picture


def counter_pixels(path: Path, *options: str) -> bytes:
    """RGB pixels of the frame-counter area in the last picture ffmpeg decodes from ``path``."""
    out = subprocess.run([ffmpeg_exe(), "-v", "error", *options, "-i", str(path), "-vf", COUNTER,
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    size = 440 * 60 * 3
    assert out and len(out) % size == 0
    return out[-size:]


def mean_diff(a: bytes, b: bytes) -> float:
    return sum(abs(x - y) for x, y in zip(a, b, strict=True)) / len(a)


def test_last_frame_png_is_the_videos_last_frame(session_api: httpx.Client, body: Callable[..., dict[str, Any]],
                                                 tmp_path: Path) -> None:
    data = finished(session_api, body(prompt="same last frame", duration=4, return_last_frame=True))
    video = download(data["result"]["media_urls"][0], tmp_path / "v.mp4")
    frame = download(data["result"]["media_urls"][1], tmp_path / "f.png")
    png = counter_pixels(frame)
    assert mean_diff(png, counter_pixels(video, "-sseof", "-0.5")) < 5  # the same picture, up to H.264 loss
    assert mean_diff(png, counter_pixels(video, "-t", "0.01")) > 3 * mean_diff(
        png, counter_pixels(video, "-sseof", "-0.5"))  # and clearly not the first one


def test_range_requests_answer_206(session_api: httpx.Client, body: Callable[..., dict[str, Any]]) -> None:
    url = finished(session_api, body(prompt="range", duration=4))["result"]["media_urls"][0]
    whole = httpx.get(url, trust_env=False).content
    part = httpx.get(url, headers={"Range": "bytes=100-299"}, trust_env=False)
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 100-299/{len(whole)}"
    assert part.content == whole[100:300]
    tail = httpx.get(url, headers={"Range": "bytes=-64"}, trust_env=False)
    assert tail.status_code == 206 and tail.content == whole[-64:]
    head = httpx.head(url, trust_env=False)
    assert head.status_code == 200 and int(head.headers["content-length"]) == len(whole)
    assert head.headers["accept-ranges"] == "bytes"


def test_identical_requests_share_one_render(make_sim: Callable[..., Simulator],
                                             client_of: Callable[..., httpx.Client],
                                             body: Callable[..., dict[str, Any]]) -> None:
    sim = make_sim()
    c = client_of(sim)
    first = finished(c, body(prompt="cache me", duration=4))["result"]["media_urls"][0]
    second = finished(c, body(prompt="cache me", duration=4))["result"]["media_urls"][0]
    other = finished(c, body(prompt="not the same", duration=4))["result"]["media_urls"][0]
    assert first != second
    blobs = [httpx.get(u, trust_env=False, timeout=30).content for u in (first, second, other)]
    assert blobs[0] == blobs[1] != blobs[2]
    stats = sim.stats()
    assert stats["renders"] == 2 and stats["render_cache_hits"] >= 1


def test_media_waits_for_the_final_status(make_sim: Callable[..., Simulator],
                                          client_of: Callable[..., httpx.Client],
                                          body: Callable[..., dict[str, Any]], clock: Any) -> None:
    sim = make_sim(latency=30, clock=clock)
    c = client_of(sim)
    task_id = c.post("/client/job/CreateTask", json=body(duration=4)).json()["data"]["task_id"]
    url = f"{sim.root_url}/media/{task_id}.mp4"
    assert httpx.get(url, trust_env=False).status_code == 404
    clock.advance(30)
    # Straight to the media, before any TaskInfo: the render starts on this GET.
    r = httpx.get(url, trust_env=False, timeout=30)
    assert r.status_code == 200 and r.headers["content-type"] == "video/mp4"
    assert httpx.get(f"{sim.root_url}/media/{task_id}_1.png", trust_env=False).status_code == 404
    assert httpx.get(f"{sim.root_url}/media/not-a-task.mp4", trust_env=False).status_code == 404


def test_expire_media(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client],
                      body: Callable[..., dict[str, Any]]) -> None:
    sim = make_sim()
    c = client_of(sim)
    keep = finished(c, body(prompt="keep", duration=4))["result"]["media_urls"][0]
    gone = finished(c, body(prompt="gone", duration=4, return_last_frame=True))
    urls = gone["result"]["media_urls"]
    assert all(httpx.get(u, trust_env=False, timeout=30).status_code == 200 for u in urls)
    assert sim.expire_media([gone["task_id"]]) == 1
    assert [httpx.get(u, trust_env=False).status_code for u in urls] == [404, 404]
    assert httpx.get(keep, trust_env=False, timeout=30).status_code == 200
    assert sim.expire_media() == 2
    assert httpx.get(keep, trust_env=False).status_code == 404


def test_media_ttl(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client],
                   body: Callable[..., dict[str, Any]], clock: Any) -> None:
    sim = make_sim(media_ttl=3600, clock=clock)
    c = client_of(sim)
    url = finished(c, body(duration=4))["result"]["media_urls"][0]
    clock.advance(3599)
    assert httpx.get(url, trust_env=False, timeout=30).status_code == 200
    clock.advance(1)
    assert httpx.get(url, trust_env=False).status_code == 404


def test_a_failed_render_answers_500_and_is_retried(make_sim: Callable[..., Simulator],
                                                    client_of: Callable[..., httpx.Client],
                                                    body: Callable[..., dict[str, Any]],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    sim = make_sim()
    c = client_of(sim)
    monkeypatch.setattr("seedance_nb.simulator.render.ffmpeg_exe", lambda: "/bin/false")
    url = finished(c, body(prompt="broken ffmpeg", duration=4))["result"]["media_urls"][0]
    broken = httpx.get(url, trust_env=False, timeout=30)
    assert broken.status_code == 500 and "Render failed" in broken.text
    monkeypatch.undo()
    assert httpx.get(url, trust_env=False, timeout=30).status_code == 200
