"""JupyterLab in Debian's Chromium, driven by Playwright for Python (no browser download).

The session starts one JupyterLab on 127.0.0.1 with a random token in a temporary root folder (its own
``SEEDANCE_NB_HOME``, Jupyter config and runtime folders, no Crun key in the environment) and stops it at the
end. Chromium is ``/usr/bin/chromium`` (or ``$CHROMIUM``), headless, ``--no-sandbox``. Where no Chromium is
found the tests are skipped with a loud reason — unless ``SEEDANCE_NB_REQUIRE_BROWSER=1`` (``.ci/run`` sets it),
where they fail instead. Screenshots go to ``tests/browser/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lab_driver import SCREENSHOTS, Console, Lab

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--autoplay-policy=no-user-gesture-required"]
START_TIMEOUT_S = 60.0


def chromium_path() -> str | None:
    """``$CHROMIUM`` when set (only it: set it to a missing path to see the skip), else Debian's Chromium."""
    candidates = [os.environ["CHROMIUM"]] if os.environ.get("CHROMIUM") else ["/usr/bin/chromium",
                                                                                shutil.which("chromium")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def chromium() -> str:
    path = chromium_path()
    if path is None:
        reason = ("NO CHROMIUM FOUND: the real-browser tests did not run. Install Debian's Chromium "
                  "(apt-get install -y chromium) or set $CHROMIUM.")
        if os.environ.get("SEEDANCE_NB_REQUIRE_BROWSER") == "1":
            pytest.fail(reason + " SEEDANCE_NB_REQUIRE_BROWSER=1 makes this a failure.", pytrace=False)
        sys.stderr.write(f"\n*** {reason} ***\n")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, chromium: str) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("lab")
    jupyter = root / ".jupyter"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRUN_", "JUPYTER", "JPY_"))}
    env.update(SEEDANCE_NB_HOME=str(root / "seedance-runs"), JUPYTER_CONFIG_DIR=str(jupyter / "config"),
               JUPYTER_RUNTIME_DIR=str(jupyter / "runtime"), IPYTHONDIR=str(jupyter / "ipython"),
               JUPYTERLAB_WORKSPACES_DIR=str(jupyter / "workspaces"))
    settings = jupyter / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)  # no "get notified about Jupyter news?" toast over the screenshots
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    env["JUPYTERLAB_SETTINGS_DIR"] = str(jupyter / "lab-settings")
    port, token = _free_port(), secrets.token_hex(16)
    log_path = root.parent / f"jupyterlab-{port}.log"
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={token}", "--LabApp.expose_app_in_browser=True",
               f"--ServerApp.root_dir={root}", "--ServerApp.port_retries=0"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.append("--allow-root")
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=root)
    running = Lab(root, port, token, process, log_path)
    try:
        _wait_until_up(running)
        yield running
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_until_up(lab: Lab) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if lab.process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {lab.process.returncode}:\n{lab.log_tail()}")
        try:
            answer = httpx.get(f"http://127.0.0.1:{lab.port}/api/status", params={"token": lab.token}, timeout=2,
                               trust_env=False)
            if answer.status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"JupyterLab did not answer within {START_TIMEOUT_S:.0f} s:\n{lab.log_tail()}")


@pytest.fixture
def browser_page(lab: Lab, chromium: str) -> Iterator[tuple[Any, Console]]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(exist_ok=True)
    console = Console()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1800})
            page.on("console", lambda m: (console.messages.append(f"{m.type}: {m.text}"),
                                          console.errors.append(m.text) if m.type == "error" else None))
            page.on("pageerror", lambda e: console.errors.append(f"page error: {e}"))
            yield page, console
        finally:
            browser.close()


@pytest.fixture
def file_page(chromium: str) -> Iterator[tuple[Any, list[str], list[str]]]:
    """A Chromium page for files opened from ``file://`` (no JupyterLab), its console errors, and every request
    that was not for a local file (each one aborted and recorded)."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    remote: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1300, "height": 1600})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))

            def route(r: Any) -> None:
                if r.request.url.startswith("file://"):
                    r.continue_()
                else:
                    remote.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            yield page, errors, remote
        finally:
            browser.close()
