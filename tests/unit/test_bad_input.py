"""Bad input fails before anything is paid for, as ``sn.ValidationError`` naming the field (or, for a bad
key, ``sn.ConfigError``), never as an OSError, TypeError, ValueError or UnicodeEncodeError from deeper down;
and a key typed where it does not belong is never echoed back.

The random counterpart (every field of every type) is in ``test_fuzz_client.py``.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import seedance_nb as sn
from seedance_nb._limits import KEY_IN_TEXT

URL = "https://example.com/a.png"
KEY = "ak_" + "K3y" * 10 + "zz"  # of Crun's form, made up: it must never be echoed back


def request(**fields: Any) -> sn.R2VRequest:
    fields.setdefault("prompt", "[Image1] waves")
    fields.setdefault("reference_images", [URL])
    return sn.R2VRequest(**fields)


def refused(req: sn.R2VRequest) -> sn.ValidationError:
    """The request's problems as to_payload() and check() raise them (and request_hash() does not crash)."""
    with pytest.raises(sn.ValidationError) as caught:
        req.to_payload()
    with pytest.raises(sn.ValidationError):
        req.check()
    with contextlib.suppress(sn.ValidationError):
        req.request_hash()
    return caught.value


@pytest.mark.parametrize("ref", ["a" * 5000, "x/" * 3000, Path("b" * 5000), "nul\0byte", Path("nul\0byte"),
                                 "~no-such-user-here/a.png", Path("~no-such-user-here/a.png")],
                         ids=["long", "long-dirs", "long-Path", "nul", "nul-Path", "user", "user-Path"])
def test_an_unusable_path_or_huge_string_reference_is_a_problem_of_its_field(ref: object) -> None:
    problems = request(reference_images=[ref]).validate()
    assert [p.field for p in problems] == ["reference_images[0]"]
    assert set(refused(request(reference_images=[ref])).fields) == {"reference_images[0]"}


@pytest.mark.parametrize("model", [["m"], {"m": 1}, 5, None, b"bytedance/seedance2-0-mini-r2v"])
def test_a_model_that_is_not_a_string_is_a_problem_of_model(model: object) -> None:
    problems = request(model=model).validate()
    assert [p.field for p in problems] == ["model"]
    assert "string" in problems[0].limit
    assert refused(request(model=model)).fields == ["model"]


@pytest.mark.parametrize("where,fields", [
    ("prompt", {"prompt": f"[Image1] waves; my key is {KEY}"}),
    ("reference_images[0]", {"reference_images": [f"{URL}?api_key={KEY}"]}),
    ("reference_videos[0]", {"reference_videos": [f"asset://{KEY}"]}),
    ("extra['note']", {"extra": {"note": ["fine", {"deep": KEY}]}}),
])
def test_a_key_in_the_request_is_a_problem_that_never_echoes_the_key(where: str, fields: dict[str, Any]) -> None:
    problems = request(**fields).validate()
    assert [p.field for p in problems] == [where]
    assert problems[0].limit == "looks like a Crun API key; never put a key in a request"
    assert problems[0].value == KEY[:6] + "…"
    err = refused(request(**fields))
    shown = [str(err), repr(err), *(repr(p) for p in err.problems)]
    assert not any(KEY in text or KEY_IN_TEXT.search(text) for text in shown)


def test_a_key_in_the_callback_url_is_refused_too() -> None:
    with pytest.raises(sn.ValidationError) as caught:
        request().to_payload(callback_url=f"https://cb.example/hook?k={KEY}")
    assert caught.value.fields == ["callback_url"] and KEY not in str(caught.value)


@pytest.mark.parametrize("extra,where", [
    ({"seed": float("nan")}, "extra['seed']"),
    ({"seed": float("inf")}, "extra['seed']"),
    ({"nested": [1, {"x": -float("inf")}]}, "extra['nested']"),
    ("abc", "extra"),
    ([("seed", 1)], "extra"),
    (42, "extra"),
    ({1: "a"}, "extra[1]"),
    ({"s": {1: "a", "b": 2}}, "extra['s']"),  # mixed key types: not JSON with sorted keys (request_hash)
])
def test_extra_that_is_not_a_json_object_is_a_problem_of_extra(extra: object, where: str) -> None:
    req = request(extra=extra)
    assert [p.field for p in req.validate()] == [where]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sn.ExtraFieldsWarning)
        assert refused(req).fields == [where]


@pytest.mark.parametrize("prompt", ["\ud800", "[Image1] waves \udfff", "[Image1] \ud83d alone"])
def test_a_lone_surrogate_in_the_prompt_is_a_problem_of_prompt(prompt: str) -> None:
    problems = request(prompt=prompt).validate()
    assert [p.field for p in problems] == ["prompt"]
    assert "surrogate" in problems[0].limit
    err = refused(request(prompt=prompt))
    str(err).encode("utf-8")  # the message itself can be printed


def test_a_lone_surrogate_in_a_reference_url_is_a_problem_of_that_reference() -> None:
    req = request(reference_images=[URL, "https://example.com/\udc80.png"])
    assert [p.field for p in req.validate()] == ["reference_images[1]"]


@pytest.mark.parametrize("prompt", ["[Image" + "9" * 5000 + "] waves", "[Image1] @image" + "7" * 5000],
                         ids=["strict", "loose"])
def test_a_reference_number_too_long_for_int_is_a_problem_not_a_value_error(prompt: str) -> None:
    problems = request(prompt=prompt).validate()
    assert {p.field for p in problems} == {"prompt"}


@pytest.mark.parametrize("refs", [5, 3.5, b"https://x.org/a.png", {"url": URL}, object()])
def test_a_reference_list_that_is_not_a_list_is_reported_not_raised(refs: object) -> None:
    assert [p.field for p in request(reference_images=refs).validate()] == ["reference_images[0]"]


@pytest.mark.parametrize("field,value", [("resolution", ["720p"]), ("aspect_ratio", {"16:9"}),
                                         ("duration", 10**5000), ("audio", [True]), ("byteplus_fallback", [1])],
                         ids=["resolution", "aspect_ratio", "duration", "audio", "byteplus_fallback"])
def test_unhashable_or_huge_option_values_are_problems(field: str, value: object) -> None:
    req = request(**{field: value})
    assert [p.field for p in req.validate()] == [field]
    str(refused(req))  # the message is built (a 5,000-digit int cannot even be printed by repr())


def test_a_deeply_nested_value_is_shown_short() -> None:
    deep: list[Any] = []
    for _ in range(5000):
        deep = [deep]
    err = refused(request(prompt=deep))
    assert err.fields == ["prompt"] and len(str(err)) < 400


@pytest.mark.parametrize("body", [{"model": "m", "input": {"prompt": "x", "seed": float("nan")}},
                                  {"model": "m", "input": {"prompt": "\ud800"}},
                                  {"model": "m", "input": {"prompt": KEY}}, "not a body", None])
async def test_a_raw_body_that_cannot_be_sent_is_a_validation_error_before_any_request(fake_key: str,
                                                                                        body: Any) -> None:
    sent: list[httpx.Request] = []

    def handler(r: httpx.Request) -> httpx.Response:
        sent.append(r)
        return httpx.Response(200, json={"code": 200, "message": "ok", "data": {"task_id": "t"}})

    async with sn.Client(api_key=fake_key, base_url="https://api.crun.test/api/v1",
                         transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(sn.ValidationError):
            await client.create_task(body)
        with pytest.raises(sn.ValidationError):
            await client.estimate(body)
    assert sent == []


# -- the key itself -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["ak_" + "a" * 16 + "\0" + "b" * 15,            # NUL: httpcore's error showed it
                                 "ak_" + "é" * 32,                                # non-ASCII: UnicodeEncodeError
                                 "ak_" + "a" * 31 + "\n",                         # a header injection
                                 "ak_" + "A1" * 16 + "x",                         # one too many
                                 "Bearer ak_" + "A1" * 16,
                                 "sk-" + "s" * 48])
def test_a_key_not_of_cruns_form_is_a_config_error_showing_six_characters_at_most(
        key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[Callable[[], sn.Client]] = [lambda: sn.Client(api_key=key)]
    if "\0" not in key:  # the environment cannot hold a NUL
        monkeypatch.setenv("CRUN_API_KEY", key)
        builds.append(lambda: sn.Client())
    for build in builds:
        with pytest.raises(sn.ConfigError) as caught:
            build()
        err = caught.value
        texts = [str(err), repr(err), repr(err.__cause__), repr(err.__context__)]
        assert "'ak_' followed by 32 letters or digits" in str(err)
        assert not any(key[:7] in text or key.strip()[-8:] in text for text in texts)


def test_a_well_formed_key_with_spaces_around_is_stripped(fake_key: str) -> None:
    client = sn.Client(api_key=f"  {fake_key}\n", base_url="https://api.crun.test/api/v1")
    assert client.http.headers["x-api-key"] == fake_key


@pytest.mark.parametrize("path", ["~no-such-user-here/x.png", "a" * 5000, "nul\0", 5, "no-such-file.png"],
                         ids=["user", "long", "nul", "int", "missing"])
async def test_upload_file_of_an_unreadable_path_is_a_validation_error(fake_key: str, path: Any) -> None:
    async with sn.Client(api_key=fake_key, base_url="https://api.crun.test/api/v1",
                         transport=httpx.MockTransport(lambda r: httpx.Response(500))) as client:
        with pytest.raises(sn.ValidationError) as caught:
            await client.upload_file(path)
    assert caught.value.fields == ["path"]


@pytest.mark.parametrize("url", ["https://e.com/a.png", "https://e.com/a b.png", "https://e.com/\t.png",
                                 'https://e.com/"><img src=x onerror=alert(1)>.png', "https://e.com:99999/a.png",
                                 "https://e.com:80/a.png", "http:///a.png", "https://[::1]:8080/a.png"])
def test_the_client_accepts_a_reference_url_exactly_when_the_simulator_would(url: str) -> None:
    from seedance_nb.simulator.validation import validate_task_body

    local = sn.R2VRequest(prompt="[Image1] waves", reference_images=[url]).validate()
    answer = validate_task_body({"model": "bytedance/seedance2-0-mini-r2v",
                                 "input": {"prompt": "[Image1] waves", "reference_images": [url]}})
    remote = getattr(answer, "errors", ())  # a Rejection lists its errors; an accepted TaskRequest has none
    assert (local == []) == (not remote), (local, remote)
