"""``seedance-nb demo``: the whole story, headless, on the embedded simulator — no key, no network.

It renders a local reference image, prices a sweep of 2 prompts × 2 aspect ratios × 2 repeats, runs it
within a budget, prints the summary per prompt and ratio, checks every archived video against its request
(duration, ratio, audio, codec, as PyAV reads them), writes a self-contained report, and ends with the
path of the report's ``index.html`` (its last line of output).

Everything lands in ``$SEEDANCE_NB_HOME`` (default ``./seedance-runs``): the task log, the media, the
simulator's state (``simulator/``), and ``demo/`` (the reference image and ``demo/report/``). The sweep's id
is a hash of what it asks for, so running the demo again on the same home continues that sweep: its tasks
are already done and nothing is paid again. Delete the folder (``make clean``) to start afresh.

Example:
    $ seedance-nb demo
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._probe import ffmpeg_exe, probe
from .config import home_dir

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["BUDGET", "PROMPTS", "RATIOS", "REPEATS", "run_demo"]

PROMPTS = ("[Image1] drifts across a neon city at night", "[Image1] floats over a misty forest at dawn")
RATIOS = ("16:9", "9:16")
REPEATS = 2
BUDGET = 150.0  # credits: the cap the sweep runs under (its estimate is printed first)
BY = ["prompt", "aspect_ratio"]
_SUMMARY = ["tasks", "succeeded", "success_rate", "elapsed_mean_s", "repeat_spread_s", "credits_total"]


def _reference_image(folder: Path) -> Path:
    """A 640×480 test pattern rendered with the bundled ffmpeg (kept, so a rerun asks for the same sweep)."""
    path = folder / "reference.png"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi",
                        "-i", "testsrc2=s=640x480", "-frames:v", "1", "-update", "1", str(path)], check=True)
    return path


def _checks(row: Mapping[str, Any]) -> tuple[dict[str, bool], str]:
    """What PyAV reads from a row's archived video, checked against the row's request, and a short account."""
    path = row.get("video_path")
    if row.get("status") != "success" or not isinstance(path, str) or not Path(path).is_file():
        return {"archived": False}, str(row.get("error_message") or "no video archived")
    facts = probe(Path(path))
    width, height = facts.width or 0, facts.height or 0
    wide, tall = (int(n) for n in str(row["aspect_ratio"]).split(":"))
    checks = {
        "duration": facts.duration_s is not None and abs(facts.duration_s - float(row["duration"])) < 0.2,
        "ratio": width > 0 and height > 0 and abs(width / height - wide / tall) < 0.02,
        "audio": facts.has_audio == bool(row["audio"]),
        "h264": (facts.video_codec, facts.pixel_format) == ("h264", "yuv420p"),
    }
    seen = (f"{facts.duration_s or 0:.2f} s, {width}x{height}, {facts.video_codec}/{facts.pixel_format}"
            f"{', audio' if facts.has_audio else ''}, {Path(path).name[:12]}….mp4")
    return checks, seen


def _verify(df: pd.DataFrame) -> bool:
    """Print one line per task of the sweep (its video checked against its request); True when all pass."""
    every = True
    for index, row in enumerate(df.to_dict("records")):
        checks, seen = _checks(row)
        failed = [name for name, passed in checks.items() if not passed]
        every = every and not failed
        print(f"  {'BAD' if failed else 'ok '} task {index} ({row['aspect_ratio']}, repeat {row['repeat']}): "
              f"{row['status']}, {seen}" + (f" — failed: {', '.join(failed)}" if failed else ""))
    return every


def _summary_table(df: pd.DataFrame) -> str:
    """The summary per prompt and ratio as compact text: a few of ``sn.summarize``'s columns."""
    import seedance_nb as sn

    table = sn.summarize(df, by=BY)[[*BY, *_SUMMARY]]
    return str(table.to_string(index=False, float_format=lambda x: f"{x:.2f}"))


async def _sweep(base: Any) -> pd.DataFrame:
    import seedance_nb as sn

    grid = {"aspect_ratio": list(RATIOS)}
    plan = await sn.sweep(base, prompts=list(PROMPTS), grid=grid, repeats=REPEATS, dry_run=True)
    to_send = int((plan["action"] == "to send").sum())
    print(f"plan: {len(plan)} tasks ({len(PROMPTS)} prompts × {len(RATIOS)} ratios × {REPEATS} repeats), "
          f"{to_send} to send, estimated {plan.attrs['estimated_credits']:g} credits; budget {BUDGET:g}")
    if to_send < len(plan):
        print(f"  {len(plan) - to_send} already in the log (an earlier run of this sweep): not paid again")
    df = await sn.sweep(base, prompts=list(PROMPTS), grid=grid, repeats=REPEATS, max_credits=BUDGET)
    counts = df["status"].value_counts().to_dict()
    print(f"sweep {df.attrs['sweep_id']}: " + ", ".join(f"{n} {s}" for s, n in counts.items())
          + f", {df['credits'].fillna(0).sum():g} credits")
    return df


async def run_demo(latency: float = 1.0) -> int:
    """Run the demo; returns 0 when every task succeeded and its video matches its request, 1 otherwise.

    The last line printed is ``report: <absolute path of index.html>``.
    """
    import seedance_nb as sn

    simulator = sn.use_simulator(latency=(latency / 2, latency * 3 / 2))  # repeats differ in time
    print(f"simulator: {simulator.base_url} (embedded; no key or network needed)")
    try:
        home = home_dir()
        image = await asyncio.to_thread(_reference_image, home / "demo")
        base = sn.R2VRequest(prompt=PROMPTS[0], reference_images=[image], resolution="480p", duration=4,
                             audio=True)
        print(f"reference image: {image}")
        df = await _sweep(base)
        print("summary by prompt and aspect ratio:")
        print(_summary_table(df))
        print("videos checked against their requests (read in process with PyAV):")
        ok = await asyncio.to_thread(_verify, df)
        page = await asyncio.to_thread(sn.report, df, home / "demo" / "report", title="seedance-nb demo",
                                       notes="2 prompts × 2 aspect ratios × 2 repeats on the embedded simulator.",
                                       by=BY)
        print(f"task log: {home / 'tasks.sqlite'} (`seedance-nb log` lists it)")
        print(f"report: {page.resolve()}")
        return 0 if ok else 1
    finally:
        sn.stop_simulator()
