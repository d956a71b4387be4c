"""Request bodies: the JSON object a Crun request carries, and only what the simulator can store and echo back.

A task's ``input`` is kept verbatim and sent back in every TaskInfo answer and callback, and an asset's name
in every asset-info answer. So a body is refused (422, naming the field) when a later answer could not encode
it: text with a lone UTF-16 surrogate (``"\\ud800"``), a number that overflows to infinity (``1e999``), or
nesting deeper than ``MAX_DEPTH``. Every check is linear in the size of the body, which ``MAX_BODY_BYTES``
bounds.

Example:
    >>> parse_json_object(b'{"model": "m", "input": {"prompt": "a cat"}}')
    {'model': 'm', 'input': {'prompt': 'a cat'}}
    >>> parse_json_object(b'{"input": {"seed": 1e999}}').errors
    ('input.seed: must be a finite number (this one overflows to infinity)',)
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

__all__ = ["MAX_BODY_BYTES", "MAX_DEPTH", "Rejection", "parse_json_object", "type_name"]

# A JSON request of the Crun API is a few KiB; media bytes go through upload-url and the presigned PUT.
MAX_BODY_BYTES = 1024 * 1024
MAX_DEPTH = 32
# Linear patterns only: single characters, or runs whose next character is never ambiguous.
_SURROGATE = re.compile("[\ud800-\udfff]")
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_BRACKET_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


@dataclass(frozen=True)
class Rejection:
    """A 422 answer: the message and one ``"field: problem"`` line per problem."""

    message: str
    errors: tuple[str, ...]
    code: int = 422


def parse_json_object(body: bytes) -> dict[str, Any] | Rejection:
    """Decode a request body that must be a JSON object; a ``Rejection`` says why it is not.

    Also refused, naming the field: text with a lone UTF-16 surrogate, a number too large for a float and
    nesting deeper than ``MAX_DEPTH``, since no later answer could carry them.

    Example:
        >>> parse_json_object(b"[1]").errors
        ('body: must be a JSON object, not list',)
        >>> print(parse_json_object(rb'{"input": {"prompt": "\\ud800"}}').errors[0])
        input.prompt: must be valid Unicode text (no lone UTF-16 surrogate such as \\ud800)
    """
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")  # what json.loads(bytes) does
        value = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        where = f" ({exc.msg} at line {exc.lineno} column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        return Rejection("Request body is not valid JSON", (f"body: not valid JSON{where}",))
    if not isinstance(value, dict):
        return Rejection("Request body must be a JSON object",
                         (f"body: must be a JSON object, not {type_name(value)}",))
    if _nesting(text) > MAX_DEPTH or not _echoable(value):
        # The quick checks run in C; the walk that names the field only runs for a body they refuse.
        field, problem = _unstorable_part(value) or ("body", "cannot be sent back as JSON")
        return Rejection(f"Invalid request: {field} {problem}", (f"{field}: {problem}",))
    return value


def _nesting(text: str) -> int:
    """How deeply arrays and objects nest in valid JSON ``text`` (its strings may hold any brackets)."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_BRACKET_STEP.__getitem__, brackets)), default=0)


def _echoable(value: Any) -> bool:
    """True when ``value`` encodes as JSON in UTF-8, as every answer that echoes it will."""
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, RecursionError):  # UnicodeEncodeError is a ValueError
        return False
    return True


# Where a nested value sits: (where its container sits, its key or index); the name is built only when reported.
_Trail = tuple[Any, str | int] | None


def _unstorable_part(value: dict[str, Any]) -> tuple[str, str] | None:
    """A ``(field, problem)`` for a part of ``value`` that no answer could carry back, or ``None``.

    Iterative, so a deep value cannot exhaust the stack, and linear in the size of ``value``.
    """
    stack: list[tuple[_Trail, Any, int]] = [(None, value, 1)]
    while stack:
        trail, item, depth = stack.pop()
        nested: list[tuple[_Trail, Any, int]] = []
        pairs = item.items() if isinstance(item, dict) else enumerate(item)
        for key, child in pairs:
            if isinstance(key, str) and _SURROGATE.search(key):
                return _field(trail), r"keys must be valid Unicode text (no lone UTF-16 surrogate such as \ud800)"
            if isinstance(child, (dict, list)):
                if depth >= MAX_DEPTH:
                    return _field((trail, key)), f"nested deeper than {MAX_DEPTH} levels"
                if child:  # an empty one has nothing to check
                    nested.append(((trail, key), child, depth + 1))
            elif isinstance(child, str) and _SURROGATE.search(child):
                return _field((trail, key)), r"must be valid Unicode text (no lone UTF-16 surrogate such as \ud800)"
            elif isinstance(child, float) and not math.isfinite(child):  # 1e999 parses as inf, which is not JSON
                return _field((trail, key)), "must be a finite number (this one overflows to infinity)"
        stack.extend(reversed(nested))
    return None


def _field(trail: _Trail) -> str:
    """``input.reference_images[0]`` for a trail; ``body`` for the whole body."""
    keys: list[str | int] = []
    while trail is not None:
        trail, key = trail
        keys.append(key)
    name = ""
    for key in reversed(keys):
        name += f"[{key}]" if isinstance(key, int) else (f".{_show_key(key)}" if name else _show_key(key))
    return name or "body"


def _show_key(key: str) -> str:
    return key if len(key) <= 40 else key[:40] + "…"


def _no_constant(name: str) -> Any:
    # NaN and Infinity are not JSON; Python's parser takes them unless told otherwise.
    raise ValueError(f"{name} is not valid JSON")


def type_name(value: Any) -> str:
    """The name of a decoded JSON value's type, for messages (``null`` for ``None``)."""
    return "null" if value is None else type(value).__name__
