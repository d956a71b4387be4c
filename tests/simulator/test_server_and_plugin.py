"""Starting and stopping the simulator, the foreground runner, and the pytest plugin's fixtures."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from seedance_nb.simulator import Simulator
from seedance_nb.simulator.server import main
from seedance_nb.simulator.serving import http_protocol_class

KEY = "ak_" + "Sim0" * 8


def test_start_stop_and_context_manager() -> None:
    sim = Simulator()
    assert sim.stats()["tasks_created"] == 0  # readable before start
    with pytest.raises(RuntimeError):
        _ = sim.base_url
    assert sim.start() is sim and sim.start() is sim
    assert sim.base_url == f"http://127.0.0.1:{sim.port}/api/v1" and sim.root_url == f"http://127.0.0.1:{sim.port}"
    workdir, port = sim._workdir, sim.port
    assert workdir is not None and workdir.exists()
    sim.stop()
    sim.stop()
    assert not workdir.exists()  # renders and uploads are deleted
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/_simulator/stats", trust_env=False)
    with pytest.raises(RuntimeError, match="stopped"):
        sim.start()


def test_two_simulators_are_independent() -> None:
    with Simulator(balance=5) as a, Simulator(balance=7) as b:
        assert a.port != b.port
        assert a.stats()["balance"] == 5 and b.stats()["balance"] == 7


@pytest.mark.parametrize("httptools", [True, False], ids=["httptools", "h11 fallback"])
def test_both_http_protocols_serve_and_hang_up(httptools: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not httptools:
        monkeypatch.setitem(sys.modules, "httptools", None)  # as if it were not installed: uvicorn's h11
    expected = "DroppableHttpToolsProtocol" if httptools else "DroppableH11Protocol"
    assert http_protocol_class().__name__ == expected
    with Simulator(latency=0, faults="balance:drop=1") as sim, httpx.Client(
            base_url=sim.base_url, headers={"x-api-key": "ak_" + "p" * 32}, trust_env=False) as c:
        assert sim._server is not None and getattr(sim._server.config.http, "__name__", "") == expected
        assert c.get("/client/job/Models").status_code == 200
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/client/account/balance")  # the drop fault closes the connection without an answer


def test_stop_is_quick_with_slow_answers_pending() -> None:
    sim = Simulator(slow_delay=60).start()
    sim.set_faults("balance:slow=1")
    errors: list[BaseException] = []

    def wait_slow() -> None:
        try:
            httpx.get(f"{sim.base_url}/client/account/balance", headers={"x-api-key": KEY}, trust_env=False,
                      timeout=30)
        except httpx.HTTPError as exc:
            errors.append(exc)

    workers = [threading.Thread(target=wait_slow) for _ in range(3)]
    for w in workers:
        w.start()
    time.sleep(0.3)
    started = time.monotonic()
    sim.stop()
    assert time.monotonic() - started < 1.5
    for w in workers:
        w.join(5)
    assert len(errors) == 3  # the slow answers were cut off, not delivered after stop


def test_port_in_use_is_reported() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(OSError):
            Simulator(port=port).start()


def test_main_rejects_bad_knobs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--faults", "createtask:teapot=1"]) == 2
    assert "Unknown fault kind" in capsys.readouterr().err
    assert main(["--port", "0", "--latency", "5-2"]) == 2
    with pytest.raises(SystemExit):
        main(["--bogus"])


def test_main_runs_in_the_foreground_with_a_banner(tmp_path: Path) -> None:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    secret = "ak_" + "Q" * 32
    env = {**os.environ, "CRUN_API_KEY": secret, "PYTHONUNBUFFERED": "1"}
    code = f"from seedance_nb.simulator.server import main; raise SystemExit(main(['--port', '{port}', " \
           "'--latency', '1-2', '--faults', 'taskinfo:429=0.5']))"
    with subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=env, text=True, cwd=Path(__file__).parents[2]) as proc:
        try:
            assert proc.stdout is not None
            lines = []
            while not any("Ctrl+C" in line for line in lines):
                line = proc.stdout.readline()
                assert line, proc.stderr.read() if proc.stderr else "no output"
                lines.append(line)
            banner = "".join(lines)
            base = f"http://127.0.0.1:{port}/api/v1"
            assert f"export CRUN_BASE_URL={base}" in banner
            assert secret not in banner and "only the configured key" in banner
            assert "1–2 s" in banner and "taskinfo:429=0.5" in banner
            deadline = time.monotonic() + 10
            while True:
                try:
                    r = httpx.get(f"{base}/client/account/balance", headers={"x-api-key": secret}, trust_env=False)
                    break
                except httpx.ConnectError:
                    assert time.monotonic() < deadline
                    time.sleep(0.05)
            assert r.status_code == 200
            assert httpx.get(f"{base}/client/account/balance", headers={"x-api-key": KEY},
                             trust_env=False).status_code == 401
            proc.send_signal(signal.SIGINT)
            assert proc.wait(10) == 0
            assert secret not in (proc.stderr.read() if proc.stderr else "")
        finally:
            if proc.poll() is None:
                proc.kill()


def _serve_in_a_child(args: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start ``main(args)`` in a child process; return it and its banner once it serves."""
    code = f"from seedance_nb.simulator.server import main; raise SystemExit(main({args!r}))"
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**env, "PYTHONUNBUFFERED": "1"}, text=True, cwd=Path(__file__).parents[2])
    assert proc.stdout is not None
    lines: list[str] = []
    while not any("Ctrl+C" in line for line in lines):
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            raise AssertionError(proc.communicate(timeout=10)[1])
        lines.append(line)
    banner = "".join(lines)
    port = int(banner.split("export CRUN_BASE_URL=http://127.0.0.1:", 1)[1].split("/", 1)[0])
    deadline = time.monotonic() + 10
    while True:  # the banner comes as the server starts; wait until it listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, banner
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)


def _env_without_key(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if k != "CRUN_API_KEY"}, **extra}


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_deletes_the_work_folder(tmp_path: Path, stop: signal.Signals) -> None:
    proc, _ = _serve_in_a_child(["--port", "0"], _env_without_key(TMPDIR=str(tmp_path)))
    try:
        assert [p.name[:8] for p in tmp_path.iterdir()] == ["crun-sim"]  # where its uploads and renders live
        proc.send_signal(stop)
        assert proc.wait(10) == 0
        assert "Crun simulator stopped." in (proc.stdout.read() if proc.stdout else "")
        assert list(tmp_path.iterdir()) == []
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=10)


@pytest.mark.parametrize("flag", [["--api-key", "SECRET"], ["--api-key=SECRET"], ["--api-key"]])
def test_a_key_on_the_command_line_is_refused(flag: list[str]) -> None:
    secret = "ak_" + "T" * 32
    args = [a.replace("SECRET", secret) for a in flag] + ["--port", "0"]
    code = f"from seedance_nb.simulator.server import main; raise SystemExit(main({args!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30,
                         env=_env_without_key(), cwd=Path(__file__).parents[2])
    assert out.returncode == 2, out.stdout
    assert "CRUN_API_KEY" in out.stderr and "--api-key-file" in out.stderr and "ps" in out.stderr
    assert secret not in out.stdout + out.stderr


def test_the_key_can_come_from_a_file(tmp_path: Path) -> None:
    secret = "ak_" + "F" * 32
    key_file = tmp_path / "crun.key"
    key_file.write_text(f"  {secret}\n")
    proc, banner = _serve_in_a_child(["--port", "0", "--api-key-file", str(key_file)],
                                     _env_without_key(CRUN_API_KEY="ak_" + "E" * 32))  # the file wins
    try:
        assert secret not in banner and "only the configured key" in banner
        base = banner.split("export CRUN_BASE_URL=", 1)[1].split()[0]
        answers = [httpx.get(f"{base}/client/account/balance", headers={"x-api-key": k}, trust_env=False)
                   for k in (secret, KEY, "ak_" + "E" * 32)]
        assert [a.status_code for a in answers] == [200, 401, 401]
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        assert secret not in "".join(proc.communicate(timeout=10))


@pytest.mark.parametrize(("content", "reason"), [(None, "cannot read"), ("", "alone, on one line"),
                                                 ("ak_one\nak_two\n", "alone, on one line")])
def test_a_bad_key_file_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None,
                                    reason: str) -> None:
    key_file = tmp_path / "crun.key"
    if content is not None:
        key_file.write_text(content)
    assert main(["--port", "0", "--api-key-file", str(key_file)]) == 2
    err = capsys.readouterr().err
    assert reason in err and str(key_file) in err and "ak_" not in err


def test_help_says_where_the_key_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert stopped.value.code == 0
    assert "--api-key-file PATH" in text and "CRUN_API_KEY" in text and "never from the command line" in text
    assert "SIGTERM" in text


def test_plugin_import_starts_nothing() -> None:
    code = ("import threading, seedance_nb.simulator.pytest_plugin as p; "
            "assert [t.name for t in threading.enumerate()] == ['MainThread'], threading.enumerate(); "
            "import sys; heavy = {'uvicorn', 'starlette', 'seedance_nb.simulator.simulator'} & set(sys.modules); "
            "assert not heavy, heavy; "
            "from seedance_nb.simulator import Simulator; assert 'uvicorn' in sys.modules; "
            "print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).parents[2])
    assert out.stdout.strip() == "ok", out.stderr


def test_plugin_fixture_gives_a_running_simulator(crun_simulator: Simulator) -> None:
    assert crun_simulator.knobs.latency == (0.0, 0.0) and crun_simulator.knobs.asset_delay == 0.0
    assert httpx.get(f"{crun_simulator.root_url}/_simulator/stats", trust_env=False).status_code == 200


@pytest.mark.parametrize("crun_simulator", [{"balance": 12.5, "errors_as_200": True}], indirect=True)
def test_plugin_fixture_takes_knobs(crun_simulator: Simulator) -> None:
    r = httpx.get(f"{crun_simulator.base_url}/client/account/balance", headers={"x-api-key": KEY}, trust_env=False)
    assert r.json()["data"]["balance"] == 12.5 and crun_simulator.knobs.errors_as_200


def test_session_fixture_is_shared(crun_simulator_session: Simulator, request: pytest.FixtureRequest) -> None:
    assert request.getfixturevalue("crun_simulator_session") is crun_simulator_session
    assert crun_simulator_session.stats()["balance"] <= 100000
