"""``akctl``: deploy projects and watch sessions of a local akd daemon.

Errors are caught once, here: one red line on stderr (with ``--json``, one JSON object
``{"error", "code", "exit_code"}`` on stderr) and the exit code of DESIGN.md section 7
(2 usage, 40 bad input, 41 unauthenticated, 42 failed precondition, 43 forbidden,
44 not found, 1 anything else).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from akctl import render
from akctl.commands import connections, daemon, debug, deploy, dev, events, lifecycle, mcp, payloads, sessions, stats
from akctl.errors import USAGE_EXIT, CliError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="akd data directory.")
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON on stdout.")
@click.version_option(package_name="akd", prog_name="akctl")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, as_json: bool) -> None:
    """Deploy akd projects and watch their sessions.

    \b
    Quick start:
      akctl up --detach                  # start the daemon (prints its web UI link)
      akctl status                       # which daemon, its data dir, URL and counts
      akctl deploy examples/hello        # deploy a project, print its webhook URLs
      akctl session list                 # what ran
      akctl session prints hello         # the prints of hello's latest session
    """
    ctx.obj = {"data_dir": data_dir, "as_json": as_json}


# debug: last
for module in (connections, daemon, deploy, dev, events, payloads, lifecycle, mcp, sessions, stats, debug):
    module.register(cli)


@cli.command("completion")
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
def completion(shell: str) -> None:
    """Print the shell completion script.

    \b
    Example:
      eval "$(akctl completion bash)"    # in ~/.bashrc
    """
    from click.shell_completion import get_completion_class

    cls = get_completion_class(shell)
    assert cls is not None
    click.echo(cls(cli, {}, "akctl", "_AKCTL_COMPLETE").source())


def wants_json(argv: list[str]) -> bool:
    """Whether ``--json`` was given (read from argv: a usage error may come before click parsed it)."""
    args = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in args


def fail(message: str, exit_code: int, code: str, hint: str = "") -> None:
    if wants_json(sys.argv[1:]):
        render.error_json(message, code, exit_code, hint)
    else:
        render.error_line(message, hint)
    sys.exit(exit_code)


def main() -> None:
    try:
        rv = cli.main(standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except CliError as exc:
        fail(exc.message, exc.exit_code, exc.code, exc.hint)
    except click.exceptions.Abort:
        fail("aborted", 130, "aborted")
    except click.UsageError as exc:
        if not wants_json(sys.argv[1:]):
            exc.show()
            sys.exit(USAGE_EXIT)
        fail(exc.format_message(), USAGE_EXIT, "usage", exc.ctx.get_usage() if exc.ctx else "")
    except click.ClickException as exc:
        if not wants_json(sys.argv[1:]):
            exc.show()
            sys.exit(exc.exit_code)
        fail(exc.format_message(), exc.exit_code, "error")
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
