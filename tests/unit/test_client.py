"""sn.Client over httpx.MockTransport: envelopes, error codes in both styles, retries, create-once, secrets."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import media_factory
import pytest

import seedance_nb as sn
from seedance_nb._retrying import RetryPolicy

BASE = "https://api.crun.test/api/v1"
URL = "https://example.com/a.png"
REQ = sn.R2VRequest(prompt="[Image1] waves", reference_images=[URL])

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A MockTransport handler that answers from a list of responses (the last one repeats) and records."""

    def __init__(self, *answers: httpx.Response | Exception | Handler):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        if callable(answer) and not isinstance(answer, httpx.Response):
            return answer(request)
        return answer


def ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json={"code": 200, "message": "success", "data": data})


def err(code: int, style: str, message: str = "boom", headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"code": code, "message": message, "data": None}
    return httpx.Response(code if style == "status" else 200, json=body, headers=headers)


def make(fake_key: str, handler: Recorder, **kw: Any) -> tuple[sn.Client, list[float]]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    client = sn.Client(api_key=fake_key, base_url=BASE, transport=httpx.MockTransport(handler), sleep=sleep,
                       rng=lambda: 0.5, **kw)
    return client, sleeps


CODES = {401: sn.AuthenticationError, 402: sn.InsufficientCreditsError, 403: sn.AuthenticationError,
         404: sn.NotFoundError, 422: sn.RejectedError, 429: sn.RateLimitError, 451: sn.ModerationError,
         455: sn.MaintenanceError, 500: sn.ServerError, 501: sn.GenerationFailedError, 503: sn.ServerError,
         505: sn.FeatureDisabledError}


@pytest.mark.parametrize("style", ["status", "body"])
@pytest.mark.parametrize("code", sorted(CODES))
async def test_every_code_maps_to_its_exception_in_both_styles(fake_key: str, code: int, style: str) -> None:
    rec = Recorder(err(code, style, message=f"message {code}"))
    client, _ = make(fake_key, rec, retry=RetryPolicy(max_attempts=1))
    async with client:
        with pytest.raises(CODES[code]) as caught:
            await client.task_info("t1")
    exc = caught.value
    assert exc.code == code and exc.message == f"message {code}"
    assert exc.status_code == (code if style == "status" else 200)
    assert str(code) in str(exc) and "TaskInfo" in str(exc)
    assert isinstance(exc, sn.APIError) and isinstance(exc, sn.SeedanceError)


@pytest.mark.parametrize("style", ["status", "body"])
@pytest.mark.parametrize("code", [402, 422, 451, 429, 500])
async def test_create_task_errors_in_both_styles_are_sent_once(fake_key: str, code: int, style: str) -> None:
    rec = Recorder(err(code, style))
    client, _ = make(fake_key, rec)
    async with client:
        with pytest.raises(CODES[code]):
            await client.create_task(REQ)
    assert len(rec.requests) == 1


async def test_422_keeps_the_errors_list(fake_key: str) -> None:
    body = {"code": 422, "message": "At least one of reference_images or reference_videos must be provided",
            "data": None, "errors": ["input.reference_images: required"]}
    client, _ = make(fake_key, Recorder(httpx.Response(422, json=body)))
    async with client:
        with pytest.raises(sn.RejectedError) as caught:
            await client.create_task({"model": "m", "input": {}})
    assert caught.value.errors == ("input.reference_images: required",)
    assert "input.reference_images" in str(caught.value)


@pytest.mark.parametrize("response,needle", [
    (httpx.Response(200, text="<html>gateway hiccup</html>"), "not JSON"),
    (httpx.Response(200, json=[1, 2]), "envelope"),
    (httpx.Response(502, text="<html><body>502 Bad Gateway</body></html>"), "502 Bad Gateway"),
    (httpx.Response(200, content=b"\xff\xfe\x00garbage"), "not JSON"),
])
async def test_malformed_bodies_raise_api_error_with_a_snippet(fake_key: str, response: httpx.Response,
                                                               needle: str) -> None:
    client, _ = make(fake_key, Recorder(response), retry=RetryPolicy(max_attempts=1))
    async with client:
        with pytest.raises(sn.APIError) as caught:
            await client.balance()
    assert needle in str(caught.value)


async def test_string_code_in_body_still_counts(fake_key: str) -> None:
    client, _ = make(fake_key, Recorder(httpx.Response(200, json={"code": "402", "message": "no money"})))
    async with client:
        with pytest.raises(sn.InsufficientCreditsError):
            await client.balance()


# -- retries -----------------------------------------------------------------------------------------

async def test_get_retries_429_after_retry_after(fake_key: str) -> None:
    rec = Recorder(err(429, "status", headers={"Retry-After": "2"}), err(429, "body", headers={"Retry-After": "3"}),
                   ok({"balance": 12.5}))
    client, sleeps = make(fake_key, rec)
    async with client:
        assert await client.balance() == 12.5
    assert sleeps == [2.0, 3.0] and len(rec.requests) == 3


@pytest.mark.parametrize("code", [455, 500, 502, 503, 504])
async def test_get_retries_transient_codes_with_growing_capped_backoff(fake_key: str, code: int) -> None:
    rec = Recorder(err(code, "status"), err(code, "body"), err(code, "status"), ok({"balance": 1}))
    client, sleeps = make(fake_key, rec, retry=RetryPolicy(max_attempts=5, base_delay=1.0, max_delay=3.0))
    async with client:
        assert await client.balance() == 1.0
    # rng=0.5 → three quarters of the cap: caps 1, 2, 3 (capped)
    assert sleeps == [0.75, 1.5, 2.25]


@pytest.mark.parametrize("code", [401, 402, 404, 422, 451, 501, 505])
async def test_get_does_not_retry_definite_answers(fake_key: str, code: int) -> None:
    rec = Recorder(err(code, "status"), ok({"balance": 1}))
    client, sleeps = make(fake_key, rec)
    async with client:
        with pytest.raises(CODES[code]):
            await client.balance()
    assert len(rec.requests) == 1 and sleeps == []


async def test_get_retries_transport_errors_then_gives_up_with_transport_error(fake_key: str) -> None:
    rec = Recorder(httpx.ReadTimeout("slow"))
    client, sleeps = make(fake_key, rec, retry=RetryPolicy(max_attempts=3))
    async with client:
        with pytest.raises(sn.TransportError) as caught:
            await client.task_info("t1")
    assert len(rec.requests) == 3 and len(sleeps) == 2
    assert "3 tries" in str(caught.value) and isinstance(caught.value.__cause__, httpx.ReadTimeout)


async def test_retry_after_longer_than_the_cap_is_not_waited(fake_key: str) -> None:
    rec = Recorder(err(429, "status", headers={"Retry-After": "3600"}))
    client, sleeps = make(fake_key, rec)
    async with client:
        with pytest.raises(sn.RateLimitError) as caught:
            await client.balance()
    assert caught.value.retry_after == 3600 and sleeps == []


# -- create_task: exactly once ---------------------------------------------------------------------------

async def test_create_task_returns_the_id_and_sends_the_payload(fake_key: str) -> None:
    rec = Recorder(ok({"task_id": "task_12345678"}))
    client, _ = make(fake_key, rec)
    async with client:
        assert await client.create_task(REQ, callback_url="https://cb.example.com/x") == "task_12345678"
    sent = rec.requests[0]
    assert sent.method == "POST" and sent.url.path == "/api/v1/client/job/CreateTask"
    assert json.loads(sent.content) == REQ.to_payload("https://cb.example.com/x")
    assert sent.headers["x-api-key"] == fake_key


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("late"), httpx.RemoteProtocolError("dropped"),
                                     httpx.ReadError("reset"), httpx.WriteTimeout("stuck")])
async def test_create_task_lost_answer_is_unknown_and_never_retried(fake_key: str, failure: Exception) -> None:
    rec = Recorder(failure, ok({"task_id": "second"}))
    client, sleeps = make(fake_key, rec)
    async with client:
        with pytest.raises(sn.SubmissionUnknownError) as caught:
            await client.create_task(REQ)
    assert len(rec.requests) == 1 and sleeps == []
    assert "may exist" in str(caught.value) and "resubmit" in str(caught.value)


@pytest.mark.parametrize("response", [httpx.Response(502, text="bad gateway"), err(504, "status"),
                                      httpx.Response(200, text="{oops"), ok({"no": "id"})])
async def test_create_task_ambiguous_answers_are_unknown(fake_key: str, response: httpx.Response) -> None:
    rec = Recorder(response)
    client, _ = make(fake_key, rec)
    async with client:
        with pytest.raises(sn.SubmissionUnknownError):
            await client.create_task(REQ)
    assert len(rec.requests) == 1


async def test_create_task_connection_refused_is_a_safe_transport_error(fake_key: str) -> None:
    rec = Recorder(httpx.ConnectError("refused"))
    client, _ = make(fake_key, rec)
    async with client:
        with pytest.raises(sn.TransportError) as caught:
            await client.create_task(REQ)
    assert "nothing was sent" in str(caught.value) and len(rec.requests) == 1


async def test_an_invalid_request_sends_zero_http_requests(fake_key: str, tmp_path: Path) -> None:
    rec = Recorder(ok({"task_id": "x"}))
    client, _ = make(fake_key, rec)
    bad = sn.R2VRequest(prompt="", reference_images=[], duration=99)
    local = sn.R2VRequest(prompt="[Image1]", reference_images=[media_factory.image(tmp_path / "a.png")])
    async with client:
        for request in (bad, local):
            with pytest.raises(sn.ValidationError):
                await client.create_task(request)
            with pytest.raises(sn.ValidationError):
                await client.estimate(request)
    assert rec.requests == []


# -- other endpoints ----------------------------------------------------------------------------------

async def test_task_info_estimate_balance_models(fake_key: str) -> None:
    def route(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/api/v1/")
        if path == "client/job/TaskInfo":
            assert request.url.params["task_id"] == "t1"
            return ok({"task_id": "t1", "status": "success", "create_at": 1768900378, "credits": 29,
                       "result": {"code": 200, "message": "success", "media_urls": ["https://cdn/t1.mp4"]}})
        if path == "client/job/EstimateTask":
            assert json.loads(request.content)["model"] == REQ.model
            return ok({"estimated_credits": 29.0, "balance": 100, "affordable": True})
        if path == "client/account/balance":
            return ok({"balance": 71})
        return ok([{"model": REQ.model}])

    client, _ = make(fake_key, Recorder(route))
    async with client:
        info = await client.task_info("t1")
        assert (info.status, info.video_url, info.credits) == ("success", "https://cdn/t1.mp4", 29.0)
        assert await client.estimate(REQ) == sn.Estimate(29.0, 100.0, True)
        assert await client.balance() == 71.0
        assert await client.models() == [{"model": REQ.model}]


async def test_simulator_header_marks_results_simulated(fake_key: str) -> None:
    response = httpx.Response(200, json={"code": 200, "message": "ok", "data": {"task_id": "t", "status": "running"}},
                              headers={"X-Crun-Simulator": "seedance_nb"})
    client, _ = make(fake_key, Recorder(response))
    async with client:
        assert (await client.task_info("t")).simulated is True


async def test_upload_file_two_steps_key_stays_home_and_cache(fake_key: str, tmp_path: Path) -> None:
    path = media_factory.image(tmp_path / "me.png")

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.crun.test":
            assert request.url.params["content_type"] == "image/png" and request.url.params["ext"] == ".png"
            return ok({"presigned_url": "https://r2.storage.test/put/abc?sig=1",
                       "file_url": "https://files.storage.test/abc.png"})
        assert request.method == "PUT" and request.content == path.read_bytes()
        assert request.headers["content-type"] == "image/png"
        return httpx.Response(200)

    rec = Recorder(route)
    client, _ = make(fake_key, rec)
    async with client:
        assert await client.upload_file(path) == "https://files.storage.test/abc.png"
        again = await client.upload_references(sn.R2VRequest(prompt="[Image1]", reference_images=[path, URL]))
    assert again.reference_images == ("https://files.storage.test/abc.png", URL)
    assert len(rec.requests) == 2  # the second upload came from the cache
    put = rec.requests[1]
    assert "x-api-key" not in put.headers and fake_key not in str(put.headers)


async def test_a_known_digest_skips_reading_a_file_already_uploaded(fake_key: str, tmp_path: Path) -> None:
    import hashlib

    path = media_factory.image(tmp_path / "me.png")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    slot = ok({"presigned_url": "https://r2.storage.test/put/1", "file_url": "https://files.storage.test/1.png"})
    rec = Recorder(slot, httpx.Response(200))
    client, _ = make(fake_key, rec)
    async with client:
        first = await client.upload_file(path, digest=digest)
        path.unlink()  # a second read would fail now
        again = await client.upload_references(sn.R2VRequest(prompt="[Image1]", reference_images=[path]),
                                               digests={path: digest})
    assert again.reference_images == (first,) and len(rec.requests) == 2


async def test_upload_put_failure_asks_for_a_fresh_slot(fake_key: str, tmp_path: Path) -> None:
    path = media_factory.image(tmp_path / "me.png")
    slot = ok({"presigned_url": "https://r2.storage.test/put/1", "file_url": "https://files.storage.test/1.png"})
    rec = Recorder(slot, httpx.Response(503), slot, httpx.Response(200))
    client, sleeps = make(fake_key, rec)
    async with client:
        assert await client.upload_file(path) == "https://files.storage.test/1.png"
    assert [r.method for r in rec.requests] == ["GET", "PUT", "GET", "PUT"] and len(sleeps) == 1


async def test_assets_upload_info_and_wait(fake_key: str) -> None:
    statuses = iter(["Processing", "Processing", "Active"])

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("asset-upload"):
            assert json.loads(request.content) == {"name": "face", "asset_type": "Image",
                                                   "asset_url": "https://x.org/face.jpg"}
            return ok({"AssetId": "asset-20260420153000-ab12c"})
        return ok({"AssetId": "asset-20260420153000-ab12c", "Status": next(statuses),
                   "CreateTime": "2026-04-21T02:41:43Z", "UpdateTime": 1768900378})

    client, sleeps = make(fake_key, Recorder(route))
    async with client:
        asset_id = await client.upload_asset("https://x.org/face.jpg", name="face")
        info = await client.wait_asset(asset_id)
    assert info.is_active and info.uri == "asset://asset-20260420153000-ab12c" and len(sleeps) == 2


async def test_wait_asset_failed_and_timeout(fake_key: str) -> None:
    failed, _ = make(fake_key, Recorder(ok({"AssetId": "a", "Status": "Failed"})))
    async with failed:
        with pytest.raises(sn.AssetFailedError):
            await failed.wait_asset("a")
    stuck, _ = make(fake_key, Recorder(ok({"AssetId": "a", "Status": "Processing"})))
    async with stuck:
        with pytest.raises(sn.AssetTimeout) as caught:
            await stuck.wait_asset("a", timeout=0.0)
    assert isinstance(caught.value, TimeoutError)


# -- settings and secrets -------------------------------------------------------------------------------

def test_missing_key_says_how_to_set_it() -> None:
    with pytest.raises(sn.ConfigError) as caught:
        sn.Client()
    assert "CRUN_API_KEY" in str(caught.value) and "use_simulator" in str(caught.value)


def test_settings_are_read_when_the_client_is_built(fake_key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRUN_API_KEY", fake_key)
    monkeypatch.setenv("CRUN_BASE_URL", "http://127.0.0.1:1/api/v1/")
    client = sn.Client()
    assert client.base_url == "http://127.0.0.1:1/api/v1"
    assert client.http.headers["x-api-key"] == fake_key
    monkeypatch.setenv("CRUN_BASE_URL", "not a url")
    with pytest.raises(sn.ConfigError):
        sn.Client()


def test_import_reads_no_settings(fake_key: str) -> None:
    import subprocess
    import sys

    code = ("import os, seedance_nb as sn; os.environ['CRUN_API_KEY'] = %r; "
            "print(sn.Client(base_url='http://127.0.0.1:9/api/v1').http.headers['x-api-key'] == %r)")
    out = subprocess.run([sys.executable, "-c", code % (fake_key, fake_key)], capture_output=True, text=True,
                         check=True, env={"PATH": "", "HOME": "/tmp"})
    assert out.stdout.strip() == "True"


async def test_the_key_never_shows(fake_key: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    rec = Recorder(err(401, "status", message="Invalid API key"), httpx.ReadTimeout("x"))
    client, _ = make(fake_key, rec, retry=RetryPolicy(max_attempts=2))
    texts = [repr(client), str(client.__dict__.get("base_url"))]
    async with client:
        with pytest.raises(sn.AuthenticationError) as auth:
            await client.balance()
        with pytest.raises(sn.TransportError) as transport:
            await client.balance()
        with pytest.raises(sn.SubmissionUnknownError) as unknown:
            await client.create_task(REQ)
    for exc in (auth.value, transport.value, unknown.value):
        texts += [str(exc), repr(exc), repr(exc.__cause__)]
    texts += [r.getMessage() for r in caplog.records]
    assert not any(fake_key in text for text in texts)
    assert "ak_" in str(auth.value)  # the hint names the form, not the key


# -- bad answers: always an APIError (or a lenient value), never a raw exception ---------------------------

def raw(status: int, body: bytes, **headers: str) -> httpx.Response:
    return httpx.Response(status, stream=httpx.ByteStream(body), headers=headers)


@pytest.mark.parametrize("answer", [
    raw(200, b'{"code": 1e400, "message": "x"}'),                     # code: infinity → OverflowError in int()
    raw(200, b"[" * 100_000 + b"]" * 100_000),                          # deeper than the JSON parser goes
    raw(200, b"not gzip at all", **{"content-encoding": "gzip"}),       # httpx.DecodingError
    ok({"balance": 10**400}),                                           # float() → OverflowError
    raw(200, b'{"code": 200, "message": "ok", "data": {"balance": 1e400}}'),   # infinity is no balance
    ok({"balance": "NaN"}),
], ids=["infinite-code", "deep", "gzip", "huge-int", "infinite", "nan"])
async def test_an_unreadable_balance_answer_is_an_api_error(fake_key: str, answer: httpx.Response) -> None:
    client, _ = make(fake_key, Recorder(answer), retry=RetryPolicy(max_attempts=1))
    async with client:
        with pytest.raises(sn.APIError):
            await client.balance()


@pytest.mark.parametrize("answer", [ok("abc"), ok([1, 2]), ok(7), ok({"balance": 100}),
                                    ok({"estimated_credits": "abc"}),
                                    raw(200, b'{"code": 200, "data": {"estimated_credits": 1e999}}')],
                         ids=["string", "list", "number", "no-price", "price-text", "price-infinite"])
async def test_an_estimate_without_a_price_is_an_api_error_not_a_free_task(fake_key: str,
                                                                          answer: httpx.Response) -> None:
    client, _ = make(fake_key, Recorder(answer))
    async with client:
        with pytest.raises(sn.APIError, match="estimated_credits"):
            await client.estimate(REQ)


async def test_an_estimate_without_a_balance_keeps_what_it_says(fake_key: str) -> None:
    client, _ = make(fake_key, Recorder(ok({"estimated_credits": 29, "affordable": False})))
    async with client:
        estimate = await client.estimate(REQ)
    assert estimate == sn.Estimate(29.0, None, False)
    assert estimate.describe() == "about 29 credits; the balance is unknown"


@pytest.mark.parametrize("data,expected", [
    ({"task_id": 12345, "status": "running"}, {"task_id": "t1"}),
    ({"task_id": "t1", "status": 3}, {"status": "unknown"}),
    ({"task_id": "t1", "status": None, "create_at": 1e20}, {"created_at": None, "status": "unknown"}),
    ({"task_id": "t1", "status": "success", "create_at": -1e20, "complete_at": "9999-12-31T23:59:59-05:00"},
     {"created_at": None, "completed_at": None}),
    ({"task_id": "t1", "status": "success", "result": {"code": 200, "media_urls": "https://cdn/t1.mp4"}},
     {"media_urls": ("https://cdn/t1.mp4",), "video_url": "https://cdn/t1.mp4"}),
    ({"task_id": "t1", "status": "success", "result": {"media_urls": {"0": "https://cdn/t1.mp4"}}},
     {"media_urls": (), "video_url": None}),
    ({"task_id": "t1", "status": "success", "credits": "abc", "duration_s": "NaN", "result": "oops",
      "param": ["x"]}, {"credits": None, "duration_s": None, "result_code": None, "param": {}}),
    ({"task_id": "t1", "status": "failed", "result": {"code": "1e400", "message": 7}},
     {"result_code": None, "result_message": None}),
], ids=["id-number", "status-number", "time-1e20", "far-future", "urls-string", "urls-dict", "wrong-types",
        "result-types"])
async def test_task_info_reads_what_it_can_and_leaves_the_rest_none(fake_key: str, data: dict[str, Any],
                                                                    expected: dict[str, Any]) -> None:
    client, _ = make(fake_key, Recorder(ok(data)))
    async with client:
        info = await client.task_info("t1")
    assert {name: getattr(info, name) for name in expected} == expected


@pytest.mark.parametrize("data", [[{"task_id": "t1"}], "t1", 42, None])
async def test_task_info_and_asset_info_without_an_object_are_api_errors(fake_key: str, data: Any) -> None:
    client, _ = make(fake_key, Recorder(ok(data)))
    async with client:
        with pytest.raises(sn.APIError):
            await client.task_info("t1")
        with pytest.raises(sn.APIError):
            await client.asset_info("asset-1")


async def test_asset_info_with_wrong_types_reads_what_it_can(fake_key: str) -> None:
    client, _ = make(fake_key, Recorder(ok({"AssetId": 5, "Status": ["Active"], "CreateTime": 1e300})))
    async with client:
        info = await client.asset_info("asset-1")
    assert (info.asset_id, info.status, info.created_at) == ("asset-1", "Unknown", None)


@pytest.mark.parametrize("slot", [{"presigned_url": 5, "file_url": "https://f/a.png"},
                                  {"presigned_url": "/relative/put", "file_url": "https://f/a.png"},
                                  {"presigned_url": "http://[::1", "file_url": "https://f/a.png"},
                                  {"presigned_url": "https://r2.test/put", "file_url": ["x"]}])
async def test_a_bad_upload_slot_is_an_api_error_and_nothing_is_put(fake_key: str, tmp_path: Path,
                                                                      slot: dict[str, Any]) -> None:
    rec = Recorder(ok(slot))
    client, _ = make(fake_key, rec)
    async with client:
        with pytest.raises(sn.APIError):
            await client.upload_file(media_factory.image(tmp_path / "me.png"))
    assert [r.method for r in rec.requests] == ["GET"]


async def test_lone_surrogates_in_an_answer_come_back_escaped(fake_key: str) -> None:
    body = b'{"code":200,"message":"ok","data":{"task_id":"t1","status":"failed","result":{"message":"x\\ud800"}}}'
    client, _ = make(fake_key, Recorder(raw(200, body)))
    async with client:
        info = await client.task_info("t1")
    assert info.result_message == "x\\ud800"
    info.result_message.encode("utf-8")


async def test_a_key_echoed_by_the_server_is_masked_in_the_error(fake_key: str) -> None:
    client, _ = make(fake_key, Recorder(err(401, "status", message=f"Invalid API key {fake_key}")))
    async with client:
        with pytest.raises(sn.AuthenticationError) as caught:
            await client.balance()
    assert fake_key not in str(caught.value) and fake_key not in caught.value.message
    assert fake_key[:6] + "…" in str(caught.value)


# -- CreateTask that never left ----------------------------------------------------------------------------

@pytest.mark.parametrize("failure", [httpx.LocalProtocolError("Illegal header value b'ak_\\x00'"),
                                     httpx.ProxyError("407 Proxy Authentication Required")])
async def test_create_task_refused_before_sending_is_a_transport_error_not_unknown(fake_key: str,
                                                                                   failure: Exception) -> None:
    rec = Recorder(failure)
    client, _ = make(fake_key, rec)
    async with client:
        with pytest.raises(sn.TransportError) as caught:
            await client.create_task(REQ)
    assert not isinstance(caught.value, sn.SubmissionUnknownError)
    assert "nothing was sent" in str(caught.value) and len(rec.requests) == 1


async def test_create_task_with_an_undecodable_answer_is_unknown(fake_key: str) -> None:
    client, _ = make(fake_key, Recorder(raw(200, b"garbage", **{"content-encoding": "gzip"})))
    async with client:
        with pytest.raises(sn.SubmissionUnknownError):
            await client.create_task(REQ)
