"""seedance_nb — JupyterLab toolkit for Seedance 2.0 Mini reference-to-video on Crun.

The public surface is curated here; heavy modules (pandas, ipywidgets, the simulator) load on first use so
``import seedance_nb`` stays fast.

Example:
    >>> import seedance_nb as sn
    >>> sn.R2VRequest(prompt="[Image1] runs", reference_images=["https://x.org/a.png"]).to_payload()["model"]
    'bytedance/seedance2-0-mini-r2v'
"""

from .__version__ import __version__
from ._answers import AssetInfo, Estimate, TaskInfo
from ._client import Client
from ._generate import generate, generate_many, generate_sync, resubmit, resume
from ._lazy import lazy_names as _lazy_names
from ._models import MODEL_PROFILES, R2VRequest
from ._retrying import RetryPolicy
from .errors import (
    APIError,
    AssetFailedError,
    AssetTimeout,
    AuthenticationError,
    BudgetExceededError,
    ConfigError,
    ExtraFieldsWarning,
    FeatureDisabledError,
    GenerationFailedError,
    GenerationTimeout,
    InsufficientCreditsError,
    MaintenanceError,
    MediaError,
    MediaExpiredError,
    ModerationError,
    NotFoundError,
    Problem,
    RateLimitError,
    RejectedError,
    SeedanceError,
    ServerError,
    SubmissionUnknownError,
    TransportError,
    ValidationError,
)
from .notebook._generation import Generation
from .notebook._grid import Failed, Generations, show

# name -> module that defines it, imported on first access (pandas and ipywidgets stay unloaded until needed)
_LAZY: dict[str, str] = {"TaskLog": "tasklog", "use_simulator": "simulator.embedded",
                          "stop_simulator": "simulator.embedded", "form": "notebook._form",
                          "board": "notebook._board", "gallery": "notebook._gallery",
                          "summarize": "_report", "report": "_report", "rerun": "_report",
                          "sweep": "_sweep", "sweep_sync": "_sweep"}

__all__ = [
    "MODEL_PROFILES",
    "APIError",
    "AssetFailedError",
    "AssetInfo",
    "AssetTimeout",
    "AuthenticationError",
    "BudgetExceededError",
    "Client",
    "ConfigError",
    "Estimate",
    "ExtraFieldsWarning",
    "Failed",
    "FeatureDisabledError",
    "Generation",
    "GenerationFailedError",
    "GenerationTimeout",
    "Generations",
    "InsufficientCreditsError",
    "MaintenanceError",
    "MediaError",
    "MediaExpiredError",
    "ModerationError",
    "NotFoundError",
    "Problem",
    "R2VRequest",
    "RateLimitError",
    "RejectedError",
    "RetryPolicy",
    "SeedanceError",
    "ServerError",
    "SubmissionUnknownError",
    "TaskInfo",
    "TaskLog",
    "TransportError",
    "ValidationError",
    "__version__",
    "board",
    "form",
    "gallery",
    "generate",
    "generate_many",
    "generate_sync",
    "report",
    "rerun",
    "resubmit",
    "resume",
    "show",
    "stop_simulator",
    "summarize",
    "sweep",
    "sweep_sync",
    "use_simulator",
]


__getattr__, __dir__ = _lazy_names(__name__, _LAZY)
