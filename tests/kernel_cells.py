"""Run code in a real ipykernel the way a notebook does, and collect what it printed and raised."""

from __future__ import annotations

from typing import Any


def execute(client: Any, code: str, timeout: float = 90) -> tuple[str, list[str]]:
    """Run ``code`` as one cell on a ``BlockingKernelClient``; return (printed text, ``"Name: value"`` errors)."""
    printed: list[str] = []
    errors: list[str] = []

    def collect(message: dict[str, Any]) -> None:
        if message["msg_type"] == "stream":
            printed.append(message["content"]["text"])
        elif message["msg_type"] == "error":
            errors.append(f"{message['content']['ename']}: {message['content']['evalue']}")

    client.execute_interactive(code, output_hook=collect, timeout=timeout)
    return "".join(printed), errors
