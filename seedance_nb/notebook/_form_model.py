"""The pure side of ``sn.form()``: widget values ⇄ ``R2VRequest``, the token chips, and the texts it shows.

Nothing here imports ipywidgets or touches the network: the form's widgets render what these functions
compute from the core (``R2VRequest.validate`` for the problems, ``Estimate.describe`` for the cost, the
problem table of ``sn.ValidationError`` for the text), so the form adds no second implementation of them.

Example:
    >>> values = FormValues.of(R2VRequest(prompt="[Image1] waves", reference_images=["https://x.org/a.png"]))
    >>> values.tokens()
    ['[Image1]']
    >>> values.replace(duration=8).request().duration
    8
"""

from __future__ import annotations

import hashlib
import html
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath
from typing import Any

from .._answers import Estimate
from .._limits import DEFAULT_MODEL, MODEL_RESOLUTIONS, MODEL_TITLES, REFERENCE_FIELDS, REFERENCE_KINDS
from .._models import R2VRequest, Reference
from ..errors import _COLUMNS, _VALUE_LIMIT, ExtraFieldsWarning, Problem, mask_keys, safe_text

__all__ = ["KIND_OF", "FormValues", "cost_html", "estimate_payload", "insert_token", "model_options",
           "parse_entry", "pick_resolution", "problems_html", "upload_path"]

# The prompt token of each reference list: reference_images -> "Image".
KIND_OF: Mapping[str, str] = {name: kind for kind, name in REFERENCE_KINDS.items()}
# Local files are priced by shape only: EstimateTask sees them as these placeholder URLs (never fetched).
_PLACEHOLDER = "https://example.com/seedance-nb-estimate/{field}-{index}{suffix}"
_PATH_STARTS = ("/", "~", "./", "../")
_SAFE_NAME = re.compile(r"[^\w.\- ()+,@]")


@dataclass(frozen=True)
class FormValues:
    """What the form's controls hold; ``base`` keeps the fields the form has no control for (``extra``...).

    Example:
        >>> FormValues(prompt="", references={}).request().validate()[0].limit
        'must not be empty or blank'
    """

    prompt: str
    references: Mapping[str, Sequence[Reference]]
    model: str = DEFAULT_MODEL
    resolution: str = "720p"
    aspect_ratio: str = "16:9"
    duration: int = 5
    audio: bool = True
    return_last_frame: bool = False
    base: R2VRequest = field(default_factory=lambda: R2VRequest(prompt=""))

    @classmethod
    def of(cls, request: R2VRequest) -> FormValues:
        """The control values that show ``request`` (the form's prefill).

        Example:
            >>> FormValues.of(R2VRequest(prompt="hi", duration=9, audio=False)).duration
            9
        """
        return cls(prompt=request.prompt if isinstance(request.prompt, str) else str(request.prompt),
                   references={name: tuple(refs) for name, refs in request.references.items()},
                   model=request.model, resolution=request.resolution, aspect_ratio=request.aspect_ratio,
                   duration=request.duration, audio=request.audio, return_last_frame=request.return_last_frame,
                   base=request)

    def replace(self, **changes: Any) -> FormValues:
        """A copy with some values changed."""
        return replace(self, **changes)

    def request(self) -> R2VRequest:
        """The request these values describe (valid or not: ``validate()`` tells).

        Example:
            >>> FormValues(prompt="[Video1]", references={"reference_videos": ["https://x.org/v.mp4"]},
            ...            resolution="480p").request().shape_of(["n_videos", "resolution"])
            {'n_videos': 1, 'resolution': '480p'}
        """
        refs = {name: tuple(self.references.get(name, ())) for name in REFERENCE_FIELDS}
        return self.base.replace(prompt=self.prompt, model=self.model, resolution=self.resolution,
                                 aspect_ratio=self.aspect_ratio, duration=self.duration, audio=self.audio,
                                 return_last_frame=self.return_last_frame, **refs)

    def tokens(self) -> list[str]:
        """The prompt tokens that exist, ``[Image1]``… by count per kind: the chips above the prompt.

        Example:
            >>> FormValues(prompt="", references={"reference_images": ["a", "b"],
            ...                                   "reference_audios": ["c"]}).tokens()
            ['[Image1]', '[Image2]', '[Audio1]']
        """
        return [f"[{KIND_OF[name]}{n}]" for name in REFERENCE_FIELDS
                for n in range(1, len(self.references.get(name, ())) + 1)]


def insert_token(prompt: str, token: str) -> str:
    """``prompt`` with ``token`` added at its end, a space before it and one after (typing goes on from there).

    Example:
        >>> insert_token("a dog runs past", "[Image1]"), insert_token("", "[Video1]")
        ('a dog runs past [Image1] ', '[Video1] ')
    """
    head = prompt.rstrip()
    return f"{head} {token} " if head else f"{token} "


def model_options() -> list[tuple[str, str]]:
    """The model dropdown: (title, Crun model id) for each r2v model.

    Example:
        >>> model_options()[0]
        ('Seedance 2.0 Mini', 'bytedance/seedance2-0-mini-r2v')
    """
    return [(MODEL_TITLES.get(model, model), model) for model in MODEL_RESOLUTIONS]


def pick_resolution(model: str, current: str) -> tuple[tuple[str, ...], str]:
    """The resolutions ``model`` offers and the one to select: ``current`` when offered, else 720p (or the first).

    Example:
        >>> pick_resolution("bytedance/seedance2-0-r2v", "480p")
        (('480p', '720p', '1080p'), '480p')
        >>> pick_resolution("bytedance/seedance2-0-mini-r2v", "1080p")
        (('480p', '720p'), '720p')
    """
    offered = MODEL_RESOLUTIONS.get(model, ("480p", "720p"))
    if current in offered:
        return offered, current
    return offered, "720p" if "720p" in offered else offered[0]


def parse_entry(text: str) -> list[Reference]:
    """What was typed into a reference list's "add" box: URLs and ``asset://`` ids separated by white space.

    A word written as a path (``/…``, ``~/…``, ``./…``) or naming an existing file becomes a ``Path``, a
    local file that ``generate()`` uploads.

    Example:
        >>> parse_entry(" https://x.org/a.png\\n asset://asset-1 /no/such.png")
        ['https://x.org/a.png', 'asset://asset-1', PosixPath('/no/such.png')]
    """
    refs: list[Reference] = []
    for word in text.split():
        if word.startswith(_PATH_STARTS) or (":" not in word and _is_file(word)):
            refs.append(Path(word))
        else:
            refs.append(word)
    return refs


def _is_file(word: str) -> bool:
    try:
        return Path(word).expanduser().is_file()
    except (OSError, ValueError, RuntimeError):
        return False


def upload_path(uploads: Path, name: str, content: bytes) -> Path:
    """Where an uploaded file is kept: ``uploads/<first 16 hex of its SHA-256>/<its own name>``.

    The file keeps its name (the task log's ``reference_files`` records it); the content's digest keeps two
    files of one name apart. Anything that could leave the folder is replaced.

    Example:
        >>> upload_path(Path("/runs/uploads"), "../me.png", b"png").as_posix()
        '/runs/uploads/8f8cbb7dcf46e0bc/me.png'
    """
    safe = _SAFE_NAME.sub("_", PurePath(name.replace("\\", "/")).name).strip(" .") or "upload"
    return uploads / hashlib.sha256(content).hexdigest()[:16] / safe[-120:]


def estimate_payload(request: R2VRequest) -> dict[str, Any]:
    """The EstimateTask body of ``request``, local files standing in as placeholder URLs.

    A price depends on the request's shape only (model, resolution, duration, counts...), so the form
    prices a request before its files are uploaded; nothing fetches the placeholders.

    Raises:
        ValidationError: the request is invalid.

    Example:
        >>> req = R2VRequest(prompt="[Image1] waves", reference_images=[Path("me.png")])
        >>> estimate_payload(req)["input"]["reference_images"]
        ['https://example.com/seedance-nb-estimate/reference_images-0.png']
    """
    stand_ins = {path: _PLACEHOLDER.format(field=name, index=i, suffix=path.suffix.lower()[:6])
                 for name, i, path in request.local_files}
    with warnings.catch_warnings():  # extra fields are warned about when the task is sent, not per keystroke
        warnings.simplefilter("ignore", ExtraFieldsWarning)
        return request.with_uploads(stand_ins).to_payload()


def problems_html(problems: Sequence[Problem], *, checking: bool = False) -> str:
    """The problems as ``sn.ValidationError`` shows them (field, value, what is wrong, fix), as an HTML table.

    Example:
        >>> text = problems_html([Problem("duration", 20, "must be 4–15 seconds", "Use 15.")])
        >>> "1 problem in the request" in text and ">must be 4–15 seconds</td>" in text
        True
        >>> problems_html([])
        '<span style="color:#15803d">✓ the request is valid</span>'
    """
    note = '<div style="color:#555">checking local files…</div>' if checking else ""
    if not problems:
        return note or '<span style="color:#15803d">✓ the request is valid</span>'
    count = len(problems)
    head = "".join(f"<th style='text-align:left;padding-right:12px'>{html.escape(name)}</th>" for name, _ in _COLUMNS)
    cell = "<td style='padding:1px 12px 1px 0;vertical-align:top'>{}</td>"
    rows = "".join("<tr>" + "".join(cell.format(html.escape(mask_keys(text))) for text in
                                    (p.field, safe_text(p.value, _VALUE_LIMIT), p.limit, p.fix)) + "</tr>"
                   for p in problems)
    return (f'<div style="color:#b91c1c"><b>{count} problem{"s" if count != 1 else ""} in the request</b> '
            f"(Generate is off until {'they are' if count != 1 else 'it is'} fixed)</div>"
            f'<table style="font-size:90%;border-collapse:collapse"><tr>{head}</tr>{rows}</table>{note}')


def cost_html(estimate: Estimate | None = None, *, balance: float | None = None, error: str | None = None) -> str:
    """The cost line: the estimate and the balance, the balance alone, or why the estimate is unavailable.

    Example:
        >>> cost_html(Estimate(23.2, 100.0, True))
        '<span>estimate: about 23.2 credits; the balance is 100</span>'
        >>> cost_html(balance=7.5)
        '<span>balance: 7.5 credits · the estimate shows once the request is valid</span>'
        >>> cost_html(error="TransportError: no answer")
        '<span style="color:#b45309">estimate unavailable: TransportError: no answer</span>'
    """
    if error is not None:
        return f'<span style="color:#b45309">estimate unavailable: {html.escape(mask_keys(error))}</span>'
    if estimate is None:
        shown = f"{balance:g} credits" if balance is not None else "unknown"
        return f"<span>balance: {shown} · the estimate shows once the request is valid</span>"
    warning = "" if estimate.affordable else \
        ' <b style="color:#b91c1c">— the balance cannot pay for it (top up, or lower duration or resolution)</b>'
    return f"<span>estimate: {html.escape(estimate.describe())}{warning}</span>"
