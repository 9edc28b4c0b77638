"""The ``akd`` command: run the daemon in the foreground."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from akd.config import Config, ServerConfig, load_config
from akd.daemon import Daemon, remembered_port
from akd.errors import EXIT_CODES, AkdError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="akd", description="Run the akd daemon in the foreground.")
    parser.add_argument("--config", type=Path, help="akd.toml to read (default: <data_dir>/akd.toml)")
    parser.add_argument("--data-dir", type=Path, help="data directory (default: $AKD_DATA_DIR, then XDG data home)")
    parser.add_argument("--port", type=int, help="HTTP port (default 9980; 0 picks a free port)")
    parser.add_argument(
        "--allow-new-database",
        action="store_true",
        help="start with a new, empty akd.db although the data dir shows an earlier one was lost",
    )
    return parser.parse_args(argv)


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop when installed (a dependency; AKD_EVENT_LOOP=asyncio opts out), else asyncio's loop."""
    if os.environ.get("AKD_EVENT_LOOP", "uvloop") != "uvloop":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def with_remembered_port(config: Config, port: int | None) -> Config:
    """Without --port, the port of the last ``--port N`` on this data dir, unless the config
    file or the environment chose one (they read as a port other than the default)."""
    remembered = remembered_port(config.data_dir)
    if port is not None or remembered is None or config.server.port != ServerConfig().port:
        return config
    return replace(config, server=replace(config.server, port=remembered))


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        config = load_config(args.config, data_dir=args.data_dir, port=args.port)
        config = with_remembered_port(config, args.port)
        if args.allow_new_database:
            config = replace(config, store=replace(config.store, allow_new_database=True))
    except AkdError as exc:
        sys.stderr.write(f"akd: {exc.message}\n")
        raise SystemExit(EXIT_CODES.get(exc.code, 1)) from None
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("temporalio").setLevel(logging.WARNING)
    try:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(Daemon(config, remember_port=args.port is not None).run())
    except AkdError as exc:
        sys.stderr.write(f"akd: {exc.message}\n")
        raise SystemExit(EXIT_CODES.get(exc.code, 1)) from None
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
