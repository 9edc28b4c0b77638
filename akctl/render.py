"""Everything akctl shows: one stdout console, one stderr console, shared styles.

rich is imported on first use (``render.out``, ``render.err``, ``table``, ``escape``):
a command that prints JSON or nothing never pays for it, and akctl starts faster.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    out: Console
    err: Console


def __getattr__(name: str) -> Any:
    """``out`` and ``err``: the consoles, made on first use."""
    if name not in ("out", "err"):
        raise AttributeError(name)
    from rich.console import Console

    if name == "out":
        # Piped output is not cut to 80 columns: tables keep whole ids and URLs.
        width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
        console = Console(highlight=False, soft_wrap=True, width=width)
    else:
        console = Console(stderr=True, highlight=False)
    globals()[name] = console
    return console


def escape(text: str) -> str:
    """Text shown inside rich markup, with its own ``[...]`` made literal."""
    from rich.markup import escape as rich_escape

    return rich_escape(text)


STATE_STYLES = {
    "created": "cyan",
    "running": "blue",
    "completed": "green",
    "error": "red",
    "stopped": "yellow",
    "active": "green",
    "draining": "yellow",
    "inactive": "dim",
    "testing": "magenta",
    "pending": "cyan",
    "dispatched": "green",
    "skipped": "dim",
}


def state(value: str) -> str:
    return f"[{STATE_STYLES.get(value, 'white')}]{escape(value)}[/]"


def print_json(data: Any) -> None:
    """Machine output: plain JSON on stdout, no colours, no wrapping."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def relative(value: str | None) -> str:
    """``3s ago``, ``5m ago``, ``2h ago``, ``4d ago``."""
    t = parse_time(value)
    if t is None:
        return "-"
    secs = (datetime.now(UTC) - t).total_seconds()
    return f"{human_duration(max(0.0, secs))} ago"


@functools.lru_cache(maxsize=4096)
def local_time(value: str | None) -> str:
    t = parse_time(value)
    return t.astimezone().strftime("%Y-%m-%d %H:%M:%S") if t else "-"


def human_duration(secs: float | None) -> str:
    if secs is None:
        return "-"
    if secs < 1:
        return f"{secs * 1000:.0f}ms"
    if secs < 60:
        return f"{secs:.1f}s"
    if secs < 3600:
        return f"{int(secs // 60)}m{int(secs % 60):02d}s"
    if secs < 86400:
        return f"{int(secs // 3600)}h{int(secs % 3600 // 60):02d}m"
    return f"{int(secs // 86400)}d{int(secs % 86400 // 3600):02d}h"


def table(*columns: str) -> Table:
    """A borderless table; only free-text columns wrap, ids and states never do."""
    from rich.table import Table

    t = Table(box=None, header_style="bold", pad_edge=False, show_edge=False)
    for c in columns:
        wraps = c in ("ENTRYPOINT", "CALL", "URL", "TEXT", "WEBHOOK URL", "DETAILS")
        t.add_column(c, no_wrap=not wraps, overflow="fold")
    return t


def error_line(message: str, hint: str = "") -> None:
    console: Console = __getattr__("err")
    console.print(f"[red]error:[/] {escape(message)}")
    if hint:
        console.print(f"[dim]hint:[/] {escape(hint)}")
