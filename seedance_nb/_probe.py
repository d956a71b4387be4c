"""What a media file is: container, size, duration, frame rate, codecs, audio — read by the bundled ffmpeg.

``parse_ffmpeg_info`` is pure (it reads the text ``ffmpeg -i FILE`` prints); ``probe`` runs ffmpeg.
imageio-ffmpeg ships no ffprobe, and ``ffmpeg -i`` tells everything the toolkit checks.

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
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

__all__ = ["MediaProbe", "ffmpeg_exe", "parse_ffmpeg_info", "probe"]

_DURATION = re.compile(r"Duration:\s*(\d+):(\d+):(\d+(?:\.\d+)?)")
_INPUT = re.compile(r"Input #0, ([^,]+(?:,[^,\s]+)*), from")
_VIDEO = re.compile(r"Stream #0:\d+.*?: Video: (\w+)[^\n]*?(?:, (\w+)(?:\([^)]*\))?)?, (\d{2,5})x(\d{2,5})")
_PIXFMT = re.compile(r"Video: \w+[^,\n]*, (\w+)")
_FPS = re.compile(r"Video: [^\n]*?, (\d+(?:\.\d+)?) fps")
_TBR = re.compile(r"Video: [^\n]*?, (\d+(?:\.\d+)?) tbr")
_AUDIO = re.compile(r"Stream #0:\d+.*?: Audio: (\w+)")


@dataclass(frozen=True)
class MediaProbe:
    """The facts ffmpeg tells about a file. Missing facts are ``None``."""

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
    """The path of the ffmpeg bundled with imageio-ffmpeg."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def probe(path: str | Path, *, timeout: float = 30.0) -> MediaProbe:
    """Probe a file with the bundled ffmpeg.

    Returns a ``MediaProbe`` whose fields are ``None`` where ffmpeg could not tell (an unreadable or
    corrupt file gives a probe without video or audio).

    Example:
        >>> import tempfile
        >>> png = Path(tempfile.mkdtemp()) / "frame.png"
        >>> _ = subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "color=c=teal:s=640x480",
        ...                     "-frames:v", "1", str(png)], check=True)
        >>> found = probe(png)
        >>> found.video_codec, found.width, found.height, found.has_audio
        ('png', 640, 480, False)
        >>> probe(png.with_name("missing.mp4")).has_video
        False
    """
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )
    return parse_ffmpeg_info(result.stderr)


def decodes_cleanly(path: str | Path, *, timeout: float = 60.0) -> bool:
    """True when ffmpeg decodes every frame of the file without an error (a truncated MP4 fails)."""
    result = subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=timeout,
        check=False,
    )
    return result.returncode == 0 and not result.stderr.strip()
