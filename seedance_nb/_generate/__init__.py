"""The orchestrator: ``generate``, ``resume``, ``resubmit`` and ``follow``, around one ``Job`` object.

Every task is written to the task log *before* CreateTask leaves (write-ahead), so killing the kernel at any
instant loses nothing the server created: a task with an id is picked up by ``resume()``; one whose answer
was lost is ``unknown``, shown loudly, and sent again only by ``resubmit()``. Results are downloaded into
the content-addressed archive as soon as they exist, because Crun's URLs expire.

    job.py      Job: client, ledger, clock, sleep, deadline, progress, callbacks
    submit.py   generate(), resubmit(): validate, upload, price, record, send once
    follow.py   follow(): poll, record, archive
    recover.py  resume()
    many.py     generate_many(): several at once, bounded, each failure kept in its slot
    sync.py     generate_sync(), run_sync()
    detached.py what an interrupted wait raises (CancelledError, KeyboardInterrupt), shown short in notebooks
"""

from __future__ import annotations

from .many import generate_many
from .recover import resume
from .submit import generate, resubmit
from .sync import generate_sync, run_sync

__all__ = ["generate", "generate_many", "generate_sync", "resubmit", "resume", "run_sync"]
