"""The API key never shows: a recognisable fake key, made up per run, goes through the library (with DEBUG
logging of every logger, httpx and httpcore included), its errors (401 and 402 answers, malformed keys given
to ``sn.Client`` and in ``CRUN_API_KEY``), the command line (``seedance-nb demo``, ``log``, ``resume``) and
the quickstart notebook run by nbconvert; then every text and artifact is searched for it: stdout, stderr,
exception strings, reprs and tracebacks (with their chained causes), every log record's attributes, the
SQLite files' bytes (WAL included), the media folder's file names and bytes, the exported CSV and JSON
Lines, the executed notebook. 0 occurrences.

The key is searched whole, as its 32 letters and digits without ``ak_``, and as its first 20 of those.
"""

from __future__ import annotations

import json
import secrets
import string
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from reliability_kit import REFERENCE, ROOT, child_env

from seedance_nb.simulator import Simulator

pytestmark = pytest.mark.slow

CHILD = f"""
import asyncio, json, logging, os, pathlib, sys, traceback

out = pathlib.Path(sys.argv[1])
records = open(out / "records.txt", "w")

class Everything(logging.Handler):
    def emit(self, record):
        records.write(repr(record.__dict__) + "\\n" + self.format(record) + "\\n")

logging.basicConfig(level=logging.DEBUG, format="%(asctime)s %(name)s %(levelname)s %(message)s")
logging.getLogger().addHandler(Everything())
import seedance_nb as sn

key = os.environ["CRUN_API_KEY"]
URL = {REFERENCE!r}

def show(what, exc):
    print(f"== {{what}}: {{type(exc).__name__}}")
    print(str(exc)); print(repr(exc)); print(repr(getattr(exc, "__dict__", {{}})))
    traceback.print_exception(exc)                       # stderr, the chained causes included
    print("".join(traceback.format_exception(exc)))

async def quick(seconds):
    await asyncio.sleep(min(seconds, 0.05))

async def main():
    log = sn.TaskLog()
    async with sn.Client() as client:                     # the key from CRUN_API_KEY
        print(repr(client), str(client))
        gen = await sn.generate(prompt="[Image1] keeps a secret", reference_images=[URL], duration=4,
                                resolution="480p", client=client, log=log, progress=False, sleep=quick)
        print(repr(gen)); print(gen._repr_html_())
        try:                                              # left unfinished, for `seedance-nb resume`
            await sn.generate(prompt="[Image1] waits for resume", reference_images=[URL], duration=4,
                              resolution="480p", client=client, log=log, progress=False, sleep=quick, timeout=0.3)
        except sn.SeedanceError as exc:
            show("timeout", exc)
        try:                                              # the simulator drops this answer (scripted)
            await sn.generate(prompt="[Image1] loses its answer", reference_images=[URL], duration=4,
                              resolution="480p", client=client, log=log, progress=False, sleep=quick)
        except sn.SeedanceError as exc:
            show("lost answer", exc)
    for name, url in (("401", os.environ["SECRETS_401_URL"]), ("402", os.environ["SECRETS_402_URL"])):
        async with sn.Client(base_url=url) as client:
            for what, step in (("generate", lambda c: sn.generate(prompt="[Image1] is refused", duration=4,
                                    reference_images=[URL], client=c, log=log, progress=False, sleep=quick)),
                               ("create_task", lambda c: c.create_task(sn.R2VRequest(prompt="[Image1] x",
                                    reference_images=[URL], duration=4))),
                               ("balance", lambda c: c.balance())):
                try:
                    print(await step(client))
                except sn.SeedanceError as exc:
                    show(f"{{name}} {{what}}", exc)
    body = key[3:]
    for bad in (key + "x", key[:-1], key[:20] + "\\u00e9" + key[21:], key[:18] + "\\n" + key[18:], body,
                "Bearer " + key, key + " " + key, '"' + key + '"', key[:18] + "\\x00" + key[18:]):
        for where in ("given", "in CRUN_API_KEY"):
            if where != "given" and "\\x00" in bad:
                continue                                  # no environment variable can hold a NUL
            os.environ["CRUN_API_KEY"] = key if where == "given" else bad
            try:                                          # built, then used: the key goes on the wire
                async with (sn.Client(api_key=bad) if where == "given" else sn.Client()) as client:
                    print(await client.balance())
            except Exception as exc:
                show(f"malformed key {{len(bad)}} {{where}}", exc)
    os.environ["CRUN_API_KEY"] = key
    frame = log.df()
    print(frame.to_string()); print(repr(log))
    print(log.export(out / "export.csv")); print(log.export(out / "export.jsonl"))

asyncio.run(main())
records.close()
"""


def made_up_key() -> str:
    """``ak_`` + 32 letters and digits, recognisable in a dump and new every run."""
    alphabet = string.ascii_letters + string.digits
    return "ak_LeakCanary" + "".join(secrets.choice(alphabet) for _ in range(22))


@pytest.fixture(scope="module")
def key() -> str:
    return made_up_key()


@pytest.fixture(scope="module")
def sims(key: str) -> Iterator[dict[str, Simulator]]:
    other = made_up_key()  # the 401 simulator accepts only this one
    with Simulator(latency=0.5, api_key=key, seed=3) as ok, Simulator(api_key=other) as refusing, \
            Simulator(api_key=key, balance=1) as poor:
        yield {"ok": ok, "401": refusing, "402": poor}


def needles(key: str) -> list[str]:
    return [key, key[3:], key[3:23]]


def count(key: str, text: str | bytes) -> int:
    """Occurrences of the key (whole, its body, a long part of it) in a text or in bytes."""
    found = 0
    for needle in needles(key):
        found += text.count(needle.encode()) if isinstance(text, bytes) else text.count(needle)
    return found


def scan_tree(key: str, folder: Path) -> dict[str, int]:
    """Every file's name and bytes under ``folder``: where the key occurs, and how often."""
    hits: dict[str, int] = {}
    for path in sorted(folder.rglob("*")):
        name = str(path.relative_to(folder))
        hits[f"name {name}"] = count(key, name)
        if path.is_file():
            hits[f"bytes {name}"] = count(key, path.read_bytes())
    return hits


def leaks(hits: dict[str, int]) -> dict[str, int]:
    return {where: n for where, n in hits.items() if n}


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)


@pytest.fixture(scope="module")
def library_run(key: str, sims: dict[str, Simulator], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The library, with DEBUG logging, through successes, a lost answer, 401, 402 and malformed keys."""
    root = tmp_path_factory.mktemp("secrets")
    home, out = root / "home", root / "out"
    out.mkdir()
    sims["ok"].script("createtask", [None, None, "lost"])  # the third CreateTask of the child
    env = child_env(sims["ok"].base_url, key, home, SECRETS_401_URL=sims["401"].base_url,
                    SECRETS_402_URL=sims["402"].base_url)
    done = run([sys.executable, "-c", CHILD, str(out)], env, root)
    return {"root": root, "home": home, "out": out, "env": env, "code": done.returncode, "stdout": done.stdout,
            "stderr": done.stderr}


def test_library_errors_and_debug_logs_never_show_the_key(key: str, library_run: dict[str, Any]) -> None:
    stdout, stderr = library_run["stdout"], library_run["stderr"]
    records_file = library_run["out"] / "records.txt"
    records = records_file.read_text() if records_file.exists() else ""
    hits = {"stdout": count(key, stdout), "stderr": count(key, stderr), "log records": count(key, records)}
    hits |= scan_tree(key, library_run["home"]) | scan_tree(key, library_run["out"])
    print(f"secrets, library: {len(hits)} texts and artifacts searched, {sum(hits.values())} occurrences")
    assert leaks(hits) == {}
    # and the run did what it is meant to: every error path taken, DEBUG logs of httpx and httpcore kept
    assert library_run["code"] == 0, stderr[-3000:]
    for expected in ("== timeout: GenerationTimeout", "== lost answer: SubmissionUnknownError",
                     "== 401 generate: AuthenticationError", "== 402 generate: InsufficientCreditsError",
                     "== 402 create_task: InsufficientCreditsError", "== malformed key 36 given:",
                     "== malformed key 35 in CRUN_API_KEY:"):
        assert expected in stdout, expected
    assert "httpcore" in records and "httpx" in records and "'levelname': 'DEBUG'" in records
    assert any(name.startswith("bytes media/") for name in hits), "no media was archived"
    assert {"bytes tasks.sqlite", "bytes export.csv", "bytes export.jsonl"} <= set(hits)


def test_command_line_never_shows_the_key(key: str, library_run: dict[str, Any]) -> None:
    env, home = library_run["env"], library_run["home"]
    cli = [str(Path(sys.executable).with_name("seedance-nb"))]
    started = time.monotonic()
    runs = {name: run([*cli, *args], env, library_run["root"])
            for name, args in (("log", ["log"]), ("resume", ["resume"]), ("demo", ["demo", "--latency", "0.3"]))}
    for name, done in runs.items():
        assert done.returncode == 0, (name, done.stderr[-2000:])
    assert "unknown submission" in runs["log"].stderr  # the lost answer's row, shown loudly
    assert "success" in runs["resume"].stdout  # the unfinished task was followed to its end
    hits = {f"{name} {stream}": count(key, getattr(done, stream)) for name, done in runs.items()
            for stream in ("stdout", "stderr")}
    hits |= scan_tree(key, home)
    print(f"secrets, command line: {len(hits)} texts and artifacts searched, {sum(hits.values())} occurrences, "
          f"{time.monotonic() - started:.1f} s")
    assert leaks(hits) == {}


def test_quickstart_notebook_never_shows_the_key(key: str, sims: dict[str, Simulator],
                                                 tmp_path: Path) -> None:
    """The quickstart with ``use_real_crun = True``: the key and URL come from the environment, as a user's do."""
    notebook = json.loads((ROOT / "notebooks" / "01-quickstart.ipynb").read_text())
    cells = [c for c in notebook["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(cells) == 1
    cells[0]["source"] = "use_real_crun = True\nlatency = 0.5\n"
    (tmp_path / "quickstart.ipynb").write_text(json.dumps(notebook))
    env = child_env(sims["ok"].base_url, key, tmp_path / "home")
    done = run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                "--ExecutePreprocessor.timeout=120", "--output", "executed.ipynb", "quickstart.ipynb"],
               env, tmp_path, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    executed = (tmp_path / "executed.ipynb").read_text()
    assert "success True" in executed  # it ran to the end against our simulator, with our key
    hits = {"nbconvert stdout": count(key, done.stdout), "nbconvert stderr": count(key, done.stderr),
            "executed notebook": count(key, executed)} | scan_tree(key, tmp_path / "home")
    print(f"secrets, notebook: {len(hits)} texts and artifacts searched, {sum(hits.values())} occurrences")
    assert leaks(hits) == {}
