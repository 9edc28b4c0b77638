"""Per-invocation state and the options every command takes."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from akctl.client import Client, default_data_dir, discover

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    data_dir: Path
    as_json: bool
    _client: Client | None = None
    # --data-dir or AKD_DATA_DIR named the data dir; else a running akd elsewhere may be used.
    explicit_data_dir: bool = True
    _located: bool = False

    def daemon_data_dir(self) -> Path:
        """The data dir of the akd to talk to (found among the running ones when none was named)."""
        if not self._located:
            if not self.explicit_data_dir and not os.environ.get("AKD_URL"):
                self.data_dir = discover(self.data_dir)
            self._located = True
        return self.data_dir

    @property
    def client(self) -> Client:
        if self._client is None:
            self._client = Client.locate(self.daemon_data_dir())
        return self._client

    def show(self, data: Any, line: Callable[[], str], **print_options: Any) -> None:
        """``data`` as JSON with ``--json``, else the one line ``line()`` makes (rich
        markup; made only when shown, so JSON output never imports rich)."""
        from akctl import render

        if self.as_json:
            render.print_json(data)
        else:
            render.out.print(line(), **print_options)


def common(f: F) -> F:
    """Adds ``--data-dir`` and ``--json`` and passes an ``App`` as first argument."""

    def wrapper(ctx: click.Context, *args: Any, data_dir: Path | None, as_json: bool | None, **kwargs: Any) -> Any:
        root = ctx.find_root().obj or {}
        named = data_dir or root.get("data_dir")
        app = App(
            data_dir=named or default_data_dir(),
            as_json=bool(as_json if as_json is not None else root.get("as_json")),
            explicit_data_dir=bool(named or os.environ.get("AKD_DATA_DIR")),
        )
        return f(app, *args, **kwargs)

    wrapper.__name__, wrapper.__doc__ = f.__name__, f.__doc__
    command: Any = click.pass_context(wrapper)
    command = click.option(
        "--data-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="akd data directory (default: $AKD_DATA_DIR, then the XDG data home).",
    )(command)
    command = click.option(
        "--json", "as_json", is_flag=True, default=None, help="Print machine-readable JSON on stdout."
    )(command)
    return command  # type: ignore[no-any-return]
