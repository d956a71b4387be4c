"""Reading Crun's ``{code, message, data}`` envelope; the one place HTTP answers become errors.

An answer is an error when the HTTP status is not 2xx OR the body's ``code`` is not 200 (CRUN_API.md §0),
so both of the server's error styles map to the same exception. A body that is not JSON, or not an
envelope, raises ``APIError`` with a snippet of the raw text, never a ``KeyError``: whatever the bytes, only
an ``APIError`` leaves this module. Anything shaped like an API key in the server's text is masked.

Example:
    >>> read_envelope(200, {}, b'{"code":200,"message":"success","data":{"balance":7}}')
    {'balance': 7}
    >>> try:
    ...     read_envelope(200, {}, b'{"code":402,"message":"Insufficient credits","data":null}')
    ... except Exception as exc:
    ...     print(type(exc).__name__, exc.code)
    InsufficientCreditsError 402
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from ._answers import clean_text
from ._retrying import parse_retry_after
from .errors import APIError, RateLimitError, error_for_code, safe_text

__all__ = ["read_envelope"]

_SNIPPET = 200
_MESSAGE = 1000  # a server message longer than this is cut: it is for a human, in a traceback
_ERRORS = 20
# JSON may spell a lone surrogate ("\ud800"), which no file, database or terminal can store: escape it.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def read_envelope(status: int, headers: Mapping[str, str], content: bytes, *, endpoint: str = "") -> Any:
    """The ``data`` of a successful answer; raises the ``APIError`` subclass of the code otherwise."""
    text = content.decode("utf-8", errors="replace")
    try:
        body = json.loads(text) if text.strip() else None
        if _SURROGATE_ESCAPE.search(text):
            body = _storable(body)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than the parser goes
        body = None
        if 200 <= status < 300:
            raise APIError(f"the answer is not JSON: {_snippet(text)!r}", status_code=status,
                           endpoint=endpoint) from None
    if not isinstance(body, Mapping):
        if 200 <= status < 300:
            raise APIError(f"the answer is not a {{code, message, data}} envelope: {_snippet(text)!r}",
                           status_code=status, endpoint=endpoint)
        raise _error(status, status, _snippet(text) or f"HTTP {status}", (), headers, endpoint)
    raw_code = body.get("code", status)
    code = raw_code if isinstance(raw_code, int) and not isinstance(raw_code, bool) else _as_int(raw_code)
    message = body.get("message")
    message = clean_text(message[:_MESSAGE]) if isinstance(message, str) and message else (
        _snippet(text) or f"HTTP {status}")
    errors = body.get("errors")
    error_list = tuple(clean_text(e[:_SNIPPET]) if isinstance(e, str) else safe_text(e, _SNIPPET)
                       for e in errors[:_ERRORS]) if isinstance(errors, list) else ()
    if not 200 <= status < 300:
        raise _error(status, code if code not in (None, 200) else status, message, error_list, headers, endpoint)
    if code != 200:
        raise _error(status, code, message, error_list, headers, endpoint)
    return body.get("data")


def _error(status: int, code: int | None, message: str, errors: tuple[str, ...], headers: Mapping[str, str],
           endpoint: str) -> APIError:
    cls = error_for_code(code)
    kwargs: dict[str, Any] = {"status_code": status, "code": code, "errors": errors, "endpoint": endpoint}
    if issubclass(cls, RateLimitError):
        try:
            retry_after = parse_retry_after(_header(headers, "retry-after"))
        except (ValueError, OverflowError, TypeError, IndexError):  # a date past what datetime holds
            retry_after = None
        return cls(message, retry_after=retry_after, **kwargs)
    return cls(message, **kwargs)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_storable(item) for item in value]
    if isinstance(value, dict):
        return {clean_text(key): _storable(item) for key, item in value.items()}
    return value


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value) if not isinstance(value, int) else value
        return int(number) if float(number).is_integer() else None
    except (ValueError, OverflowError):  # "abc", NaN, infinity, 5,000 digits
        return None


def _snippet(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _SNIPPET else text[: _SNIPPET - 1] + "…"
