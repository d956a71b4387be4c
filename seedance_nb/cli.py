"""The ``seedance-nb`` command: ``simulate``, ``demo``, ``log``, ``resume``.

Example:
    $ seedance-nb simulate --port 8765 --latency 5
    $ seedance-nb demo
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from .errors import SeedanceError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 with a one-line message on a toolkit error).

    Example:
        >>> main(["log"])
        the task log is empty
        0
    """
    try:
        return _run(argv)
    except SeedanceError as exc:
        print(f"seedance-nb: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seedance-nb: interrupted; unfinished tasks stay in the log for `seedance-nb resume`", file=sys.stderr)
        return 130


def _run(argv: Sequence[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="seedance-nb", description=__doc__.splitlines()[0] if __doc__ else None)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("simulate", help="run the Crun simulator in the foreground", add_help=False)
    demo = commands.add_parser("demo", help="a priced sweep, its summary and an offline report, on the embedded "
                                            "simulator (prints the report's path last)")
    demo.add_argument("--latency", type=float, default=1.0,
                      help="mean simulated seconds per task, drawn between half and 1.5 times it (default 1)")
    commands.add_parser("log", help="print the task log")
    commands.add_parser("resume", help="poll every unfinished task in the log to its end")
    args, rest = parser.parse_known_args(argv)
    if args.command == "simulate":
        from .simulator.server import main as simulate

        return simulate(rest) or 0
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "demo":
        from .demo import run_demo

        return asyncio.run(run_demo(latency=args.latency))
    if args.command == "log":
        from .tasklog import TaskLog

        log = TaskLog()
        frame = log.df()
        columns = ["local_id", "task_id", "status", "submitted_at", "elapsed_s", "credits", "prompt", "video_path"]
        print(frame[columns].to_string(index=False) if len(frame) else "the task log is empty")
        for row in log.unknown():
            how = "is being sent (or its process died sending it)" if row["status"] == "submitting" else \
                "has an unknown submission"
            print(f"WARNING: {row['local_id']} {how}: it may exist at Crun and be charged; "
                  f"sn.resubmit({row['local_id']!r}) sends it again", file=sys.stderr)
        return 0
    from ._generate import resume

    summary = asyncio.run(resume())
    print(summary.to_string(index=False) if len(summary) else "nothing to resume")
    return 0


if __name__ == "__main__":
    sys.exit(main())
