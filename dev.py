#!/usr/bin/env python3
"""Set up and run akd from a fresh clone, with nothing but Python 3.11+.

    python3 dev.py demo [--port N]  # venv + install, start akd in the background, deploy examples/hello
    python3 dev.py test   # venv + install, then ruff, mypy and the whole pytest suite

Uses only the standard library until the virtual environment exists.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"


def run(*cmd: str | Path, **kw: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kw)  # type: ignore[call-overload]


def setup() -> None:
    """Create .venv and install akd with its test tools (quietly, idempotently)."""
    if sys.version_info < (3, 11):  # noqa: UP036 - this file runs on the system Python
        sys.exit(f"akd needs Python 3.11 or newer; this is {sys.version.split()[0]}")
    if not (BIN / "python").exists():
        print(f"creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
        run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[test]")


def demo(args: list[str]) -> None:
    """Start akd (data dir .akd-demo unless AKD_DATA_DIR is set) and deploy examples/hello.

    ``--port N`` is passed to ``akctl up`` (akd remembers it for the next start).
    """
    port = _port_option(args)
    setup()
    env = {**os.environ, "AKD_DATA_DIR": os.environ.get("AKD_DATA_DIR", str(ROOT / ".akd-demo"))}
    run(BIN / "akctl", "up", "--detach", *(["--port", port] if port else []), env=env)
    run(BIN / "akctl", "deploy", "examples/hello", env=env)
    url = json.loads((Path(env["AKD_DATA_DIR"]) / "daemon.json").read_text())["url"]
    print(
        "\nakd is running with examples/hello deployed (data dir: {d}).\n"
        "  web UI:          {u}/  (sign-in link: AKD_DATA_DIR={d} .venv/bin/akctl ui)\n"
        '  send an event:   curl -X POST <webhook url above> -d \'{{"name": "Ada"}}\'\n'
        "  see sessions:    AKD_DATA_DIR={d} .venv/bin/akctl session list\n"
        "  read prints:     AKD_DATA_DIR={d} .venv/bin/akctl session prints hello\n"
        "  stop akd:        AKD_DATA_DIR={d} .venv/bin/akctl down".format(d=env["AKD_DATA_DIR"], u=url)
    )


def _port_option(args: list[str]) -> str:
    """``--port N`` or ``--port=N`` (the demo takes nothing else)."""
    if not args:
        return ""
    if len(args) == 2 and args[0] == "--port" and args[1].isdigit():
        return args[1]
    if len(args) == 1 and args[0].startswith("--port=") and args[0][7:].isdigit():
        return args[0][7:]
    sys.exit(f"usage: python3 dev.py demo [--port N] (got {' '.join(args)})")


def browser() -> None:
    """Headless Chromium for the web UI tests (Debian packages), installed when missing."""
    if Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists():
        return
    if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        print("note: chromium is missing and cannot be installed here; the browser tests will be skipped")
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "chromium-driver", env=env)
    except subprocess.CalledProcessError as exc:
        print(f"note: installing chromium failed ({exc}); the browser tests will be skipped")


def postgres() -> None:
    """Postgres server binaries for the Postgres store tests (Debian packages), installed when
    missing; Debian keeps initdb and postgres in /usr/lib/postgresql/<version>/bin."""
    if shutil.which("initdb") or any(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return
    if os.geteuid() != 0 or not Path("/usr/bin/apt-get").exists():
        print("note: postgresql is missing and cannot be installed here; the Postgres tests will be skipped")
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run("apt-get", "update", "-qq", env=env)
        run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "postgresql", env=env)
    except subprocess.CalledProcessError as exc:
        print(f"note: installing postgresql failed ({exc}); the Postgres tests will be skipped")


def test(extra: list[str]) -> None:
    setup()
    browser()
    postgres()
    run(BIN / "ruff", "check", "akd", "akctl", "tests", "bench", "examples", "dev.py")
    run(BIN / "ruff", "format", "--check", "akd", "akctl", "tests", "bench")
    run(BIN / "mypy", "akd", "akctl")
    run(BIN / "mypy", "bench")  # its own run: the benches import each other as top-level modules
    run(BIN / "ruff", "check", "vscode")
    run(BIN / "mypy", "--strict", "vscode/build_and_test.py", "vscode/editor_host.py")
    # The VS Code extension: npm ci from its lockfile (when it changed), type check, bundle,
    # .vsix; its tests against a real akd run in the suite (tests/e2e/test_vscode.py).
    run(sys.executable, ROOT / "vscode" / "build_and_test.py", "--build-only", "--skip-without-node")
    # pytest exits 5 when it collected nothing: that is a failure here, never a pass.
    # Three workers, each taking whole test files (module-scoped daemons stay in one worker):
    # most of an end-to-end test is waiting on processes, so three overlap well on two cores.
    workers = ["-n", os.environ.get("AKD_TEST_WORKERS", "3"), "--dist", "loadfile"]
    result = subprocess.run([str(BIN / "pytest"), "-q", *workers, *extra], cwd=ROOT)
    if result.returncode == 5:
        sys.exit("pytest collected no tests")
    if result.returncode or extra:
        sys.exit(result.returncode)
    # The core end-to-end files once more with akd's state in Postgres (a throwaway server):
    # the whole suite passes there too (AKD_TEST_STORE=postgres python3 dev.py test ...),
    # but twice the suite would not fit CI's time.
    print("+ the core end-to-end tests on Postgres", flush=True)
    env = {**os.environ, "AKD_TEST_STORE": "postgres"}
    pg = subprocess.run([str(BIN / "pytest"), "-q", *workers, *POSTGRES_PASS], cwd=ROOT, env=env)
    if pg.returncode == 5:
        sys.exit("the Postgres pass collected no tests")
    sys.exit(pg.returncode)


# Sessions end to end, durability across kill -9 and restarts, event intake and dispatch.
POSTGRES_PASS = [f"tests/e2e/test_{name}.py" for name in ("backbone", "durable", "restarts", "events")]


def main() -> None:
    args = sys.argv[1:]
    if not args or args[0] not in ("demo", "test", "setup"):
        sys.exit(__doc__)
    try:
        if args[0] == "demo":
            demo(args[1:])
        elif args[0] == "setup":
            setup()
        else:
            test(args[1:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)


if __name__ == "__main__":
    main()
