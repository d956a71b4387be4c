"""Fault soak: many tasks through ``sn.generate()`` against a simulator injecting every fault it knows, then
``sn.resume()`` until nothing is in flight, then an audit of the task log against the simulator's own books.

Run: ``.venv/bin/python bench/soak.py [--tasks 1000] [--concurrency 16] [--seed 8]``
(``tests/reliability/test_soak.py`` runs the same soak with 200 tasks and asserts the audit).

Half the tasks run against a simulator answering errors with their HTTP status, the other half against one
answering every error with HTTP 200 and the code in the body (``errors_as_200``). Each simulator injects, per
request: 10 % 429 (with ``Retry-After: 1``), 5 % 500 and 2 % 455 on every endpoint, 2 % dropped connections on
the GETs (TaskInfo and media), 1 % lost CreateTask answers (created and charged, the answer dropped); 3 % of
the tasks fail (501) and one in a hundred asks for an output-moderation refusal (451, the simulator's prompt
marker). The simulator counts what it injects, by endpoint and kind (``stats()["faults_by_kind"]``), so the
lost answers are known exactly, and lists every task it created (``Simulator.tasks()``). It has no fault kind for
corrupt or truncated media, so this harness injects those on the client side, in an ``httpx`` transport
wrapped around the client's (``MediaFaults``): 2 % of media answers get bytes flipped in the middle, 2 % are
cut in half (half of those keep the original Content-Length, half announce the cut length).

Every documented exception is caught per task and counted. Then ``resume()`` runs (at most
``--resume-rounds`` times) until no task is in flight and no successful task lacks its media, and the audit
compares the log with the simulator:

* ``missing_from_log``   tasks the simulator created that the log holds neither by task id nor as an
                         ``unknown`` row for the same request
* ``created_twice``      requests the simulator created a second task for while the first one's row was still
                         in flight or ``unknown`` (one request in twenty is sent by two calls at once, as a double
                         click does: the second must follow the first). A repeat created after the first task
                         had ended is a new run, which the design allows: ``paid_again_after_end``, shown apart
* ``requests_without_row`` requests that left no row in the log
* ``in_flight``          rows still ``submitting``, ``pending`` or ``running`` after resume
* ``status_mismatch``    rows whose final status differs from the simulator's outcome
* ``unverified_success`` successful rows without a verified local video: the file exists, and its SHA-256 is
                         its name and the log's ``video_sha256``
* ``corruption_kept``    (reported, not a promise) verified rows whose bytes differ from what the simulator
                         served: a corruption that ffmpeg decodes without an error. Crun sends no checksum of
                         its media, so the client cannot tell; about 1 in 10 of these byte flips passes ffmpeg
* ``part_files``         ``.part-*`` temporary files left in the media folder
* ``credits_unaccounted`` credits the simulator charged (net of refunds) minus the log's credits minus the
                         credits of the tasks behind ``unknown`` rows (the log cannot know those)
* ``undocumented_errors`` exceptions that are not ``sn.SeedanceError``
* ``unknown_rows`` vs ``lost_answers``: must be equal (each lost answer is one ``unknown`` row, no more)

Every figure printed is measured in this run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

try:
    import seedance_nb as sn
except ImportError:  # run from a checkout without `pip install -e .`
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    import seedance_nb as sn
from seedance_nb._media import sha256_file
from seedance_nb.simulator import Simulator

FAULTS = "*:429=0.1,*:500=0.05,*:455=0.02,taskinfo:drop=0.02,media:drop=0.02,createtask:lost=0.01"
FAIL_RATE = 0.03
MODERATED_EVERY = 100  # one task in a hundred asks the simulator for an output-moderation refusal
MODERATED = "[simulate:moderated]"  # the simulator's prompt marker (seedance_nb/simulator/state.py)
REFERENCE = "https://example.com/street.png"
IN_FLIGHT = ("submitting", "pending", "running")
MUST_BE_ZERO = ("missing_from_log", "created_twice", "requests_without_row", "in_flight", "status_mismatch",
                "unverified_success", "part_files", "credits_unaccounted", "undocumented_errors")


async def quick(seconds: float) -> None:
    """Poll every 0.1 s at most: the soak is about what is recorded and paid, not the schedule."""
    await asyncio.sleep(min(seconds, 0.1))


class MediaFaults(httpx.AsyncBaseTransport):
    """Wraps the client's transport: corrupts or truncates a share of the media (``/media/``) answers.

    The simulator cannot do this itself (its fault kinds end at an answer code, a drop or a delay).
    """

    def __init__(self, corrupt: float, truncate: float, seed: int) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.corrupt, self.truncate = corrupt, truncate
        self.rng = random.Random(seed)
        self.injected: Counter[str] = Counter()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method != "GET" or not request.url.path.startswith("/media/") or response.status_code != 200:
            return response
        draw = self.rng.random()
        if draw >= self.corrupt + self.truncate:
            return response
        body = b"".join([chunk async for chunk in response.stream])  # type: ignore[union-attr]
        await response.aclose()
        headers = httpx.Headers(response.headers)
        if draw < self.corrupt:
            middle = len(body) // 2
            body = body[:middle] + bytes(b ^ 0xFF for b in body[middle:middle + 256]) + body[middle + 256:]
            kind = "corrupt"
        else:
            body = body[: len(body) // 2]
            lying = self.rng.random() < 0.5
            if not lying:
                headers["content-length"] = str(len(body))
            kind = "truncated (Content-Length of the whole file)" if lying else "truncated (Content-Length cut too)"
        self.injected[kind] += 1
        return httpx.Response(200, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def injected_faults(sim: Simulator) -> Counter[tuple[str, str]]:
    """The faults the simulator injected, by (endpoint, kind), from its ``stats()``."""
    return Counter({tuple(name.split(":", 1)): n for name, n in sim.stats()["faults_by_kind"].items()})


def prompt_for(style: str, i: int) -> str:
    """A distinct prompt per call, so the simulator's tasks can be matched to the calls that paid for them."""
    marker = f" {MODERATED}" if i % MODERATED_EVERY == 37 else ""
    return f"[Image1] soak {style} #{i} walks through the rain{marker}"


@dataclass
class StyleRun:
    """One simulator (one error style), its calls, and what the audit found."""

    style: str
    tasks: int
    outcomes: Counter[str] = field(default_factory=Counter)
    audit: dict[str, Any] = field(default_factory=dict)
    faults: Counter[str] = field(default_factory=Counter)
    timings: dict[str, float] = field(default_factory=dict)
    task_seconds: list[float] = field(default_factory=list)


async def run_style(tasks: int, *, errors_as_200: bool, seed: int, home: Path, concurrency: int = 16,
                    corrupt: float = 0.02, truncate: float = 0.02, resume_rounds: int = 6,
                    latency: str = "0.2-1.0", task_timeout: float = 120.0, twins: int = 20,
                    scripted_lost: int = 0) -> StyleRun:
    """Soak one simulator with ``tasks`` calls of ``generate()``, resume, and audit."""
    style = "errors-as-200" if errors_as_200 else "http-status"
    run = StyleRun(style, tasks)
    key = "ak_" + secrets.token_hex(16)
    sim = Simulator(latency=latency, faults=FAULTS, errors_as_200=errors_as_200, api_key=key, seed=seed,
                    fail_rate=FAIL_RATE, retry_after=1, slow_delay=5.0)
    with sim:
        if scripted_lost:  # besides the 1 %: so that a small run surely takes the lost-answer path
            sim.script("createtask", ["lost"] * scripted_lost)
        media = MediaFaults(corrupt, truncate, seed)
        log = sn.TaskLog(home / "tasks.sqlite")
        gate = asyncio.Semaphore(concurrency)
        # One request in `twins` is sent by two calls at once (a double click): the second must follow the first.
        requests = [(prompt_for(style, i), 2 if twins and i % twins == twins // 2 else 1)
                    for i in range(tasks) if not (twins and i % twins == twins // 2 + 1)]
        prompts = [prompt for prompt, _ in requests]
        async with sn.Client(api_key=key, base_url=sim.base_url, transport=media, timeout=10.0) as client:

            async def call(prompt: str) -> None:
                started = time.perf_counter()
                try:
                    await sn.generate(prompt=prompt, reference_images=[REFERENCE], duration=4, resolution="480p",
                                      client=client, log=log, progress=False, sleep=quick, timeout=task_timeout)
                    run.outcomes["success"] += 1
                except sn.SeedanceError as exc:
                    run.outcomes[type(exc).__name__] += 1
                except Exception as exc:  # counted, and must not happen
                    run.outcomes[f"undocumented {type(exc).__name__}: {exc}"[:120]] += 1
                run.task_seconds.append(time.perf_counter() - started)

            async def one(prompt: str, copies: int) -> None:
                async with gate:
                    await asyncio.gather(*(call(prompt) for _ in range(copies)))

            started = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(one(p, n) for p, n in requests)), timeout=task_timeout * 4)
            run.timings["generate_s"] = time.perf_counter() - started
            started = time.perf_counter()
            rounds = 0
            for rounds in range(1, resume_rounds + 1):  # noqa: B007 (the count is reported)
                await asyncio.wait_for(sn.resume(client=client, log=log, progress=False, sleep=quick,
                                                 timeout=task_timeout), timeout=task_timeout * 2)
                if not log.unfinished() and not log.missing_media():
                    break
            run.timings["resume_s"] = time.perf_counter() - started
            run.timings["resume_rounds"] = rounds
        injected = injected_faults(sim)
        run.audit = audit(sim, log, prompts, injected, run.outcomes)
        run.audit["twin_calls"] = sum(n - 1 for _, n in requests)
        run.faults = Counter({f"{ep}:{kind}": n for (ep, kind), n in injected.items()})
        run.faults.update({f"media(client):{kind}": n for kind, n in media.injected.items()})
        log.close()
    return run


def audit(sim: Simulator, log: sn.TaskLog, prompts: list[str], injected: Counter[tuple[str, str]],
          outcomes: Counter[str]) -> dict[str, Any]:
    """Compare the task log with the simulator's books; see the module docstring for each figure."""
    tasks = sim.tasks()
    stats = sim.stats()
    frame = log.df()
    rows = frame.to_dict("records")
    by_task_id = {r["task_id"]: r for r in rows if isinstance(r["task_id"], str)}
    unknown = [r for r in rows if r["status"] == "unknown"]
    claimed: set[str] = set()
    orphans = [t for t in tasks if t.task_id not in by_task_id]
    owner = dict(by_task_id)  # task id -> the row that paid for it (an unknown row for a lost answer)
    missing: list[Any] = []
    for task in orphans:
        row = next((r for r in unknown if r["prompt"] == task.request.prompt and r["local_id"] not in claimed), None)
        if row is None:
            missing.append(task)
        else:
            claimed.add(row["local_id"])
            owner[task.task_id] = row
    behind_unknown = [t for t in orphans if t.task_id in owner]
    twice, again = _repeats(tasks, owner, _left_flight(log))
    media_dir = Path(log.path).parent / "media"
    unverified = [r for r in rows if r["status"] == "success" and not _verified(r, sim)]
    # Beyond the promise: bytes kept that differ from what was served (corruption ffmpeg decodes without error).
    kept = [r for r in rows if r["status"] == "success" and _verified(r, sim)
            and _served_sha(r, sim) != r["video_sha256"]]
    outcome = {t.task_id: t.outcome for t in tasks}
    mismatch = [r for r in rows if r["task_id"] in outcome and r["status"] != outcome[r["task_id"]]]
    credits_log = float(sum(c for c in frame["credits"].tolist() if c == c and c is not None))
    credits_unknown = float(sum(t.credits for t in behind_unknown))
    row_prompts = Counter(r["prompt"] for r in rows)
    details = [f"created twice: {p!r}: rows {[(r['status'], r['error_message']) for r in rows if r['prompt'] == p]}"
               for p in twice]
    details += [f"missing from log: task {t.task_id} ({t.request.prompt!r})" for t in missing]
    details += [f"unverified: {r['local_id']}: {_verified_reason(r, sim)}" for r in unverified]
    details += [f"corruption kept: {r['local_id']}: archived {r['video_sha256'][:12]}…, served "
                f"{(_served_sha(r, sim) or 'nothing')[:12]}…" for r in kept]
    details += [f"status mismatch: {r['local_id']} log {r['status']} simulator {outcome[r['task_id']]}"
                for r in mismatch]
    return {
        "details": details,
        "requests": len(prompts),
        "log_rows": len(rows),
        "tasks_created": int(stats["tasks_created"]),
        "success_rows": sum(r["status"] == "success" for r in rows),
        "failed_rows": sum(r["status"] == "failed" for r in rows),
        "rejected_rows": sum(r["status"] == "rejected" for r in rows),
        "unknown_rows": len(unknown),
        "lost_answers": injected[("createtask", "lost")],
        "unknown_rows_created": len(behind_unknown),
        "missing_from_log": len(missing),
        "created_twice": len(twice),
        "paid_again_after_end": again,
        "requests_without_row": sum(1 for p in prompts if row_prompts[p] == 0),
        "in_flight": sum(r["status"] in IN_FLIGHT for r in rows),
        "status_mismatch": len(mismatch),
        "unverified_success": len(unverified),
        "unverified_reasons": Counter(_verified_reason(r, sim) for r in unverified),
        "corruption_kept": len(kept),
        "part_files": len(list(media_dir.glob(".part-*"))) if media_dir.exists() else 0,
        "credits_charged": float(stats["credits_charged"]),
        "credits_log": round(credits_log, 4),
        "credits_unknown": round(credits_unknown, 4),
        "credits_unaccounted": round(float(stats["credits_charged"]) - credits_log - credits_unknown, 4) + 0.0,
        "undocumented_errors": sum(n for k, n in outcomes.items() if k.startswith("undocumented")),
    }


def _left_flight(log: sn.TaskLog) -> dict[str, float]:
    """When each row first reached a definite end (success, failed, rejected), in epoch seconds. An ``unknown``
    row never does: its task may exist, so it counts as in flight for ever."""
    events = log.events()
    ended = events[events["status"].isin(["success", "failed", "rejected"])]
    return {str(k): float(v.timestamp()) for k, v in ended.groupby("local_id")["at"].min().items()}


def _repeats(tasks: list[Any], owner: dict[str, dict[str, Any]], left: dict[str, float]) -> tuple[list[str], int]:
    """Requests paid twice: a later task of the same request created while the earlier one's row was still in
    flight (or unknown), when generate() must have followed it instead. A repeat created after the earlier
    task had ended is a new run, which the design allows; those are counted apart."""
    by_prompt: dict[str, list[Any]] = {}
    for task in sorted(tasks, key=lambda t: t.created):
        by_prompt.setdefault(task.request.prompt, []).append(task)
    twice: list[str] = []
    again = 0
    for prompt, group in by_prompt.items():
        for first, later in itertools.pairwise(group):
            row = owner.get(first.task_id)
            ended = left.get(row["local_id"], float("inf")) if row else float("inf")
            if later.created < ended:
                twice.append(prompt)
            else:
                again += 1
    return twice, again


_original_sha: dict[str, str] = {}


def _verified_reason(row: dict[str, Any], sim: Simulator) -> str:
    """Why a successful row has no verified video ("" when it has one)."""
    path = row.get("video_path")
    if not isinstance(path, str) or not path:
        return f"no video_path (media_error: {str(row.get('media_error'))[:60]})"
    file = Path(path)
    if not file.is_file():
        return "video_path does not exist"
    digest = sha256_file(file)
    if file.stem != digest or row.get("video_sha256") != digest:
        return "file SHA-256 differs from its name or the log"
    return ""


def _served_sha(row: dict[str, Any], sim: Simulator) -> str | None:
    """The SHA-256 of the video the simulator served for this row's task (``None``: it served none)."""
    task = sim.state.task(row["task_id"]) if isinstance(row.get("task_id"), str) else None
    render = task.render if task is not None else None
    if render is None or not render.done() or render.exception() is not None:
        return None
    served = render.result().video
    if served not in _original_sha:
        _original_sha[served] = sha256_file(Path(served))
    return _original_sha[served]


def _verified(row: dict[str, Any], sim: Simulator) -> bool:
    return _verified_reason(row, sim) == ""


@dataclass
class SoakReport:
    """Both error styles, summed."""

    runs: list[StyleRun]
    total_s: float

    def total(self, name: str) -> Any:
        return sum(run.audit[name] for run in self.runs)

    def failures(self) -> dict[str, Any]:
        """The figures that break a promise: must-be-zero ones above 0, and unknown rows ≠ lost answers."""
        bad = {name: self.total(name) for name in MUST_BE_ZERO if abs(self.total(name)) > 1e-6}
        if self.total("unknown_rows") != self.total("lost_answers"):
            bad["unknown_rows != lost_answers"] = (self.total("unknown_rows"), self.total("lost_answers"))
        return bad


async def soak(tasks: int, *, concurrency: int = 16, seed: int = 8, workdir: Path | None = None,
               **options: Any) -> SoakReport:
    """Half the tasks against each error style (one simulator and one log each), one after the other."""
    root = workdir or Path(tempfile.mkdtemp(prefix="seedance-soak-"))  # the caller removes it
    started = time.perf_counter()
    runs = []
    for i, errors_as_200 in enumerate((False, True)):
        share = tasks // 2 if i == 0 else tasks - tasks // 2
        runs.append(await run_style(share, errors_as_200=errors_as_200, seed=seed + i, home=root / f"home{i}",
                                    concurrency=concurrency, **options))
    return SoakReport(runs, time.perf_counter() - started)


def format_report(report: SoakReport) -> str:
    lines = []
    for run in report.runs:
        a = run.audit
        secs = sorted(run.task_seconds)
        lines += [
            f"== {run.style}: {run.tasks} generate() calls ({a['requests']} distinct requests, "
            f"{a['twin_calls']} sent twice at once)",
            f"   outcomes: {dict(run.outcomes.most_common())}",
            f"   faults injected: {dict(sorted(run.faults.items()))}",
            f"   log rows {a['log_rows']} (success {a['success_rows']}, failed {a['failed_rows']}, rejected "
            f"{a['rejected_rows']}, unknown {a['unknown_rows']}); simulator created {a['tasks_created']}",
            f"   lost answers {a['lost_answers']} -> unknown rows {a['unknown_rows']} "
            f"({a['unknown_rows_created']} of them created at the simulator)",
            f"   missing from log {a['missing_from_log']}, created twice {a['created_twice']} (paid again after the "
            f"first ended: {a['paid_again_after_end']}), requests without row "
            f"{a['requests_without_row']}, in flight {a['in_flight']}, status mismatch {a['status_mismatch']}",
            f"   successes without a verified video {a['unverified_success']} "
            f"{dict(a['unverified_reasons']) if a['unverified_reasons'] else ''}; .part files {a['part_files']}; "
            f"corrupt bytes kept (not detectable without a checksum from Crun) {a['corruption_kept']}",
            f"   credits: simulator charged {a['credits_charged']:g}, log {a['credits_log']:g}, behind unknown rows "
            f"{a['credits_unknown']:g}, unaccounted {a['credits_unaccounted']:g}",
            *(f"   ! {line}" for line in a["details"]),
            f"   time: generate {run.timings['generate_s']:.1f} s, resume {run.timings['resume_s']:.1f} s in "
            f"{run.timings['resume_rounds']:g} round(s); per task p50 {statistics.median(secs):.2f} s, "
            f"p95 {secs[int(0.95 * (len(secs) - 1))]:.2f} s, max {secs[-1]:.2f} s",
        ]
    failures = report.failures()
    lines += [
        f"== total {sum(r.tasks for r in report.runs)} tasks in {report.total_s:.1f} s: "
        + ", ".join(f"{name} {report.total(name):g}" for name in (*MUST_BE_ZERO, "unknown_rows", "lost_answers")),
        "== PASS: every figure is 0 and unknown rows = lost answers" if not failures
        else f"== FAIL: {failures}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=1000, help="generate() calls in all (default 1000)")
    parser.add_argument("--concurrency", type=int, default=16, help="calls in flight at once (default 16)")
    parser.add_argument("--seed", type=int, default=8, help="seed of the faults and failures (default 8)")
    parser.add_argument("--corrupt", type=float, default=0.02, help="share of media answers corrupted")
    parser.add_argument("--truncate", type=float, default=0.02, help="share of media answers truncated")
    parser.add_argument("--resume-rounds", type=int, default=6, help="resume() runs at most (default 6)")
    parser.add_argument("--workdir", type=Path, help="keep the logs and media here (default: a temporary folder, "
                        "removed at the end)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="seedance-soak-") as scratch:
        report = asyncio.run(soak(args.tasks, concurrency=args.concurrency, seed=args.seed, corrupt=args.corrupt,
                                  truncate=args.truncate, resume_rounds=args.resume_rounds,
                                  workdir=args.workdir or Path(scratch)))
    print(format_report(report))
    return 1 if report.failures() else 0


if __name__ == "__main__":
    sys.exit(main())
