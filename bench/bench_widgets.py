"""What the workbench widgets cost in the kernel: the board's poll and render, a gallery's build, a form's build.

The board asks the task log every second whether anything changed and re-renders when it did; a gallery
builds one card per task; the form builds some forty widgets. All of it runs in the kernel, next to the user's
work, so it must stay cheap at any log size. This fills a task log with N finished tasks (no network, no
simulator: the widgets only read the log) and prints medians measured in this run.

    python bench/bench_widgets.py              # N = 1000 tasks, a 60-video gallery
    python bench/bench_widgets.py --tasks 10000 --gallery 120
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def median_ms(action: Callable[[], Any], repeats: int) -> float:
    """The median wall time of ``action`` in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def records(count: int) -> list[dict[str, Any]]:
    """Finished tasks of a few shapes, as a sweep leaves them."""
    shapes = [("720p", "16:9", 5), ("480p", "9:16", 8), ("720p", "1:1", 4)]
    return [{"local_id": f"t{i:06d}", "task_id": f"c{i:06d}", "status": "success" if i % 10 else "failed",
             "prompt": f"[Image1] dances in the rain, take {i}", "resolution": shapes[i % 3][0],
             "aspect_ratio": shapes[i % 3][1], "duration": shapes[i % 3][2], "credits": 23.2,
             "reference_images": ["https://example.com/a.png"], "elapsed_s": 41.0 + i % 7,
             "error_code": None if i % 10 else 501} for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--gallery", type=int, default=60)
    args = parser.parse_args()
    os.environ["SEEDANCE_NB_HOME"] = tempfile.mkdtemp()
    import seedance_nb as sn
    from seedance_nb.notebook._board_rows import read_token

    log = sn.TaskLog(Path(os.environ["SEEDANCE_NB_HOME"]) / "tasks.sqlite")
    log.import_records(records(args.tasks))
    board = sn.board(log)  # no running loop here: it renders once and polls nothing in the background
    df = log.df()
    print(f"task log: {len(log)} tasks")
    print(f"board: change check (each second) {median_ms(lambda: read_token(log), 200) * 1000:.0f} µs, "
          f"re-read and render {median_ms(board.refresh, 20):.1f} ms ({len(board.rows)} rows shown)")
    sample = df.head(args.gallery)
    gallery_ms = median_ms(lambda: sn.gallery(sample, by="aspect_ratio", log=log).close(), 3)
    print(f"gallery of {len(sample)} videos: built in {gallery_ms:.0f} ms")
    print(f"form: built in {median_ms(lambda: sn.form(log=log), 5):.0f} ms; "
          f"prefilled from a logged task in {median_ms(lambda: sn.form(from_='t000001', log=log), 5):.0f} ms")
    board.close()


if __name__ == "__main__":
    main()
