"""Hostile and broken requests get the documented envelope, never a 500 or a hang, and others are served."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from seedance_nb.simulator import Simulator

KEY = "ak_" + "Sim0" * 8
ENDPOINTS = ("/client/job/CreateTask", "/client/job/EstimateTask", "/client/job/asset-upload")


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b"[1, 2]", b"null", b"42", b'"text"', b'{"model": NaN}', b"\xff\xfe\xfa",
     b'{"model": "bytedance/seedance2-0-mini-r2v", "input": {"prompt": ["x"]}}',
     b'{"model": 7, "input": "x"}', b"[" * 50000],
)
def test_broken_bodies_get_422(session_api: httpx.Client, path: str, raw: bytes) -> None:
    r = session_api.post(path, content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == 422 and body["data"] is None and body["errors"]


def test_wrong_types_everywhere(api: httpx.Client, body: Callable[..., dict[str, Any]]) -> None:
    sent = body(reference_images={"a": 1}, resolution=720, aspect_ratio=None, duration=[5], audio="true")
    sent["callback_url"] = 12
    r = api.post("/client/job/CreateTask", json=sent)
    fields = [e.split(":")[0] for e in r.json()["errors"]]
    assert r.status_code == 422
    assert fields == ["callback_url", "input.reference_images", "input.reference_images", "input.resolution",
                      "input.duration", "input.audio"]


def test_unknown_model_is_422(api: httpx.Client, body: Callable[..., dict[str, Any]]) -> None:
    r = api.post("/client/job/CreateTask", json=body(model="openai/sora"))
    assert r.status_code == 422 and r.json()["errors"][0].startswith("model:")


TOO_BIG = "body: larger than 1 MiB, the most a JSON request may carry; send media through upload-url"


@pytest.mark.parametrize("path", ENDPOINTS)
def test_oversized_body_is_refused_and_the_connection_still_answers(api: httpx.Client, path: str) -> None:
    big = b"{" + b" " * (64 * 1024 * 1024) + b"}"
    r = api.post(path, content=big)
    assert r.status_code == 422 and r.json()["errors"] == [TOO_BIG]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming too
        for _ in range(3):
            yield b" " * (1024 * 1024)

    r = api.post(path, content=chunks())
    assert r.status_code == 422 and r.json()["errors"] == [TOO_BIG]
    assert api.get("/client/account/balance").status_code == 200  # on the same connection


def test_oversized_body_without_a_key_is_401(crun_simulator: Simulator) -> None:
    r = httpx.post(f"{crun_simulator.base_url}/client/job/CreateTask", content=b"x" * (65 * 1024 * 1024),
                   trust_env=False)
    assert r.status_code == 401


@pytest.mark.parametrize(
    ("path", "field"),
    [("/client/job/EstimateTask", "input.reference_images[0]"), ("/client/job/CreateTask", "callback_url"),
     ("/client/job/asset-upload", "asset_url")],
)
def test_a_long_url_ending_in_a_space_is_refused_at_once(api: httpx.Client, body: Callable[..., dict[str, Any]],
                                                        path: str, field: str) -> None:
    # The red team's request: the old pattern backtracked quadratically (20,000 characters: seconds).
    url = "http://" + "a" * 20_000 + " "
    sent = {"asset_url": url, "name": "n", "asset_type": "Image"} if field == "asset_url" else (
        body(callback_url=url) if field == "callback_url" else body(reference_images=[url]))
    started = time.perf_counter()
    r = api.post(path, json=sent)
    assert time.perf_counter() - started < 0.5
    assert r.status_code == 422 and r.json()["errors"][0].startswith(f"{field}:"), r.text


def test_a_stalled_client_does_not_block_others(crun_simulator: Simulator, api: httpx.Client) -> None:
    host, port = "127.0.0.1", crun_simulator.port
    with socket.create_connection((host, port)) as stalled:
        stalled.sendall(b"POST /api/v1/client/job/CreateTask HTTP/1.1\r\nHost: x\r\nx-api-key: " + KEY.encode()
                        + b"\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{\"model\": ")
        started = time.perf_counter()
        results: list[int] = []

        def other_client() -> None:
            with httpx.Client(trust_env=False) as c:
                for _ in range(20):
                    results.append(c.get(f"{crun_simulator.base_url}/client/account/balance",
                                         headers={"x-api-key": KEY}).status_code)

        worker = threading.Thread(target=other_client)
        worker.start()
        worker.join(10)
        assert results == [200] * 20
        assert time.perf_counter() - started < 5
    assert api.get("/client/account/balance").status_code == 200
    assert crun_simulator.stats()["tasks_created"] == 0


def test_garbage_on_the_wire_does_not_take_the_server_down(crun_simulator: Simulator, api: httpx.Client) -> None:
    with socket.create_connection(("127.0.0.1", crun_simulator.port)) as raw:
        raw.sendall(b"\x16\x03\x01 this is not http\r\n\r\n")
        raw.settimeout(5)
        answer = raw.recv(1024)
        assert answer.startswith(b"HTTP/1.1 400")
    assert api.get("/client/account/balance").status_code == 200


def test_asset_upload_fields_are_named(api: httpx.Client) -> None:
    r = api.post("/client/job/asset-upload", json={"name": "", "asset_type": "Picture", "asset_url": "file:///x"})
    assert r.status_code == 422
    assert [e.split(":")[0] for e in r.json()["errors"]] == ["name", "asset_type", "asset_url"]
    assert api.get("/client/job/asset-info").status_code == 422
    r = api.get("/client/files/upload-url", params={"content_type": "png", "ext": "../x"})
    assert [e.split(":")[0] for e in r.json()["errors"]] == ["content_type", "ext"]
