"""Comparison and reports: ``summarize()`` figures per group, ``report()`` a self-contained folder, ``rerun()``.

``summarize`` (``_summary.py``) is pure pandas. ``report`` (``_report.py``) writes ``index.html``
(``_html.py``, pure rendering), the media, thumbnails and contact sheets (``_folder.py``, ffmpeg in worker
threads) and ``manifest.json`` (``_manifest.py``). ``rerun`` (``_rerun.py``) sends a manifest's exact
payloads again, priced first, into a new sweep whose report can be compared with the first.

Example:
    >>> import pandas as pd
    >>> summarize(pd.DataFrame({"status": ["success", "failed"]}))[["tasks", "success_rate"]].to_dict("records")
    [{'tasks': 2, 'success_rate': 0.5}]
"""

from __future__ import annotations

from ._report import report
from ._rerun import rerun
from ._summary import summarize

__all__ = ["report", "rerun", "summarize"]
