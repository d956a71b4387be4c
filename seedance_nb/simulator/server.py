"""The simulator's command line: ``main(argv)`` is what ``seedance-nb simulate`` runs.

It builds a ``Simulator`` from the flags, prints a banner (never the key) and serves in the foreground until
Ctrl+C or SIGTERM, then deletes the simulator's files. ``python -m seedance_nb.simulator.server`` does the same.

The key to accept never comes on the command line, where every user of the machine sees it in ``ps``: it is
read from ``CRUN_API_KEY`` or from a file (``--api-key-file``); ``--api-key KEY`` fails and says so.

Example:
    >>> main(["--latency", "5-2"])  # a bad knob: the reason goes to stderr, the exit code is 2
    2
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from .simulator import Simulator

__all__ = ["KEY_ON_COMMAND_LINE", "banner", "main", "read_key_file"]

KEY_ON_COMMAND_LINE = (
    "--api-key is not accepted: a key on the command line is visible to every user of this machine (ps). "
    "Set CRUN_API_KEY in the environment, or put the key in a file only you can read and pass --api-key-file PATH."
)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="seedance-nb simulate",
        description="Run the Crun API simulator (Seedance 2.0 r2v) on this machine.",
        epilog="The key to accept is read from CRUN_API_KEY or --api-key-file, never from the command line "
               "(it would show in ps). Ctrl+C or SIGTERM stops the simulator and deletes its files.",
    )
    p.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765; 0 = any free port)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--latency", default="0", metavar="SECONDS|MIN-MAX",
                   help="seconds from CreateTask to the final status; MIN-MAX draws uniformly (default 0)")
    p.add_argument("--faults", default=None, metavar="SPEC",
                   help="ENDPOINT:KIND=RATE items separated by commas, e.g. 'createtask:429=0.1,*:drop=0.01'")
    p.add_argument("--errors-as-200", action="store_true", help="answer errors with HTTP 200, code in the body")
    p.add_argument("--api-key-file", default=None, metavar="PATH",
                   help="accept exactly the key in this file (default: $CRUN_API_KEY, else any ak_ + 32 "
                        "letters/digits)")
    p.add_argument("--api-key", dest="key_on_command_line", nargs="?", const="", default=None, metavar="KEY",
                   help="removed, and refused: it showed the key in ps; use CRUN_API_KEY or --api-key-file")
    p.add_argument("--balance", type=float, default=100000.0, help="starting credit balance (default 100000)")
    p.add_argument("--seed", type=int, default=None, help="seed for faults, failures and latency draws")
    p.add_argument("--fail-rate", type=float, default=0.0, help="share of tasks that end failed (default 0)")
    p.add_argument("--asset-delay", type=float, default=1.0, help="seconds an asset stays Processing (default 1)")
    p.add_argument("--slow-delay", type=float, default=60.0, help="seconds a 'slow' answer waits (default 60)")
    p.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds on 429 (default 1)")
    p.add_argument("--media-ttl", type=float, default=None, help="seconds result media stay available")
    p.add_argument("--state-dir", default=None, metavar="PATH",
                   help="keep tasks, assets, uploads and the balance in this folder across runs (default: memory)")
    return p


def banner(sim: Simulator, *, key_configured: bool) -> str:
    """The text printed when the simulator starts in the foreground (never shows a key).

    Example:
        >>> with Simulator(latency="1-2", faults="taskinfo:429=0.5") as sim:
        ...     lines = banner(sim, key_configured=False).splitlines()
        >>> for line in (lines[1], lines[-3]): print(line)  # doctest: +ELLIPSIS
          base URL   http://127.0.0.1:.../api/v1
          latency    1–2 s (uniform); faults: taskinfo:429=0.5; errors as HTTP status = code
    """
    base = sim.base_url
    knobs = sim.knobs
    low, high = knobs.latency
    latency = f"{low:g} s" if low == high else f"{low:g}–{high:g} s (uniform)"
    example = "ak_" + "sim" + "0" * 29
    lines = [
        "Crun simulator (seedance_nb) — every answer is marked X-Crun-Simulator: seedance_nb",
        f"  base URL   {base}",
        f"  stats      {sim.root_url}/_simulator/stats",
        "  point the client at it:",
        f"    export CRUN_BASE_URL={base}",
    ]
    if key_configured:
        lines += ["    (keep CRUN_API_KEY set to the key given to the simulator)",
                  "  accepts    only the configured key (CRUN_API_KEY or --api-key-file; not shown)"]
    else:
        lines += [f"    export CRUN_API_KEY={example}",
                  "  accepts    any key of Crun's form: ak_ followed by 32 letters or digits"]
    lines += [
        f"  latency    {latency}; faults: {sim.faults.spec.text or 'none'}; "
        f"errors as {'HTTP 200 + code in body' if knobs.errors_as_200 else 'HTTP status = code'}",
        f"  balance    {knobs.balance:g} credits; rates {', '.join(f'{k} {v:g}/s' for k, v in knobs.rates.items())}",
        "Press Ctrl+C to stop.",
    ]
    return "\n".join(lines)


def read_key_file(path: str) -> str:
    """The key in the file at ``path``: its only line, without surrounding white space.

    Raises:
        ValueError: the file cannot be read, is empty or holds more than one line (the key is never shown).

    Example:
        >>> read_key_file("/nonexistent/key")
        Traceback (most recent call last):
        ValueError: cannot read the key file /nonexistent/key: No such file or directory
    """
    try:
        text = Path(path).expanduser().read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read the key file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the key file {path} is not UTF-8 text") from None
    if not text or "\n" in text:
        raise ValueError(f"the key file {path} must hold the key alone, on one line")
    return text


def _api_key(args: argparse.Namespace) -> str | None:
    if args.key_on_command_line is not None:
        raise ValueError(KEY_ON_COMMAND_LINE)
    if args.api_key_file:
        return read_key_file(args.api_key_file)
    return os.environ.get("CRUN_API_KEY") or None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator in the foreground until Ctrl+C or SIGTERM. Returns the exit code.

    ``main(["--port", "8765", "--latency", "2-5"])`` serves on port 8765 until stopped, then returns 0; a bad
    flag or knob returns 2 and a port that cannot be used returns 1, each with the reason on stderr. The key
    comes from ``--api-key-file`` or ``CRUN_API_KEY``; ``--api-key KEY`` is refused (exit 2) without a word of
    the key.

    Example:
        >>> main(["--faults", "createtask:teapot=1"])
        2
    """
    args = _parser().parse_args(argv)
    try:
        api_key = _api_key(args)
        sim = Simulator(
            latency=args.latency, faults=args.faults, errors_as_200=args.errors_as_200, api_key=api_key,
            balance=args.balance, fail_rate=args.fail_rate, asset_delay=args.asset_delay,
            slow_delay=args.slow_delay, retry_after=args.retry_after, media_ttl=args.media_ttl, seed=args.seed,
            host=args.host, port=args.port, state_dir=args.state_dir,
        )
    except (ValueError, RuntimeError) as exc:  # RuntimeError: an unreadable --state-dir
        print(f"seedance-nb simulate: {exc}", file=sys.stderr)
        return 2
    try:
        sim.run(on_ready=lambda: print(banner(sim, key_configured=api_key is not None), flush=True))
    except OSError as exc:
        print(f"seedance-nb simulate: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # uvicorn re-raises the Ctrl+C or SIGTERM it handled once it has shut down (Simulator.run turns SIGTERM
        # into KeyboardInterrupt too); that is the normal way out.
        pass
    print("Crun simulator stopped.", flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
