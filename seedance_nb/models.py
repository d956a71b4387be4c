"""The request and the answers: ``R2VRequest``, ``TaskInfo``, ``AssetInfo``, ``Estimate``. Pure, no I/O.

``R2VRequest`` is what a user describes; ``validate()`` finds every problem before a credit is spent
(the rules of CRUN_API.md §0 and §4 are in ``rules.py``) and ``to_payload()`` builds the exact CreateTask body.
The answer types parse Crun's JSON tolerantly: timestamps as Unix numbers or ISO strings, unknown statuses
kept verbatim, missing fields as ``None``.

Example:
    >>> req = R2VRequest(prompt="[Image1] runs through the rain", reference_images=["https://x.org/a.png"])
    >>> req.to_payload()["input"]["duration"]
    5
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from .config import DEFAULT_MODEL
from .errors import Problem, ValidationError

__all__ = [
    "FINAL_STATUSES",
    "MODEL_PROFILES",
    "AssetInfo",
    "Estimate",
    "ModelProfile",
    "R2VRequest",
    "Reference",
    "TaskInfo",
    "parse_time",
]

Reference = str | Path
Resolution = Literal["480p", "720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto"]

FINAL_STATUSES = frozenset({"success", "failed"})
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto")
DURATION_RANGE = (4, 15)


@dataclass(frozen=True)
class ModelProfile:
    """What one Crun model id accepts (the three r2v models share one input schema)."""

    model: str
    label: str
    resolutions: tuple[str, ...]
    byteplus_fallback: bool


MODEL_PROFILES: Mapping[str, ModelProfile] = {
    p.model: p
    for p in (
        ModelProfile(DEFAULT_MODEL, "Seedance 2.0 Mini", ("480p", "720p"), True),
        ModelProfile("bytedance/seedance2-0-fast-r2v", "Seedance 2.0 Fast", ("480p", "720p"), False),
        ModelProfile("bytedance/seedance2-0-r2v", "Seedance 2.0", ("480p", "720p", "1080p"), False),
    )
}


def _as_refs(value: Any) -> tuple[Reference, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, Path)):
        return (value,)
    return tuple(value)


@dataclass(frozen=True)
class R2VRequest:
    """A Seedance reference-to-video request: a prompt plus reference images, videos and audio.

    References are ``http(s)`` URLs, ``asset://<AssetId>`` ids, or local ``pathlib.Path`` files (uploaded
    for you by ``generate()``). Refer to them in the prompt as ``[Image1]``, ``[Video1]``, ``[Audio1]``,
    numbered from 1 in list order. Fields the API does not document go in ``extra`` and are sent as they are.

    Args:
        prompt: what should happen; non-empty.
        reference_images: 0–9 images (jpeg, png, webp, bmp, tiff, gif; 300–6000 px a side; ratio 0.4–2.5).
        reference_videos: 0–3 videos (mp4, mov; 2–15 s in all). At least one image or video is needed.
        reference_audios: 0–3 audio files (mp3, wav; 15 s in all at most); never alone.
        resolution: ``"480p"`` or ``"720p"`` (``"1080p"`` on ``bytedance/seedance2-0-r2v`` only).
        aspect_ratio: one of 16:9, 9:16, 1:1, 4:3, 3:4, 21:9, auto.
        duration: whole seconds, 4–15.
        audio: generate a soundtrack.
        return_last_frame: also return the final frame as a PNG.
        byteplus_fallback: Crun-only flag (Mini); sent only when set.
        model: the Crun model id; Mini by default.
        extra: undocumented input fields passed through verbatim (the server may reject them).

    Example:
        >>> req = R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/me.png"], duration=8)
        >>> req.validate()
        []
        >>> req.replace(duration=20).validate()[0].field
        'duration'
    """

    prompt: str
    reference_images: Sequence[Reference] = ()
    reference_videos: Sequence[Reference] = ()
    reference_audios: Sequence[Reference] = ()
    resolution: str = "720p"
    aspect_ratio: str = "16:9"
    duration: int = 5
    audio: bool = True
    return_last_frame: bool = False
    byteplus_fallback: bool | None = None
    model: str = DEFAULT_MODEL
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("reference_images", "reference_videos", "reference_audios"):
            object.__setattr__(self, name, _as_refs(getattr(self, name)))
        object.__setattr__(self, "extra", dict(self.extra or {}))

    # -- building -------------------------------------------------------------------------------------
    @classmethod
    def from_fields(cls, request: R2VRequest | None = None, /, **fields_: Any) -> R2VRequest:
        """Build a request from another one and/or keyword fields; unknown names raise ``ValidationError``.

        Example:
            >>> R2VRequest.from_fields(prompt="[Image1]", reference_images=["https://x.org/a.png"]).duration
            5
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(fields_) - known)
        if unknown:
            raise ValidationError(
                [
                    Problem(name, fields_[name], "is not a field of R2VRequest",
                            f"Use one of {', '.join(sorted(known))}, or extra={{...}} for undocumented ones.")
                    for name in unknown
                ]
            )
        if request is None:
            if "prompt" not in fields_:
                raise ValidationError([Problem("prompt", None, "is required", "Pass prompt='...'.")])
            return cls(**fields_)
        return replace(request, **fields_)

    def replace(self, **changes: Any) -> R2VRequest:
        """A copy with some fields changed (a frozen request is never modified)."""
        return replace(self, **changes)

    @property
    def references(self) -> dict[str, tuple[Reference, ...]]:
        """The three reference lists by their Crun field name."""
        return {
            "reference_images": tuple(self.reference_images),
            "reference_videos": tuple(self.reference_videos),
            "reference_audios": tuple(self.reference_audios),
        }

    @property
    def local_files(self) -> list[tuple[str, int, Path]]:
        """Every local ``Path`` reference as (field, index, path)."""
        return [
            (name, i, ref)
            for name, refs in self.references.items()
            for i, ref in enumerate(refs)
            if isinstance(ref, Path)
        ]

    @property
    def shape(self) -> dict[str, Any]:
        """The fields that set price and running time (used to learn durations and cache estimates)."""
        return {"model": self.model, "resolution": self.resolution, "duration": self.duration,
                "aspect_ratio": self.aspect_ratio, "audio": self.audio,
                "n_images": len(self.reference_images), "n_videos": len(self.reference_videos),
                "n_audios": len(self.reference_audios)}

    # -- checking -------------------------------------------------------------------------------------
    def validate(self, *, check_files: bool = True) -> list[Problem]:
        """Every problem of this request, in field order; an empty list means it can be sent.

        Local files are opened and probed (format, size, sides, ratio, duration) unless ``check_files``
        is false.
        """
        from . import rules

        return rules.check_request(self, check_files=check_files)

    def check(self, *, check_files: bool = True) -> R2VRequest:
        """Return ``self`` when valid; raise ``ValidationError`` listing every problem otherwise."""
        problems = self.validate(check_files=check_files)
        if problems:
            raise ValidationError(problems)
        return self

    def with_uploads(self, urls: Mapping[Path, str]) -> R2VRequest:
        """A copy in which each local ``Path`` is replaced by its uploaded URL from ``urls``."""
        def swap(refs: Sequence[Reference]) -> tuple[Reference, ...]:
            return tuple(urls.get(ref, ref) if isinstance(ref, Path) else ref for ref in refs)

        return replace(self, reference_images=swap(self.reference_images),
                       reference_videos=swap(self.reference_videos),
                       reference_audios=swap(self.reference_audios))

    def to_payload(self, callback_url: str | None = None) -> dict[str, Any]:
        """The exact CreateTask JSON body.

        Empty reference lists and an unset ``byteplus_fallback`` are left out; resolution, aspect ratio,
        duration, audio and return_last_frame are always sent. Local files must be uploaded first
        (``generate()`` does it; ``await client.upload_references(req)`` by hand).

        Raises:
            ValidationError: the request, a local file or ``callback_url`` is invalid.

        Example:
            >>> body = R2VRequest(prompt="[Image1] jumps", reference_images=["https://x.org/a.png"]).to_payload()
            >>> sorted(body["input"])
            ['aspect_ratio', 'audio', 'duration', 'prompt', 'reference_images', 'resolution', 'return_last_frame']
        """
        from . import rules

        problems = self.validate(check_files=False)
        problems += rules.check_callback_url(callback_url)
        problems += [
            Problem(f"{name}[{i}]", str(path), "is a local file, which Crun cannot read",
                    "Let sn.generate() upload it, or call `await client.upload_references(req)` first.")
            for name, i, path in self.local_files
        ]
        if problems:
            raise ValidationError(problems)
        body: dict[str, Any] = {"model": self.model}
        if callback_url is not None:
            body["callback_url"] = callback_url
        body["input"] = self.input_fields()
        return body

    def input_fields(self) -> dict[str, Any]:
        """The ``input`` object of the payload (local paths shown as strings; no validation)."""
        data: dict[str, Any] = {"prompt": self.prompt}
        for name, refs in self.references.items():
            if refs:
                data[name] = [str(ref) for ref in refs]
        data.update(resolution=self.resolution, aspect_ratio=self.aspect_ratio, duration=self.duration,
                    audio=self.audio, return_last_frame=self.return_last_frame)
        if self.byteplus_fallback is not None:
            data["byteplus_fallback"] = self.byteplus_fallback
        for key, value in self.extra.items():
            data.setdefault(key, value)
        return data

    def request_hash(self, file_digests: Mapping[Path, str] | None = None) -> str:
        """A stable SHA-256 of what the request asks for; local files count by their content digest.

        Two requests with the same hash would be billed for the same work, which is how ``generate()``
        avoids paying twice for a request already in flight.
        """
        digests = file_digests or {}
        def ident(ref: Reference) -> str:
            if isinstance(ref, Path):
                return "sha256:" + digests.get(ref, str(ref.expanduser().absolute()))
            return ref

        canonical = {"model": self.model, **self.input_fields()}
        for name, refs in self.references.items():
            if refs:
                canonical[name] = [ident(ref) for ref in refs]
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


# -- answers ----------------------------------------------------------------------------------------------

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
        """Parse TaskInfo's ``data`` (or a callback body, bare or wrapped in ``{code, message, data}``)."""
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
        """Parse asset-info's ``data``; times may be ISO strings or Unix numbers."""
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
        """Parse EstimateTask's ``data``; ``affordable`` is derived when the server leaves it out."""
        credits = _float(data.get("estimated_credits")) or 0.0
        balance = _float(data.get("balance"))
        affordable = data.get("affordable")
        if not isinstance(affordable, bool):
            affordable = balance is None or balance >= credits
        return cls(estimated_credits=credits, balance=balance, affordable=affordable)
