"""``akctl``: deploy projects and watch sessions of a local akd daemon.

Errors are caught once, here: one red line on stderr and the exit code of DESIGN.md
section 7 (40 bad input, 41 unauthenticated, 42 failed precondition, 43 forbidden,
44 not found, 1 anything else).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from akctl import render
from akctl.commands import connections, daemon, deploy, dev, events, lifecycle, sessions, stats
from akctl.errors import CliError


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


for module in (connections, daemon, deploy, dev, events, lifecycle, sessions, stats):
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


def main() -> None:
    try:
        rv = cli.main(standalone_mode=False)
        if isinstance(rv, int) and rv:
            sys.exit(rv)
    except CliError as exc:
        render.error_line(exc.message, exc.hint)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        render.err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(40 if isinstance(exc, click.UsageError) else exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
