"""What Crun answers: ``TaskInfo``, ``AssetInfo``, ``Estimate``, parsed tolerantly. Pure, no I/O.

Timestamps may come as Unix numbers or ISO strings, statuses in any case, fields missing or ``null``: the
parsers keep what they can read, leave the rest ``None``, and keep unknown statuses verbatim. A field of
the wrong type (a number for a status, a string for a list, a time past the year 9999) is unreadable, not
an error: a parser never raises, whatever the answer holds.

Example:
    >>> TaskInfo.from_data({"task_id": "t1", "status": "running"}).is_final
    False
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ._limits import FINAL_STATUSES

__all__ = ["FINAL_STATUSES", "AssetInfo", "Estimate", "TaskInfo", "clean_text", "media_url_list", "parse_balance",
           "parse_time", "split_media_urls", "upload_slot"]

# Times a datetime can hold with a day to spare on each side, so that differences and offsets never overflow.
_EARLIEST = datetime.min.replace(tzinfo=UTC) + timedelta(days=1)
_LATEST = datetime.max.replace(tzinfo=UTC) - timedelta(days=1)


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from Unix seconds (int, float or numeric string) or an ISO string.

    Example:
        >>> parse_time(1768900378).isoformat()
        '2026-01-20T09:12:58+00:00'
        >>> parse_time("2026-04-21T02:41:43Z").isoformat()
        '2026-04-21T02:41:43+00:00'
        >>> parse_time(None) is None, parse_time(1e20) is None, parse_time("9999-12-31T23:00:00-05:00") is None
        (True, True, True)
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        if isinstance(value, (int, float)):
            seconds = float(value)
            if not math.isfinite(seconds):
                return None
            seconds = seconds / 1000 if seconds > 1e11 else seconds  # tolerate milliseconds
            return _in_range(datetime.fromtimestamp(seconds, tz=UTC))
        if isinstance(value, str):
            text = value.strip()
            try:
                return parse_time(float(text))
            except ValueError:
                pass
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            return _in_range((parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC))
    except (OverflowError, OSError, ValueError):  # past what a datetime (or the platform's time_t) holds
        return None
    return None


def _in_range(moment: datetime) -> datetime | None:
    return moment if _EARLIEST <= moment <= _LATEST else None


def _float(value: Any) -> float | None:
    """A finite number from a number or a numeric string; ``None`` for anything else (NaN and inf too)."""
    if not isinstance(value, (int, float, str)) or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) else None


def clean_text(text: str) -> str:
    """``text`` made storable: a lone surrogate (JSON's ``"\\ud800"`` decodes to one) becomes its escape.

    Example:
        >>> print(clean_text("ok"), clean_text("bad " + chr(0xD800)))
        ok bad \\ud800
    """
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _text(value: Any) -> str | None:
    return clean_text(value) if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None and number.is_integer() else None


_VIDEO_SUFFIXES = (".mp4", ".mov", ".webm")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def media_url_list(value: Any) -> tuple[str, ...]:
    """The URLs of ``result.media_urls``: a list keeps its strings, a lone string is one URL.

    Example:
        >>> media_url_list("https://cdn/x.mp4"), media_url_list(["https://cdn/x.mp4", 7, None])
        (('https://cdn/x.mp4',), ('https://cdn/x.mp4',))
    """
    if isinstance(value, str):
        return (clean_text(value),) if value else ()
    if isinstance(value, (list, tuple)):
        return tuple(clean_text(u) for u in value if isinstance(u, str) and u)
    return ()


def split_media_urls(urls: Iterable[str] | str) -> tuple[str | None, str | None]:
    """(video URL, last-frame URL) from ``result.media_urls``: the MP4 first, an image after it.

    Example:
        >>> split_media_urls(["https://cdn/x.mp4", "https://cdn/x_1.png"])
        ('https://cdn/x.mp4', 'https://cdn/x_1.png')
    """
    items = list(media_url_list(urls if isinstance(urls, str) else list(urls)))
    def suffix(url: str) -> str:
        try:
            return Path(urlsplit(url).path).suffix.lower()
        except ValueError:  # not a URL at all ("http://[")
            return ""

    video = next((u for u in items if suffix(u) in _VIDEO_SUFFIXES), None)
    image = next((u for u in items if suffix(u) in _IMAGE_SUFFIXES), None)
    if video is None:
        video = next((u for u in items if u != image), None)
    return video, image


@dataclass(frozen=True)
class TaskInfo:
    """A Crun task as TaskInfo (or a callback) tells it.

    Example:
        >>> info = TaskInfo.from_data({"task_id": "t1", "status": "success", "credits": 29,
        ...     "result": {"code": 200, "media_urls": ["https://cdn/t1.mp4", "https://cdn/t1_1.png"]}})
        >>> (info.is_final, info.succeeded, info.video_url)
        (True, True, 'https://cdn/t1.mp4')
    """

    task_id: str
    status: str
    model: str | None = None
    provider: str | None = None
    model_version: str | None = None
    param: Mapping[str, Any] = field(default_factory=dict)
    created_at: datetime | None = None
    completed_at: datetime | None = None
    duration_s: float | None = None
    credits: float | None = None
    result_code: int | None = None
    result_message: str | None = None
    media_urls: tuple[str, ...] = ()
    video_url: str | None = None
    last_frame_url: str | None = None
    source: str | None = None
    simulated: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def is_final(self) -> bool:
        """True once the task is ``success`` or ``failed``."""
        return self.status in FINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        """True when the task ended ``success``."""
        return self.status == "success"

    @classmethod
    def from_data(cls, data: Mapping[str, Any], *, simulated: bool = False) -> TaskInfo:
        """Parse TaskInfo's ``data`` (or a callback body, bare or wrapped in ``{code, message, data}``).

        Example:
            >>> import seedance_nb as sn
            >>> body = {"code": 200, "message": "success", "data": {"task_id": "t1", "status": "FAILED",
            ...         "create_at": 1768900378, "result": {"code": 451, "message": "moderation"}}}
            >>> info = sn.TaskInfo.from_data(body)
            >>> info.status, info.result_code, info.created_at.year
            ('failed', 451, 2026)
        """
        if not isinstance(data, Mapping):
            data = {}
        if "task_id" not in data and isinstance(data.get("data"), Mapping):
            data = data["data"]
        result = _mapping(data.get("result"))
        urls = media_url_list(result.get("media_urls"))
        video, frame = split_media_urls(urls)
        param = _mapping(data.get("param"))
        task_id, status = data.get("task_id"), data.get("status")
        return cls(
            task_id=clean_text(task_id) if isinstance(task_id, str) else "",
            status=clean_text(status.strip().lower()) or "unknown" if isinstance(status, str) else "unknown",
            model=_text(param.get("model")),
            provider=_text(data.get("provider")),
            model_version=_text(data.get("model_version")),
            param=dict(param),
            created_at=parse_time(data.get("create_at")),
            completed_at=parse_time(data.get("complete_at")),
            duration_s=_float(data.get("duration_s")),
            credits=_float(data.get("credits")),
            result_code=_int(result.get("code")),
            result_message=_text(result.get("message")),
            media_urls=urls,
            video_url=video,
            last_frame_url=frame,
            source=_text(data.get("source")),
            simulated=simulated,
            raw=dict(data),
        )


@dataclass(frozen=True)
class AssetInfo:
    """A reviewed asset: ``status`` is ``Processing``, ``Active`` (usable as ``asset://<id>``) or ``Failed``.

    Example:
        >>> AssetInfo.from_data({"AssetId": "asset-1", "Status": "Active", "CreateTime": 1768900378}).uri
        'asset://asset-1'
    """

    asset_id: str
    status: str
    name: str | None = None
    asset_type: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def uri(self) -> str:
        """The reference to put in ``reference_images`` / ``_videos`` / ``_audios``."""
        return f"asset://{self.asset_id}"

    @property
    def is_active(self) -> bool:
        """True when the asset can be used."""
        return self.status.lower() == "active"

    @property
    def is_failed(self) -> bool:
        """True when review failed."""
        return self.status.lower() == "failed"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AssetInfo:
        """Parse asset-info's ``data``; times may be ISO strings or Unix numbers.

        Example:
            >>> import seedance_nb as sn
            >>> info = sn.AssetInfo.from_data({"AssetId": "asset-1", "Status": "Processing",
            ...                                "UpdateTime": "2026-01-20T09:12:58Z"})
            >>> info.is_active, info.updated_at.isoformat()
            (False, '2026-01-20T09:12:58+00:00')
        """
        if not isinstance(data, Mapping):
            data = {}
        asset_id, status = data.get("AssetId"), data.get("Status")
        return cls(
            asset_id=clean_text(asset_id) if isinstance(asset_id, str) else "",
            status=clean_text(status) if isinstance(status, str) and status.strip() else "Unknown",
            name=_text(data.get("Name")),
            asset_type=_text(data.get("AssetType")),
            created_at=parse_time(data.get("CreateTime")),
            updated_at=parse_time(data.get("UpdateTime")),
        )


@dataclass(frozen=True)
class Estimate:
    """What a request would cost, and whether the balance covers it.

    ``estimated_credits`` or ``balance`` is ``None`` when the answer had no readable number for it
    (``Client.estimate`` raises ``APIError`` rather than return an estimate without a price).

    Example:
        >>> Estimate.from_data({"estimated_credits": 29, "balance": 100, "affordable": True}).estimated_credits
        29.0
        >>> Estimate.from_data({"estimated_credits": 29, "affordable": False}).describe()
        'about 29 credits; the balance is unknown'
    """

    estimated_credits: float | None
    balance: float | None
    affordable: bool

    def describe(self) -> str:
        """The estimate in words, whatever is missing from it.

        Example:
            >>> Estimate(29.0, 10.0, False).describe()
            'about 29 credits; the balance is 10'
        """
        price = f"about {self.estimated_credits:g} credits" if self.estimated_credits is not None else \
            "an unknown price"
        balance = f"{self.balance:g}" if self.balance is not None else "unknown"
        return f"{price}; the balance is {balance}"

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Estimate:
        """Parse EstimateTask's ``data``; ``affordable`` is derived when the server leaves it out.

        Example:
            >>> import seedance_nb as sn
            >>> sn.Estimate.from_data({"estimated_credits": "29", "balance": 10})
            Estimate(estimated_credits=29.0, balance=10.0, affordable=False)
        """
        if not isinstance(data, Mapping):
            data = {}
        credits = _float(data.get("estimated_credits"))
        balance = _float(data.get("balance"))
        affordable = data.get("affordable")
        if not isinstance(affordable, bool):
            affordable = balance is None or credits is None or balance >= credits
        return cls(estimated_credits=credits, balance=balance, affordable=affordable)


def parse_balance(data: Any) -> float | None:
    """The balance from ``{"balance": n}`` (or a bare number); ``None`` when there is no finite number.

    Example:
        >>> parse_balance({"balance": "71"}), parse_balance({"balance": float("nan")}), parse_balance([])
        (71.0, None, None)
    """
    return _float(data.get("balance") if isinstance(data, Mapping) else data)


def upload_slot(data: Any) -> tuple[str, str] | None:
    """``(presigned_url, file_url)`` from upload-url's answer; ``None`` unless both are there and the
    presigned URL is an absolute http(s) URL (a relative one would be sent to the API, key and all).

    Example:
        >>> upload_slot({"presigned_url": "https://r2.example/put?sig=1", "file_url": "https://files.example/a.png"})
        ('https://r2.example/put?sig=1', 'https://files.example/a.png')
        >>> upload_slot({"presigned_url": "/put", "file_url": "x"}) is None
        True
    """
    if not isinstance(data, Mapping):
        return None
    put, file_url = data.get("presigned_url"), data.get("file_url")
    if not isinstance(put, str) or not isinstance(file_url, str) or not file_url.strip():
        return None
    try:
        parts = urlsplit(put)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return put, clean_text(file_url)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
