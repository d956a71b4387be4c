"""Fuzzing both edges of the client with hypothesis.

1. What a user types: every ``R2VRequest`` field gets values of random types (huge strings, lone surrogates,
   key-shaped words, nested lists, dicts, bytes, paths, NaN, None). ``validate()`` returns Problems;
   ``check()``, ``to_payload()`` and ``request_hash()`` raise ``sn.ValidationError`` or nothing; a payload
   that comes out can be sent (strict JSON, UTF-8, no key); no message echoes a key.
2. What Crun answers: random status codes, JSON bodies of the right shape with wrong types, JSON of any
   shape, bytes that are not JSON, broken gzip and transport failures, served through
   ``httpx.MockTransport`` to every ``Client`` method. Only ``sn.SeedanceError`` subclasses escape, and
   what a method returns has the type it promises.

``CASES`` counts the examples each fuzzer ran; the last test prints the figures (``FUZZ_EXAMPLES`` sets
how many each tries).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import media_factory
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seedance_nb as sn
from seedance_nb._limits import KEY_FORM, KEY_IN_TEXT, MODEL_RESOLUTIONS
from seedance_nb._retrying import RetryPolicy

CASES = {"request": 0, "answers": 0}
# FUZZ_EXAMPLES=5000 for a longer hunt; 600 each by default (about 10 s for both).
FUZZ = settings(max_examples=int(os.environ.get("FUZZ_EXAMPLES", "600")), deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

URL = "https://example.com/a.png"
KEY = "ak_" + "Fuzz" * 8  # of Crun's form, made up
BASE = "https://api.crun.test/api/v1"

# -- 1. requests --------------------------------------------------------------------------------------------

surrogates = st.sampled_from(["\ud800", "\udfff", "\udc80", "a\ud83d", "\ud83dz"])
awkward_text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30),   # surrogates included
    st.builds(lambda a, s, b: a + s + b, st.text(max_size=5), surrogates, st.text(max_size=5)),
    st.builds(lambda a, b: a + KEY + b, st.sampled_from(["", " ", "?k=", "x", "/", "\n"]),
              st.sampled_from(["", " ", "!", "0", "é"])),
    st.from_regex(KEY_FORM, fullmatch=True),
    st.sampled_from(["", " ", "\0", "a" * 5000, "https://x.org/" + "a" * 5000, "/" * 5000, "~no-such-user/x",
                     "http://[::1", "https://", "data:image/png;base64,AA", "asset://", "asset://a b",
                     "[Image" + "9" * 5000 + "]", "@image" + "1" * 5000, "[Image1] @video 2 [ audio 3 ]",
                     "https://a\uff03b.org/x.png", "ftp://x.org/a.png", "asset://asset-1", URL]),
)
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**80),
                    st.just(5000).map(lambda n: 10**n), st.floats(), st.binary(max_size=20), awkward_text)
any_value = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                            st.dictionaries(st.one_of(st.text(max_size=5), st.integers(), awkward_text), inner,
                                            max_size=3),
                            st.frozensets(st.one_of(st.integers(), st.text(max_size=5)), max_size=3)),
    max_leaves=12,
)
deep = st.integers(1, 3000).map(lambda n: _nest(n))
paths = st.builds(Path, st.one_of(st.text(max_size=20), st.sampled_from(["a" * 5000, "nul\0", "~nouser/x", "",
                                                                          ".", "/", KEY + ".png"])))
references = st.one_of(awkward_text, paths, any_value)


def _nest(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def field_values(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly wrong values of any type, sometimes a right one, so the later rules run too."""
    return st.one_of(good, any_value, deep, awkward_text)


request_fields = st.fixed_dictionaries({}, optional={
    "prompt": field_values(st.sampled_from(["[Image1] waves", "[Image2] [Video1] [Audio1] dance"])),
    "reference_images": st.one_of(st.lists(references, max_size=11), references, st.just([URL])),
    "reference_videos": st.one_of(st.lists(references, max_size=4), references),
    "reference_audios": st.one_of(st.lists(references, max_size=4), references),
    "resolution": field_values(st.sampled_from(["480p", "720p", "1080p"])),
    "aspect_ratio": field_values(st.sampled_from(["16:9", "auto"])),
    "duration": field_values(st.integers(-2, 20)),
    "audio": field_values(st.booleans()),
    "return_last_frame": field_values(st.booleans()),
    "byteplus_fallback": field_values(st.none() | st.booleans()),
    "model": field_values(st.sampled_from(list(MODEL_RESOLUTIONS))),
    "extra": st.one_of(st.none(), st.dictionaries(st.one_of(st.text(max_size=8), st.integers(), awkward_text),
                                                  any_value, max_size=3), any_value, deep),
})


def _no_key(text: str) -> bool:
    """No word shaped like a key (``ak_`` + 32 letters or digits, not part of a longer word)."""
    return not KEY_IN_TEXT.search(text)


def _shows_no_key(err: sn.ValidationError) -> None:
    texts = [str(err), *(str(p) for p in err.problems), *(p.value for p in err.problems if isinstance(p.value, str))]
    assert all(_no_key(text) for text in texts)
    str(err).encode("utf-8")  # printable


@FUZZ
@given(request_fields, st.one_of(st.none(), st.just("https://cb.example/x"), awkward_text, any_value))
def test_fuzz_request_fields_only_ever_give_problems(fields: dict[str, Any], callback: Any) -> None:
    CASES["request"] += 1
    fields.setdefault("prompt", "[Image1] waves")
    req = sn.R2VRequest(**fields)                           # building never raises
    problems = req.validate(check_files=False)
    assert all(isinstance(p, sn.Problem) and isinstance(p.field, str) and p.field for p in problems)
    for call in (lambda: req.check(check_files=False), lambda: req.to_payload(callback), req.request_hash):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sn.ExtraFieldsWarning)
                out = call()
        except sn.ValidationError as err:
            assert err.problems
            _shows_no_key(err)
            continue
        if isinstance(out, dict):                             # to_payload: exactly what httpx will send
            text = json.dumps(out, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            text.encode("utf-8")
            assert _no_key(text)
            assert problems == []
        elif isinstance(out, str):
            assert len(out) == 64
    try:
        req.check()                                         # with the files probed: paths of random text
    except sn.ValidationError as err:
        _shows_no_key(err)


# -- 2. answers ---------------------------------------------------------------------------------------------

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30),
                         st.floats(allow_nan=False, allow_infinity=False), st.floats(min_value=1e15, max_value=1e300),
                         st.text(max_size=20),
                         st.sampled_from(["abc", "", "NaN", "1e400", "2026-04-21T02:41:43Z",
                                          "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00",
                                          "https://cdn/x.mp4", "success", "Active", "-1"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                                  st.dictionaries(st.text(max_size=6), inner,
                                                                                  max_size=3)), max_leaves=10)
FIELDS = ["task_id", "status", "create_at", "complete_at", "credits", "duration_s", "param", "result", "provider",
          "model_version", "source", "estimated_credits", "balance", "affordable", "presigned_url", "file_url",
          "AssetId", "Status", "Name", "AssetType", "CreateTime", "UpdateTime", "code", "message", "media_urls"]
shaped = st.dictionaries(st.sampled_from(FIELDS), st.one_of(json_values, st.fixed_dictionaries(
    {}, optional={"code": json_values, "message": json_values, "media_urls": json_values})), max_size=8)
data_values = st.one_of(shaped, json_values)


def _dump(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


envelopes = st.builds(lambda code, message, data, errors: _dump({"code": code, "message": message, "data": data,
                                                                  **({"errors": errors} if errors else {})}),
                      st.one_of(st.just(200), st.sampled_from([200.0, "200", 402, "402", 429, 455, 500, 501, 502]),
                                json_values),
                      json_values, data_values, st.one_of(st.none(), json_values))
bodies = st.one_of(
    envelopes, envelopes, envelopes,
    st.builds(_dump, json_values),
    st.binary(max_size=60),
    st.sampled_from([b"", b"{oops", b'{"code": 1e400}', b'{"code": NaN, "data": Infinity}', b"[" * 50_000,
                     b'{"code": 200, "data": {"balance": 1e999, "estimated_credits": -Infinity}}',
                     b'{"code": 200, "message": "\\ud800", "data": {"task_id": "t\\udfff", "status": "\\ud800"}}',
                     b'{"code": 200, "data": {"task_id": "' + b"9" * 5000 + b'"}}',
                     b'{"code": 200, "data": ' + b"1" * 5000 + b"}",
                     b"\xff\xfe\x00garbage"]),
)
statuses = st.one_of(st.sampled_from([200, 200, 200, 201, 204, 302, 400, 401, 402, 404, 422, 429, 451, 455, 500, 501,
                                      502, 503, 504, 505]), st.integers(100, 599))
headers = st.dictionaries(st.sampled_from(["retry-after", "content-type", "x-crun-simulator"]),
                          st.one_of(st.sampled_from(["1", "1e400", "-5", "nan", "soon", "0",
                                                     "Fri, 31 Dec 9999 23:59:59 +2359",
                                                     "Wed, 21 Oct 99999 07:28:00 GMT", "application/json"]),
                                    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=10)),
                          max_size=2)
failures = st.sampled_from([httpx.ConnectError("refused"), httpx.ReadTimeout("late"), httpx.WriteTimeout("stuck"),
                            httpx.RemoteProtocolError("cut"), httpx.LocalProtocolError("illegal header"),
                            httpx.ProxyError("407"), httpx.ReadError("reset"), httpx.PoolTimeout("busy"),
                            httpx.DecodingError("bad gzip"), httpx.TooManyRedirects("loop")])


@dataclass(frozen=True)
class Answer:
    """One scripted answer: a status, headers and raw body bytes (a Response is built anew each time)."""

    status: int
    headers: dict[str, str]
    body: bytes


@st.composite
def answers(draw: st.DrawFn) -> Answer | Exception:
    kind = draw(st.sampled_from(["body", "body", "body", "body", "gzip", "failure"]))
    if kind == "failure":
        return draw(failures)
    extra = {"content-encoding": "gzip"} if kind == "gzip" else {}
    return Answer(draw(statuses), {**draw(headers), **extra}, draw(bodies))


def _handler(script: list[Answer | Exception]) -> Callable[[httpx.Request], httpx.Response]:
    turn = iter(range(10**9))

    def handle(request: httpx.Request) -> httpx.Response:
        answer = script[next(turn) % len(script)]
        if isinstance(answer, Exception):
            raise answer
        # The body as a stream: httpx decodes (gzip...) when the client reads it, as with a real server.
        return httpx.Response(answer.status, headers=answer.headers, stream=httpx.ByteStream(answer.body))
    return handle


CALLS: dict[str, Callable[[sn.Client, Path], Any]] = {
    "create_task": lambda c, png: c.create_task(sn.R2VRequest(prompt="[Image1] waves", reference_images=[URL])),
    "create_task(dict)": lambda c, png: c.create_task({"model": "m", "input": {"prompt": "hi"}}),
    "task_info": lambda c, png: c.task_info("t1"),
    "estimate": lambda c, png: c.estimate({"model": "m", "input": {"prompt": "hi"}}),
    "balance": lambda c, png: c.balance(),
    "models": lambda c, png: c.models(),
    "upload_file": lambda c, png: c.upload_file(png),
    "upload_references": lambda c, png: c.upload_references(sn.R2VRequest(prompt="[Image1]", reference_images=[png])),
    "upload_asset": lambda c, png: c.upload_asset("https://x.org/face.jpg"),
    "asset_info": lambda c, png: c.asset_info("asset-1"),
    "wait_asset": lambda c, png: c.wait_asset("asset-1", timeout=0.0),
}


def _promised(name: str, out: Any) -> bool:
    """What a method returned has the type its signature promises."""
    if name.startswith("create_task") or name in ("upload_file", "upload_asset"):
        return isinstance(out, str) and bool(out)
    if name == "task_info":
        return (isinstance(out, sn.TaskInfo) and isinstance(out.task_id, str) and isinstance(out.status, str)
                and all(isinstance(u, str) for u in out.media_urls))
    if name == "estimate":
        return isinstance(out, sn.Estimate) and isinstance(out.estimated_credits, float) and math.isfinite(
            out.estimated_credits)
    if name == "balance":
        return isinstance(out, float) and math.isfinite(out)
    if name in ("asset_info", "wait_asset"):
        return isinstance(out, sn.AssetInfo) and isinstance(out.asset_id, str) and isinstance(out.status, str)
    if name == "upload_references":
        return isinstance(out, sn.R2VRequest) and out.local_files == []
    return True


async def _every_method(script: list[Answer | Exception], png: Path) -> dict[str, str]:
    async def no_sleep(seconds: float) -> None:
        return None

    outcomes: dict[str, str] = {}
    async with sn.Client(api_key=KEY, base_url=BASE, transport=httpx.MockTransport(_handler(script)),
                         retry=RetryPolicy(max_attempts=2), sleep=no_sleep) as client:
        for name, call in CALLS.items():
            try:
                out = await call(client, png)
            except sn.SeedanceError as exc:
                assert _no_key(str(exc)) and _no_key(repr(exc)), name
                outcomes[name] = type(exc).__name__
                continue
            assert _promised(name, out), (name, out)
            outcomes[name] = "ok"
    return outcomes


@pytest.fixture(scope="module")
def png(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = media_factory.image(tmp_path_factory.mktemp("fuzz") / "me.png")
    return path


@FUZZ
@given(script=st.lists(answers(), min_size=1, max_size=4))
def test_fuzz_bad_answers_only_ever_raise_seedance_errors(png: Path, script: list[Answer | Exception]) -> None:
    CASES["answers"] += 1
    outcomes = asyncio.run(_every_method(script, png))
    assert set(outcomes) == set(CALLS)


def test_fuzz_cases_tried(capsys: pytest.CaptureFixture[str]) -> None:
    """The figures of the two fuzzers above (run in file order): how many cases each really tried."""
    with capsys.disabled():
        print(f"\nfuzz cases tried: {CASES['request']} requests (each through validate, check, to_payload, "
              f"request_hash), {CASES['answers']} answer scripts (each through {len(CALLS)} Client calls)")
    if CASES["request"] or CASES["answers"]:  # when the fuzzers ran in this session
        assert CASES["request"] >= FUZZ.max_examples and CASES["answers"] >= FUZZ.max_examples
