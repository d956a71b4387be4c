"""The facts of the Crun API that several parts need, in one place; this module imports nothing of the package.

Field names, model ids, the allowed values and counts of a request (CRUN_API.md §0, §3, §4), the form of an
API key and the task statuses. The request rules, the task log, the simulator and the widgets read them
from here, so they cannot drift apart.

Example:
    >>> REFERENCE_FIELDS
    ('reference_images', 'reference_videos', 'reference_audios')
    >>> MAX_REFERENCES["reference_images"], DURATION_RANGE
    (9, (4, 15))
    >>> bool(KEY_FORM.fullmatch("ak_" + "a" * 32)), bool(KEY_IN_TEXT.search("key=ak_" + "b" * 32 + "!"))
    (True, True)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "ASPECT_RATIOS",
    "COUNT_FIELDS",
    "DEFAULT_MODEL",
    "DURATION_RANGE",
    "FINAL_STATUSES",
    "INPUT_FIELDS",
    "KEY_FORM",
    "KEY_IN_TEXT",
    "MAX_REFERENCES",
    "MAX_TOTAL_REFERENCES",
    "MODEL_RESOLUTIONS",
    "MODEL_TITLES",
    "REFERENCE_FIELDS",
    "REFERENCE_KINDS",
    "SHAPE_FIELDS",
    "TIMING_FIELDS",
    "is_http_url",
]

DEFAULT_MODEL = "bytedance/seedance2-0-mini-r2v"
# The three r2v models share one input schema; only the resolutions differ (Mini also takes byteplus_fallback).
MODEL_RESOLUTIONS: Mapping[str, tuple[str, ...]] = {
    DEFAULT_MODEL: ("480p", "720p"),
    "bytedance/seedance2-0-fast-r2v": ("480p", "720p"),
    "bytedance/seedance2-0-r2v": ("480p", "720p", "1080p"),
}
MODEL_TITLES: Mapping[str, str] = {
    DEFAULT_MODEL: "Seedance 2.0 Mini",
    "bytedance/seedance2-0-fast-r2v": "Seedance 2.0 Fast",
    "bytedance/seedance2-0-r2v": "Seedance 2.0",
}
BYTEPLUS_FALLBACK_MODELS = frozenset({DEFAULT_MODEL})

REFERENCE_FIELDS: tuple[str, ...] = ("reference_images", "reference_videos", "reference_audios")
# The prompt token of each reference list: [Image1] names reference_images[0].
REFERENCE_KINDS: Mapping[str, str] = {"Image": "reference_images", "Video": "reference_videos",
                                      "Audio": "reference_audios"}
# The documented ``input`` fields, in the order a request lists them.
INPUT_FIELDS: tuple[str, ...] = ("prompt", *REFERENCE_FIELDS, "resolution", "aspect_ratio", "duration", "audio",
                                 "return_last_frame", "byteplus_fallback")
MAX_REFERENCES: Mapping[str, int] = {"reference_images": 9, "reference_videos": 3, "reference_audios": 3}
MAX_TOTAL_REFERENCES = 12
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto")
DURATION_RANGE: tuple[int, int] = (4, 15)

# The fields that set a task's price and running time: one "shape" of request. Polling learns the running
# time of a shape and sweeps price each shape once.
# How many references a request has of each kind: the task log's n_images, n_videos, n_audios.
COUNT_FIELDS: Mapping[str, str] = {"reference_images": "n_images", "reference_videos": "n_videos",
                                   "reference_audios": "n_audios"}
SHAPE_FIELDS: tuple[str, ...] = ("model", "resolution", "aspect_ratio", "duration", "audio", "return_last_frame",
                                 *COUNT_FIELDS.values())
# The fields that set a task's running time: polling learns the typical running time of each.
TIMING_FIELDS: tuple[str, ...] = ("model", "resolution", "duration")

# A Crun key is ``ak_`` and 32 letters or digits; KEY_IN_TEXT finds one inside other text.
KEY_FORM = re.compile(r"ak_[A-Za-z0-9]{32}")
KEY_IN_TEXT = re.compile(r"(?<![A-Za-z0-9])ak_[A-Za-z0-9]{32}(?![A-Za-z0-9])")

FINAL_STATUSES = frozenset({"success", "failed"})

_SPACE = re.compile(r"\s")


def is_http_url(value: Any) -> bool:
    """True for a string that is an http(s) URL with a host (and a valid port, if any) and no white space.

    Example:
        >>> [is_http_url(u) for u in ("https://x.test/a.png", "http://x.test/a b", "ftp://x.test", "http:///a")]
        [True, False, False, False]
    """
    if not isinstance(value, str) or not value.startswith(("http://", "https://")) or _SPACE.search(value):
        return False
    try:
        parts = urlsplit(value)
        _ = parts.port  # a port that is not a number from 0 to 65535 raises ValueError
    except ValueError:
        return False
    return bool(parts.hostname)
