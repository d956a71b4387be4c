"""The media archive: streamed download, checksum, verification with PyAV, retries, expiry (MockTransport)."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from sim_helpers import ticking

import seedance_nb._media as media_module
from seedance_nb._media import ArchivedMedia, archive, media_dir, sha256_file, suffix_for
from seedance_nb._probe import BrokenMedia, MediaProbe, decodes_cleanly, ffmpeg_exe, probe, verify
from seedance_nb.errors import MediaError, MediaExpiredError

URL = "https://cdn.example/result/abc123.mp4?X-Sig=1"
PNG_URL = "https://cdn.example/result/abc123_1.png"
Handler = Callable[[httpx.Request], httpx.Response]


def render(out: Path, *args: str) -> bytes:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *args, str(out)], check=True,
                   timeout=60)
    return out.read_bytes()


@pytest.fixture(scope="session")
def mp4(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("render") / "clip.mp4"
    return render(out, "-f", "lavfi", "-i", "color=c=navy:s=640x360:r=24:d=2", "-f", "lavfi", "-i", "sine=d=2",
                  "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest",
                  "-movflags", "+faststart")


@pytest.fixture(scope="session")
def png(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("render") / "frame.png"
    return render(out, "-f", "lavfi", "-i", "color=c=teal:s=320x240", "-frames:v", "1")


class Server:
    """A scripted CDN: answers the n-th request with the n-th handler (the last one repeats)."""

    def __init__(self, *handlers: Handler) -> None:
        self.handlers = handlers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.handlers[min(len(self.requests), len(self.handlers)) - 1](request)


def serve(body: bytes, *, status: int = 200, length: int | None = None) -> Handler:
    headers = {"Content-Length": str(len(body) if length is None else length)}
    return lambda request: httpx.Response(status, headers=headers, content=body)


def fail(exc: type[httpx.TransportError]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc("connection reset", request=request)

    return handler


class Sleeps:
    """A fake sleep that records the backoff instead of waiting."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


async def run(server: Server, folder: Path, *, url: str = URL, sleep: Sleeps | None = None,
              **options: Any) -> ArchivedMedia:
    async with httpx.AsyncClient(transport=httpx.MockTransport(server)) as http:
        return await archive(url, media_dir=folder, http=http, sleep=sleep or Sleeps(), **options)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".part-"))


async def test_archives_a_video_under_its_sha256(mp4: bytes, tmp_path: Path) -> None:
    seen: list[tuple[int, int | None]] = []
    clip = await run(Server(serve(mp4)), tmp_path / "media", progress=lambda done, total: seen.append((done, total)))
    digest = hashlib.sha256(mp4).hexdigest()
    assert clip.path == tmp_path / "media" / f"{digest}.mp4"
    assert clip.sha256 == digest == sha256_file(clip.path) and clip.size == len(mp4)
    assert (clip.width, clip.height, clip.fps, clip.has_audio) == (640, 360, 24.0, True)
    assert clip.duration_s is not None and 1.9 <= clip.duration_s <= 2.1
    assert seen[-1] == (len(mp4), len(mp4))
    assert leftovers(tmp_path / "media") == []


async def test_archives_an_image(png: bytes, tmp_path: Path) -> None:
    frame = await run(Server(serve(png)), tmp_path, url=PNG_URL, kind="image")
    assert frame.path.name == f"{hashlib.sha256(png).hexdigest()}.png"
    assert (frame.width, frame.height, frame.has_audio) == (320, 240, False)


async def test_archiving_twice_keeps_one_file(mp4: bytes, tmp_path: Path) -> None:
    first = await run(Server(serve(mp4)), tmp_path)
    inode = first.path.stat().st_ino
    second = await run(Server(serve(mp4)), tmp_path)
    assert second.path == first.path and second.path.stat().st_ino == inode
    assert [p.name for p in tmp_path.iterdir()] == [first.path.name]


async def test_a_corrupt_download_is_retried(mp4: bytes, tmp_path: Path) -> None:
    server, sleeps = Server(serve(mp4[: len(mp4) // 2]), serve(mp4)), Sleeps()
    clip = await run(server, tmp_path, sleep=sleeps)
    assert clip.sha256 == hashlib.sha256(mp4).hexdigest()
    assert len(server.requests) == 2 and sleeps.calls == [0.5]
    assert leftovers(tmp_path) == []


async def test_an_always_corrupt_download_raises_media_error(mp4: bytes, tmp_path: Path) -> None:
    server, sleeps = Server(serve(mp4[: len(mp4) // 2])), Sleeps()
    with pytest.raises(MediaError, match="decode cleanly") as caught:
        await run(server, tmp_path, sleep=sleeps, attempts=3)
    assert URL in str(caught.value) and "3 times" in str(caught.value)
    assert not isinstance(caught.value, MediaExpiredError)
    assert len(server.requests) == 3 and sleeps.calls == [0.5, 1.0]
    assert list(tmp_path.iterdir()) == []


async def test_a_body_shorter_than_its_content_length_is_retried(mp4: bytes, tmp_path: Path) -> None:
    short = serve(mp4[:1000], length=len(mp4))
    clip = await run(Server(short, serve(mp4)), tmp_path)
    assert clip.size == len(mp4)
    with pytest.raises(MediaError, match=f"truncated download: 1000 of {len(mp4)} bytes"):
        await run(Server(short), tmp_path / "again", attempts=2)


async def test_garbage_with_status_200_is_not_archived(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="no picture"):
        await run(Server(serve(b"<html>Access denied</html>")), tmp_path, attempts=1)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("status", [403, 404, 410])
async def test_an_expired_url_raises_at_once(status: int, tmp_path: Path) -> None:
    server, sleeps = Server(serve(b"gone", status=status)), Sleeps()
    with pytest.raises(MediaExpiredError, match="14 days") as caught:
        await run(server, tmp_path, sleep=sleeps)
    assert URL in str(caught.value)
    assert len(server.requests) == 1 and sleeps.calls == []


async def test_another_client_error_is_not_retried(tmp_path: Path) -> None:
    server = Server(serve(b"bad", status=400))
    with pytest.raises(MediaError, match="400") as caught:
        await run(server, tmp_path)
    assert not isinstance(caught.value, MediaExpiredError) and len(server.requests) == 1


async def test_transport_errors_and_5xx_are_retried_with_backoff(mp4: bytes, tmp_path: Path) -> None:
    server, sleeps = Server(fail(httpx.ConnectError), serve(b"busy", status=503), serve(mp4)), Sleeps()
    clip = await run(server, tmp_path, sleep=sleeps)
    assert clip.size == len(mp4) and sleeps.calls == [0.5, 1.0]
    with pytest.raises(MediaError, match="ConnectError"):
        await run(Server(fail(httpx.ConnectError)), tmp_path, attempts=2)


async def test_a_connection_cut_mid_body_is_retried(mp4: bytes, tmp_path: Path) -> None:
    class Cut(httpx.AsyncByteStream):
        async def __aiter__(self) -> AsyncIterator[bytes]:
            yield mp4[:500]
            raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")

    cut: Handler = lambda request: httpx.Response(200, headers={"Content-Length": str(len(mp4))}, stream=Cut())  # noqa: E731
    clip = await run(Server(cut, serve(mp4)), tmp_path)
    assert clip.size == len(mp4) and leftovers(tmp_path) == []


async def test_no_api_key_header_reaches_the_cdn(mp4: bytes, tmp_path: Path) -> None:
    server = Server(serve(mp4))
    headers = {"Authorization": "Bearer ak_" + "x" * 32, "X-API-Key": "ak_" + "y" * 32}
    async with httpx.AsyncClient(transport=httpx.MockTransport(server), headers=headers) as http:
        await archive(URL, media_dir=tmp_path, http=http)
    sent = server.requests[0].headers
    assert "authorization" not in sent and "x-api-key" not in sent
    async with httpx.AsyncClient(transport=httpx.MockTransport(server), auth=("ak_" + "z" * 32, "")) as http:
        await archive(URL, media_dir=tmp_path, http=http)
    assert "authorization" not in server.requests[1].headers


async def test_verification_does_not_block_the_event_loop(mp4: bytes, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    def slow_verify(path: Path, **options: Any) -> MediaProbe:
        time.sleep(0.05)  # a big file, or full_decode=True: tens of milliseconds
        return verify(path, **options)

    monkeypatch.setattr(media_module, "verify", slow_verify)
    async with ticking(0.005) as ticks:
        await run(Server(serve(mp4)), tmp_path)
    assert ticks.count >= 3


async def test_a_file_system_error_becomes_a_media_error(mp4: bytes, tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("x")
    with pytest.raises(MediaError, match="writing into") as caught:
        await run(Server(serve(mp4)), tmp_path / "not-a-folder" / "media")
    assert isinstance(caught.value.__cause__, OSError)


def test_helpers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x").write_bytes(b"abc")
    assert sha256_file(tmp_path / "x") == hashlib.sha256(b"abc").hexdigest()
    monkeypatch.setenv("SEEDANCE_NB_HOME", str(tmp_path / "home"))
    assert media_dir() == tmp_path / "home" / "media"
    assert media_dir(tmp_path) == tmp_path / "media"
    assert suffix_for(URL, "video") == ".mp4" and suffix_for("https://c/x.MOV", "video") == ".mov"
    assert suffix_for("https://c/x.exe", "video") == ".mp4" and suffix_for("https://c/x", "image") == ".png"


# --- verification in process (PyAV): what a download can do to a video, and what each check catches ---

def packets(path: Path) -> list[tuple[str, int, int]]:
    """(stream type, byte position, size) of every packet, in file order."""
    import av

    with av.open(str(path)) as container:
        return sorted(((p.stream.type, p.pos, p.size) for p in container.demux() if p.size), key=lambda t: t[1])


def damaged(tmp_path: Path, data: bytes | bytearray, name: str = "broken.mp4") -> Path:
    out = tmp_path / name
    out.write_bytes(bytes(data))
    return out


def test_verify_reads_the_facts_of_a_whole_video(mp4: bytes, tmp_path: Path) -> None:
    clip = damaged(tmp_path, mp4, "clip.mp4")
    found = verify(clip, expect_duration_s=2)
    assert (found.width, found.height, found.fps, found.has_audio, found.video_codec) == (640, 360, 24.0, True, "h264")
    assert found == probe(clip) == verify(clip, full=True) and decodes_cleanly(clip)


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9, 0.999])
def test_a_video_truncated_mid_file_is_caught(mp4: bytes, tmp_path: Path, share: float) -> None:
    clip = damaged(tmp_path, mp4[: int(len(mp4) * share)])
    with pytest.raises(BrokenMedia, match=r"cut short|index announces|no picture|covers"):
        verify(clip)
    assert not decodes_cleanly(clip)


def test_a_video_with_a_piece_cut_out_is_caught(mp4: bytes, tmp_path: Path) -> None:
    middle = len(mp4) // 2
    with pytest.raises(BrokenMedia):
        verify(damaged(tmp_path, mp4[:middle] + mp4[middle + 1000:]))


@pytest.mark.parametrize("body", [b"", b"\x00" * 4096, bytes(range(256)) * 200, b"<html>Access denied</html>"],
                         ids=["zero-length", "zeros", "garbage", "html"])
def test_garbage_and_empty_files_show_no_picture(tmp_path: Path, body: bytes) -> None:
    with pytest.raises(BrokenMedia, match="no picture"):
        verify(damaged(tmp_path, body))
    assert not probe(tmp_path / "broken.mp4").has_video


def test_an_mp4_without_its_moov_index_is_caught(mp4: bytes, tmp_path: Path) -> None:
    moov_last = tmp_path / "moov-last.mp4"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-i", str(damaged(tmp_path, mp4, "src.mp4")), "-c", "copy",
                    str(moov_last)], check=True, timeout=60)
    data = moov_last.read_bytes()
    assert data.rfind(b"moov") > data.find(b"mdat")  # the index comes last: a cut file loses it
    with pytest.raises(BrokenMedia, match="no picture"):
        verify(damaged(tmp_path, data[: data.rfind(b"moov") - 8]))


def test_garbage_over_a_packet_start_breaks_its_nal_units(mp4: bytes, tmp_path: Path) -> None:
    video = [(pos, size) for kind, pos, size in packets(damaged(tmp_path, mp4, "src.mp4")) if kind == "video"]
    pos, _ = video[len(video) // 2]
    data = bytearray(mp4)
    data[pos:pos + 64] = b"\xff" * 64  # the 4-byte NAL length now points past the packet
    with pytest.raises(BrokenMedia, match="malformed NAL units"):
        verify(damaged(tmp_path, data))


def test_damage_inside_the_picture_data_needs_the_full_decode(tmp_path: Path) -> None:
    clip = tmp_path / "busy.mp4"
    render(clip, "-f", "lavfi", "-i", "testsrc2=s=640x360:r=24:d=1", "-c:v", "libx264", "-preset", "ultrafast",
           "-pix_fmt", "yuv420p", "-movflags", "+faststart")
    kind, pos, size = max(packets(clip), key=lambda packet: packet[2])  # the key frame: the biggest packet
    data = bytearray(clip.read_bytes())
    data[pos + size // 2:pos + size // 2 + 16] = bytes(range(200, 216))
    broken = damaged(tmp_path, data)
    assert kind == "video" and verify(broken).width == 640  # every packet is there and well formed …
    with pytest.raises(BrokenMedia, match="decode"):
        verify(broken, full=True)  # … but the picture inside one is not


def test_a_video_of_the_wrong_length_is_caught(mp4: bytes, tmp_path: Path) -> None:
    clip = damaged(tmp_path, mp4, "clip.mp4")
    assert verify(clip, expect_duration_s=2.3).duration_s == pytest.approx(2.0, abs=0.1)  # within 0.5 s
    with pytest.raises(BrokenMedia, match="lasts 2 s, but 5 s were asked for"):
        verify(clip, expect_duration_s=5)


async def test_archive_checks_the_length_and_can_decode_in_full(mp4: bytes, tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="5 s were asked for"):
        await run(Server(serve(mp4)), tmp_path / "a", attempts=1, expect_duration_s=5)
    clip = await run(Server(serve(mp4)), tmp_path / "b", expect_duration_s=2, full_decode=True)
    assert clip.width == 640 and leftovers(tmp_path / "b") == []


async def test_an_empty_download_is_retried_then_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="empty file"):
        await run(Server(serve(b"")), tmp_path, attempts=2)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".gif"])
def test_a_truncated_picture_is_caught(tmp_path: Path, suffix: str) -> None:
    whole = tmp_path / f"frame{suffix}"
    render(whole, "-f", "lavfi", "-i", "testsrc2=s=320x240", "-frames:v", "1", "-update", "1")
    assert verify(whole, kind="image").width == 320
    assert probe(whole).fps == (25.0 if suffix == ".gif" else None)  # a GIF may be animated; a still has no rate
    data = whole.read_bytes()
    with pytest.raises(BrokenMedia):
        verify(damaged(tmp_path, data[: len(data) * 2 // 3], f"cut{suffix}"), kind="image")


async def test_a_check_in_a_child_process_finds_what_the_thread_finds(mp4: bytes, tmp_path: Path) -> None:
    from seedance_nb._media_check import ProcessCheck

    check = ProcessCheck()
    try:
        here = await run(Server(serve(mp4)), tmp_path / "thread")
        there = await run(Server(serve(mp4)), tmp_path / "child", check=check)
        assert there.probe == here.probe and there.sha256 == here.sha256
        server, sleeps = Server(serve(mp4[: len(mp4) // 2])), Sleeps()  # a cut download: caught there too
        with pytest.raises(MediaError, match="decode cleanly"):
            await run(server, tmp_path / "cut", sleep=sleeps, attempts=2, check=check)
        assert len(server.requests) == 2 and leftovers(tmp_path / "cut") == []
    finally:
        await check.aclose()


async def test_a_checking_process_that_dies_costs_one_attempt_not_the_kernel(mp4: bytes, tmp_path: Path) -> None:
    from seedance_nb._media_check import ProcessCheck

    check = ProcessCheck()
    try:
        await run(Server(serve(mp4)), tmp_path / "first", check=check)
        child = check._child
        assert child is not None
        child.kill()  # as FFmpeg crashing on a hostile file would
        await child.wait()
        clip = await run(Server(serve(mp4)), tmp_path / "second", check=check)
        assert clip.sha256 == hashlib.sha256(mp4).hexdigest() and check._child is not child  # a new child
    finally:
        await check.aclose()


async def test_where_no_subprocess_can_start_the_check_runs_in_a_thread(mp4: bytes, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from seedance_nb import _media_check
    from seedance_nb._media_check import ProcessCheck

    async def no_subprocess(*args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError  # what Windows' selector event loop says

    monkeypatch.setattr(_media_check.asyncio, "create_subprocess_exec", no_subprocess)
    check = ProcessCheck()
    clip = await run(Server(serve(mp4)), tmp_path, check=check)
    assert clip.sha256 == hashlib.sha256(mp4).hexdigest() and check._child is None and check._unavailable
    await check.aclose()
