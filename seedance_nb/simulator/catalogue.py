"""The simulator's model catalogue: the three Seedance 2.0 reference-to-video profiles and their input schema.

The Mini, Fast and full profiles share one input schema; only the resolutions differ (Mini and Fast offer
480p and 720p, the full model adds 1080p). ``GET /client/job/Models`` lists them, ``/Models/{model}`` adds
the ``input_schema``.

Example:
    >>> resolutions_for("bytedance/seedance2-0-r2v")
    ('480p', '720p', '1080p')
    >>> model_entry("bytedance/seedance2-0-mini-r2v", with_schema=True)["input_schema"]["required"]
    ['prompt']
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ASPECT_RATIOS",
    "DEFAULT_RATES",
    "MAX_AUDIOS",
    "MAX_IMAGES",
    "MAX_TOTAL",
    "MAX_VIDEOS",
    "MODELS",
    "input_schema",
    "list_models",
    "model_entry",
    "resolutions_for",
]

MODELS: dict[str, tuple[str, ...]] = {
    "bytedance/seedance2-0-mini-r2v": ("480p", "720p"),
    "bytedance/seedance2-0-fast-r2v": ("480p", "720p"),
    "bytedance/seedance2-0-r2v": ("480p", "720p", "1080p"),
}
_TITLES = {
    "bytedance/seedance2-0-mini-r2v": "Seedance 2.0 Mini · reference to video",
    "bytedance/seedance2-0-fast-r2v": "Seedance 2.0 Fast · reference to video",
    "bytedance/seedance2-0-r2v": "Seedance 2.0 · reference to video",
}
ASPECT_RATIOS: tuple[str, ...] = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "auto")
DEFAULT_RATES: dict[str, float] = {"480p": 2.9, "720p": 5.8, "1080p": 11.6}
MAX_IMAGES, MAX_VIDEOS, MAX_AUDIOS, MAX_TOTAL = 9, 3, 3, 12
MIN_DURATION, MAX_DURATION = 4, 15


def resolutions_for(model: str) -> tuple[str, ...]:
    """The resolutions ``model`` offers (empty for an unknown model)."""
    return MODELS.get(model, ())


def input_schema(model: str) -> dict[str, Any]:
    """The JSON schema of ``input`` for ``model`` (the Option 1 / Option 2 ``anyOf`` of the docs)."""
    refs = {"type": "string", "pattern": r"^(https?://|asset://)"}
    return {
        "type": "object",
        "required": ["prompt"],
        "anyOf": [{"required": ["reference_images"]}, {"required": ["reference_videos"]}],
        "properties": {
            "prompt": {"type": "string", "minLength": 1},
            "reference_images": {"type": "array", "items": refs, "maxItems": MAX_IMAGES},
            "reference_videos": {"type": "array", "items": refs, "maxItems": MAX_VIDEOS},
            "reference_audios": {"type": "array", "items": refs, "maxItems": MAX_AUDIOS},
            "resolution": {"type": "string", "enum": list(resolutions_for(model)), "default": "720p"},
            "aspect_ratio": {"type": "string", "enum": list(ASPECT_RATIOS), "default": "16:9"},
            "duration": {"type": "integer", "minimum": MIN_DURATION, "maximum": MAX_DURATION, "default": 5},
            "audio": {"type": "boolean", "default": True},
            "return_last_frame": {"type": "boolean", "default": False},
            "byteplus_fallback": {"type": "boolean", "default": False},
        },
    }


def model_entry(model: str, *, with_schema: bool = False) -> dict[str, Any]:
    """One catalogue entry; ``with_schema`` adds ``input_schema``. Raises ``KeyError`` for an unknown model."""
    resolutions = MODELS[model]
    entry: dict[str, Any] = {
        "model": model,
        "name": _TITLES[model],
        "provider": "ByteDance",
        "modality": "video",
        "operation": "reference-to-video",
        "resolutions": list(resolutions),
        "aspect_ratios": list(ASPECT_RATIOS),
        "durations": [MIN_DURATION, MAX_DURATION],
    }
    if with_schema:
        entry["input_schema"] = input_schema(model)
    return entry


def list_models(modality: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
    """The catalogue, filtered by ``modality`` and ``operation`` when given."""
    entries = [model_entry(m) for m in MODELS]
    if modality:
        entries = [e for e in entries if e["modality"] == modality]
    if operation:
        entries = [e for e in entries if e["operation"] == operation]
    return entries
