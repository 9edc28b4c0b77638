"""Confirmation of destructive commands: asked at a terminal, ``--yes`` everywhere else."""

from __future__ import annotations

import sys

import click

from akctl.app import App
from akctl.errors import CliError


def confirm_loss(app: App, yes: bool, action: str, loses: str) -> None:
    """Ask before ``action`` (e.g. "delete project hello"), naming what ``loses`` says is lost.

    Without a terminal on stdin, or with ``--json``, nobody can answer: exit 40 unless
    ``--yes`` was given.
    """
    if yes:
        return
    if not sys.stdin.isatty() or app.as_json:
        raise CliError(f"{action} loses {loses}; add --yes to confirm", 40)
    click.confirm(f"{action[0].upper()}{action[1:]}? This loses {loses}", abort=True)


def plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}{'' if count == 1 else 's'}"
