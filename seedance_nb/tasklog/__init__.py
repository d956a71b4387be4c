"""The task log: a write-ahead ledger of every task on SQLite (WAL), with an event history and a DataFrame view.

A row is committed with status ``submitting`` *before* CreateTask is sent, so a kernel killed at any
instant loses no task the server created. Several processes and kernels may write at once (WAL, a 30 s
busy timeout, one connection per thread, short ``BEGIN IMMEDIATE`` transactions) and read while others
write. What the columns mean is here; the schema itself (SQL, dtypes, conversions) is ``_schema.py``, the
connections ``_db.py``, the fast DataFrame build ``_frame.py``. ``TaskLog`` (``_log.py``) is the public
face: it reads, annotates (rating, tags, notes) and exports. The writers that guard paid tasks are the
``Ledger`` (``_ledger.py``), which only ``generate()``/``resume()``/``resubmit()`` use.

Statuses: ``submitting`` (row written, CreateTask not yet answered) → ``pending`` + task id, or
``rejected`` (a definite refusal) or ``unknown`` (the request left but no answer came: never resubmitted
automatically) → ``running`` → ``success`` | ``failed``. Any other status Crun sends is kept verbatim.
``success``, ``failed`` and ``rejected`` are final: a late, stale ``pending``/``running`` does not undo them.

Columns of ``df()`` (and keys of ``get()``), in order. Strings are pandas ``"string"`` (missing: ``pd.NA``),
integers ``"Int64"``, flags ``"boolean"``, measurements ``float64`` (missing: NaN), times
``datetime64[us, UTC]`` (missing: NaT), lists are ``object`` columns holding Python ``list[str]``.

==================  ======================  ==========================================================
local_id            string                  the ledger's own id, ``t`` + 16 hex, time-ordered, unique
task_id             string                  Crun's task id (NA until CreateTask answered)
status              string                  see above
model               string                  the Crun model id of the request
prompt              string                  the prompt as sent
reference_images    object (list[str])      image URLs / ``asset://`` ids as sent
reference_videos    object (list[str])      video references as sent
reference_audios    object (list[str])      audio references as sent
resolution          string                  ``480p`` / ``720p``
aspect_ratio        string                  e.g. ``16:9``
duration            Int64                   requested seconds
audio               boolean                 native audio requested
return_last_frame   boolean                 last frame requested
n_images            Int64                   len(reference_images)
n_videos            Int64                   len(reference_videos)
n_audios            Int64                   len(reference_audios)
submitted_at        datetime64[us, UTC]     when the row was written (just before CreateTask)
finished_at         datetime64[us, UTC]     when a final status was recorded (or Crun's complete time)
elapsed_s           float64                 finished_at − submitted_at, NaN while unfinished
credits             float64                 credits Crun charged
error_code          Int64                   Crun's code of a rejection or failure
error_message       string                  Crun's message, or why the submission is unknown
video_url           string                  the result MP4 URL (expires after about 14 days)
video_path          string                  absolute path of the archived MP4
video_sha256        string                  its SHA-256 (the archive's file name)
last_frame_url      string                  the last-frame image URL, when requested
last_frame_path     string                  absolute path of the archived last frame
width, height       Int64                   pixel size of the archived video
fps                 float64                 frame rate of the archived video
video_duration_s    float64                 duration of the archived video
has_audio           boolean                 the archived video has an audio track
simulated           boolean                 produced by the Crun simulator, not the real service
sweep_id            string                  the sweep this task belongs to
repeat              Int64                   the repeat number within the sweep
tags                object (list[str])      user tags
rating              Int64                   user rating
notes               string                  user notes
request_hash        string                  hash of the request (identical requests attach, not pay twice)
media_error         string                  why the media could not be archived (e.g. ``expired``)
payload             string                  the exact CreateTask JSON body (never holds a key)
local_paths         string                  JSON {uploaded URL: local file it came from}, or NA
updated_at          datetime64[us, UTC]     last change of the row
reference_files     object (list[str])      file names of the local files uploaded as references, in request
                                            order (``[]`` when every reference was a URL; schema 2)
==================  ======================  ==========================================================

The last TaskInfo answer is stored too but kept out of the frame (it is large): ``log.task_info(local_id)``.
``log.view()`` shows a compact table of the recent tasks in a notebook; ``df()`` keeps every column.
Example:
    >>> import tempfile, pathlib
    >>> log = TaskLog(pathlib.Path(tempfile.mkdtemp()) / "tasks.sqlite")
    >>> len(log), list(log.df().columns[:3])
    (0, ['local_id', 'task_id', 'status'])
"""

from __future__ import annotations

from ._log import TaskLog

__all__ = ["TaskLog"]
