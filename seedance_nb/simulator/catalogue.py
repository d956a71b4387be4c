"""The simulator's model catalogue: the three Seedance 2.0 reference-to-video profiles and their input schema.

The Mini, Fast and full profiles share one input schema; only the resolutions differ (Mini and Fast offer
480p and 720p, the full model adds 1080p). ``GET /client/job/Models`` lists them, ``/Models/{model}`` adds
the ``input_schema``. The models, their resolutions and the limits of a request come from
``seedance_nb._limits``; what only the simulator knows (prices, the defaults it fills in) is kept here.

Example:
    >>> resolutions_for("bytedance/seedance2-0-r2v")
    ('480p', '720p', '1080p')
    >>> model_entry("bytedance/seedance2-0-mini-r2v", with_schema=True)["input_schema"]["required"]
    ['prompt']
"""

from __future__ import annotations

from typing import Any

from .._limits import ASPECT_RATIOS, DURATION_RANGE, MAX_REFERENCES, MODEL_RESOLUTIONS, MODEL_TITLES, REFERENCE_FIELDS

__all__ = [
    "DEFAULT_RATES",
    "INPUT_DEFAULTS",
    "input_schema",
    "list_models",
    "model_entry",
    "resolutions_for",
]

DEFAULT_RATES: dict[str, float] = {"480p": 2.9, "720p": 5.8, "1080p": 11.6}
# What the simulator fills in for an ``input`` field a request leaves out (CRUN_API.md §0).
INPUT_DEFAULTS: dict[str, Any] = {"resolution": "720p", "aspect_ratio": "16:9", "duration": 5, "audio": True,
                                  "return_last_frame": False, "byteplus_fallback": False}


def resolutions_for(model: str) -> tuple[str, ...]:
    """The resolutions ``model`` offers (empty for an unknown model)."""
    return MODEL_RESOLUTIONS.get(model, ())


def input_schema(model: str) -> dict[str, Any]:
    """The JSON schema of ``input`` for ``model`` (the Option 1 / Option 2 ``anyOf`` of the docs)."""
    refs = {"type": "string", "pattern": r"^(https?://|asset://)"}
    images, videos, _ = REFERENCE_FIELDS
    low, high = DURATION_RANGE
    properties: dict[str, dict[str, Any]] = {
        "prompt": {"type": "string", "minLength": 1},
        **{name: {"type": "array", "items": refs, "maxItems": MAX_REFERENCES[name]} for name in REFERENCE_FIELDS},
        "resolution": {"type": "string", "enum": list(resolutions_for(model))},
        "aspect_ratio": {"type": "string", "enum": list(ASPECT_RATIOS)},
        "duration": {"type": "integer", "minimum": low, "maximum": high},
        "audio": {"type": "boolean"},
        "return_last_frame": {"type": "boolean"},
        "byteplus_fallback": {"type": "boolean"},
    }
    for name, default in INPUT_DEFAULTS.items():
        properties[name]["default"] = default
    return {
        "type": "object",
        "required": ["prompt"],
        "anyOf": [{"required": [images]}, {"required": [videos]}],
        "properties": properties,
    }


def model_entry(model: str, *, with_schema: bool = False) -> dict[str, Any]:
    """One catalogue entry; ``with_schema`` adds ``input_schema``. Raises ``KeyError`` for an unknown model."""
    resolutions = MODEL_RESOLUTIONS[model]
    entry: dict[str, Any] = {
        "model": model,
        "name": f"{MODEL_TITLES[model]} · reference to video",
        "provider": "ByteDance",
        "modality": "video",
        "operation": "reference-to-video",
        "resolutions": list(resolutions),
        "aspect_ratios": list(ASPECT_RATIOS),
        "durations": list(DURATION_RANGE),
    }
    if with_schema:
        entry["input_schema"] = input_schema(model)
    return entry


def list_models(modality: str | None = None, operation: str | None = None) -> list[dict[str, Any]]:
    """The catalogue, filtered by ``modality`` and ``operation`` when given."""
    entries = [model_entry(m) for m in MODEL_RESOLUTIONS]
    if modality:
        entries = [e for e in entries if e["modality"] == modality]
    if operation:
        entries = [e for e in entries if e["operation"] == operation]
    return entries
