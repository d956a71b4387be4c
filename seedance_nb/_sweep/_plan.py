"""The plan of a sweep, pure: a base request, a grid and prompts expanded into the tasks to run.

The grid is a cartesian product over request fields (``model`` and whole reference sets included);
``prompts`` is one more axis (a list) or a template whose ``{placeholders}`` name grid keys. Grid keys that
are not request fields are allowed only as template placeholders. Repeats are the outermost loop, so a
sweep stopped by its budget has run each combination once before any twice.

Example:
    >>> plan = expand({"prompt": "[Image1] waves", "reference_images": ["https://x.org/a.png"]},
    ...               grid={"duration": [4, 8], "aspect_ratio": ["16:9", "9:16"]}, repeats=2)
    >>> len(plan), plan[0].label, plan[5].repeat
    (8, 'duration=4, aspect_ratio=16:9', 1)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import string
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from pathlib import Path
from typing import Any

from .._limits import REFERENCE_FIELDS
from .._models import R2VRequest
from ..errors import Problem, ValidationError, safe_text

__all__ = ["Planned", "check_plan", "expand", "sweep_id_of", "template_names"]

_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(R2VRequest))
_DEFAULTS: dict[str, Any] = {
    f.name: (f.default if f.default is not MISSING else f.default_factory() if f.default_factory is not MISSING
             else None) for f in fields(R2VRequest)}


@dataclass(frozen=True)
class Planned:
    """One task of a sweep: its place in the plan, its request, its repeat and its grid values."""

    index: int
    request: R2VRequest
    repeat: int
    values: Mapping[str, Any]

    @property
    def label(self) -> str:
        """The grid values of this task, as ``key=value, ...`` (names a combination in messages).

        Example:
            >>> Planned(0, R2VRequest(prompt="hi"), 0, {"model": "m", "duration": 4}).label
            'model=m, duration=4'
        """
        return ", ".join(f"{key}={_short(value)}" for key, value in self.values.items()) or "the base request"


def _short(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return safe_text(value, 60) if not isinstance(value, (str, Path)) else str(value)[:60]


def template_names(template: str) -> list[str]:
    """The placeholder names of a prompt template (``ValueError`` when it is not a valid template).

    Example:
        >>> template_names("[Image1] a {animal} runs in the {place}; {{braces}} stay")
        ['animal', 'place']
    """
    names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    return list(dict.fromkeys(name.split(".")[0].split("[")[0] for name in names))


def _base_fields(base: Any) -> tuple[dict[str, Any], list[Problem]]:
    if isinstance(base, R2VRequest):
        return {name: getattr(base, name) for name in _FIELDS}, []
    if isinstance(base, Mapping):
        unknown = [Problem(f"base[{key!r}]", key, "is not a field of R2VRequest",
                           f"Use one of {', '.join(_FIELDS)}.") for key in base if key not in _FIELDS]
        return {key: value for key, value in base.items() if key in _FIELDS}, unknown
    return {}, [Problem("base", safe_text(base, 60), "must be an R2VRequest or a dict of its fields",
                        "Pass sn.R2VRequest(prompt=..., ...) or {'prompt': ..., ...}.")]


def _axis(key: Any, values: Any) -> tuple[list[Any], list[Problem]]:
    if not isinstance(key, str):
        return [], [Problem("grid", safe_text(key, 60), "has a key that is not a string", "Name a request field.")]
    if isinstance(values, (str, bytes, Mapping)) or not isinstance(values, Sequence) or not values:
        return [], [Problem(f"grid[{key!r}]", safe_text(values, 60), "must be a non-empty list of values",
                            f"Write grid={{{key!r}: [value1, value2]}}.")]
    if key in REFERENCE_FIELDS:  # each value is a whole reference set; a lone reference is a set of one
        return [tuple(v) if isinstance(v, (list, tuple)) else (v,) for v in values], []
    return list(values), []


def _prompts_axis(prompts: Any, grid: Mapping[str, Any]) -> tuple[list[str] | None, str | None, list[Problem]]:
    """(list of prompts, template, problems): prompts given as a list, or as one template."""
    if prompts is None:
        return None, None, []
    if isinstance(prompts, str):
        try:
            names = template_names(prompts)
        except ValueError as exc:
            return None, None, [Problem("prompts", prompts, f"is not a valid template ({exc})",
                                        "Write placeholders as {name}; double literal braces: {{ }}.")]
        return None, prompts, [
            Problem("prompts", f"{{{name}}}", "names no grid key", f"Add grid={{{name!r}: [...]}} or remove it.")
            for name in names if name not in grid]
    if not isinstance(prompts, Sequence) or not prompts or not all(isinstance(p, str) for p in prompts):
        return None, None, [Problem("prompts", safe_text(prompts, 60), "must be a list of prompts or one template",
                                    "Pass prompts=['[Image1] waves', '[Image1] jumps'] or a '{placeholder}' text.")]
    return list(prompts), None, []


def _check_keys(grid: Mapping[str, Any], prompts: Any, template: str | None) -> list[Problem]:
    used = set(template_names(template)) if template else set()
    problems = []
    for key in grid:
        if key == "prompt" and prompts is not None:
            problems.append(Problem("grid['prompt']", key, "is given twice (grid and prompts=)",
                                    "Give the prompts in one place: prompts=[...]."))
        elif isinstance(key, str) and key not in _FIELDS and key not in used:
            problems.append(Problem(f"grid[{key!r}]", key, "is not a field of R2VRequest nor a placeholder of "
                                    "the prompt template", f"Use one of {', '.join(_FIELDS)}."))
    return problems


def expand(base: R2VRequest | Mapping[str, Any], grid: Mapping[str, Sequence[Any]] | None = None,
           prompts: Sequence[str] | str | None = None, repeats: int = 1) -> list[Planned]:
    """Every task of a sweep, in plan order (repeats outermost, then prompts, then the grid keys in order).

    Raises:
        ValidationError: every problem of the arguments at once (a placeholder naming no grid key, an
            unknown field, a repeated combination...). The requests themselves are checked by ``check_plan``.

    Example:
        >>> plan = expand({"reference_images": ["https://x.org/a.png"]}, grid={"animal": ["cat", "dog"]},
        ...               prompts="[Image1] a {animal} runs")
        >>> [p.request.prompt for p in plan]
        ['[Image1] a cat runs', '[Image1] a dog runs']
    """
    base_fields, problems = _base_fields(base)
    grid = grid if grid is not None else {}
    if not isinstance(grid, Mapping):
        raise ValidationError([Problem("grid", safe_text(grid, 60), "must be a dict of {field: [values]}",
                                       "Write grid={'duration': [4, 8]}.")])
    listed, template, found = _prompts_axis(prompts, grid)
    problems += found + _check_keys(grid, prompts, template)
    axes: dict[str, list[Any]] = {"prompt": listed} if listed is not None else {}
    for key, values in grid.items():
        axis, found = _axis(key, values)
        axes[key], problems = axis, problems + found
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        problems.append(Problem("repeats", safe_text(repeats, 60), "must be a whole number of at least 1",
                                "Use repeats=1 (each combination once) or more."))
    if "prompt" not in base_fields and listed is None and template is None and "prompt" not in axes:
        problems.append(Problem("prompt", None, "is required", "Give base a prompt, or prompts=[...]."))
    if problems:
        raise ValidationError(problems)
    combos = [dict(zip(axes, combo, strict=True)) for combo in itertools.product(*axes.values())]
    requests = [_request(base_fields, values, template) for values in combos]
    _refuse_twins(requests, combos)
    return [Planned(r * len(combos) + i, request, r, values)
            for r in range(repeats) for i, (request, values) in enumerate(zip(requests, combos, strict=True))]


def _request(base: Mapping[str, Any], values: Mapping[str, Any], template: str | None) -> R2VRequest:
    fields_ = {**base, **{key: value for key, value in values.items() if key in _FIELDS}}
    if template is not None:
        fields_["prompt"] = template.format(**values)
    return R2VRequest(**fields_)


def _refuse_twins(requests: Sequence[R2VRequest], combos: Sequence[Mapping[str, Any]]) -> None:
    seen: dict[str, int] = {}
    problems = []
    for i, request in enumerate(requests):
        try:
            key = request.request_hash()
        except ValidationError:
            continue  # check_plan names it
        if key in seen:
            first = Planned(seen[key], requests[seen[key]], 0, combos[seen[key]]).label
            problems.append(Problem("grid", Planned(i, request, 0, combos[i]).label, f"gives the same request as "
                                    f"{first}", "Remove the repeated value; repeats= runs a request again."))
        seen.setdefault(key, i)
    if problems:
        raise ValidationError(problems)


def check_plan(plan: Sequence[Planned]) -> None:
    """Validate every distinct request of a plan (local files probed) and report all problems at once.

    Each problem's field names the combination it comes from; a problem that every combination shares
    (it is in the base request) is reported once.

    Raises:
        ValidationError: at least one request is invalid (nothing was sent).

    Example:
        >>> plan = expand({"prompt": "[Image1] waves", "reference_images": ["https://x.org/a.png"]},
        ...               grid={"model": ["bytedance/seedance2-0-mini-r2v", "bytedance/seedance2-0-r2v"],
        ...                     "resolution": ["720p", "1080p"]})
        >>> try:
        ...     check_plan(plan)
        ... except ValidationError as exc:
        ...     print(exc.fields)
        ['resolution [model=bytedance/seedance2-0-mini-r2v, resolution=1080p]']
    """
    problems: dict[tuple[str, str, str], Problem] = {}
    for planned in plan:
        if planned.repeat:
            continue
        for problem in planned.request.validate():
            key = (problem.field, safe_text(problem.value, 200), problem.limit)
            if key not in problems:
                where = f"{problem.field} [{planned.label}]" if planned.values else problem.field
                problems[key] = Problem(where, problem.value, problem.limit, problem.fix)
    if problems:
        raise ValidationError(list(problems.values()))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return {"path": str(value)}
    return value


def sweep_id_of(base: R2VRequest | Mapping[str, Any], grid: Mapping[str, Sequence[Any]] | None = None,
                prompts: Sequence[str] | str | None = None, repeats: int = 1) -> str:
    """The stable id of a sweep: a hash of what it asks for, so running it again continues it.

    A dict base and the ``R2VRequest`` with the same fields give the same id.

    Example:
        >>> a = sweep_id_of({"prompt": "hi"}, {"duration": [4, 8]})
        >>> a == sweep_id_of(R2VRequest(prompt="hi"), {"duration": [4, 8]}), a == sweep_id_of({"prompt": "hi"})
        (True, False)
        >>> a.startswith("sweep-"), len(a)
        (True, 18)
    """
    fields_, _ = _base_fields(base)
    canonical = {"base": _plain({**_DEFAULTS, **fields_}), "grid": _plain(dict(grid or {})),
                 "prompts": _plain(prompts), "repeats": repeats}
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return "sweep-" + hashlib.sha256(text.encode()).hexdigest()[:12]
