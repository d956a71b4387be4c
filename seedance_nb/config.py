"""Settings, resolved late: argument > ``use_simulator()`` > environment > default.

Nothing is read at import. A ``Client`` resolves its settings when it is built, so a notebook may set
``CRUN_API_KEY`` after ``import seedance_nb`` and a test may set the environment without patching anything.

Environment:
    CRUN_API_KEY       the Crun key (``ak_`` and 32 letters or digits)
    CRUN_BASE_URL      default ``https://api.crun.ai/api/v1``
    SEEDANCE_NB_HOME   default ``./seedance-runs``: the task log and the media archive

Example:
    >>> s = resolve_settings(api_key="ak_" + "x" * 32, base_url="http://127.0.0.1:9/api/v1")
    >>> s.base_url
    'http://127.0.0.1:9/api/v1'
    >>> "ak_" in repr(s)
    False
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from ._limits import KEY_FORM
from .errors import ConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "Settings",
    "clear_endpoint_override",
    "home_dir",
    "resolve_settings",
    "set_endpoint_override",
]

DEFAULT_BASE_URL = "https://api.crun.ai/api/v1"
DEFAULT_HOME = "seedance-runs"


@dataclass(frozen=True)
class Settings:
    """Where to talk to Crun and with which key. The key never shows in a repr."""

    api_key: str = field(repr=False)
    base_url: str
    simulated: bool = False


@dataclass(frozen=True)
class _Override:
    base_url: str
    api_key: str = field(repr=False)


_override: _Override | None = None
_override_lock = threading.Lock()


def set_endpoint_override(base_url: str, api_key: str) -> None:
    """Point every client built without arguments at ``base_url`` (used by ``use_simulator()``)."""
    global _override
    with _override_lock:
        _override = _Override(base_url=base_url.rstrip("/"), api_key=api_key)


def clear_endpoint_override() -> None:
    """Undo ``set_endpoint_override``: clients read the environment again."""
    global _override
    with _override_lock:
        _override = None


def resolve_settings(api_key: str | None = None, base_url: str | None = None) -> Settings:
    """Resolve the key and base URL: argument > ``use_simulator()`` > environment > default.

    Raises:
        ConfigError: no key anywhere, a key not of Crun's form, or a base URL that is not http(s).

    Example:
        >>> resolve_settings(api_key="ak_" + "x" * 31 + "!", base_url="http://127.0.0.1:9/api/v1")
        Traceback (most recent call last):
        ...
        seedance_nb.errors.ConfigError: The Crun API key 'ak_xxx'… is not of Crun's form...
    """
    override = _override
    if base_url is not None and not isinstance(base_url, str):
        raise ConfigError(f"base_url must be a string such as {DEFAULT_BASE_URL!r}, not {type(base_url).__name__}.")
    url = base_url or (override.base_url if override else None) or os.environ.get("CRUN_BASE_URL")
    url = (url or DEFAULT_BASE_URL).rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"The Crun base URL {url!r} is not an http(s) URL. Set CRUN_BASE_URL or pass base_url=, "
            f"for example {DEFAULT_BASE_URL!r}."
        )
    key = api_key
    if key is None and override is not None and (base_url is None or base_url.rstrip("/") == override.base_url):
        key = override.api_key
    if key is None:
        key = os.environ.get("CRUN_API_KEY") or None
    if not key:
        raise ConfigError(
            "No Crun API key. Set the CRUN_API_KEY environment variable (or pass api_key=) to your key "
            "from the Crun dashboard; to try the toolkit without a key, call sn.use_simulator() first."
        )
    key = _checked_key(key)
    simulated = override is not None and url == override.base_url
    return Settings(api_key=key, base_url=url, simulated=simulated)


def _checked_key(key: object) -> str:
    """The key, stripped, when it has Crun's form: checked here, so that a malformed key (a NUL, a non-ASCII
    letter) fails with a clear message instead of deep in httpx with the whole key in the traceback."""
    text = key.strip() if isinstance(key, str) else ""
    if KEY_FORM.fullmatch(text):
        return text
    shown = f"{text[:min(6, len(text) // 2)]!a}…" if text else f"a {type(key).__name__}"
    raise ConfigError(
        f"The Crun API key {shown} is not of Crun's form: 'ak_' followed by 32 letters or digits (35 "
        "characters, nothing else). Copy it again from the Crun dashboard into CRUN_API_KEY (or api_key=)."
    ) from None


def home_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """The folder of the task log and the media archive: argument > ``SEEDANCE_NB_HOME`` > ./seedance-runs.

    Example:
        >>> home_dir("/tmp/runs").as_posix()
        '/tmp/runs'
    """
    chosen = home if home is not None else os.environ.get("SEEDANCE_NB_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().absolute()

