"""``sn.form()``: a control for every field of a request, checked live, and a Generate button.

The form renders what the core computes: ``R2VRequest.validate`` and the local-file checks for the problems
(shown as ``sn.ValidationError`` shows them), ``Client.estimate`` for the cost, ``generate()`` for the run
(its own progress line ticks in ``status``), ``Generation`` for the video and ``Failed`` for an error. The
slow parts (estimates, file checks, previews, saving uploads, the run itself) are background tasks on the
kernel's event loop (``_form_run.py``, ``_form_tasks.py``), so the kernel stays free while a video renders.

Example:
    >>> import seedance_nb as sn
    >>> f = sn.form(prompt="[Image1] waves", reference_images=["https://example.com/a.png"], duration=4)
    >>> f.request().duration, f.generate_button.disabled
    (4, False)
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from .._client import Client
from .._generate.follow import request_from_row
from .._limits import ASPECT_RATIOS, DURATION_RANGE, FINAL_STATUSES, REFERENCE_FIELDS
from .._localfiles import check_local_files
from .._models import R2VRequest
from ..errors import Problem, ValidationError, mask_keys
from ._form_model import FormValues, insert_token, model_options, pick_resolution, problems_html
from ._form_references import ReferenceList
from ._form_run import Runner
from ._form_tasks import Background
from ._progress import prompt_label
from ._rich import rich_html, set_rich_html

if TYPE_CHECKING:
    import asyncio

    from ..tasklog import TaskLog
    from ._generation import Generation
    from ._grid import Failed

__all__ = ["Form", "form"]

# Fields whose controls can only hold valid values: a prefill outside them is refused up front.
_CONTROL_FIELDS = frozenset({"model", "resolution", "aspect_ratio", "duration", "audio", "return_last_frame"})
_WIDE = {"description_width": "initial"}


def form(from_: str | None = None, *, client: Client | None = None, log: TaskLog | None = None,
         **fields: Any) -> Form:
    """A form for one request: edit it, see what is wrong or what it costs, and generate it.

    Args:
        from_: a task log id (``local_id``): prefill every field from that task, to tweak and run it again
            (its local files as paths when they still exist, else the URLs they were uploaded to).
        client: the ``Client`` for estimates and the run (default: one from the environment or
            ``sn.use_simulator()``, built when needed).
        log: the ``TaskLog`` (default: ``$SEEDANCE_NB_HOME/tasks.sqlite``).
        **fields: request fields to prefill (``prompt=``, ``reference_images=[...]``, ``duration=``...).

    Raises:
        ValidationError: ``from_`` is not in the log, a field name is unknown, or a prefilled value is one
            the controls cannot show (a duration of 20, an unknown model...).

    Example:
        >>> import seedance_nb as sn
        >>> sim = sn.use_simulator(latency=0)
        >>> f = sn.form()
        >>> f.generate_button.disabled, "must not be empty or blank" in f.problems.value
        (True, True)
        >>> "SIMULATOR" in f.badge.value
        True
        >>> sn.stop_simulator()
    """
    row = _logged_row(from_, log) if from_ is not None else None
    base = request_from_row(row) if row is not None else None
    request = R2VRequest.from_fields(base, **fields) if base is not None else \
        R2VRequest.from_fields(**{"prompt": "", **fields})
    shown = [p for p in request.validate(check_files=False) if p.field in _CONTROL_FIELDS]
    if not isinstance(request.prompt, str):
        shown.insert(0, Problem("prompt", repr(request.prompt)[:40], "must be a string", "Pass the prompt as text."))
    if shown:
        raise ValidationError(shown)
    made = Form(request, client=client, log=log)
    if row is not None and row.get("status") not in FINAL_STATUSES | {"rejected"}:
        made.status.value = f"<span style='color:#92400e'>{html.escape(_in_flight_note(row), quote=False)}</span>"
    return made


def _in_flight_note(row: Mapping[str, Any]) -> str:
    """What to know before sending again the fields of a task that has not ended."""
    local_id, status = row.get("local_id"), row.get("status")
    if status == "unknown":
        return (f"task {local_id} is unknown (CreateTask got no answer; it may exist and be paid for): "
                f"await sn.resubmit({local_id!r}) sends it again when you are sure it was not created")
    return (f"task {local_id} is still {status}: Generate with these same fields follows it instead of paying "
            "again; await sn.resume() finishes every unfinished task")


def _logged_row(local_id: str, log: TaskLog | None) -> dict[str, Any]:
    from ..tasklog import TaskLog

    row = (log if log is not None else TaskLog()).get(local_id)
    if row is None:
        raise ValidationError([Problem("from_", local_id, "is not in the task log",
                                       "Look it up in sn.TaskLog().df().local_id.")])
    return row


class Form:
    """The widgets of ``sn.form()``; a notebook cell that ends with one shows it.

    Attributes:
        prompt: the prompt (``Textarea``); ``chips`` holds a button per reference token, which inserts it.
        reference_images, reference_videos, reference_audios: the reference lists (``ReferenceList``).
        model, resolution, aspect_ratio: ``Dropdown``s (the resolutions follow the model).
        duration: ``IntSlider`` (4–15 s); audio, return_last_frame: ``Checkbox``es.
        generate_button: Generate, or "Cancel waiting" while a run is followed.
        problems, cost, status, result, badge: ``HTML`` — what is wrong; estimate and balance; the live
            status line; the video or the failure; the SIMULATOR badge.
        task: the ``asyncio.Task`` of the current or latest run (``None`` before the first).
        generation: the ``Generation`` of the latest run, once it returned one; ``failed``: its ``Failed``.
        generate_options: more keyword arguments for ``generate()`` (``timeout=``, ``new=True``...).

    Example:
        >>> import seedance_nb as sn
        >>> f = sn.form(prompt="[Image2] waves", reference_images=["https://example.com/a.png"])
        >>> f
        Form('[Image2] waves', 1 image, 1 problem)
        >>> f.reference_images.add("https://example.com/b.png")
        >>> [chip.description for chip in f.chips.children], f
        (['[Image1]', '[Image2]'], Form('[Image2] waves', 2 images, ready))
    """

    def __init__(self, request: R2VRequest, *, client: Client | None = None, log: TaskLog | None = None) -> None:
        self._base = request
        self._building = True
        self._checked: tuple[Any, list[Problem]] | None = None
        self._checking: Any = None
        self._tokens: list[str] = []
        self._version = 0
        self.generate_options: dict[str, Any] = {}
        self._background = Background(on_error=lambda exc: self._runner.show_error(exc))
        self._build()
        self._runner = Runner(self, self._background, client=client, log=log)
        self._fill(FormValues.of(request))
        self._building = False
        self._changed()

    # -- widgets ----------------------------------------------------------------------------------------
    def _build(self) -> None:
        self.badge = widgets.HTML()
        self.chips = widgets.HBox(layout=widgets.Layout(flex_flow="row wrap"))
        self.prompt = widgets.Textarea(placeholder="Describe the video; the buttons above insert reference tokens",
                                       layout=widgets.Layout(width="100%", height="5em"))
        self.references = {name: ReferenceList(name, self._background, self._changed) for name in REFERENCE_FIELDS}
        self.reference_images, self.reference_videos, self.reference_audios = self.references.values()
        self.model = widgets.Dropdown(options=model_options(), description="model", style=_WIDE)
        self.resolution = widgets.Dropdown(options=pick_resolution(self.model.value, "720p")[0],
                                           description="resolution", style=_WIDE)
        self.aspect_ratio = widgets.Dropdown(options=ASPECT_RATIOS, description="aspect ratio", style=_WIDE)
        self.duration = widgets.IntSlider(min=DURATION_RANGE[0], max=DURATION_RANGE[1], description="duration (s)",
                                          style=_WIDE)
        self.audio = widgets.Checkbox(description="audio", indent=False)
        self.return_last_frame = widgets.Checkbox(description="return last frame", indent=False)
        self.problems, self.cost, self.status = (widgets.HTML() for _ in range(3))
        self.result = rich_html()  # an Output: JupyterLab resolves the video's relative src there (see _rich)
        self.generate_button = widgets.Button(description="Generate", button_style="primary", icon="play")
        self.generate_button.on_click(lambda _: self._runner.clicked())
        self.model.observe(self._model_changed, names="value")
        for control in (self.prompt, self.resolution, self.aspect_ratio, self.duration, self.audio,
                        self.return_last_frame):
            control.observe(lambda _: self._changed(), names="value")
        insert = widgets.HTML("<span style='color:#555'>insert:</span>")
        self.root = widgets.VBox([
            widgets.HBox([widgets.HTML("<b>Seedance · reference to video</b>"), self.badge]),
            *(refs.box for refs in self.references.values()), widgets.HBox([insert, self.chips]), self.prompt,
            widgets.HBox([self.model, self.resolution, self.aspect_ratio]),
            widgets.HBox([self.duration, self.audio, self.return_last_frame]),
            self.problems, self.cost, self.generate_button, self.status, self.result])

    def _fill(self, values: FormValues) -> None:
        self.prompt.value = values.prompt
        for name, refs in self.references.items():
            refs.value = values.references.get(name, ())
        self.model.value = values.model
        options, chosen = pick_resolution(values.model, values.resolution)
        self.resolution.options, self.resolution.value = options, chosen
        self.aspect_ratio.value = values.aspect_ratio
        self.duration.value = values.duration
        self.audio.value, self.return_last_frame.value = values.audio, values.return_last_frame

    def _model_changed(self, change: Mapping[str, Any]) -> None:
        options, chosen = pick_resolution(change["new"], self.resolution.value)
        building, self._building = self._building, True
        try:
            self.resolution.options = options
            self.resolution.value = chosen
        finally:
            self._building = building
        self._changed()

    # -- state ------------------------------------------------------------------------------------------
    def values(self) -> FormValues:
        """What the controls hold now.

        Example:
            >>> import seedance_nb as sn
            >>> sn.form(prompt="hi", duration=6).values().duration
            6
        """
        return FormValues(prompt=self.prompt.value, references={n: r.value for n, r in self.references.items()},
                          model=self.model.value, resolution=self.resolution.value,
                          aspect_ratio=self.aspect_ratio.value, duration=self.duration.value, audio=self.audio.value,
                          return_last_frame=self.return_last_frame.value, base=self._base)

    def draft(self) -> R2VRequest:
        """The request the controls describe, valid or not.

        Example:
            >>> import seedance_nb as sn
            >>> sn.form().draft().prompt
            ''
        """
        return self.values().request()

    def request(self) -> R2VRequest | None:
        """The request Generate would send, or ``None`` while it has problems (or its files are being checked).

        Example:
            >>> import seedance_nb as sn
            >>> sn.form(prompt="[Image1] waves") .request() is None      # no reference yet
            True
        """
        draft = self.draft()
        if draft.validate(check_files=False):
            return None
        return draft if self._file_problems(draft) == [] else None

    @property
    def running(self) -> bool:
        """True while a run is followed (the button then says "Cancel waiting")."""
        return self._runner.running

    @property
    def task(self) -> asyncio.Task[Generation] | None:
        """The ``asyncio.Task`` of the current or latest run (``None`` before the first)."""
        return self._runner.task

    @property
    def generation(self) -> Generation | None:
        """The ``Generation`` the latest run returned (``None`` while it runs, or when it failed)."""
        return self._runner.generation

    @property
    def result_html(self) -> str:
        """The HTML ``result`` shows: the video, the failure with what to do, or nothing yet.

        Example:
            >>> import seedance_nb as sn
            >>> sn.form().result_html
            ''
        """
        outputs = self.result.outputs
        return str(outputs[0]["data"]["text/html"]) if outputs else ""

    @result_html.setter
    def result_html(self, html_text: str) -> None:
        set_rich_html(self.result, html_text)

    @property
    def failed(self) -> Failed | None:
        """The latest run's error as a ``Failed`` (code, message, ``advice()``), or ``None``."""
        return self._runner.failed

    def cancel(self) -> bool:
        """Stop waiting for the running task: it goes on at Crun and ``sn.resume()`` finishes it.

        Returns ``False`` when nothing runs.

        Example:
            >>> import seedance_nb as sn
            >>> sn.form().cancel()
            False
        """
        return self._runner.cancel()

    async def idle(self) -> None:
        """Wait until the form's background work is done: the run, estimates, file checks, previews, uploads.

        Example:
            >>> import asyncio, seedance_nb as sn
            >>> async def main():
            ...     f = sn.form(prompt="[Image1] waves", reference_images=["https://example.com/a.png"], duration=4)
            ...     await f.idle()                              # the estimate comes ~0.5 s after the last change
            ...     return f.cost.value
            >>> asyncio.run(main())
            '<span>estimate: about 23.2 credits; the balance is ...</span>'
        """
        await self._background.idle()

    def _file_problems(self, draft: R2VRequest) -> list[Problem] | None:
        """The problems of the local files of ``draft`` once checked (``[]`` without any); ``None`` meanwhile."""
        if not draft.local_files:
            return []
        key = _files_key(draft)
        if self._checked is not None and self._checked[0] == key:
            return self._checked[1]
        return None

    def _changed(self) -> None:
        """Any control changed: check the request again, look at new local files, and price it (debounced)."""
        if self._building:
            return
        self._version += 1
        draft = self.draft()
        key = _files_key(draft)
        if draft.local_files and self._file_problems(draft) is None and key != self._checking:
            self._checking = key
            self._background.offload(check_local_files, draft, then=lambda found: self._files_checked(key, found))
        self.render()
        self._runner.price_later()

    def _files_checked(self, key: Any, found: list[Problem]) -> None:
        self._checked = (key, found)
        self.render()

    def render(self) -> None:
        """Show the current problems, chips and button state (the form calls it on every change).

        Example:
            >>> import seedance_nb as sn
            >>> f = sn.form(prompt="[Image1] waves", reference_images=["https://example.com/a.png"])
            >>> f.generate_button.disabled = True; f.render()      # what the request allows, shown again
            >>> f.generate_button.disabled
            False
        """
        draft = self.draft()
        quick = draft.validate(check_files=False)
        files = self._file_problems(draft)
        problems = quick + (files or [])
        self.problems.value = problems_html(problems, checking=files is None)
        tokens = self.values().tokens()
        if tokens != self._tokens:
            self._set_chips(tokens)
        why = problems[0].limit if problems else "checking local files…" if files is None else ""
        self._runner.show_button(ready=not problems and files is not None, why=f"{problems[0].field} {why}"
                                 if problems else why)

    def _set_chips(self, tokens: list[str]) -> None:
        old, self._tokens = self.chips.children, tokens
        chips = [widgets.Button(description=token, tooltip=f"insert {token} into the prompt",
                                layout=widgets.Layout(width="auto")) for token in tokens]
        for chip in chips:
            chip.on_click(lambda button: self._insert(button.description))
        self.chips.children = chips
        for chip in old:
            chip.close()

    def _insert(self, token: str) -> None:
        self.prompt.value = insert_token(self.prompt.value, token)

    # -- display ----------------------------------------------------------------------------------------
    def __repr__(self) -> str:
        counts = [f"{len(r.value)} {r.kind.lower()}{'s' if len(r.value) != 1 else ''}"
                  for r in self.references.values() if r.value]
        problems = len(self.draft().validate(check_files=False))
        state = "running" if self.running else "ready" if self.request() is not None else \
            f"{problems} problem{'s' if problems != 1 else ''}" if problems else "checking files"
        return f"Form({', '.join([repr(mask_keys(prompt_label(self.prompt.value, 40))), *counts, state])})"

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        bundle = self.root._repr_mimebundle_(**kwargs)
        if isinstance(bundle, dict):
            bundle["text/plain"] = repr(self)
        return bundle


def _files_key(draft: R2VRequest) -> Any:
    """What the local-file checks of a request depend on: its reference lists."""
    return tuple(draft.references.items())
