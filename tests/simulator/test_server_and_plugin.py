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
