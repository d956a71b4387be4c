"""The one exception tree of seedance_nb.

Every error the toolkit raises on purpose is a ``SeedanceError``; foreign errors (httpx, sqlite3, OSError)
are mapped to it in exactly one place each and raised ``from`` the original::

    SeedanceError
    ├── ConfigError                    a setting is missing or wrong (no API key, bad base URL)
    ├── ValidationError                a request is invalid; ``.problems`` lists every one of them
    ├── APIError                       Crun answered with an error (``.status_code``, ``.code``, ``.message``)
    │   ├── AuthenticationError        401 / 403  the key is missing, wrong or disabled
    │   ├── InsufficientCreditsError   402        the balance cannot pay for the task
    │   ├── NotFoundError              404        no such task or asset
    │   ├── RejectedError              422        the server refused the input
    │   ├── RateLimitError             429        too many requests (``.retry_after``)
    │   ├── ModerationError            451        the input or output was refused by moderation
    │   ├── MaintenanceError           455        the service is in maintenance
    │   ├── ServerError                500 / 5xx  the server failed
    │   ├── GenerationFailedError      501        the generation failed (a resubmit may succeed)
    │   └── FeatureDisabledError       505        the feature is switched off
    ├── TransportError                 no answer: connection refused, dropped, timed out (safe to retry)
    ├── SubmissionUnknownError         CreateTask left but no answer came back: the task may exist
    ├── GenerationTimeout              (also a TimeoutError) the whole-job deadline passed; ``.task_id``
    ├── BudgetExceededError            a sweep's estimate or running total passes ``max_credits``
    ├── AssetFailedError               an uploaded asset failed review
    ├── AssetTimeout                   (also a TimeoutError) an asset stayed ``Processing`` too long
    └── MediaError                     a result could not be archived
        └── MediaExpiredError          the result URL is gone (Crun keeps media about 14 days)

Warnings: ``ExtraFieldsWarning`` (a ``UserWarning``) when undocumented fields are sent through ``extra``.

In IPython and Jupyter an error shows as a few lines instead of a traceback through the toolkit: its message
(a ``ValidationError`` as a table of field, value, what is wrong and the fix), its cause, and
"full traceback: run %tb". ``str(exc)`` and tracebacks outside IPython are the plain Python ones.

Example:
    >>> import seedance_nb as sn
    >>> try:
    ...     sn.R2VRequest(prompt="", reference_images=[]).to_payload()
    ... except sn.SeedanceError as exc:
    ...     print(type(exc).__name__)
    ValidationError
"""

from __future__ import annotations

import json
import reprlib
import sys
import textwrap
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any, cast

from ._limits import KEY_IN_TEXT

__all__ = [
    "APIError", "AssetFailedError", "AssetTimeout", "AuthenticationError", "BudgetExceededError", "ConfigError",
    "ExtraFieldsWarning", "FeatureDisabledError", "GenerationFailedError", "GenerationTimeout",
    "InsufficientCreditsError", "MaintenanceError", "MediaError", "MediaExpiredError", "ModerationError",
    "NotFoundError", "Problem", "RateLimitError", "RejectedError", "SeedanceError", "ServerError",
    "SubmissionUnknownError", "TransportError", "ValidationError", "error_for_code", "mask_keys", "safe_text",
]


_FULL_TRACEBACK_HINT = "(full traceback: run %tb)"


class ShortDisplay:
    """For exception classes: IPython shows the message and how to see the traceback, not the toolkit's frames."""

    shown_name: str | None = None  # the class name shown (a subclass of a builtin shows the builtin's)

    def _render_traceback_(self) -> list[str]:
        """The lines IPython shows: short while IPython handles the error a cell raised; the full traceback
        (in the current ``%xmode``) when asked later, as ``%tb`` does. Key-shaped words are masked in both.
        """
        exc = cast(BaseException, self)  # the mixin is only ever mixed into exception classes
        lines = self._short_display() if sys.exc_info()[1] is exc else _full_traceback(exc)
        return [mask_keys(line) for line in lines]

    def _short_display(self) -> list[str]:
        """The message, then the explicit cause (``raise ... from exc``), then how to see the traceback."""
        lines = f"{self.shown_name or type(self).__name__}: {self}".splitlines()
        cause = cast(BaseException, self).__cause__
        if cause is not None:
            lines.append(f"caused by {_one_line(cause)}")
        return [*lines, _FULL_TRACEBACK_HINT]


class SeedanceError(ShortDisplay, Exception):
    """Root of every error seedance_nb raises on purpose; IPython shows it without the toolkit's frames."""


class ConfigError(SeedanceError):
    """A setting is missing or malformed; the message says how to set it."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a request: the field, the value, the limit and the fix.

    Example:
        >>> import seedance_nb as sn
        >>> problem = sn.Problem("duration", 20, "must be 4–15 seconds", "Use 15 or less.")
        >>> print(problem)
        duration = 20: must be 4–15 seconds. Use 15 or less.
    """

    field: str
    value: Any
    limit: str
    fix: str

    def __post_init__(self) -> None:
        if isinstance(self.value, str):  # a key typed into a field is never echoed back
            object.__setattr__(self, "value", mask_keys(self.value))

    def __str__(self) -> str:
        return mask_keys(f"{self.field} = {safe_text(self.value)}: {self.limit}. {self.fix}")


class ValidationError(SeedanceError, ValueError):
    """A request is invalid. ``problems`` holds every problem found, not only the first.

    Example:
        >>> err = ValidationError([Problem("duration", 20, "must be 4–15 seconds", "Use 15 or less.")])
        >>> err.fields
        ['duration']
    """

    def __init__(self, problems: Sequence[Problem]):
        self.problems: tuple[Problem, ...] = tuple(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} in the request (nothing was sent):"
        super().__init__("\n".join([head, *(f"  - {p}" for p in self.problems)]))

    @property
    def fields(self) -> list[str]:
        """The names of the fields that have a problem, in order."""
        return [p.field for p in self.problems]

    def _short_display(self) -> list[str]:
        """The problems as a table, that nothing was sent, and how to see the traceback."""
        count = len(self.problems)
        table = ["", *_problem_table(self.problems), ""] if self.problems else []
        return [f"{type(self).__name__}: {count} problem{'s' if count != 1 else ''} in the request", *table,
                "Nothing was sent: fix the request and run the cell again.", _FULL_TRACEBACK_HINT]


class APIError(SeedanceError):
    """Crun answered with an error code, as the HTTP status or as ``code`` in a 200 body.

    Attributes:
        status_code: the HTTP status of the answer.
        code: Crun's ``code`` from the body (or the HTTP status when the body has none).
        message: Crun's ``message``, or a snippet of a body that was not JSON.
        errors: the ``errors`` list of the body, when there is one.
    """

    default_hint = ""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: int | None = None,
        errors: Sequence[str] = (),
        endpoint: str = "",
    ):
        self.status_code = status_code
        self.code = code
        self.message = mask_keys(message)  # a server that echoes the key must not put it in a traceback
        self.errors = tuple(mask_keys(e) for e in errors)
        self.endpoint = endpoint
        where = f" from {endpoint}" if endpoint else ""
        text = f"Crun answered {code if code is not None else status_code}{where}: {self.message}"
        if self.errors:
            text += " (" + "; ".join(self.errors) + ")"
        if self.default_hint:
            text += f". {self.default_hint}"
        super().__init__(text)


class AuthenticationError(APIError):
    """401/403: the key is missing, wrong or disabled."""

    default_hint = "Check CRUN_API_KEY (or api_key=); keys look like 'ak_' and 32 letters or digits"


class InsufficientCreditsError(APIError):
    """402: the balance cannot pay for the task. Nothing was charged."""

    default_hint = "Top up your Crun credits, or lower duration/resolution; client.estimate() prices a request"


class NotFoundError(APIError):
    """404: no such task or asset."""


class RejectedError(APIError):
    """422: the server refused the input (bad field, unreachable media URL)."""


class RateLimitError(APIError):
    """429: too many requests. ``retry_after`` holds the server's advice in seconds, if any."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)


class ModerationError(APIError):
    """451: moderation refused the input (no task was created) or the output (the task failed)."""

    default_hint = "Rephrase the prompt or change the references; upload real faces as assets first"


class MaintenanceError(APIError):
    """455: the service is in maintenance; try again later."""


class ServerError(APIError):
    """500 and other 5xx: the server failed."""


class GenerationFailedError(APIError):
    """501: the generation failed. A resubmit may succeed."""


class FeatureDisabledError(APIError):
    """505: the feature is switched off for this account or model."""


class TransportError(SeedanceError):
    """No answer arrived (connection refused, dropped, or timed out) for a request that is safe to repeat."""


class SubmissionUnknownError(SeedanceError):
    """CreateTask was sent but no answer came back: the task may exist and may be charged.

    It is never resubmitted automatically. ``sn.resume()`` and the task log keep it visible;
    ``sn.resubmit(local_id)`` is the only way to send it again.
    """

    def __init__(self, message: str, *, local_id: str | None = None):
        self.local_id = local_id
        super().__init__(message)


class GenerationTimeout(SeedanceError, TimeoutError):
    """The whole-job deadline passed. The task goes on at Crun; ``sn.resume()`` picks it up later."""

    def __init__(self, message: str, *, task_id: str | None = None, local_id: str | None = None):
        self.task_id = task_id
        self.local_id = local_id
        super().__init__(message)


class BudgetExceededError(SeedanceError):
    """A sweep would spend more than ``max_credits``; nothing beyond the cap was submitted."""

    def __init__(self, message: str, *, estimate: float, cap: float):
        self.estimate = estimate
        self.cap = cap
        super().__init__(message)


class AssetFailedError(SeedanceError):
    """An asset failed Crun's review; upload it again or use another file."""


class AssetTimeout(SeedanceError, TimeoutError):
    """An asset stayed ``Processing`` past the wait's deadline; wait again later."""


class ExtraFieldsWarning(UserWarning):
    """Undocumented input fields are being sent (``R2VRequest.extra``); the server may reject them."""


class MediaError(SeedanceError):
    """A result could not be downloaded or verified."""


class MediaExpiredError(MediaError):
    """The result URL no longer serves the file (Crun keeps media about 14 days)."""


_BY_CODE: Mapping[int, type[APIError]] = {
    401: AuthenticationError, 403: AuthenticationError, 402: InsufficientCreditsError, 404: NotFoundError,
    422: RejectedError, 429: RateLimitError, 451: ModerationError, 455: MaintenanceError, 500: ServerError,
    501: GenerationFailedError, 505: FeatureDisabledError,
}


def error_for_code(code: int | None) -> type[APIError]:
    """The exception class for a Crun code.

    Example:
        >>> error_for_code(402).__name__
        'InsufficientCreditsError'
        >>> error_for_code(503).__name__
        'ServerError'
    """
    if code is None:
        return APIError
    if code in _BY_CODE:
        return _BY_CODE[code]
    if 500 <= code < 600:
        return ServerError
    return APIError


def mask_keys(text: str) -> str:
    """``text`` with every word shaped like a Crun API key cut to its first 6 characters.

    Example:
        >>> mask_keys("x-api-key: ak_" + "s" * 32)
        'x-api-key: ak_sss…'
    """
    return KEY_IN_TEXT.sub(lambda match: match.group(0)[:6] + "…", text)


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxstring, _REPR.maxother = 3, 80, 80


def safe_text(value: Any, limit: int = 80) -> str:
    """A short, printable text of any value: keys masked, lone surrogates escaped; it never raises.

    Example:
        >>> safe_text([[[[[1]]]]]), safe_text("a" * 100)[-3:]
        ('[[[[[1]]]]]', 'aa…')
        >>> print(safe_text(chr(0xD800)))
        "\\ud800"
    """
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except Exception:  # any value at all: recursive, huge, or with a failing __str__
        try:
            text = _REPR.repr(value)
        except Exception:
            text = f"<{type(value).__name__}>"
    text = mask_keys(text).encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


# How errors look in IPython. (heading, widest a column gets before its cells wrap): a row fits in 120 characters.
_COLUMNS = (("field", 20), ("value", 20), ("what is wrong", 34), ("fix", 38))
_VALUE_LIMIT = 40


def _problem_table(problems: Sequence[Problem], indent: str = "  ") -> list[str]:
    """``problems`` as the lines of a text table (field, value, what is wrong, fix), long cells wrapped.

    Values are cut as ``Problem`` cuts them; key-shaped words are masked in every cell before it wraps.

    Example:
        >>> for line in _problem_table([Problem("duration", 20, "must be 4–15 seconds", "Use 15.")]):
        ...     print(line)
          field     value  what is wrong         fix
          ────────  ─────  ────────────────────  ───────
          duration  20     must be 4–15 seconds  Use 15.
    """
    rows = [[mask_keys(cell) for cell in (p.field, safe_text(p.value, _VALUE_LIMIT), p.limit, p.fix)]
            for p in problems]
    widths = [min(cap, max(len(heading), *(len(row[i]) for row in rows))) for i, (heading, cap) in
              enumerate(_COLUMNS)]
    wrapped = [[textwrap.wrap(cell, width) or [""] for cell, width in zip(row, widths, strict=True)] for row in rows]
    gap = any(len(cell) > 1 for row in wrapped for cell in row)  # then an empty line tells the rows apart
    lines = [[heading for heading, _ in _COLUMNS], ["─" * width for width in widths]]
    for i, row in enumerate(wrapped):
        lines += [[""] * len(widths)] if gap and i else []
        lines += [list(parts) for parts in zip_longest(*row, fillvalue="")]
    return [(indent + "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True))).rstrip() for line in lines]


def _one_line(error: BaseException, limit: int = 200) -> str:
    """``Name: message`` of an error on one short line; it never raises, whatever ``__str__`` does."""
    try:
        text = " ".join(str(error).split())
    except Exception:
        text = "<message could not be shown>"
    text = f"{type(error).__name__}: {text}" if text else type(error).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _full_traceback(error: BaseException) -> list[str]:
    """The traceback IPython shows for an error without a hook, or plain Python's outside IPython."""
    ipython = sys.modules.get("IPython")  # only IPython calls the hook: no import, and no IPython needed
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        try:
            return list(shell.InteractiveTB.structured_traceback(type(error), error, error.__traceback__))
        except Exception:  # IPython's own formatter failed: plain Python's still works
            pass
    text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
    return text.rstrip("\n").split("\n")
