"""What a media file is, and whether it is whole — read in process with PyAV (its wheels bundle FFmpeg).

``probe`` reads a file's header: container, size, duration, frame rate, codecs, audio. ``verify`` checks that
an archived file is whole: it opens the container and demuxes **every packet** — each must be present, not cut
short, inside the file, in timestamp order, and (H.264/HEVC) made of well-formed NAL units; every stream must
hold as many packets as its index announces and last as long as its header says. A truncated, cut, garbage or
zero-length file, or an MP4 without its ``moov`` index, fails this check in a few milliseconds. A full decode
of every frame (``full=True``, about 15× the cost) also catches damage inside the compressed picture data.

The bundled ffmpeg executable (imageio-ffmpeg, ``ffmpeg_exe``) is still what renders the simulator's clips
and the tests' media; ``parse_ffmpeg_info`` reads what ``ffmpeg -i`` prints (pure, kept for such callers).

Example:
    >>> info = parse_ffmpeg_info('''Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'a.mp4':
    ...   Duration: 00:00:05.00, start: 0.000000, bitrate: 95 kb/s
    ...   Stream #0:0[0x1](und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 1280x720, 24 fps
    ...   Stream #0:1[0x2](und): Audio: aac (LC) (mp4a / 0x6134706D), 44100 Hz, mono, fltp, 69 kb/s''')
    >>> (info.width, info.height, info.fps, info.duration_s, info.has_audio, info.video_codec)
    (1280, 720, 24.0, 5.0, True, 'h264')
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

__all__ = ["BrokenMedia", "MediaProbe", "decodes_cleanly", "ffmpeg_exe", "parse_ffmpeg_info", "probe", "verify"]

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_INPUT = re.compile(r"Input #0, ([^,]+(?:,[^,\s]+)*), from")
_VIDEO = re.compile(r"Stream #0:\d+.*?: Video: (\w+)[^\n]*?(?:, (\w+)(?:\([^)]*\))?)?, (\d{2,5})x(\d{2,5})")
_PIXFMT = re.compile(r"Video: \w+[^,\n]*, (\w+)")
_FPS = re.compile(r"Video: [^\n]*?, (\d+(?:\.\d+)?) fps")
_TBR = re.compile(r"Video: [^\n]*?, (\d+(?:\.\d+)?) tbr")
_AUDIO = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)")
_STILL_FORMATS = ("_pipe", "image2")  # png_pipe, jpeg_pipe, webp_pipe …: a single picture, no frame rate
_NAL_CODECS = frozenset({"h264", "hevc"})
_COVERAGE_SLACK = 0.1  # a stream may end this share of its declared duration early (rounding, last frame)
_COVERAGE_MIN_S = 0.5
_TRAILERS = {"png": b"IEND", "mjpeg": b"\xff\xd9", "gif": b"\x3b"}


@dataclass(frozen=True)
class MediaProbe:
    """The facts FFmpeg tells about a file. Missing facts are ``None``."""

    container: str | None
    duration_s: float | None
    width: int | None
    height: int | None
    fps: float | None
    video_codec: str | None
    pixel_format: str | None
    audio_codec: str | None

    @property
    def has_audio(self) -> bool:
        """True when the file has an audio stream."""
        return self.audio_codec is not None

    @property
    def has_video(self) -> bool:
        """True when the file has a picture (a video stream or a still image)."""
        return self.video_codec is not None


_NOTHING = MediaProbe(None, None, None, None, None, None, None, None)


class BrokenMedia(ValueError):
    """A media file is not whole: unreadable, truncated, corrupt or not what was asked for (the message says)."""


def parse_ffmpeg_info(text: str) -> MediaProbe:
    """Read the facts out of what ``ffmpeg -i FILE`` prints on stderr (pure)."""
    container = m.group(1) if (m := _INPUT.search(text)) else None
    duration = None
    if (m := _DURATION.search(text)) is not None:
        duration = int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    width = height = None
    video_codec = pixel_format = None
    if (m := _VIDEO.search(text)) is not None:
        video_codec, width, height = m.group(1), int(m.group(3)), int(m.group(4))
        if (pf := _PIXFMT.search(text)) is not None:
            pixel_format = pf.group(1)
    fps = None
    if (m := _FPS.search(text) or _TBR.search(text)) is not None:
        fps = float(m.group(1))
    audio_codec = m.group(1) if (m := _AUDIO.search(text)) else None
    return MediaProbe(container, duration, width, height, fps, video_codec, pixel_format, audio_codec)


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The path of the ffmpeg executable bundled with imageio-ffmpeg (renders; not used to probe)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _av() -> Any:
    """PyAV, imported on first use: it takes 0.1–0.25 s, and ``import seedance_nb`` must stay light."""
    import av

    return av


def _open_errors() -> tuple[type[Exception], ...]:
    return (_av().error.FFmpegError, OSError, ValueError, EOFError)


@contextmanager
def _opened(path: str | Path) -> Iterator[Any]:
    # A Python file object: the name is never read as a URL, a protocol or an image-sequence pattern.
    with open(path, "rb") as handle, _av().open(handle, mode="r") as container:
        yield container


def probe(path: str | Path, *, timeout: float = 30.0) -> MediaProbe:
    """Probe a file's header in process (PyAV); it never raises.

    Returns a ``MediaProbe`` whose fields are ``None`` where FFmpeg could not tell (a missing, unreadable or
    corrupt file gives a probe without video or audio). ``timeout`` is accepted for compatibility: reading a
    header in process takes milliseconds.

    Example:
        >>> import subprocess, tempfile
        >>> png = Path(tempfile.mkdtemp()) / "frame.png"
        >>> _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=teal:s=640x480",
        ...                     "-frames:v", "1", str(png)], check=True)
        >>> found = probe(png)
        >>> found.video_codec, found.width, found.height, found.has_audio, found.fps
        ('png', 640, 480, False, None)
        >>> probe(png.with_name("missing.mp4")).has_video
        False
    """
    try:
        with _opened(path) as container:
            return _facts(container)
    except _open_errors():
        return _NOTHING


def _facts(container: Any) -> MediaProbe:
    name = container.format.name
    still = any(part.endswith(_STILL_FORMATS) for part in name.split(","))
    duration = None if container.duration is None else round(container.duration / 1_000_000, 2)
    video = next(iter(container.streams.video), None)
    audio = next(iter(container.streams.audio), None)
    width = height = fps = None
    video_codec = pixel_format = None
    if video is not None:
        context = video.codec_context
        video_codec, pixel_format = context.codec.canonical_name, context.pix_fmt
        width, height = (context.width or None), (context.height or None)
        rate = video.average_rate or video.guessed_rate
        fps = None if still or not rate else round(float(rate), 2)
        if duration is None and not still and video.duration is not None and video.time_base:
            duration = round(float(video.duration * video.time_base), 2)
    audio_codec = audio.codec_context.codec.canonical_name if audio is not None else None
    if duration is None and audio is not None and audio.duration is not None and audio.time_base:
        duration = round(float(audio.duration * audio.time_base), 2)
    return MediaProbe(name, duration, width, height, fps, video_codec, pixel_format, audio_codec)


def verify(path: str | Path, *, kind: Literal["video", "image"] = "video", full: bool = False,
           expect_duration_s: float | None = None) -> MediaProbe:
    """Check that a file is a whole ``kind`` and return its facts; raise ``BrokenMedia`` saying what is wrong.

    A video is opened and every packet demuxed and checked (present, not cut short, inside the file, in order,
    well-formed NAL units, as many as the index announces, covering the declared duration); ``full=True``
    decodes every frame too, with FFmpeg's strict error detection. An image is always decoded (one frame).
    ``expect_duration_s``: the length that was asked for; a video more than 0.5 s (or 10 %) off fails.

    Example:
        >>> import subprocess, tempfile
        >>> clip = Path(tempfile.mkdtemp()) / "clip.mp4"
        >>> _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=s=320x240:r=24:d=2",
        ...                     "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(clip)], check=True)
        >>> found = verify(clip, expect_duration_s=2)
        >>> found.width, found.height, found.fps, found.duration_s, verify(clip, full=True) == found
        (320, 240, 24.0, 2.0, True)
        >>> _ = clip.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
        >>> verify(clip)
        Traceback (most recent call last):
        ...
        seedance_nb._probe.BrokenMedia: packet ... of stream 0 (video) is cut short or damaged
    """
    try:
        with _opened(path) as container:
            found = _facts(container)
            if not found.has_video or not found.width or not found.height:
                raise BrokenMedia(f"no picture in it (not a {kind}, or corrupt)")
            if kind == "image":
                _check_trailer(path, found.video_codec)
                _decode_all(container, frames=1, strict=False)
            else:
                _check_packets(container, Path(path).stat().st_size)
                if full:
                    container.seek(0)
                    _decode_all(container)
    except BrokenMedia:
        raise
    except _open_errors() as exc:
        raise BrokenMedia(f"no picture in it (not a {kind}, or corrupt: {exc})") from exc
    if kind == "video" and expect_duration_s is not None:
        _check_length(found, expect_duration_s)
    return found


def _check_length(found: MediaProbe, expected: float) -> None:
    lasts = found.duration_s
    if lasts is None or abs(lasts - expected) > max(_COVERAGE_MIN_S, _COVERAGE_SLACK * expected):
        raise BrokenMedia(f"it lasts {'an unknown time' if lasts is None else f'{lasts:g} s'}, "
                          f"but {expected:g} s were asked for")


def _check_packets(container: Any, file_size: int) -> None:
    """Demux every packet and check each, then that every stream is complete (raises ``BrokenMedia``).

    The loop runs once per packet (about 100 per second of video) and holds the GIL: it keeps to integers
    (timestamps stay in each stream's time base until the end) and builds no text unless a check fails.
    """
    streams = list(container.streams)
    counts = [0] * len(streams)
    end_pts = [0] * len(streams)
    last_dts: list[int | None] = [None] * len(streams)
    nal_sizes = [_nal_length_size(stream) for stream in streams]

    def where(i: int) -> str:
        return f"packet {counts[i] + 1} of stream {i} ({streams[i].type})"

    for packet in container.demux():
        size, dts = packet.size, packet.dts
        if size == 0 and dts is None:
            continue  # the flush packet at the end of each stream
        i = packet.stream_index
        if packet.is_corrupt or size <= 0:
            raise BrokenMedia(f"{where(i)} is cut short or damaged")
        pos = packet.pos
        if pos is not None and pos >= 0 and pos + size > file_size:
            raise BrokenMedia(f"{where(i)} lies beyond the end of the file")
        if dts is not None:
            previous = last_dts[i]
            if previous is not None and dts < previous:
                raise BrokenMedia(f"{where(i)} goes back in time (dts {dts} after {previous})")
            last_dts[i] = dts
        if nal_sizes[i] and not _nal_units_ok(bytes(packet), nal_sizes[i]):
            raise BrokenMedia(f"{where(i)} holds malformed NAL units")
        counts[i] += 1
        pts = packet.pts
        if pts is not None:
            end = pts + (packet.duration or 0)
            if end > end_pts[i]:
                end_pts[i] = end
    for i, stream in enumerate(streams):
        end_s = end_pts[i] * float(stream.time_base) if stream.time_base else 0.0
        _check_stream_complete(container, stream, counts[i], end_s)


def _check_stream_complete(container: Any, stream: Any, count: int, end_s: float) -> None:
    name = f"stream {stream.index} ({stream.type})"
    if stream.frames and count != stream.frames:
        raise BrokenMedia(f"{name} ends after {count} of the {stream.frames} packets its index announces")
    if count == 0:
        raise BrokenMedia(f"{name} holds no packet")
    declared = None
    if stream.duration and stream.time_base:
        declared = float((stream.start_time or 0) + stream.duration) * float(stream.time_base)
    elif container.duration and stream.type == "video":
        declared = container.duration / 1_000_000
    if declared is not None and end_s < declared - max(_COVERAGE_MIN_S, _COVERAGE_SLACK * declared):
        raise BrokenMedia(f"{name} covers {end_s:.2f} s of the {declared:.2f} s its header declares")


def _nal_length_size(stream: Any) -> int:
    """The NAL length-prefix size of an H.264/HEVC stream in MP4 form (avcC/hvcC), else 0 (not checked)."""
    context = stream.codec_context if stream.type == "video" else None
    if context is None or context.codec.canonical_name not in _NAL_CODECS:
        return 0
    extra = bytes(context.extradata or b"")
    if context.codec.canonical_name == "h264":
        return (extra[4] & 3) + 1 if len(extra) > 4 and extra[0] == 1 else 0
    return (extra[21] & 3) + 1 if len(extra) > 22 and extra[0] == 1 else 0


def _nal_units_ok(data: bytes, length_size: int) -> bool:
    """True when ``data`` is a chain of length-prefixed NAL units that fills it exactly (pure).

    Example:
        >>> _nal_units_ok(b"\\x00\\x00\\x00\\x02\\x65\\x88" + b"\\x00\\x00\\x00\\x01\\x06", 4)
        True
        >>> _nal_units_ok(b"\\x00\\x00\\x00\\x09\\x65\\x88", 4), _nal_units_ok(b"\\x00\\x00\\x00\\x01\\xe5", 4)
        (False, False)
    """
    at, end = 0, len(data)
    while at < end:
        size = int.from_bytes(data[at:at + length_size], "big")
        at += length_size
        if size == 0 or at + size > end or data[at] & 0x80:  # the forbidden_zero_bit must be 0
            return False
        at += size
    return end > 0


def _check_trailer(path: str | Path, codec: str | None) -> None:
    """A PNG, JPEG or GIF must end with its end marker: a cut one often still decodes (raises ``BrokenMedia``)."""
    marker = _TRAILERS.get(codec or "")
    if marker is not None:
        with open(path, "rb") as handle:
            handle.seek(max(0, Path(path).stat().st_size - 64))
            tail = handle.read().rstrip(b"\0")
        if marker not in tail[-16:]:
            raise BrokenMedia(f"the {codec} picture is cut short (no end marker)")


def _decode_all(container: Any, *, frames: int | None = None, strict: bool = True) -> None:
    """Decode every frame (or the first ``frames``), strict: with FFmpeg's error detection (raises ``BrokenMedia``).

    Images are decoded without it: FFmpeg's TIFF decoder, for one, fails whole pictures in strict mode.
    """
    streams = [s for s in (*container.streams.video[:1], *container.streams.audio[:1])]
    for stream in streams if strict else ():
        stream.codec_context.options = {"err_detect": "explode"}
    decoded = 0
    try:
        for frame in container.decode(*streams):
            if frame.is_corrupt:
                raise BrokenMedia(f"a decoded frame is corrupt (at {frame.time or 0:.2f} s)")
            decoded += 1
            if frames is not None and decoded >= frames:
                return
    except _av().error.FFmpegError as exc:
        raise BrokenMedia(f"it does not decode cleanly ({exc})") from exc
    if decoded == 0:
        raise BrokenMedia("not one frame decodes")


def decodes_cleanly(path: str | Path, *, timeout: float = 60.0) -> bool:
    """True when the file is whole and every frame decodes without an error (a truncated MP4 fails).

    Example:
        >>> decodes_cleanly(Path("no-such-file.mp4"))
        False
    """
    try:
        verify(path, full=True)
    except BrokenMedia:
        return False
    return True
