"""The report's ``index.html``: pure rendering of a manifest (every text escaped, inline CSS, no script).

Nothing in the page points at the network: players, posters and contact sheets are relative paths inside
the report folder; URLs of a payload appear only as escaped text.

Example:
    >>> page = render_page({"title": "<b>t</b>", "tasks": [], "groups": [], "versions": {}}, [])
    >>> "&lt;b&gt;t&lt;/b&gt;" in page, "<script" in page
    (True, False)
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .._limits import MODEL_TITLES

__all__ = ["parameters", "render_page"]

Entry = Mapping[str, Any]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2937;background:#fff}
h1{margin:0 0 4px}h2{margin:28px 0 8px;border-bottom:1px solid #e5e7eb}
.meta,.muted{color:#6b7280;font-size:12px}.notes{white-space:pre-wrap;max-width:70em}
table{border-collapse:collapse;margin:6px 0}th,td{border:1px solid #e5e7eb;padding:3px 8px;text-align:right}
th{background:#f9fafb}td.l,th.l{text-align:left}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(300px,1fr));gap:14px}
.card{border:1px solid #e5e7eb;border-radius:6px;padding:8px;overflow-wrap:anywhere}
.card.failed{border-color:#fca5a5;background:#fef2f2}
video,img.thumb{width:100%;max-height:340px;background:#000;border-radius:4px}
img.sheet{max-width:100%;border:1px solid #e5e7eb}
.err{color:#b91c1c}pre{white-space:pre-wrap;font-size:12px;background:#f3f4f6;padding:6px;border-radius:4px}
.wide{overflow-x:auto}.pair{display:grid;grid-template-columns:1fr 1fr;gap:14px;margin-bottom:14px}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _number(value: Any, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}".rstrip("0").rstrip(".") if value != int(value) else f"{value:.0f}"
    return _e(value)


def parameters(entry: Entry) -> dict[str, str]:
    """The parameters of a task as short texts (model, resolution, ratio, duration, audio, references).

    Example:
        >>> parameters({"payload": {"model": "bytedance/seedance2-0-mini-r2v", "input": {"duration": 4,
        ...             "resolution": "480p", "audio": False, "reference_images": ["a", "b"]}}})
        {'model': 'Seedance 2.0 Mini', 'resolution': '480p', 'duration': '4s', 'audio': 'no audio',
         'references': '2 images'}
    """
    payload = entry.get("payload") or {}
    found = payload.get("input")
    fields: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
    shown: dict[str, str] = {}
    model = payload.get("model")
    if model:
        shown["model"] = MODEL_TITLES.get(str(model), str(model))
    for name in ("resolution", "aspect_ratio"):
        if fields.get(name) is not None:
            shown[name] = str(fields[name])
    if fields.get("duration") is not None:
        shown["duration"] = f"{fields['duration']}s"
    if "audio" in fields:
        shown["audio"] = "+audio" if fields["audio"] else "no audio"
    if fields.get("return_last_frame"):
        shown["return_last_frame"] = "+last frame"
    counts = [f"{len(fields[name])} {word}{'s' if len(fields[name]) != 1 else ''}"
              for name, word in (("reference_images", "image"), ("reference_videos", "video"),
                                 ("reference_audios", "audio")) if isinstance(fields.get(name), list) and fields[name]]
    if counts:
        shown["references"] = ", ".join(counts)
    return shown


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th class='l'>{_e(c)}</th>" if frame[c].dtype == object or str(frame[c].dtype) in ("string", "str")
                   else f"<th>{_e(c)}</th>" for c in frame.columns)
    body = []
    for record in frame.to_dict("records"):
        cells = "".join(f"<td class='l'>{_e(v)}</td>" if isinstance(v, str) else f"<td>{_number(v, 3)}</td>"
                        for v in record.values())
        body.append(f"<tr>{cells}</tr>")
    return f"<div class='wide'><table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"


def _player(entry: Entry) -> str:
    media = entry.get("media") or {}
    if media.get("file"):
        poster = f' poster="{_e(media["thumbnail"])}"' if media.get("thumbnail") else ""
        return (f'<video src="{_e(media["file"])}"{poster} controls playsinline preload="metadata"></video>')
    if entry.get("status") == "success":
        why = entry.get("media_error") or "the video was not archived locally"
        return f"<p class='err'>no local copy of the video ({_e(why)})</p>"
    return ""


def _figures(entry: Entry) -> str:
    bits = [f"<b>{_e(entry.get('status'))}</b>", f"{_number(entry.get('credits'))} credits",
            f"{_number(entry.get('elapsed_s'), 1)} s"]
    if entry.get("rating") is not None:
        bits.append(f"rating {_e(entry['rating'])}")
    if entry.get("repeat") is not None:
        bits.append(f"repeat {_e(entry['repeat'])}")
    return " · ".join(bits)


def _error(entry: Entry) -> str:
    if not (entry.get("error_code") or entry.get("error_message")):
        return ""
    code = f"{entry['error_code']} · " if entry.get("error_code") is not None else ""
    return f"<p class='err'>{_e(code)}{_e(entry.get('error_message') or '')}</p>"


def _details(entry: Entry) -> str:
    media = entry.get("media") or {}
    refs = "".join(f"<tr><td class='l'>{_e(r.get('field'))}[{_e(r.get('index'))}]</td><td class='l'>{_e(r.get('url'))}"
                   f"</td><td class='l'>{_e(r.get('local_file') or '')}</td><td class='l'>"
                   f"{_e(r.get('sha256') or '(file not at hand: the URL identifies it)')}</td></tr>"
                   for r in entry.get("references") or [])
    ref_table = (f"<table><tr><th class='l'>reference</th><th class='l'>URL</th><th class='l'>local file</th>"
                 f"<th class='l'>sha256</th></tr>{refs}</table>") if refs else ""
    payload = json.dumps(entry.get("payload") or {}, indent=2, ensure_ascii=False)
    return (f"<details><summary>payload, checksums</summary>"
            f"<p class='muted'>local id {_e(entry.get('local_id'))} · task {_e(entry.get('task_id') or '–')} · "
            f"sweep {_e(entry.get('sweep_id') or '–')}<br>request hash {_e(entry.get('request_hash') or '–')}<br>"
            f"media sha256 {_e(media.get('sha256') or '–')}</p>{ref_table}<pre>{_e(payload)}</pre></details>")


def _card(entry: Entry, differing: set[str]) -> str:
    params = parameters(entry)
    shown = " · ".join(text for name, text in params.items() if name in differing)
    failed = " failed" if entry.get("status") not in ("success", None) else ""
    prompt = (entry.get("payload") or {}).get("input", {}).get("prompt", entry.get("prompt"))
    return (f"<article class='card{failed}' id='task-{_e(entry.get('local_id'))}'>{_player(entry)}"
            f"<p><b>{_e(prompt)}</b></p><p class='muted'>{_e(shown)}</p><p>{_figures(entry)}</p>"
            f"{_error(entry)}{_details(entry)}</article>")


def _split(tasks: Sequence[Entry]) -> tuple[dict[str, str], set[str]]:
    known = [parameters(t) for t in tasks]
    names = {n for p in known for n in p}
    differing = {n for n in names if len({p.get(n) for p in known}) > 1}
    shared = {n: t for n, t in (known[0].items() if known else ()) if n not in differing}
    return shared, differing


def _groups(manifest: Entry, differing: set[str]) -> str:
    by_id = {t.get("local_id"): t for t in manifest.get("tasks") or []}
    parts = []
    for group in manifest.get("groups") or []:
        tasks = [by_id[i] for i in group.get("local_ids", []) if i in by_id]
        sheet = (f"<p><img class='sheet' src='{_e(group['contact_sheet'])}' alt='contact sheet of "
                 f"{_e(group.get('title'))}'></p>") if group.get("contact_sheet") else ""
        cards = "".join(_card(t, differing) for t in tasks)
        parts.append(f"<section class='group'><h2>{_e(group.get('title'))}</h2>{sheet}<div class='cards'>{cards}"
                     "</div></section>")
    return "".join(parts)


def _failed(tasks: Sequence[Entry]) -> str:
    failed = [t for t in tasks if t.get("status") != "success"]
    if not failed:
        return ""
    items = "".join(f"<li><a href='#task-{_e(t.get('local_id'))}'>{_e(t.get('local_id'))}</a> "
                    f"<b>{_e(t.get('status'))}</b> {_error(t) or ''}</li>" for t in failed)
    return f"<section id='failed'><h2>Not succeeded ({len(failed)})</h2><ul>{items}</ul></section>"


def _comparison(comparison: Entry) -> str:
    rows = []
    for first, second in comparison.get("pairs") or []:
        cells = []
        for entry in (first, second):
            cells.append("<div class='card'><p class='muted'>(no counterpart)</p></div>" if entry is None else
                         f"<div class='card'>{_player(entry)}<p><b>{_e(entry.get('prompt'))}</b></p>"
                         f"<p class='muted'>{_e(' · '.join(parameters(entry).values()))}</p>"
                         f"<p>{_figures(entry)}</p>{_error(entry)}</div>")
        rows.append(f"<div class='pair'>{''.join(cells)}</div>")
    summaries = "".join(f"<h3>{_e(caption)}</h3>{_table(frame)}" for caption, frame in comparison.get("summaries", []))
    return (f"<section id='compare'><h2>Side by side: {_e(comparison.get('first_title'))} (left) · this report "
            f"(right)</h2>{summaries}<div class='pair'><b>{_e(comparison.get('first_title'))}</b><b>this report</b>"
            f"</div>{''.join(rows)}</section>")


def render_page(manifest: Entry, summaries: Sequence[tuple[str, pd.DataFrame]],
                comparison: Entry | None = None) -> str:
    """The whole ``index.html`` of a report: header, summary tables, comparison, groups, failures, versions."""
    tasks = manifest.get("tasks") or []
    shared, differing = _split(tasks)
    versions = " · ".join(f"{_e(k)} {_e(v)}" for k, v in (manifest.get("versions") or {}).items())
    notes = f"<p class='notes'>{_e(manifest['notes'])}</p>" if manifest.get("notes") else ""
    sweeps = ", ".join(_e(s) for s in manifest.get("sweep_ids") or []) or "–"
    tables = "".join(f"<h3>{_e(caption)}</h3>{_table(frame)}" for caption, frame in summaries)
    compare = _comparison(comparison) if comparison else ""
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{_e(manifest.get('title'))}"
            f"</title><style>{_CSS}</style></head><body><header><h1>{_e(manifest.get('title'))}</h1>{notes}"
            f"<p class='meta'>{len(tasks)} tasks · sweeps {sweeps} · made {_e(manifest.get('created_at'))}</p>"
            f"<p class='meta'>all: {_e(' · '.join(shared.values()))}</p></header>"
            f"<section id='summary'><h2>Summary</h2>{tables}</section>{compare}{_groups(manifest, differing)}"
            f"{_failed(tasks)}<footer><h2>Versions</h2><p class='meta'>{versions}</p>"
            f"<p class='meta'>manifest.json lists every task's exact payload, media and checksums.</p></footer>"
            "</body></html>\n")
