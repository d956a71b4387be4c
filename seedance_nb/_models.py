"""The request: ``R2VRequest``, what a user describes, and the model profiles it may name.

``validate()`` finds every problem before a credit is spent (the rules of CRUN_API.md §0 and §4 are in
``_rules.py``, the limits in ``_limits.py``) and ``to_payload()`` builds the exact CreateTask body. What
Crun answers (``TaskInfo``, ``AssetInfo``, ``Estimate``) is parsed in ``_answers.py``.

Example:
    >>> req = R2VRequest(prompt="[Image1] runs through the rain", reference_images=["https://x.org/a.png"])
    >>> req.to_payload()["input"]["duration"]
    5
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from ._limits import (
    BYTEPLUS_FALLBACK_MODELS,
    COUNT_FIELDS,
    DEFAULT_MODEL,
    MODEL_RESOLUTIONS,
    MODEL_TITLES,
    REFERENCE_FIELDS,
    SHAPE_FIELDS,
)
from ._rules import check_body, check_callback_url, check_request
from .errors import ExtraFieldsWarning, Problem, ValidationError, safe_text

__all__ = ["MODEL_PROFILES", "ModelProfile", "R2VRequest", "Reference", "request_body"]

Reference = str | Path
Resolution = Literal["480p", "720p", "1080p"]
AspectRatio = Literal["16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto"]



@dataclass(frozen=True)
class ModelProfile:
    """What one Crun model id accepts (the three r2v models share one input schema)."""

    model: str
    label: str
    resolutions: tuple[str, ...]
    byteplus_fallback: bool


MODEL_PROFILES: Mapping[str, ModelProfile] = {
    model: ModelProfile(model, MODEL_TITLES[model], resolutions, model in BYTEPLUS_FALLBACK_MODELS)
    for model, resolutions in MODEL_RESOLUTIONS.items()
}


def _as_refs(value: Any) -> tuple[Any, ...]:
    """A reference list as a tuple; anything that is not a list stays one entry, for validation to report."""
    if value is None:
        return ()
    if isinstance(value, (str, Path, bytes, bytearray, Mapping)):
        return (value,)
    try:
        return tuple(value)
    except TypeError:  # not iterable: 5, 3.5, object()
        return (value,)


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
        for name in REFERENCE_FIELDS:
            object.__setattr__(self, name, _as_refs(getattr(self, name)))
        # Not a mapping: kept as it is, so validate() names it instead of the constructor failing.
        extra = {} if self.extra is None else self.extra
        object.__setattr__(self, "extra", dict(extra) if isinstance(extra, Mapping) else extra)

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
        """A copy with some fields changed (a frozen request is never modified).

        Example:
            >>> import seedance_nb as sn
            >>> req = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"])
            >>> req.replace(resolution="480p").resolution, req.resolution
            ('480p', '720p')
        """
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
        """The fields that set price and running time (``_limits.SHAPE_FIELDS``): sweeps price a shape once.

        Example:
            >>> R2VRequest(prompt="[Image1]", reference_images=["https://x.org/a.png"]).shape["n_images"]
            1
        """
        return self.shape_of(SHAPE_FIELDS)

    def shape_of(self, names: Sequence[str]) -> dict[str, Any]:
        """The values of some shape fields (request fields, or ``n_images``/``n_videos``/``n_audios``).

        Example:
            >>> R2VRequest(prompt="[Video1]", reference_videos=["https://x.org/v.mp4"]).shape_of(["n_videos"])
            {'n_videos': 1}
        """
        counts = {COUNT_FIELDS[name]: len(refs) for name, refs in self.references.items()}
        return {name: counts[name] if name in counts else getattr(self, name) for name in names}

    # -- checking -------------------------------------------------------------------------------------
    def validate(self, *, check_files: bool = True) -> list[Problem]:
        """Every problem of this request, in field order; an empty list means it can be sent.

        Local files are opened and probed (format, size, sides, ratio, duration) unless ``check_files``
        is false.

        Example:
            >>> import seedance_nb as sn
            >>> req = sn.R2VRequest(prompt="[Image2] waves", reference_images=["https://x.org/a.png"], duration=3)
            >>> for problem in req.validate():
            ...     print(problem.field, "-", problem.limit)
            prompt - refers to Image 2 but the request has only 1 image
            duration - must be 4–15 seconds
        """
        return check_request(self, check_files=check_files)

    def check(self, *, check_files: bool = True) -> R2VRequest:
        """Return ``self`` when valid; raise ``ValidationError`` listing every problem otherwise.

        Example:
            >>> import seedance_nb as sn
            >>> sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"]).check().duration
            5
            >>> sn.R2VRequest(prompt="[Image1] waves", reference_images=["ftp://x.org/a.png"]).check()
            Traceback (most recent call last):
            ...
            seedance_nb.errors.ValidationError: 1 problem in the request (nothing was sent):
            ...
        """
        problems = self.validate(check_files=check_files)
        if problems:
            raise ValidationError(problems)
        return self

    def with_uploads(self, urls: Mapping[Path, str]) -> R2VRequest:
        """A copy in which each local ``Path`` is replaced by its uploaded URL from ``urls``.

        Example:
            >>> from pathlib import Path
            >>> import seedance_nb as sn
            >>> me = Path("me.png")
            >>> req = sn.R2VRequest(prompt="[Image1] [Image2]", reference_images=[me, "https://x.org/b.png"])
            >>> req.with_uploads({me: "https://files.example/me.png"}).reference_images
            ('https://files.example/me.png', 'https://x.org/b.png')
        """
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
        problems = self.validate(check_files=False)
        problems += check_callback_url(callback_url)
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
        problems = check_body(body)  # a net under the rules: what leaves is JSON, UTF-8 and holds no key
        if problems:
            raise ValidationError(problems)
        if self.extra:
            warnings.warn(f"sending undocumented input fields {sorted(self.extra)}; Crun may reject or ignore "
                          "them", ExtraFieldsWarning, stacklevel=2)
        return body

    def input_fields(self) -> dict[str, Any]:
        """The ``input`` object of the payload (local paths shown as strings; no validation).

        Example:
            >>> from pathlib import Path
            >>> import seedance_nb as sn
            >>> fields = sn.R2VRequest(prompt="[Image1] waves", reference_images=[Path("me.png")]).input_fields()
            >>> fields["reference_images"], fields["duration"]
            (['me.png'], 5)
        """
        data: dict[str, Any] = {"prompt": self.prompt}
        for name, refs in self.references.items():
            if refs:
                data[name] = [str(ref) if isinstance(ref, (str, Path)) else safe_text(ref, 1000) for ref in refs]
        data.update(resolution=self.resolution, aspect_ratio=self.aspect_ratio, duration=self.duration,
                    audio=self.audio, return_last_frame=self.return_last_frame)
        if self.byteplus_fallback is not None:
            data["byteplus_fallback"] = self.byteplus_fallback
        if isinstance(self.extra, Mapping):
            for key, value in self.extra.items():
                data.setdefault(key, value)
        return data

    def request_hash(self, file_digests: Mapping[Path, str] | None = None) -> str:
        """A stable SHA-256 of what the request asks for; local files count by their content digest.

        Two requests with the same hash would be billed for the same work, which is how ``generate()``
        avoids paying twice for a request already in flight.

        Example:
            >>> import seedance_nb as sn
            >>> a = sn.R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"])
            >>> a.request_hash() == a.replace().request_hash(), a.request_hash() == a.replace(duration=8).request_hash()
            (True, False)
            >>> len(a.request_hash())
            64

        Raises:
            ValidationError: a field cannot be written as JSON (``extra`` holding a set, mixed key types...).
        """
        digests = file_digests or {}
        def ident(ref: Reference) -> str:
            if isinstance(ref, Path):
                return "sha256:" + digests.get(ref, _absolute(ref))
            return ref

        canonical = {"model": self.model, **self.input_fields()}
        for name, refs in self.references.items():
            if refs:
                canonical[name] = [ident(ref) for ref in refs]
        try:
            text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
        except (TypeError, ValueError, RecursionError):
            raise ValidationError(self.validate(check_files=False) or [
                Problem("request", safe_text(canonical), "cannot be written as JSON", "Fix the fields above.")
            ]) from None
        return hashlib.sha256(text.encode()).hexdigest()


def _absolute(path: Path) -> str:
    """The absolute form of a local path; a path that cannot be expanded (``~nosuchuser``) as it is."""
    try:
        return str(path.expanduser().absolute())
    except (OSError, ValueError, RuntimeError):
        return str(path)


def request_body(request: Any, callback_url: str | None = None) -> dict[str, Any]:
    """The JSON body of CreateTask or EstimateTask: a request's payload, or a dict checked as it will be sent.

    Raises:
        ValidationError: the request is invalid, or the dict is not JSON, not UTF-8 text, or holds a key.

    Example:
        >>> request_body({"model": "m", "input": {"prompt": "hi", "seed": float("nan")}})
        Traceback (most recent call last):
        ...
        seedance_nb.errors.ValidationError: 1 problem in the request (nothing was sent):
        ...
    """
    if isinstance(request, R2VRequest):
        return request.to_payload(callback_url)
    if not isinstance(request, dict):
        raise ValidationError([Problem("request", safe_text(request), "must be an R2VRequest or a CreateTask "
                                       "body (dict)", "Build it with sn.R2VRequest(prompt=..., ...).")])
    problems = check_body(request)
    if problems:
        raise ValidationError(problems)
    return request
