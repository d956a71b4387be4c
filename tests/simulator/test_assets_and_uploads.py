"""Asset review, ``asset://`` references, the presigned two-step upload, and uploaded images in renders."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from seedance_nb._probe import ffmpeg_exe
from seedance_nb.simulator import Simulator

ASSET_ID = re.compile(r"^asset-\d{14}-[a-z0-9]{5}$")
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def solid_png(path: Path, colour: str, size: str = "320x240") -> bytes:
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "lavfi", "-i", f"color=c={colour}:s={size}",
                    "-frames:v", "1", str(path)], check=True)
    return path.read_bytes()


def upload(c: httpx.Client, data: bytes, content_type: str = "image/png", ext: str = ".png") -> str:
    slot = c.get("/client/files/upload-url", params={"content_type": content_type, "ext": ext}).json()["data"]
    r = httpx.put(slot["presigned_url"], content=data, headers={"Content-Type": content_type}, trust_env=False)
    assert r.status_code == 200
    url: str = slot["file_url"]
    return url


def test_asset_lifecycle(make_sim: Callable[..., Simulator], client_of: Callable[..., httpx.Client],
                         body: Callable[..., dict[str, Any]], clock: Any) -> None:
    sim = make_sim(asset_delay=1, clock=clock)
    c = client_of(sim)
    r = c.post("/client/job/asset-upload", json={"name": "face-front", "asset_type": "Image",
                                                 "asset_url": "https://example.com/face.jpg"})
    asset_id = r.json()["data"]["AssetId"]
    assert ASSET_ID.match(asset_id)
    info = c.get("/client/job/asset-info", params={"asset_id": asset_id}).json()["data"]
    assert info["Status"] == "Processing"
    assert set(info) == {"AssetId", "Name", "AssetType", "Status", "CreateTime", "UpdateTime"}
    assert (info["AssetId"], info["Name"], info["AssetType"]) == (asset_id, "face-front", "Image")
    assert ISO.match(info["CreateTime"]) and ISO.match(info["UpdateTime"])
    # Not usable while under review.
    early = c.post("/client/job/CreateTask", json=body(reference_images=[f"asset://{asset_id}"]))
    assert early.status_code == 422 and early.json()["errors"][0].startswith("input.reference_images[0]:")
    clock.advance(1)
    assert c.get("/client/job/asset-info", params={"asset_id": asset_id}).json()["data"]["Status"] == "Active"
    late = c.post("/client/job/CreateTask", json=body(reference_images=[f"asset://{asset_id}"]))
    assert late.status_code == 200
    assert c.get("/client/job/asset-info", params={"asset_id": "asset-20260101000000-zzzzz"}).status_code == 404


def test_asset_from_an_unreachable_host_fails_review(api: httpx.Client, body: Callable[..., dict[str, Any]]) -> None:
    asset_id = api.post("/client/job/asset-upload", json={"name": "x", "asset_type": "Video",
                                                          "asset_url": "https://media.example.invalid/v.mp4"}
                        ).json()["data"]["AssetId"]
    assert api.get("/client/job/asset-info", params={"asset_id": asset_id}).json()["data"]["Status"] == "Failed"
    r = api.post("/client/job/CreateTask", json=body(reference_videos=[f"asset://{asset_id}"]))
    assert r.status_code == 422 and "Failed" in r.json()["errors"][0]
    r = api.post("/client/job/CreateTask", json=body(reference_images=["https://cdn.example.invalid/a.png"]))
    assert (r.status_code, r.json()["message"]) == (422, "Failed to download media from the provided URL")
    assert r.json()["errors"] == ["input.reference_images[0]: Failed to download media from the provided URL"]


def test_unknown_asset_reference_is_422(api: httpx.Client, body: Callable[..., dict[str, Any]]) -> None:
    r = api.post("/client/job/CreateTask", json=body(reference_images=["https://example.com/a.png",
                                                                       "asset://asset-20260420153000-ab12c"]))
    assert r.status_code == 422 and r.json()["errors"][0].startswith("input.reference_images[1]:")


def test_presigned_upload_round_trip(api: httpx.Client, crun_simulator: Simulator) -> None:
    slot = api.get("/client/files/upload-url", params={"content_type": "image/png", "ext": ".png"}).json()["data"]
    assert slot["presigned_url"].startswith(f"{crun_simulator.root_url}/_storage/put/")
    assert slot["file_url"].startswith(f"{crun_simulator.root_url}/files/") and slot["file_url"].endswith(".png")
    assert httpx.get(slot["file_url"], trust_env=False).status_code == 404  # nothing stored yet
    data = bytes(range(256)) * 1000
    wrong = httpx.put(slot["presigned_url"], content=data, headers={"Content-Type": "image/jpeg"},
                      trust_env=False)
    assert wrong.status_code == 403 and "image/png" in wrong.text
    r = httpx.put(slot["presigned_url"], content=data, headers={"Content-Type": "image/png"}, trust_env=False)
    assert r.status_code == 200 and "code" not in r.text  # plain storage answer, no envelope, no key needed
    again = httpx.put(slot["presigned_url"], content=b"other", headers={"Content-Type": "image/png"},
                      trust_env=False)
    assert again.status_code == 403  # single use
    got = httpx.get(slot["file_url"], trust_env=False)
    assert got.status_code == 200 and got.content == data and got.headers["content-type"] == "image/png"
    assert crun_simulator.stats()["uploads_completed"] == 1
    no_ext = api.get("/client/files/upload-url", params={"content_type": "video/mp4"}).json()["data"]
    assert no_ext["file_url"].endswith(".mp4")
    assert httpx.put(f"{crun_simulator.root_url}/_storage/put/forged", content=b"x",
                     headers={"Content-Type": "image/png"}, trust_env=False).status_code == 403


def pixel(png: Path, x: int, y: int) -> tuple[int, ...]:
    raw = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(png), "-vf", f"crop=1:1:{x}:{y}",
                          "-f", "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True, check=True).stdout
    return tuple(raw)


def test_uploaded_images_are_drawn_into_the_video(api: httpx.Client, body: Callable[..., dict[str, Any]],
                                                  tmp_path: Path) -> None:
    red = upload(api, solid_png(tmp_path / "red.png", "red"))
    asset_id = api.post("/client/job/asset-upload", json={"name": "red", "asset_type": "Image",
                                                          "asset_url": red}).json()["data"]["AssetId"]
    results = {}
    for name, ref in (("upload", red), ("asset", f"asset://{asset_id}"), ("external", "https://example.com/r.png")):
        task_id = api.post("/client/job/CreateTask", json=body(prompt=f"overlay {name}", duration=4,
                                                               reference_images=[ref], return_last_frame=True)
                           ).json()["data"]["task_id"]
        urls = api.get("/client/job/TaskInfo", params={"task_id": task_id}).json()["data"]["result"]["media_urls"]
        png = tmp_path / f"{name}.png"
        png.write_bytes(httpx.get(urls[1], trust_env=False, timeout=30).content)
        results[name] = pixel(png, 640, 510)  # the middle of the single reference tile at 1280x720
    r, g, b = results["upload"]
    assert r > 200 and g < 60 and b < 60
    assert results["asset"] == results["upload"]
    r, g, b = results["external"]
    assert not (r > 200 and g < 60 and b < 60)  # a labelled placeholder, nothing fetched


@pytest.mark.parametrize("data", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\x00" * 50])
def test_undecodable_uploads_fall_back_to_a_placeholder(api: httpx.Client, body: Callable[..., dict[str, Any]],
                                                        data: bytes) -> None:
    ref = upload(api, data)
    task_id = api.post("/client/job/CreateTask", json=body(prompt=f"broken {data[:4]!r}", duration=4,
                                                           reference_images=[ref])).json()["data"]["task_id"]
    url = api.get("/client/job/TaskInfo", params={"task_id": task_id}).json()["data"]["result"]["media_urls"][0]
    assert httpx.get(url, trust_env=False, timeout=30).status_code == 200
