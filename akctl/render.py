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
        # soft_wrap: an error line stays one line (the terminal wraps it, a pipe keeps it whole).
        console = Console(stderr=True, highlight=False, soft_wrap=True)
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


# Columns holding ids: never wrapped, folded or cut, so they stay whole and copyable.
ID_COLUMNS = frozenset({"SESSION", "DEPLOYMENT", "BUILD", "PROJECT", "EVENT", "ACTIVE DEPLOYMENT", "SESSIONS"})
# Free-text columns: they wrap (down to a few characters) before anything is dropped.
WRAPPING_COLUMNS = frozenset({"ENTRYPOINT", "CALL", "URL", "TEXT", "WEBHOOK URL", "DETAILS", "ROOT DIR"})
# What goes first when a table is wider than the terminal, most expendable first.
DROP_ORDER = (
    "UPDATED",
    "CREATED",
    "SESSIONS BY STATE",
    "DIGEST",
    "REQUIREMENTS",
    "SIZE",
    "ROOT DIR",
    "DURATION",
    "ENTRYPOINT",
    "CALL",
    "STEPS",
    "MAX",
    "P95",
    "LIVE",
    "STOPPED",
    "TYPE",
    "STATE",
)
_MIN_WRAP = 12


def table(*columns: str) -> Table:
    """A borderless table that fits the terminal without touching its ids.

    Free-text columns wrap; when that is not enough, whole columns go in
    ``DROP_ORDER`` (times first); id columns are never wrapped or cut.
    """
    from rich.table import Table

    class FitTable(Table):
        def __rich_console__(self, console: Any, options: Any) -> Any:
            fit_columns(self, options.max_width)
            return super().__rich_console__(console, options)

    t = FitTable(box=None, header_style="bold", pad_edge=False, show_edge=False)
    for c in columns:
        ident = c in ID_COLUMNS
        t.add_column(c, no_wrap=c not in WRAPPING_COLUMNS, overflow="ignore" if ident else "ellipsis")
    return t


def fit_columns(t: Table, width: int) -> None:
    """Drop expendable columns of ``t`` until what cannot wrap fits in ``width``."""
    needed = {str(c.header): column_width(c) for c in t.columns}
    while sum(needed.values()) + 2 * max(0, len(needed) - 1) > width:  # 2: the padding between columns
        drop = next((name for name in DROP_ORDER if name in needed), None)
        if drop is None:
            return
        del t.columns[list(needed).index(drop)]
        del needed[drop]


def column_width(c: Any) -> int:
    """The narrowest column ``c`` can be with its no-wrap cells whole."""
    from rich.cells import cell_len
    from rich.text import Text

    texts = [v for v in (c.header, *c.cells) if isinstance(v, str)]
    widest = max((cell_len(line) for v in texts for line in Text.from_markup(v).plain.split("\n")), default=0)
    return min(widest, _MIN_WRAP) if str(c.header) in WRAPPING_COLUMNS else widest


def error_json(message: str, code: str, exit_code: int, hint: str = "") -> None:
    """An error with ``--json``: one JSON object on stderr (stdout stays for data)."""
    body: dict[str, Any] = {"error": message, "code": code, "exit_code": exit_code}
    if hint:
        body["hint"] = hint
    sys.stderr.write(json.dumps(body) + "\n")
    sys.stderr.flush()


def error_line(message: str, hint: str = "") -> None:
    console: Console = __getattr__("err")
    console.print(f"[red]error:[/] {escape(message)}")
    if hint:
        console.print(f"[dim]hint:[/] {escape(hint)}")
