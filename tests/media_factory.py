"""Small real media files for tests, rendered with the bundled ffmpeg (no fixtures shipped in the repo)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from seedance_nb._probe import ffmpeg_exe


def _run(args: list[str]) -> None:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args], check=True)


def image(path: Path, width: int = 640, height: int = 480, color: str = "teal") -> Path:
    """A flat-colour still of the given size; the suffix picks the format (.png, .jpg, .webp, .bmp, .gif)."""
    _run(["-f", "lavfi", "-i", f"color=c={color}:s={width}x{height}", "-frames:v", "1", "-update", "1", str(path)])
    return path


def video(path: Path, width: int = 854, height: int = 480, seconds: float = 3, fps: int = 24,
          audio: bool = False) -> Path:
    """An H.264 MP4 of the given size, length and rate, with an AAC tone when ``audio``."""
    args = ["-f", "lavfi", "-i", f"color=c=navy:s={width}x{height}:r={fps}:d={seconds}"]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=f=440:d={seconds}", "-c:a", "aac", "-shortest"]
    _run([*args, "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
          str(path)])
    return path


def audio(path: Path, seconds: float = 3) -> Path:
    """A sine tone; the suffix picks the format (.mp3, .wav)."""
    _run(["-f", "lavfi", "-i", f"sine=f=330:d={seconds}", str(path)])
    return path

