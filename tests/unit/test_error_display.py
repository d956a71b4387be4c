"""How a SeedanceError looks in IPython and Jupyter (issue 9): a short display, not a traceback.

IPython shows an exception through its ``_render_traceback_()`` when it has one (TESTING.md). While IPython
handles the error a cell raised, ours returns the message (a ``ValidationError``: a table of its problems)
and "(full traceback: run %tb)"; ``%tb`` calls it again later and gets the full traceback. Plain Python
(``str``, tracebacks in scripts) is unchanged. Keys never show, in either display.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

import seedance_nb as sn

KEY = "ak_" + "k" * 32
HINT = "(full traceback: run %tb)"
BAD = ("sn.R2VRequest(prompt='[Image2] dances', reference_images=['https://x.org/a.png'], duration=20, "
       "resolution='4k')")


def shown_in_ipython(error: sn.SeedanceError) -> list[str]:
    """What IPython shows for ``error`` raised by a cell: it calls the hook while handling the error."""
    try:
        raise error
    except sn.SeedanceError as exc:
        return exc._render_traceback_()


def raise_from_the_toolkit() -> None:
    sn.R2VRequest(prompt="[Image1] x", reference_images=["https://x.org/a.png"], duration=20).check()


# The table ----------------------------------------------------------------------------------------------------

def test_a_validation_error_shows_its_problems_as_a_table() -> None:
    error = sn.ValidationError([
        sn.Problem("prompt", "[Image2]", "refers to Image 2 but the request has only 1 image", "Use [Image1]."),
        sn.Problem("resolution", "4k", "must be one of 480p, 720p", "Use one of 480p, 720p."),
        sn.Problem("duration", 20, "must be 4–15 seconds", "Use 15."),
    ])
    assert shown_in_ipython(error) == [
        "ValidationError: 3 problems in the request",
        "",
        "  field       value       what is wrong                       fix",
        "  ──────────  ──────────  ──────────────────────────────────  ──────────────────────",
        '  prompt      "[Image2]"  refers to Image 2 but the request   Use [Image1].',
        "                          has only 1 image",
        "",
        '  resolution  "4k"        must be one of 480p, 720p           Use one of 480p, 720p.',
        "",
        "  duration    20          must be 4–15 seconds                Use 15.",
        "",
        "Nothing was sent: fix the request and run the cell again.",
        HINT,
    ]


def test_rows_that_do_not_wrap_have_no_empty_lines_between_them() -> None:
    error = sn.ValidationError([sn.Problem("duration", 20, "must be 4–15 seconds", "Use 15."),
                                sn.Problem("audio", "yes", "must be True or False", "Pass audio=True/False.")])
    assert shown_in_ipython(error)[2:7] == [
        "  field     value  what is wrong          fix",
        "  ────────  ─────  ─────────────────────  ──────────────────────",
        "  duration  20     must be 4–15 seconds   Use 15.",
        '  audio     "yes"  must be True or False  Pass audio=True/False.',
        "",
    ]


def read_back(lines: list[str]) -> list[list[str]]:
    """The table in a display, read back: one [field, value, what is wrong, fix] per row, wrapped cells joined."""
    table = lines[lines.index("") + 1:lines.index("Nothing was sent: fix the request and run the cell again.") - 1]
    starts = [table[0].index(heading) for heading in ("field", "value", "what is wrong", "fix")]
    rows: list[list[str]] = []
    for line in table[2:]:
        if not line:
            continue
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        if cells[0]:
            rows.append(cells)
        else:
            rows[-1] = [f"{old} {new}".strip() for old, new in zip(rows[-1], cells, strict=True)]
    return rows


def test_long_cells_wrap_within_120_characters_and_read_back_whole() -> None:
    fix = "Pass reference_images=[...] (URLs, asset:// ids or Path files) or reference_videos=[...]. " * 2
    problems = [sn.Problem("reference_images", [], "at least one reference image or video is required", fix),
                sn.Problem("extra['seed']", "x" * 200, "must be JSON", "Use a number."),
                sn.Problem("duration", 20, "must be 4–15 seconds", "Use 15.")]
    lines = shown_in_ipython(sn.ValidationError(problems))
    assert all(len(line) <= 120 for line in lines)
    rows = read_back(lines)
    squeezed = [["".join(cell.split()) for cell in row] for row in rows]
    assert squeezed[0] == ["reference_images", "[]", "".join(problems[0].limit.split()), "".join(fix.split())]
    assert squeezed[1][1] == '"' + "x" * 38 + "…"  # values are cut as Problem cuts them (40 characters)
    assert rows[2] == ["duration", "20", "must be 4–15 seconds", "Use 15."]


def test_a_validation_error_from_the_rules_names_every_field() -> None:
    problems = sn.R2VRequest(prompt=" ", duration=3).validate(check_files=False)
    lines = shown_in_ipython(sn.ValidationError(problems))
    assert lines[0] == "ValidationError: 3 problems in the request"
    assert [row[0] for row in read_back(lines)] == ["prompt", "reference_images", "duration"]
    assert lines.count("Nothing was sent: fix the request and run the cell again.") == 1
    assert lines[-1] == HINT


def test_one_problem_is_singular() -> None:
    lines = shown_in_ipython(sn.ValidationError([sn.Problem("duration", 20, "must be 4–15 seconds", "Use 15.")]))
    assert lines[0] == "ValidationError: 1 problem in the request"


# Keys ---------------------------------------------------------------------------------------------------------

def test_keys_never_show_in_the_table_even_where_a_cell_wraps() -> None:
    problem = sn.Problem(f"extra[{KEY!r}]", KEY, f"saw {KEY} here", f"Remove {KEY}; the client sends the key.")
    lines = shown_in_ipython(sn.ValidationError([problem]))
    assert not any("kkkkkk" in line for line in lines), lines  # a wrapped key would leave a long run of k
    assert any("ak_kkk…" in line for line in lines)


def test_keys_never_show_in_other_errors_nor_in_the_full_traceback() -> None:
    error = sn.TransportError(f"no answer from https://x.org/?key={KEY}")
    error.__cause__ = httpx.ConnectError(f"refused for {KEY}")
    short = shown_in_ipython(error)
    assert any("ak_kkk…" in line for line in short) and not any("kkkkkk" in line for line in short)
    full = error._render_traceback_()  # outside the handling: as %tb asks for it
    assert full != short and not any("kkkkkk" in line for line in full)


# Other errors -------------------------------------------------------------------------------------------------

def test_other_errors_show_their_message_their_cause_and_the_hint() -> None:
    try:
        try:
            raise httpx.ConnectError("[Errno 111] Connection refused")
        except httpx.ConnectError as exc:
            raise sn.TransportError("no answer from Crun; it is safe to retry") from exc
    except sn.TransportError as exc:
        lines = exc._render_traceback_()
    assert lines == ["TransportError: no answer from Crun; it is safe to retry",
                     "caused by ConnectError: [Errno 111] Connection refused", HINT]
    error = sn.AuthenticationError("invalid key", status_code=401, code=401, endpoint="CreateTask")
    assert shown_in_ipython(error) == [f"AuthenticationError: {error}", HINT]


def test_an_implicit_context_is_not_shown_and_a_cause_that_cannot_print_is_named() -> None:
    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    try:
        try:
            raise KeyError("noise")
        except KeyError:
            raise sn.MediaError("the result could not be archived") from None
    except sn.MediaError as exc:
        assert exc._render_traceback_() == ["MediaError: the result could not be archived", HINT]
    error = sn.MediaError("broken")
    error.__cause__ = Unprintable()
    assert shown_in_ipython(error)[1] == "caused by Unprintable: <message could not be shown>"


# Plain Python and %tb -----------------------------------------------------------------------------------------

def test_str_is_unchanged() -> None:
    error = sn.ValidationError([sn.Problem("duration", 20, "must be 4–15 seconds", "Use 15."),
                                sn.Problem("prompt", "", "must not be empty or blank", "Describe the video.")])
    assert str(error) == ("2 problems in the request (nothing was sent):\n"
                          "  - duration = 20: must be 4–15 seconds. Use 15.\n"
                          '  - prompt = "": must not be empty or blank. Describe the video.')


def test_called_again_later_as_tb_does_it_is_the_full_traceback() -> None:
    with pytest.raises(sn.ValidationError) as caught:
        raise_from_the_toolkit()
    full = caught.value._render_traceback_()
    text = "\n".join(full)
    assert "Traceback" in text and "raise_from_the_toolkit" in text and "_models.py" in text
    assert "  - duration = 20: must be 4–15 seconds. Use 15." in text


def test_a_script_still_prints_the_plain_traceback(tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text(f"import seedance_nb as sn\n{BAD}.check()\n")
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):")
    assert "_models.py" in done.stderr and "  - duration = 20: must be 4–15 seconds. Use 15." in done.stderr
    assert HINT not in done.stderr and "─" not in done.stderr


# A real IPython shell and a real kernel ---------------------------------------------------------------------

def run_ipython_cells(tmp_path: Path, *cells: str) -> list[str]:
    """Run ``cells`` one by one in a fresh IPython shell; the output of each cell, in order."""
    code = "ip = get_ipython()\n" + "".join(f"print('=== cell'); _ = ip.run_cell({cell!r})\n" for cell in cells)
    done = subprocess.run([sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=nocolor",
                           "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")})
    assert done.returncode == 0, done.stderr
    return done.stdout.split("=== cell\n")[1:]


def test_ipython_shows_the_table_and_none_of_the_toolkits_frames(tmp_path: Path) -> None:
    _, checked, generated, full = run_ipython_cells(
        tmp_path, "import seedance_nb as sn", f"{BAD}.check()", f"sn.generate_sync({BAD})", "%tb")
    for shown in (checked, generated):
        assert shown.startswith("ValidationError: 3 problems in the request\n")
        assert 'prompt      "[Image2]"  refers to Image 2 but the request' in shown
        assert "[Image1]." in shown and "[Image1]…" not in shown  # the one-image hint (issue 9)
        assert "Nothing was sent: fix the request and run the cell again." in shown
        assert shown.rstrip().endswith(HINT)
        for frame_text in ("Traceback", "_models.py", "submit.py", "sync.py", "async def generate", "Args:"):
            assert frame_text not in shown
    assert "Traceback" in full and "submit.py" in full and "_models.py" in full  # %tb: everything


def test_a_jupyter_kernel_sends_the_table_as_the_error_output() -> None:
    # The notebook's path: ipykernel puts the hook's lines in the `error` message JupyterLab renders.
    manager_module = pytest.importorskip("jupyter_client.manager")
    manager, client = manager_module.start_new_kernel(kernel_name="python3", startup_timeout=60)

    def errors_of(code: str) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        client.execute_interactive(code, output_hook=messages.append, timeout=60)
        return [message["content"] for message in messages if message["msg_type"] == "error"]

    try:
        assert errors_of("import seedance_nb as sn") == []
        (error,) = errors_of(f"sn.generate_sync({BAD})")
        assert error["ename"] == "ValidationError"
        lines = error["traceback"]
        assert lines[0] == "ValidationError: 3 problems in the request" and lines[-1] == HINT
        assert [row[0] for row in read_back(lines)] == ["prompt", "resolution", "duration"]
        assert not any("submit.py" in line or "Traceback" in line for line in lines)
        (full,) = errors_of("%tb")
        assert any("submit.py" in line for line in full["traceback"])
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
