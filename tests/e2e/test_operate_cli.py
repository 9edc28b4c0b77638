"""The CLI fits a person's habits: tables at 80 columns, help examples that work,
consistent options, JSON errors, usage exit codes (issue 17, items 8, 11 and 12)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import httpx
import pytest

from akctl.main import cli
from tests.e2e.harness import ROOT, Akd, wait_for

pytestmark = pytest.mark.e2e

HELLO = ROOT / "examples" / "hello"


@pytest.fixture(scope="module")
def hello(akd_module: Akd) -> dict[str, Any]:
    """examples/hello deployed, with three greeted sessions and a failed one."""
    deployed = akd_module.deploy(HELLO)
    url = deployed["webhooks"]["on_webhook"]
    for name in ("Ada", "Grace", "Linus"):
        httpx.post(url, json={"name": name}, timeout=30)
    wait_for(lambda: len(akd_module.sessions(project="hello", state="completed")) >= 3, 60, what="3 greetings")
    return deployed


# -- item 8: 80 columns ----------------------------------------------------------------------


class Tmux:
    """A tmux server of this test's own (its own socket), one window per command."""

    def __init__(self, env: dict[str, str]) -> None:
        self.socket = f"akd-cli-{uuid.uuid4().hex[:8]}"
        self.env = {k: v for k, v in env.items() if k not in ("COLUMNS", "LINES")}

    def run(self, width: int, command: str) -> str:
        """The screen after ``command`` ran in a ``width``-column terminal."""
        name = uuid.uuid4().hex[:8]
        akctl = f"{shlex.quote(sys.executable)} -m akctl.main"
        script = f"cd {shlex.quote(str(ROOT))}; {akctl} {command}; echo __done__; sleep 120"
        exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items() if k.startswith(("AKD_", "PYTHON")))
        subprocess.run(
            ["tmux", "-L", self.socket, "new-session", "-d", "-s", name, "-x", str(width), "-y", "50",
             f"env {exports} TERM=xterm-256color sh -c {shlex.quote(script)}"],
            check=True, env=self.env, timeout=30,
        )  # fmt: skip

        def screen() -> str | None:
            out = subprocess.run(["tmux", "-L", self.socket, "capture-pane", "-p", "-t", name],
                                 capture_output=True, text=True, timeout=30).stdout  # fmt: skip
            return out if "__done__" in out else None

        return wait_for(screen, 60, 0.2, what=f"akctl {command} in tmux")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def tmux(akd_module: Akd) -> Iterator[Tmux]:
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed")
    t = Tmux(akd_module.env)
    try:
        yield t
    finally:
        t.close()


def ids_in(rows: list[dict[str, Any]], *keys: str) -> set[str]:
    return {str(r[k]) for r in rows for k in keys if r.get(k)}


@pytest.mark.parametrize("width", [80, 120])
def test_lists_keep_ids_whole_at_80_and_120_columns(akd_module: Akd, hello: dict[str, Any], tmux: Tmux,
                                                    width: int) -> None:  # fmt: skip
    lists = {
        "session list": ids_in(akd_module.sessions(project="hello"), "session_id"),
        "deployment list": ids_in(akd_module.api("GET", "/deployments").json(), "deployment_id", "build_id"),
        "project list": ids_in(akd_module.api("GET", "/projects").json(), "project_id", "active_deployment_id"),
        "build list": ids_in(akd_module.api("GET", "/builds").json(), "build_id"),
        "event list": ids_in(akd_module.api("GET", "/events").json(), "event_id"),
    }
    for command, ids in lists.items():
        assert ids, command
        screen = tmux.run(width, command)
        lines = screen.splitlines()
        assert all(len(line) <= width for line in lines), screen
        for ident in ids:
            # A folded or cut id is not on any one line whole.
            assert any(ident in line for line in lines), f"{command} at {width} columns lost {ident}:\n{screen}"
        if width >= 120 and command == "session list":
            assert "CREATED" in screen and "ENTRYPOINT" in screen, screen


def test_a_long_error_stays_one_line_on_a_non_tty_stderr(akd_module: Akd, hello: dict[str, Any]) -> None:
    env = {**akd_module.env, "COLUMNS": "80"}
    missing = "ses_" + "0" * 26
    long_name = "NO_SUCH_VAR_" + "X" * 60
    res = subprocess.run([sys.executable, "-m", "akctl.main", "var", "get", long_name, "--project", "hello"],
                         env=env, capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert res.returncode == 44, res.stderr
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and len(lines[0]) > 80 and long_name in lines[0], res.stderr
    res = subprocess.run([sys.executable, "-m", "akctl.main", "session", "get", missing], env=env,
                         capture_output=True, text=True, timeout=60, cwd=ROOT)  # fmt: skip
    assert res.returncode == 44 and missing in res.stderr, res.stderr


# -- item 11: the help examples ----------------------------------------------------------------


def examples() -> list[tuple[str, str]]:
    """(command path, example line) of every ``Example:`` block in akctl's help."""
    found: list[tuple[str, str]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
            return
        in_block = False
        for line in (cmd.help or "").splitlines():
            text = line.strip()
            if text.startswith("Example"):
                in_block = True
            elif in_block and text and line.startswith(("      ", "\t")):
                found.append((" ".join(path), text))
            elif in_block and text:
                in_block = False

    walk(cli, [])
    return found


# Examples that cannot succeed against examples/hello, each with the exit code and the
# words of the clean error it must end in instead (never a traceback).
NOT_FOR_HELLO: dict[str, tuple[int, str]] = {
    # hello's sessions end at once: there is nothing running to stop.
    "akctl session stop": (42, "already ended"),
    # hello is not durable (v2) and never sleeps: no journal to rerun from, no sleep to end.
    "akctl session rerun": (42, "not durable"),
    "akctl session wake": (42, "no sleep to end"),
    "akctl session signal": (42, "would never be read"),
}
# Examples whose line names what hello does not have (a trigger without call to subscribe to).
NOT_FOR_HELLO_LINES: dict[str, tuple[int, str]] = {
    "--session ses_": (44, "no trigger named 'replies'"),
    # hello has no schedule trigger (the example fires examples/cron_report's).
    "akctl trigger fire": (44, "not found"),
}
# hello declares no connections: those examples must say so cleanly.
CONNECTION_EXAMPLES = ("connection ", "integration configure", "var set pat")
# Run last, in this order: they remove what the other examples use.
LAST = ("deployment activate", "deployment deactivate", "deployment delete", "session stop", "session delete",
        "var delete", "project delete", "down", "up")  # fmt: skip
FIRST = ("deploy", "session start", "trigger payload save", "event dispatch", "store set")


def ordered(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    def rank(item: tuple[str, str]) -> tuple[int, int]:
        command = item[0]
        if command in FIRST:
            return (0, FIRST.index(command))
        if command in LAST:
            return (2, LAST.index(command))
        return (1, 0)

    return sorted(items, key=rank)


class Examples:
    """Runs example lines as a user would: in bash, with ``akctl`` on PATH."""

    def __init__(self, akd: Akd, workdir: Path) -> None:
        self.akd = akd
        self.workdir = workdir
        bindir = workdir / "bin"
        bindir.mkdir()
        shim = bindir / "akctl"
        shim.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m akctl.main "$@"\n')
        shim.chmod(0o755)
        # No browser here: "xdg-open URL" notes the URL, and the test opens it.
        opener = bindir / "xdg-open"
        opener.write_text(f'#!/bin/sh\necho "$1" >> {shlex.quote(str(workdir / "opened.txt"))}\n')
        opener.chmod(0o755)
        shutil.copytree(HELLO, workdir / "examples" / "hello")
        (workdir / "token.txt").write_text("t0ken\n")
        (workdir / "pat.txt").write_text("p4t\n")
        # Files the examples name: a step result for `session rerun`, event data for `connection simulate`.
        (workdir / "fixed.json").write_text("42\n")
        (workdir / "mention.json").write_text('{"text": "hello"}\n')
        self.env = {**akd.env, "PATH": f"{bindir}:{os.environ['PATH']}"}
        self.old_deployment = ""

    def ids(self, line: str) -> str:
        """The line with its placeholder ids (``ses_01...``) made real."""
        session = self.akd.sessions(project="hello")[0]["session_id"] if "ses_01" in line else ""
        build = self.akd.api("GET", "/builds").json()[-1]["build_id"] if "bld_01" in line else ""
        line = re.sub(r"ses_01[a-z0-9]*\.\.\.", session, line)
        line = re.sub(r"bld_01[a-z0-9]*\.\.\.", build, line)
        return re.sub(r"dep_01[a-z0-9]*\.\.\.", self.old_deployment, line)

    def run(self, line: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", line], env=self.env, cwd=self.workdir, capture_output=True, text=True,
                              timeout=180, input=stdin)  # fmt: skip

    def dev(self, line: str) -> tuple[int, str]:
        """``akctl dev``: runs until Ctrl-C; interrupted once it has deployed."""
        before = len(self.akd.api("GET", "/deployments", params={"project": "hello"}).json())
        proc = subprocess.Popen(["bash", "-c", f"exec {line}"], env=self.env, cwd=self.workdir,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
        try:
            wait_for(lambda: len(self.akd.api("GET", "/deployments", params={"project": "hello"}).json()) > before,
                     120, 0.2, what="akctl dev to deploy")  # fmt: skip
        finally:
            proc.send_signal(signal.SIGINT)
            out, _ = proc.communicate(timeout=60)
        return proc.returncode, out


def test_every_help_example_works_against_hello(akd: Akd, tmp_path: Path) -> None:
    """Its own daemon: the examples delete hello and stop and start akd."""
    ex = Examples(akd, tmp_path)
    # The copy the examples deploy (hello moving between directories would be another story).
    ex.old_deployment = akd.deploy(tmp_path / "examples" / "hello")["deployment_id"]
    problems: list[str] = []
    for command, line in ordered(examples()):
        line = ex.ids(line)
        if command == "dev":
            code, out = ex.dev(line)
            if code not in (0, 130) or "Traceback" in out:
                problems.append(f"{line}: exited {code}: {out[-2000:]}")
            continue
        res = ex.run(line, stdin="s3cret\n" if "integration configure" in line else "")
        expected = NOT_FOR_HELLO.get(" ".join(line.split()[:3])) or next(
            (v for k, v in NOT_FOR_HELLO_LINES.items() if k in line), None
        )
        about_connections = line.startswith("akctl var set pat") or "--connection hello/" in line
        if command.startswith(CONNECTION_EXAMPLES) or about_connections:
            expected = expected or (-1, "")  # done, or a clean error: hello has no connections
        if "Traceback" in res.stderr or "Traceback" in res.stdout:
            problems.append(f"{line}: a traceback: {res.stderr[-2000:]}")
        elif expected is None and res.returncode != 0:
            problems.append(f"{line}: exited {res.returncode}: {res.stdout[-1000:]} {res.stderr[-1000:]}")
        elif expected and expected[0] > 0 and (res.returncode != expected[0] or expected[1] not in res.stderr):
            problems.append(f"{line}: expected exit {expected[0]} saying {expected[1]!r}, got {res.returncode}: "
                            f"{res.stderr[-1000:]}")  # fmt: skip
        elif expected and expected[0] < 0 and res.returncode and (res.returncode == 1 or "error:" not in res.stderr):
            problems.append(f"{line}: hello has no connections: expected a clean error, got {res.returncode}: "
                            f"{res.stdout[-500:]} {res.stderr[-500:]}")  # fmt: skip
        if command in ("session start", "event dispatch") and res.returncode == 0:
            problems.extend(greeted(akd, line))
        if "xdg-open" in line:
            problems.extend(opened(tmp_path / "opened.txt", line))
    assert not problems, "\n".join(problems)


def opened(noted: Path, line: str) -> list[str]:
    """Problems with the URL an ``xdg-open`` example opened."""
    urls = noted.read_text().split() if noted.exists() else []
    if not urls:
        return [f"{line}: opened nothing"]
    res = httpx.get(urls[-1], timeout=30, follow_redirects=True)
    return [] if res.status_code == 200 else [f"{line}: {urls[-1]} answered {res.status_code}"]


def greeted(akd: Akd, line: str) -> list[str]:
    """Problems with the session a ``session start``/``event dispatch`` example started."""
    latest = akd.wait_session(akd.sessions(project="hello")[0]["session_id"], timeout=60)
    if latest["state"] != "completed" or "Hello, Ada!" not in akd.prints(latest["session_id"]):
        return [f"{line}: session {latest['session_id']} {latest['state']}: {latest.get('error')}"]
    return []


def test_watch_shows_the_error_and_traceback_of_a_failed_session(akd_module: Akd, hello: dict[str, Any]) -> None:
    res = akd_module.akctl("session", "start", "-p", "hello", "--entrypoint", "program.py:on_webhook",
                           "--input", "name=1", "--watch")  # fmt: skip
    assert res.returncode == 1, (res.stdout, res.stderr)
    # Without --as-request, event.data is {"name": 1}, which has no "body": the error names both.
    assert "AttributeError" in res.stderr and "'body'" in res.stderr and "'name'" in res.stderr, res.stderr
    assert "Traceback" in res.stderr and "program.py" in res.stderr and "on_webhook" in res.stderr, res.stderr
    assert "hint:" in res.stderr and "--as-request" in res.stderr, res.stderr
    # --as-request needs a webhook trigger that calls the entry point.
    res = akd_module.akctl("session", "start", "-p", "hello", "--entrypoint", "program.py:nope", "--as-request")
    assert res.returncode == 40 and "no webhook trigger" in res.stderr, (res.stdout, res.stderr)


# -- item 12: consistency --------------------------------------------------------------------------


def commands() -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
        else:
            found.append((" ".join(path), cmd))

    walk(cli, [])
    return found


# In akctl/commands/events.py, whose owner adds -p there (issue 17 item 12).
PROJECT_SHORT_PENDING: set[str] = set()


def test_every_project_option_also_reads_dash_p() -> None:
    lacking = {
        name
        for name, cmd in commands()
        for p in cmd.params
        if isinstance(p, click.Option) and "--project" in p.opts and "-p" not in p.opts
    }
    assert lacking <= PROJECT_SHORT_PENDING, sorted(lacking - PROJECT_SHORT_PENDING)
    assert {"session list", "session start", "stats", "event dispatch"}.isdisjoint(lacking)


def test_json_errors_are_json_on_stderr_and_usage_errors_exit_2(akd_module: Akd, hello: dict[str, Any]) -> None:
    res = akd_module.akctl("session", "get", "ses_" + "0" * 26, "--json")
    assert res.returncode == 44 and res.stdout == "", (res.stdout, res.stderr)
    err = json.loads(res.stderr)
    assert err["code"] == "not_found" and "ses_" + "0" * 26 in err["error"] and err["exit_code"] == 44, err
    usage = akd_module.akctl("session", "list", "--limit", "0", "--json")
    assert usage.returncode == 2, (usage.stdout, usage.stderr)
    err = json.loads(usage.stderr)
    assert err["code"] == "usage" and "--limit" in err["error"], err
    plain = akd_module.akctl("session", "list", "--bogus")
    assert plain.returncode == 2 and "No such option" in plain.stderr and "Usage:" in plain.stderr, plain.stderr
    # A bad manifest stays 40: distinct from a usage error.
    bad = akd_module.akctl("manifest", "validate", str(ROOT / "pyproject.toml"))
    assert bad.returncode == 40, (bad.stdout, bad.stderr)


def test_session_get_shows_the_return_value_as_json(akd_module: Akd, hello: dict[str, Any]) -> None:
    sid = akd_module.sessions(project="hello", state="completed")[0]["session_id"]
    res = akd_module.akctl("session", "get", sid)
    assert res.returncode == 0, res.stderr
    line = next(x for x in res.stdout.splitlines() if x.strip().startswith("return"))
    value = line.split("return", 1)[1].strip()
    assert json.loads(value)["greeted"] in ("Ada", "Grace", "Linus"), line


def test_project_get_labels_schedules_and_stats_names_the_deployments_project(
    akd_module: Akd, hello: dict[str, Any], tmp_path: Path
) -> None:
    root = tmp_path / "ticks"
    root.mkdir()
    (root / "autokitteh.yaml").write_text(
        "version: v1\nproject:\n  name: ticks\n  triggers:\n    - name: nightly\n      schedule: '0 3 * * *'\n"
        "      call: program.py:tick\n"
    )
    (root / "program.py").write_text("def tick(event):\n    pass\n")
    akd_module.deploy(root)
    res = akd_module.akctl("project", "get", "ticks")
    assert res.returncode == 0, res.stderr
    assert "WEBHOOK URL" not in res.stdout and "schedule: 0 3 * * *" in res.stdout, res.stdout
    stats = akd_module.akctl("stats")
    assert stats.returncode == 0, stats.stderr
    table = stats.stdout.split("DEPLOYMENT", 1)[1]
    header, *rows = table.splitlines()
    assert "PROJECT" in header, table
    assert any(hello["deployment_id"] in r and " hello " in r for r in rows), table


def test_manifest_validate_reports_every_problem_with_suggestions(akd_module: Akd, tmp_path: Path) -> None:
    root = tmp_path / "typos"
    root.mkdir()
    (root / "autokitteh.yaml").write_text(
        "version: v1\nproject:\n  name: typos\n  tigers: []\n  vars:\n    - name: A\n      valeu: 1\n"
    )
    res = akd_module.akctl("manifest", "validate", str(root / "autokitteh.yaml"))
    assert res.returncode == 40, (res.stdout, res.stderr)
    flat = " ".join(res.stderr.split())
    assert 'autokitteh.yaml:4: project.tigers: unknown key "tigers" (did you mean "triggers"?)' in flat, res.stderr
    assert 'autokitteh.yaml:7: project.vars[0].valeu: unknown key "valeu" (did you mean "value"?)' in flat, res.stderr


def test_the_cli_reference_lists_every_exit_code() -> None:
    from akctl.errors import CODES_BY_EXIT, EXIT_CODES

    text = (ROOT / "docs" / "cli.md").read_text()
    table = {int(line.split("|")[1]) for line in text.splitlines() if re.match(r"\| \d+ \|", line)}
    assert table == set(CODES_BY_EXIT) | set(EXIT_CODES.values()) | {0}, table
    for code in set(EXIT_CODES) | set(CODES_BY_EXIT.values()):
        assert f"`{code}`" in text, code
