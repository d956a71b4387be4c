"""``seedance-nb demo``: the whole path, headless, on the embedded simulator — no key, no network.

It renders a local reference image, uploads it through the presigned upload, creates a task, follows it
to success, archives the video and prints its path with what ffmpeg reads from it, checked against the
request.

Example:
    $ seedance-nb demo
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from ._probe import ffmpeg_exe, probe
from .config import home_dir

__all__ = ["run_demo"]


def _reference_image(folder: Path) -> Path:
    path = folder / "reference.png"
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                    "-i", "testsrc2=s=640x480", "-frames:v", "1", "-update", "1", str(path)], check=True)
    return path


async def run_demo(latency: float = 1.0) -> int:
    """Run the demo; returns 0 when the archived video matches the request, 1 otherwise."""
    import seedance_nb as sn


    simulator = sn.use_simulator(latency=latency)
    print(f"simulator: {simulator.base_url} (embedded; no key or network needed)")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            image = _reference_image(Path(tmp))
            request = sn.R2VRequest(
                prompt="[Image1] drifts across a neon city at night, slow dolly-in",
                reference_images=[image, "https://example.com/street.png"],
                resolution="720p", aspect_ratio="9:16", duration=5, audio=True, return_last_frame=True)
            print("request is valid:", request.validate() == [])
            async with sn.Client() as client:
                url = await client.upload_file(image)
                print(f"uploaded {image.name} -> {url}")
                estimate = await client.estimate(request.with_uploads({image: url}))
                print(f"estimate: {estimate.describe()}")
                generation = await sn.generate(request, client=client)
        video = generation.video_path
        if video is None:
            print(f"no video archived: {generation.media_error}")
            return 1
        facts = probe(video)
        print(f"video: {video}")
        print(f"  duration {facts.duration_s:.2f} s, {facts.width}x{facts.height}, {facts.fps:g} fps, "
              f"codec {facts.video_codec}/{facts.pixel_format}, audio: {facts.has_audio}")
        print(f"  last frame: {generation.last_frame_path}")
        print(f"  credits {generation.credits:g}, task {generation.task_id}, log id {generation.local_id}")
        checks = {
            "duration": facts.duration_s is not None and abs(facts.duration_s - request.duration) < 0.2,
            "aspect ratio 9:16": bool(facts.width and facts.height and facts.height > facts.width
                                      and abs(facts.width / facts.height - 9 / 16) < 0.02),
            "audio": facts.has_audio == request.audio,
            "h264 yuv420p 24 fps": (facts.video_codec, facts.pixel_format, facts.fps) == ("h264", "yuv420p", 24.0),
        }
        for name, ok in checks.items():
            print(f"  {'ok ' if ok else 'BAD'} {name}")
        count = len(sn.TaskLog())
        print(f"task log: {home_dir() / 'tasks.sqlite'} ({count} task{'s' if count != 1 else ''})")
        return 0 if all(checks.values()) else 1
    finally:
        sn.stop_simulator()
