"""Request validation for the simulator (CRUN_API.md §4 rules 1–6); every rejection names the field.

Pure: the only outside fact it needs, the state of an asset, comes in as a function. The models, field names
and limits are those of ``seedance_nb._limits``. No check uses a backtracking pattern: URLs are checked with
``urlsplit`` and string methods, so the time is linear in the size of the request. Decoding the body, and
refusing what no answer could echo back, is ``bodies.parse_json_object`` (re-exported here).

Example:
    >>> ok = validate_task_body({"model": "bytedance/seedance2-0-mini-r2v",
    ...                          "input": {"prompt": "a cat", "reference_images": ["https://x.test/a.png"]}})
    >>> (ok.resolution, ok.aspect_ratio, ok.duration, ok.audio)
    ('720p', '16:9', 5, True)
    >>> bad = validate_task_body({"model": "bytedance/seedance2-0-mini-r2v",
    ...                           "input": {"prompt": "a cat", "reference_images": ["x"], "duration": 20}})
    >>> for line in bad.errors: print(line)
    input.reference_images[0]: must be an http(s) URL or asset://<AssetId>
    input.duration: must be an integer from 4 to 15 (got 20)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .._limits import (
    ASPECT_RATIOS,
    DEFAULT_MODEL,
    DURATION_RANGE,
    MAX_REFERENCES,
    MAX_TOTAL_REFERENCES,
    MODEL_RESOLUTIONS,
    REFERENCE_FIELDS,
    REFERENCE_KINDS,
    is_http_url,
)
from .bodies import MAX_BODY_BYTES, Rejection, parse_json_object
from .bodies import type_name as _type
from .catalogue import INPUT_DEFAULTS, resolutions_for

__all__ = [
    "MAX_BODY_BYTES",
    "AssetLookup",
    "Rejection",
    "TaskRequest",
    "asset_id_of",
    "host_is_invalid",
    "is_http_url",
    "parse_json_object",
    "validate_task_body",
]

_ASSET_PREFIX = "asset://"
# One character, no repetition: a search is a single linear scan.
_SPACE = re.compile(r"\s")
_KIND_OF = {name: kind for kind, name in REFERENCE_KINDS.items()}
# (field, most entries, the asset type its assets must have), in request order.
_LISTS = tuple((name, MAX_REFERENCES[name], _KIND_OF[name]) for name in REFERENCE_FIELDS)
DOWNLOAD_FAILED = "Failed to download media from the provided URL"

# (Status, AssetType) of an asset, or None when there is no such asset.
AssetLookup = Callable[[str], "tuple[str, str] | None"]


@dataclass(frozen=True)
class TaskRequest:
    """A valid CreateTask/EstimateTask body, with the defaults of CRUN_API.md §0 filled in.

    ``input`` is the request's own ``input`` object, kept verbatim for the TaskInfo echo.
    """

    model: str
    input: dict[str, Any]
    callback_url: str | None
    prompt: str
    reference_images: tuple[str, ...]
    reference_videos: tuple[str, ...]
    reference_audios: tuple[str, ...]
    resolution: str
    aspect_ratio: str
    duration: int
    audio: bool
    return_last_frame: bool


def host_is_invalid(url: str) -> bool:
    """True for a URL whose host is in the reserved ``.invalid`` domain (the simulator cannot fetch it).

    Example:
        >>> host_is_invalid("https://cdn.example.invalid/a.png"), host_is_invalid("https://example.com/a.png")
        (True, False)
    """
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        return False
    return host == "invalid" or host.endswith(".invalid")


def asset_id_of(value: Any) -> str | None:
    """The id in an ``asset://<AssetId>`` reference, or ``None`` for anything else.

    Example:
        >>> asset_id_of("asset://asset-20260420153000-ab12c"), asset_id_of("asset://"), asset_id_of("https://x")
        ('asset-20260420153000-ab12c', None, None)
    """
    if not isinstance(value, str) or not value.startswith(_ASSET_PREFIX):
        return None
    asset_id = value[len(_ASSET_PREFIX):]
    return asset_id if asset_id and not _SPACE.search(asset_id) else None


def _show(value: Any) -> str:
    """A value as JSON for a message, cut to a readable length."""
    text = json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:80] + "…"


def _is_int(value: Any) -> bool:
    # bool is a subclass of int in Python, but JSON true is not a duration.
    return isinstance(value, int) and not isinstance(value, bool)


def _check_refs(
    data: dict[str, Any], problems: list[tuple[str, str]]
) -> dict[str, tuple[str, ...]]:
    lists: dict[str, tuple[str, ...]] = {}
    for name, limit, _ in _LISTS:
        value = data.get(name)
        field = f"input.{name}"
        if value is None:
            lists[name] = ()
            continue
        if not isinstance(value, list):
            problems.append((field, f"must be an array of URL strings, not {_type(value)}"))
            lists[name] = ()
            continue
        if len(value) > limit:
            problems.append((field, f"at most {limit} entries (got {len(value)})"))
        for i, item in enumerate(value):
            if not is_http_url(item) and asset_id_of(item) is None:
                problems.append((f"{field}[{i}]", "must be an http(s) URL or asset://<AssetId>"))
        lists[name] = tuple(v for v in value if isinstance(v, str))
    images, videos, audios = (lists[name] for name in REFERENCE_FIELDS)
    if not images and not videos:
        problems.append(("input.reference_images", "required: give at least one image or video reference"))
        if audios:
            problems.append(("input.reference_audios", "audio-only input is not accepted; add an image or video"))
    if len(images) + len(videos) + len(audios) > MAX_TOTAL_REFERENCES:
        problems.append(("input", f"at most {MAX_TOTAL_REFERENCES} reference files in total (got "
                                  f"{len(images) + len(videos) + len(audios)})"))
    return lists


def _check_options(model: str, data: dict[str, Any], problems: list[tuple[str, str]]) -> dict[str, Any]:
    allowed = resolutions_for(model) or MODEL_RESOLUTIONS[DEFAULT_MODEL]
    resolution = data.get("resolution", INPUT_DEFAULTS["resolution"])
    if resolution not in allowed:
        problems.append(("input.resolution", f"must be one of {', '.join(allowed)} for this model "
                                             f"(got {_show(resolution)})"))
    aspect = data.get("aspect_ratio", INPUT_DEFAULTS["aspect_ratio"])
    if aspect not in ASPECT_RATIOS:
        problems.append(("input.aspect_ratio", f"must be one of {', '.join(ASPECT_RATIOS)} "
                                               f"(got {_show(aspect)})"))
    duration = data.get("duration", INPUT_DEFAULTS["duration"])
    low, high = DURATION_RANGE
    if not _is_int(duration) or not low <= duration <= high:
        problems.append(("input.duration", f"must be an integer from {low} to {high} "
                                           f"(got {_show(duration)})"))
    values: dict[str, Any] = {}
    for name in ("audio", "return_last_frame", "byteplus_fallback"):
        value = data.get(name, INPUT_DEFAULTS[name])
        if not isinstance(value, bool):
            problems.append((f"input.{name}", f"must be true or false, not {_type(value)}"))
        values[name] = value
    return {"resolution": resolution, "aspect_ratio": aspect, "duration": duration, **values}


def _check_media(lists: dict[str, tuple[str, ...]], lookup: AssetLookup | None) -> Rejection | None:
    """Rules 6–7: referenced assets must be Active; URLs the simulator "cannot download" are refused."""
    problems: list[tuple[str, str]] = []
    unreachable: list[str] = []
    for name, _, kind in _LISTS:
        for i, ref in enumerate(lists[name]):
            field = f"input.{name}[{i}]"
            asset_id = asset_id_of(ref)
            if asset_id is not None:
                found = lookup(asset_id) if lookup else None
                shown = asset_id if len(asset_id) <= 40 else asset_id[:40] + "…"
                if found is None:
                    problems.append((field, f"asset {shown!r} does not exist"))
                elif found[0] != "Active":
                    problems.append((field, f"asset {shown!r} is {found[0]}, not Active"))
                elif found[1] != kind:
                    problems.append((field, f"asset {shown!r} is a {found[1]} asset, not {kind}"))
            elif host_is_invalid(ref):
                unreachable.append(f"{field}: {DOWNLOAD_FAILED}")
    if problems:
        return Rejection(f"{problems[0][0]}: {problems[0][1]}", tuple(f"{f}: {p}" for f, p in problems))
    if unreachable:
        return Rejection(DOWNLOAD_FAILED, tuple(unreachable))
    return None


def _check_top(body: dict[str, Any], problems: list[tuple[str, str]]) -> tuple[str, str | None]:
    """``model`` and ``callback_url``: a known model id and an http(s) URL, or the problems with them."""
    model = body.get("model")
    if model is None:
        problems.append(("model", f"required: one of {', '.join(MODEL_RESOLUTIONS)}"))
    elif not isinstance(model, str):
        problems.append(("model", f"must be a string, one of {', '.join(MODEL_RESOLUTIONS)} (got {_type(model)})"))
    elif model not in MODEL_RESOLUTIONS:
        problems.append(("model", f"unknown model {_show(model)}; use one of {', '.join(MODEL_RESOLUTIONS)}"))
    callback_url = body.get("callback_url")
    if callback_url is not None and not is_http_url(callback_url):
        problems.append(("callback_url", "must be an http(s) URL string"))
    return (model if isinstance(model, str) else ""), callback_url


def validate_task_body(body: Any, *, assets: AssetLookup | None = None) -> TaskRequest | Rejection:
    """Check a CreateTask/EstimateTask body against the rules; every problem is listed, field first.

    Args:
        body: the decoded JSON body.
        assets: ``asset_id -> (Status, AssetType)`` or ``None`` when there is no such asset.

    Returns:
        The request with defaults filled in, or a ``Rejection`` (code 422).
    """
    if not isinstance(body, dict):
        return Rejection("Request body must be a JSON object", (f"body: must be a JSON object, not {_type(body)}",))
    problems: list[tuple[str, str]] = []
    model, callback_url = _check_top(body, problems)
    data = body.get("input")
    if not isinstance(data, dict):
        problems.append(("input", f"required: an object with the generation input, not {_type(data)}"))
        return _reject(problems)
    prompt = data.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        problems.append(("input.prompt", "required: a non-empty string" if prompt is None or isinstance(prompt, str)
                         else f"must be a string, not {_type(prompt)}"))
    lists = _check_refs(data, problems)
    options = _check_options(model, data, problems)
    if problems:
        return _reject(problems)
    media = _check_media(lists, assets)
    if media is not None:
        return media
    return TaskRequest(
        model=model,
        input=data,
        callback_url=callback_url,
        prompt=str(prompt),
        reference_images=lists["reference_images"],
        reference_videos=lists["reference_videos"],
        reference_audios=lists["reference_audios"],
        resolution=options["resolution"],
        aspect_ratio=options["aspect_ratio"],
        duration=options["duration"],
        audio=options["audio"],
        return_last_frame=options["return_last_frame"],
    )


def _reject(problems: list[tuple[str, str]]) -> Rejection:
    field, text = problems[0]
    if field == "input.reference_images" and text.startswith("required"):
        message = "At least one of reference_images or reference_videos must be provided"
    else:
        message = f"Invalid request: {field} {text}"
    return Rejection(message, tuple(f"{f}: {p}" for f, p in problems))
