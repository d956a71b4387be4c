"""What Crun answers: ``TaskInfo``, ``AssetInfo``, ``Estimate``, parsed tolerantly. Pure, no I/O.

Timestamps may come as Unix numbers or ISO strings, statuses in any case, fields missing or ``null``: the
parsers keep what they can read, leave the rest ``None``, and keep unknown statuses verbatim.

Example:
    >>> TaskInfo.from_data({"task_id": "t1", "status": "running"}).is_final
    False
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = ["FINAL_STATUSES", "AssetInfo", "Estimate", "TaskInfo", "parse_time", "split_media_urls"]

FINAL_STATUSES = frozenset({"success", "failed"})


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from Unix seconds (int, float or numeric string) or an ISO string.

    Example:
        >>> parse_time(1768900378).isoformat()
        '2026-01-20T09:12:58+00:00'
        >>> parse_time("2026-04-21T02:41:43Z").isoformat()
        '2026-04-21T02:41:43+00:00'
        >>> parse_time(None) is None
        True
    """
    if value is None or value == "" or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        seconds = value / 1000 if value > 1e11 else value  # tolerate milliseconds
        return datetime.fromtimestamp(seconds, tz=UTC)
    if isinstance(value, str):
        text = value.strip()
        try:
            return parse_time(float(text))
        except ValueError:
            pass
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    number = _float(value)
    return int(number) if number is not None and number.is_integer() else None


_VIDEO_SUFFIXES = (".mp4", ".mov", ".webm")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def split_media_urls(urls: Iterable[str]) -> tuple[str | None, str | None]:
    """(video URL, last-frame URL) from ``result.media_urls``: the MP4 first, an image after it.

    Example:
        >>> split_media_urls(["https://cdn/x.mp4", "https://cdn/x_1.png"])
        ('https://cdn/x.mp4', 'https://cdn/x_1.png')
    """
    items = [u for u in urls if isinstance(u, str) and u]
    def suffix(url: str) -> str:
        return Path(urlsplit(url).path).suffix.lower()

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
        if "task_id" not in data and isinstance(data.get("data"), Mapping):
            data = data["data"]
        result = data.get("result") if isinstance(data.get("result"), Mapping) else {}
        assert isinstance(result, Mapping)
        urls = tuple(u for u in (result.get("media_urls") or ()) if isinstance(u, str))
        video, frame = split_media_urls(urls)
        param = data.get("param") if isinstance(data.get("param"), Mapping) else {}
        assert isinstance(param, Mapping)
        status = data.get("status")
        return cls(
            task_id=str(data.get("task_id", "")),
            status=str(status).lower() if status is not None else "unknown",
            model=param.get("model") if isinstance(param.get("model"), str) else None,
            provider=data.get("provider") if isinstance(data.get("provider"), str) else None,
            model_version=data.get("model_version") if isinstance(data.get("model_version"), str) else None,
            param=dict(param),
            created_at=parse_time(data.get("create_at")),
            completed_at=parse_time(data.get("complete_at")),
            duration_s=_float(data.get("duration_s")),
            credits=_float(data.get("credits")),
            result_code=_int(result.get("code")),
            result_message=result.get("message") if isinstance(result.get("message"), str) else None,
            media_urls=urls,
            video_url=video,
            last_frame_url=frame,
            source=data.get("source") if isinstance(data.get("source"), str) else None,
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
        return cls(
            asset_id=str(data.get("AssetId", "")),
            status=str(data.get("Status", "Unknown")),
            name=data.get("Name") if isinstance(data.get("Name"), str) else None,
            asset_type=data.get("AssetType") if isinstance(data.get("AssetType"), str) else None,
            created_at=parse_time(data.get("CreateTime")),
            updated_at=parse_time(data.get("UpdateTime")),
        )


@dataclass(frozen=True)
class Estimate:
    """What a request would cost, and whether the balance covers it.

    Example:
        >>> Estimate.from_data({"estimated_credits": 29, "balance": 100, "affordable": True}).estimated_credits
        29.0
    """

    estimated_credits: float
    balance: float | None
    affordable: bool

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Estimate:
        """Parse EstimateTask's ``data``; ``affordable`` is derived when the server leaves it out.

        Example:
            >>> import seedance_nb as sn
            >>> sn.Estimate.from_data({"estimated_credits": "29", "balance": 10})
            Estimate(estimated_credits=29.0, balance=10.0, affordable=False)
        """
        credits = _float(data.get("estimated_credits")) or 0.0
        balance = _float(data.get("balance"))
        affordable = data.get("affordable")
        if not isinstance(affordable, bool):
            affordable = balance is None or balance >= credits
        return cls(estimated_credits=credits, balance=balance, affordable=affordable)
