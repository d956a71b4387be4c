"""The validation rules of a request (CRUN_API.md §0 and §4, rules 1–6), as pure functions.

Each rule returns a list of ``Problem`` (field, value, limit, fix); ``check_request`` runs them all so a
user sees every mistake of a request at once. Only the local-file rule touches the disk, through
``localfiles.check_local_files``. A rule never raises, whatever a field holds: a wrong type, a huge string,
a lone surrogate or a word shaped like an API key is a ``Problem`` of that field too.

Example:
    >>> from seedance_nb import R2VRequest
    >>> [p.field for p in check_request(R2VRequest(prompt=" ", duration=3), check_files=False)]
    ['prompt', 'reference_images', 'duration']
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._limits import (
    ASPECT_RATIOS,
    BYTEPLUS_FALLBACK_MODELS,
    DURATION_RANGE,
    INPUT_FIELDS,
    KEY_IN_TEXT,
    MAX_REFERENCES,
    MAX_TOTAL_REFERENCES,
    MODEL_RESOLUTIONS,
    REFERENCE_KINDS,
    is_http_url,
)
from ._localfiles import check_local_files, path_kind
from .errors import Problem, mask_keys, safe_text

if TYPE_CHECKING:
    from ._models import R2VRequest

__all__ = ["check_body", "check_callback_url", "check_id", "check_request", "check_text"]

_TOKEN = re.compile(r"\[(Image|Video|Audio)([1-9]\d*)\]")
_LOOSE_TOKEN = re.compile(r"(?:@\s*(image|video|audio)\s*(\d+)|\[\s*(image|video|audio)\s*(\d+)\s*\])", re.I)
_ASSET = re.compile(r"^asset://[A-Za-z0-9][A-Za-z0-9._-]*$")
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "[::1]"}
_ALL_RESOLUTIONS = ("480p", "720p", "1080p")
_DIGITS = 9  # a reference number longer than this is read as 10**9: past any count (int() refuses 4,300+ digits)


def check_request(req: R2VRequest, *, check_files: bool = True) -> list[Problem]:
    """Every problem of ``req``; local files are probed when ``check_files`` is true."""
    problems = [
        *check_model(req),
        *check_prompt(req),
        *check_reference_counts(req),
        *check_reference_forms(req),
        *check_options(req),
        *check_extra(req.extra),
    ]
    if check_files:
        problems += check_local_files(req)
    return sorted(problems, key=_field_order)


# The request's fields in order; "references" (the count of all of them) reads after the three lists.
_FIELD_ORDER = ("model", *INPUT_FIELDS[:4], "references", *INPUT_FIELDS[4:], "extra", "callback_url")
_WHERE = re.compile(r"^(\w+)(?:\[(\d+)\])?")


def _field_order(problem: Problem) -> tuple[int, int]:
    """Problems read in the order of the request's fields, references by index (sorting is stable)."""
    match = _WHERE.match(problem.field)
    name, index = (match.group(1), int(match.group(2) or -1)) if match else (problem.field, -1)
    rank = _FIELD_ORDER.index(name) if name in _FIELD_ORDER else len(_FIELD_ORDER)
    return rank, index


def _shown(value: Any) -> Any:
    """A value as a Problem holds it: short scalars as they are, anything else as a short safe text."""
    if value is None or isinstance(value, (bool, float, str)):
        return value
    if isinstance(value, int) and value.bit_length() <= 64:
        return value
    return safe_text(value)


def _known_model(model: Any) -> bool:
    return isinstance(model, str) and model in MODEL_RESOLUTIONS


def check_text(where: str, text: str) -> Problem | None:
    """A string that must not be sent: a word shaped like a Crun API key, or a lone surrogate (not UTF-8).

    The key is never echoed: the Problem shows its first 6 characters.

    Example:
        >>> check_text("prompt", "[Image1] and ak_" + "x" * 32).value
        'ak_xxx…'
        >>> check_text("prompt", "[Image1] " + chr(0xD800)).limit
        'holds a lone surrogate, which is not text'
    """
    key = KEY_IN_TEXT.search(text)
    if key is not None:
        return Problem(where, key.group(0)[:6] + "…", "looks like a Crun API key; never put a key in a request",
                       "Remove it: the client sends your key in the x-api-key header for you.")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return Problem(where, f"{ascii(text[exc.start:exc.end])[1:-1]} at position {exc.start}",
                       "holds a lone surrogate, which is not text",
                       "Remove that character (it comes from a broken copy-paste or a bad decode).")
    return None


def check_model(req: R2VRequest) -> list[Problem]:
    """The model id is one of the r2v profiles."""
    if _known_model(req.model):
        return []
    if not isinstance(req.model, str):
        return [Problem("model", _shown(req.model), "must be a string naming a Crun model",
                        f"Use one of {', '.join(MODEL_RESOLUTIONS)} (Mini is the default).")]
    return [Problem("model", req.model, "is not a reference-to-video model on Crun",
                    f"Use one of {', '.join(MODEL_RESOLUTIONS)} (Mini is the default).")]


def check_prompt(req: R2VRequest) -> list[Problem]:
    """The prompt is text, not blank, and every [ImageN]/[VideoN]/[AudioN] is within the counts."""
    if not isinstance(req.prompt, str):
        return [Problem("prompt", _shown(req.prompt), "must be a string", "Pass the prompt as text.")]
    if not req.prompt.strip():
        return [Problem("prompt", req.prompt, "must not be empty or blank",
                        "Describe the video, naming references as [Image1], [Video1], [Audio1].")]
    unsendable = check_text("prompt", req.prompt)
    problems: list[Problem] = [unsendable] if unsendable else []
    counts = {name: len(refs) for name, refs in req.references.items()}
    tokens = {(m.group(1), int(m.group(2)) if len(m.group(2)) <= _DIGITS else 10**_DIGITS): m.group(2)
              for m in _TOKEN.finditer(req.prompt)}
    for (kind, number), digits in sorted(tokens.items()):
        field = REFERENCE_KINDS[kind]
        have = counts[field]
        if number > have:
            given = f"only {have} {kind.lower()}{'s' if have != 1 else ''}" if have else f"no {field}"
            shown = digits if len(digits) <= _DIGITS else digits[:_DIGITS] + "…"
            usable = f"[{kind}1]" if have == 1 else f"[{kind}1]…[{kind}{have}]"
            problems.append(Problem("prompt", f"[{kind}{shown}]", f"refers to {kind} {shown} but the request "
                                    f"has {given}", f"Add {field} entries or use {usable}."
                                    if have else f"Add a reference to {field} or remove [{kind}{shown}]."))
    for match in _LOOSE_TOKEN.finditer(req.prompt):
        kind = (match.group(1) or match.group(3)).capitalize()
        index = match.group(2) or match.group(4)
        right = f"[{kind}{index}]"
        if match.group(0) != right:
            problems.append(Problem("prompt", match.group(0), "is not how Crun names a reference",
                                    f"Write {right} (capitalised, in square brackets, no space)."))
    return problems


def check_reference_counts(req: R2VRequest) -> list[Problem]:
    """At most 9 images, 3 videos, 3 audios, 12 in all; at least one image or video; audio never alone."""
    problems: list[Problem] = []
    refs = req.references
    for name, refs_ in refs.items():
        if len(refs_) > MAX_REFERENCES[name]:
            problems.append(Problem(name, f"{len(refs_)} entries", f"allows at most {MAX_REFERENCES[name]}",
                                    f"Keep the {MAX_REFERENCES[name]} most important ones."))
    total = sum(len(r) for r in refs.values())
    if total > MAX_TOTAL_REFERENCES:
        problems.append(Problem("references", f"{total} files", f"allows at most {MAX_TOTAL_REFERENCES} files in all",
                                "Drop some images, videos or audios."))
    if not refs["reference_images"] and not refs["reference_videos"]:
        if refs["reference_audios"]:
            problems.append(Problem("reference_audios", f"{len(refs['reference_audios'])} entries",
                                    "cannot be used alone", "Add at least one reference image or video."))
        else:
            problems.append(Problem("reference_images", [], "at least one reference image or video is required",
                                    "Pass reference_images=[...] (URLs, asset:// ids or Path files) "
                                    "or reference_videos=[...]."))
    return problems


def check_reference_forms(req: R2VRequest) -> list[Problem]:
    """Each reference is an http(s) URL, an ``asset://`` id, or a ``Path`` to a file that exists."""
    problems: list[Problem] = []
    for name, refs in req.references.items():
        for i, ref in enumerate(refs):
            problem = _reference_problem(f"{name}[{i}]", ref)
            if problem is not None:
                problems.append(problem)
    return problems


def _reference_problem(where: str, ref: Any) -> Problem | None:
    if isinstance(ref, Path):
        return _path_problem(where, ref)
    if not isinstance(ref, str):
        return Problem(where, safe_text(ref), "must be a URL string, an asset:// id or a pathlib.Path",
                       "Wrap local files in Path(...).")
    unsendable = check_text(where, ref)
    if unsendable is not None:
        return unsendable
    if ref.startswith("asset://"):
        if _ASSET.match(ref):
            return None
        return Problem(where, ref, "is not a valid asset reference", "Use asset://<AssetId> from upload_asset().")
    try:
        parts = urlsplit(ref)
    except ValueError:  # a broken IPv6 host, a host that NFKC-normalises to "/"...
        return Problem(where, ref, "is not a valid URL", "Use a full URL such as https://example.com/a.png.")
    if parts.scheme in ("http", "https"):
        if is_http_url(ref):  # the very test Crun (and the simulator) apply
            return None
        if any(c.isspace() for c in ref):
            return Problem(where, ref, "contains white space", "Percent-encode it (a space is %20) or remove it.")
        return Problem(where, ref, "has no host, or a port that is not a number",
                       "Use a full URL such as https://example.com/a.png.")
    if parts.scheme == "data":
        return Problem(where, ref[:40], "data: and Base64 references are not accepted by Crun",
                       "Save the bytes to a file and pass Path('file.png'); it is uploaded for you.")
    if path_kind(Path(ref)) in ("file", "other"):
        return Problem(where, ref, "is a string naming a local file",
                       f"Pass Path({ref!r}) so the file is uploaded for you.")
    return Problem(where, ref, "must be an http(s) URL, an asset:// id or a local Path",
                   "Use a public URL, asset://<id>, or Path('file') for a local file.")


def _path_problem(where: str, ref: Path) -> Problem | None:
    # The path is stored in the task log, which refuses keys: a key-shaped name is refused here already.
    unsendable = check_text(where, str(ref))
    if unsendable is not None:
        return unsendable
    kind = path_kind(ref)
    if kind == "missing":
        return Problem(where, str(ref), "no such local file", "Check the path (relative paths start at "
                       "the notebook's folder).")
    if kind == "unusable":
        return Problem(where, str(ref), "is not a usable path (too long, a NUL byte, or an unknown ~user)",
                       "Point at an existing image, video or audio file.")
    if kind == "other":
        return Problem(where, str(ref), "is not a file", "Point at a single image, video or audio file.")
    return None


def check_options(req: R2VRequest) -> list[Problem]:
    """Resolution, aspect ratio, duration, the booleans and the Crun-only flag."""
    problems: list[Problem] = []
    known = _known_model(req.model)
    allowed = MODEL_RESOLUTIONS[req.model] if known else _ALL_RESOLUTIONS
    if not isinstance(req.resolution, str) or req.resolution not in allowed:
        offers = f"{req.model} offers" if known else "must be one of"
        problems.append(Problem("resolution", _shown(req.resolution),
                                f"{offers} {', '.join(allowed)}", f"Use one of {', '.join(allowed)}."))
    if not isinstance(req.aspect_ratio, str) or req.aspect_ratio not in ASPECT_RATIOS:
        problems.append(Problem("aspect_ratio", _shown(req.aspect_ratio),
                                f"must be one of {', '.join(ASPECT_RATIOS)}",
                                "Use '16:9' (landscape), '9:16' (portrait) or '1:1'."))
    low, high = DURATION_RANGE
    if isinstance(req.duration, bool) or not isinstance(req.duration, int):
        problems.append(Problem("duration", _shown(req.duration), f"must be a whole number of seconds, {low}–{high}",
                                f"Pass an int such as duration={low + 1}."))
    elif req.duration == -1:
        problems.append(Problem("duration", -1, "-1 (model picks) is not accepted for Mini",
                                f"Choose {low}–{high} seconds."))
    elif not low <= req.duration <= high:
        problems.append(Problem("duration", req.duration, f"must be {low}–{high} seconds",
                                f"Use {min(max(req.duration, low), high)}."))
    for name in ("audio", "return_last_frame"):
        if not isinstance(getattr(req, name), bool):
            problems.append(Problem(name, _shown(getattr(req, name)), "must be True or False",
                                    f"Pass {name}=True/False."))
    if req.byteplus_fallback is not None:
        if not isinstance(req.byteplus_fallback, bool):
            problems.append(Problem("byteplus_fallback", _shown(req.byteplus_fallback), "must be True, False or None",
                                    "Leave it unset unless you need it."))
        elif known and req.model not in BYTEPLUS_FALLBACK_MODELS:
            problems.append(Problem("byteplus_fallback", req.byteplus_fallback, f"is offered on Mini only, "
                                    f"not on {req.model}", "Leave it unset for this model."))
    return problems


def check_extra(extra: Any) -> list[Problem]:
    """``extra`` maps undocumented field names (strings) to JSON values: no NaN or infinity, no key.

    Example:
        >>> [p.limit for p in check_extra({"seed": float("nan"), "duration": 5})]
        ['must be JSON (numbers, strings, booleans, lists or dicts; no NaN or infinity)', 'is a documented field']
    """
    if not isinstance(extra, Mapping):
        return [Problem("extra", _shown(extra), "must be a mapping of undocumented field names to JSON values",
                        "Pass extra={'seed': 42}, or leave it out.")]
    problems: list[Problem] = []
    for key, value in extra.items():
        label = repr(key) if isinstance(key, str) and len(key) <= 40 else safe_text(key, limit=40)
        where = f"extra[{mask_keys(label)}]"
        if not isinstance(key, str):
            problems.append(Problem(where, _shown(key), "field names must be strings", "Name the field in quotes."))
        elif key in INPUT_FIELDS:
            problems.append(Problem(where, _shown(value), "is a documented field",
                                    f"Set {key}= on the request itself."))
        else:
            problems += check_body({key: value}, where)
    return problems


def check_body(body: Any, where: str = "body") -> list[Problem]:
    """A JSON body exactly as it will be sent: JSON without NaN or infinity, UTF-8 text, no API key.

    Example:
        >>> check_body({"model": "m", "input": {"prompt": "hi"}})
        []
        >>> check_body({"input": {"seed": float("inf")}})[0].field
        'body'
    """
    try:
        text = json.dumps(body, ensure_ascii=False, allow_nan=False, sort_keys=True)
    except (TypeError, ValueError, RecursionError):
        return [Problem(where, _shown(body), "must be JSON (numbers, strings, booleans, lists or dicts; "
                        "no NaN or infinity)", "Use plain numbers, strings, booleans, lists or dicts.")]
    unsendable = check_text(where, text)
    return [unsendable] if unsendable else []


def check_id(name: str, value: Any) -> list[Problem]:
    """A task or asset id given by the user is a non-blank string that can go in a URL.

    Example:
        >>> check_id("task_id", "t1"), [p.limit for p in check_id("task_id", 7)]
        ([], ['must be the id string Crun gave'])
    """
    if not isinstance(value, str) or not value.strip():
        return [Problem(name, _shown(value), "must be the id string Crun gave", f"Pass {name} as Crun returned it.")]
    unsendable = check_text(name, value)
    return [unsendable] if unsendable else []


def check_callback_url(url: str | None) -> list[Problem]:
    """A callback URL is https; plain http only for loopback hosts (local testing).

    Example:
        >>> check_callback_url("http://127.0.0.1:9000/cb")
        []
        >>> check_callback_url("http://example.com/cb")[0].field
        'callback_url'
    """
    if url is None:
        return []
    if not isinstance(url, str):
        return [Problem("callback_url", _shown(url), "must be an https URL", "Use https://your-host/path.")]
    unsendable = check_text("callback_url", url)
    if unsendable is not None:
        return [unsendable]
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if parts is None or not parts.netloc or parts.scheme not in ("http", "https"):
        return [Problem("callback_url", url, "must be an https URL", "Use https://your-host/path.")]
    if parts.scheme == "http" and (parts.hostname or "") not in _LOOPBACK_HOSTS:
        return [Problem("callback_url", url, "must use https (plain http only for loopback hosts)",
                        "Serve the receiver over https, or use 127.0.0.1 for local testing.")]
    return []
