"""Fuzzing every simulator endpoint with hypothesis: no answer is a 5xx, every answer comes within 1 s.

Bodies are random JSON values, random bytes, deep nesting, huge strings and valid task bodies with one field
replaced by a value of any type; GETs get random query parameters and path segments. A rejected body changes
nothing, names the field that was broken, and everything the simulator stored still answers afterwards.
Bounded: a few hundred cases and a few seconds; run with ``-s`` to see the figures.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seedance_nb.simulator import Simulator

KEY = "ak_" + "Fuzz" * 8
MINI = "bytedance/seedance2-0-mini-r2v"
URL = "https://example.com/a.png"
CAP = 1024 * 1024
LIMIT_S = 1.0
TASK_PATHS = ("/client/job/CreateTask", "/client/job/EstimateTask")
JSON_PATHS = (*TASK_PATHS, "/client/job/asset-upload")
QUERIES = {"/client/job/TaskInfo": ("task_id",), "/client/job/asset-info": ("asset_id",),
           "/client/files/upload-url": ("content_type", "ext"), "/client/account/balance": (),
           "/client/job/Models": ("modality", "operation")}
# Where one value is replaced in a valid task body (a path of keys; "seed" is a field Crun does not document).
FIELDS = ("model", "input", "callback_url", "input.prompt", "input.reference_images", "input.reference_images.0",
          "input.reference_videos", "input.reference_audios", "input.resolution", "input.aspect_ratio",
          "input.duration", "input.audio", "input.return_last_frame", "input.byteplus_fallback", "input.seed")
# Sent raw, so these reach the server exactly as a client could write them.
ODD_VALUES = ('"\\ud800"', '"a\\udfffb"', '["\\udc00"]', '{"\\ud800": 1}', "1e999", "-1e400", "[" * 40 + "]" * 40,
              "123456789012345678901234567890", "-0", '"\\u0000"', '""', '"   "', '"asset://nope"',
              f'"{URL}"', f'["{URL}"]', '"http://[::1"', '"http://localhost:port/"',
              '"http://' + "a" * 20_000 + ' "', '["https://' + "a" * 20_000 + '\\t"]')  # once quadratic: seconds

SLOW_IS_FINE = [HealthCheck.too_slow]  # every example is a round trip to the server
scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
           | st.text(max_size=30) | st.sampled_from([MINI, "720p", "480p", "16:9", 5, 15, URL, "asset://x"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)
# A value as JSON text: any decoded value, or one of the odd ones Python's encoder would never write.
json_texts = st.one_of(json_values.map(json.dumps), st.sampled_from(ODD_VALUES))


@dataclass
class Tally:
    cases: int = 0
    worst: float = 0.0
    worst_case: str = ""
    largest: int = 0
    task_ids: list[str] = field(default_factory=list)
    asset_ids: list[str] = field(default_factory=list)

    def say(self) -> str:
        return (f"{self.cases} cases tried, worst answer {self.worst * 1000:.0f} ms ({self.worst_case}), "
                f"largest body {self.largest:,} bytes")


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    # Tasks stay pending for an hour: nothing renders or calls back while the fuzzer runs.
    with Simulator(latency=3600, balance=1e12, api_key=KEY) as simulator:
        yield simulator


@pytest.fixture(scope="module")
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.root_url, headers={"x-api-key": KEY}, trust_env=False, timeout=10) as c:
        yield c


@pytest.fixture(scope="module")
def tally() -> Tally:
    return Tally()


def send(client: httpx.Client, tally: Tally, method: str, url: str, **kw: Any) -> httpx.Response:
    """One request, timed; every answer is below 500, quick, and on the Crun surface a proper envelope."""
    tally.cases += 1
    tally.largest = max(tally.largest, len(kw.get("content") or b""))
    started = time.perf_counter()
    answer = client.request(method, url, **kw)
    took = time.perf_counter() - started
    label = f"{method} {url[:60]}"
    if took > tally.worst:
        tally.worst, tally.worst_case = took, label
    where = f"case {tally.cases} ({label}): {answer.status_code} {answer.text[:300]!r}"
    assert answer.status_code < 500, where
    assert took < LIMIT_S, f"{where} took {took:.2f} s"
    if url.startswith("/api/v1/"):
        body = answer.json()
        assert body["code"] == answer.status_code and isinstance(body["message"], str), where
        if answer.status_code == 422:
            assert body["errors"] and all(": " in e for e in body["errors"]), where
    return answer


def valid_task(model: str = MINI) -> dict[str, Any]:
    return {"model": model, "input": {"prompt": "a corgi in the rain", "reference_images": [URL], "duration": 4}}


def with_replaced(path: str, text: str | None) -> bytes:
    """A valid task body as JSON text with the value at ``path`` replaced by ``text`` (``None``: removed)."""
    marker = "\u0001MARK\u0001"
    body: Any = valid_task()
    *parents, last = path.split(".")
    holder = body
    for key in parents:
        holder = holder[int(key)] if isinstance(holder, list) else holder[key]
    if text is None:
        holder.pop(int(last)) if isinstance(holder, list) else holder.pop(last, None)
    elif isinstance(holder, list):
        holder[int(last)] = marker
    else:
        holder[last] = marker
    return json.dumps(body).replace(json.dumps(marker), text or "").encode()


def record(tally: Tally, path: str, answer: httpx.Response) -> None:
    if answer.status_code == 200 and path.endswith("CreateTask"):
        tally.task_ids.append(answer.json()["data"]["task_id"])
    if answer.status_code == 200 and path.endswith("asset-upload"):
        tally.asset_ids.append(answer.json()["data"]["AssetId"])


def fuzz_one_field(client: httpx.Client, sim: Simulator, tally: Tally) -> None:
    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=SLOW_IS_FINE)
    @given(path=st.sampled_from(TASK_PATHS), where=st.sampled_from(FIELDS), text=st.none() | json_texts)
    def case(path: str, where: str, text: str | None) -> None:
        before = sim.stats()
        answer = send(client, tally, "POST", f"/api/v1{path}", content=with_replaced(where, text),
                      headers={"content-type": "application/json"})
        assert answer.status_code in (200, 422), answer.text
        record(tally, path, answer)
        if answer.status_code == 422:
            named = [e.split(": ", 1)[0] for e in answer.json()["errors"]]
            broken = where.replace(".0", "[0]")
            assert any(n.startswith(broken) or broken.startswith(n) for n in named), (broken, named, tally.say())
            after = sim.stats()
            assert (after["tasks_created"], after["balance"]) == (before["tasks_created"], before["balance"])

    case()


def fuzz_raw_bodies(client: httpx.Client, tally: Tally) -> None:
    deep = st.integers(1, 3000).flatmap(lambda n: st.sampled_from(
        ["[" * n + "]" * n, '{"a":' * n + "1" + "}" * n, '{"model": "m", "input": ' + "[" * n + "]" * n + "}"]))
    huge = st.sampled_from([CAP - 200, CAP + 1, 3 * CAP]).map(
        lambda n: json.dumps({"model": MINI, "input": {"prompt": "x" * n, "reference_images": [URL]}}))
    bodies = st.one_of(st.binary(max_size=300), json_texts.map(str.encode), deep.map(str.encode),
                       huge.map(str.encode), st.just(b"\xef\xbb\xbf{}"), st.just('{"a": "é"}'.encode("utf-16")))

    @settings(max_examples=100, deadline=None, database=None, suppress_health_check=SLOW_IS_FINE)
    @given(path=st.sampled_from(JSON_PATHS), raw=bodies, method=st.sampled_from(["POST"] * 5 + ["PUT", "GET"]),
           key=st.sampled_from([KEY] * 6 + ["", "ak_" + "0" * 32]))
    def case(path: str, raw: bytes, method: str, key: str) -> None:
        answer = send(client, tally, method, f"/api/v1{path}", content=raw, headers={"x-api-key": key})
        record(tally, path, answer)

    case()


def fuzz_queries(client: httpx.Client, tally: Tally) -> None:
    # Query values already percent-encoded, so raw bytes (not UTF-8, NUL, CR LF) reach the server as sent.
    values = st.one_of(st.text(max_size=60).map(lambda t: quote(t, safe="")), st.binary(max_size=40).map(
        quote_from_bytes), st.sampled_from(["image%2Fpng", ".png", "png", "video", "reference-to-video", "..%2Fx"]))

    @settings(max_examples=150, deadline=None, database=None, suppress_health_check=SLOW_IS_FINE)
    @given(path=st.sampled_from([*QUERIES, "/client/job/Models/", "/_storage/put/", "/files/", "/media/"]),
           params=st.lists(st.tuples(st.sampled_from(["task_id", "asset_id", "content_type", "ext", "modality",
                                                      "operation", "x"]), values), max_size=3),
           segment=st.text(max_size=40), raw=st.binary(max_size=200))
    def case(path: str, params: list[tuple[str, str]], segment: str, raw: bytes) -> None:
        if path.endswith("/"):  # a path parameter: a model id, an upload token, a file or media name
            url = ("/api/v1" if path.startswith("/client") else "") + path + quote(segment or "x", safe="")
            method = "PUT" if path == "/_storage/put/" else "GET"
            send(client, tally, method, url, content=raw if method == "PUT" else None)
        else:
            send(client, tally, "GET", f"/api/v1{path}?" + "&".join(f"{k}={v}" for k, v in params))

    case()


def test_fuzz_every_endpoint(sim: Simulator, client: httpx.Client, tally: Tally) -> None:
    fuzz_one_field(client, sim, tally)
    fuzz_raw_bodies(client, tally)
    fuzz_queries(client, tally)
    print(f"\nfuzz: {tally.say()}; {len(tally.task_ids)} tasks and {len(tally.asset_ids)} assets created")
    assert tally.cases >= 300 and tally.worst < LIMIT_S, tally.say()
    # Afterwards: a normal request is served, and everything stored still answers.
    assert client.post("/api/v1/client/job/CreateTask", json=valid_task()).status_code == 200, tally.say()
    for task_id in tally.task_ids:
        answer = client.get("/api/v1/client/job/TaskInfo", params={"task_id": task_id})
        assert answer.status_code == 200 and answer.json()["data"]["task_id"] == task_id, tally.say()
    for asset_id in tally.asset_ids:
        answer = client.get("/api/v1/client/job/asset-info", params={"asset_id": asset_id})
        assert answer.status_code == 200, tally.say()
    stats = sim.stats()
    assert stats["tasks_created"] == len(tally.task_ids) + 1, (stats, tally.say())
