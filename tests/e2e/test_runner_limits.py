"""Runner limits (hardening items 6 and 7): what a session starts dies with it, all its
output is capped, and the default limits bound memory and processes without breaking
programs that reserve address space. Each case has a row in docs/hostile-inputs.md.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Akd, pid_alive, wait_for, write_project

pytestmark = pytest.mark.e2e

CAP = 200_000
CONFIG = f"""\
[runner]
memory_mb = 300
processes = 40
max_print_bytes = {CAP}
"""

MANIFEST = """\
version: v2
project:
  name: limits
  triggers:
{triggers}
"""

PROGRAM = """\
import mmap, os, subprocess, sys, time
from autokitteh import activity

DAEMON = (
    "import os, sys, time\\n"
    "if os.fork(): os._exit(0)\\n"
    "os.setsid()\\n"
    "if os.fork(): os._exit(0)\\n"
    "sys.stdout.write(str(os.getpid())); sys.stdout.flush(); os.close(1); os.close(2)\\n"
    "time.sleep(300)\\n"
)

@activity
def escape():
    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    daemon = subprocess.run([sys.executable, "-c", DAEMON], stdout=subprocess.PIPE, text=True).stdout
    return [sleeper.pid, int(daemon)]

def escapers(event):
    print("pids", *escape())

def escapers_die(event):
    print("pids", *escape())
    time.sleep(0.3)
    os._exit(3)                                   # the runner dies by itself, daemons running

def escapers_wait(event):
    print("pids", *escape())
    spin()

@activity
def spin():
    while True:
        time.sleep(0.05)

@activity
def flood():
    line = "y" * 999 + "\\n"
    for _ in range(50_000):                       # 50 MB through sys.stdout.write
        sys.stdout.write(line)
    sys.stderr.write("e" * 10_000_000)            # 10 MB on sys.stderr, no newline
    subprocess.run("yes | head -c 50000000", shell=True)           # 50 MB on fd 1
    subprocess.run("yes | head -c 50000000 >&2", shell=True)       # 50 MB on fd 2
    os.write(1, b"z" * 1_000_000)

def flood_output(event):
    flood()
    return "survived"

@activity
def child_output():
    subprocess.run(["echo", "from a child"])
    os.write(2, b"from fd 2\\n")

def child_output_shows(event):
    child_output()
    sys.stdout.write("no newline at the end")
    return "ok"

@activity
def map_8_gb():
    region = mmap.mmap(-1, 8 << 30, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    region[0] = 1
    return len(region)

def big_mapping(event):
    return map_8_gb()

@activity
def java_version():
    return subprocess.run(["java", "-version"], capture_output=True, text=True).returncode

def java(event):
    return java_version()

@activity
def touch_memory():
    blocks = []
    for _ in range(100):                          # at most 2 GB, 20 MB at a time
        blocks.append(b"x" * (20 << 20))
    return len(blocks)

def hog(event):
    return touch_memory()

@activity
def child_hog():
    code = "import time\\nblocks = [b'x' * (20 << 20) for _ in range(100)]\\ntime.sleep(30)"
    return subprocess.run([sys.executable, "-c", code]).returncode

def hog_in_child(event):
    return child_hog()

@activity
def many():
    for _ in range(100):
        print("pid", subprocess.Popen(["sleep", "60"]).pid)
    time.sleep(30)

def forks(event):
    many()
"""

NAMES = (
    "escapers", "escapers_die", "escapers_wait", "flood_output", "child_output_shows", "big_mapping", "java", "hog",
    "hog_in_child", "forks",
)  # fmt: skip


@pytest.fixture(scope="module")
def limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Akd, dict[str, str]]]:
    root = tmp_path_factory.mktemp("limits")
    akd = Akd(root / "data")
    (root / "data").mkdir()
    (root / "data" / "akd.toml").write_text(CONFIG)
    akd.up()
    triggers = "".join(f"    - name: {n}\n      type: webhook\n      call: program.py:{n}\n" for n in NAMES)
    write_project(root / "p", {"autokitteh.yaml": MANIFEST.format(triggers=triggers), "program.py": PROGRAM})
    try:
        yield akd, akd.deploy(root / "p")["webhooks"]
    finally:
        akd.down()


def start(url: str) -> str:
    resp = httpx.post(url, timeout=30)
    assert resp.status_code == 202, resp.text
    return str(resp.headers["AutoKitteh-Event-ID"])


def session_of(akd: Akd, event_id: str) -> str:
    def found() -> str | None:
        ids = akd.api("GET", f"/events/{event_id}").json().get("session_ids") or []
        return str(ids[0]) if ids else None

    return wait_for(found, 20, what="the event's session")


def run(akd: Akd, url: str) -> dict[str, Any]:
    sid = session_of(akd, start(url))
    return akd.wait_session(sid, timeout=90)


def printed_pids(akd: Akd, sid: str) -> list[int]:
    line = wait_for(lambda: next((p for p in akd.prints(sid) if p.startswith("pids ")), None), 30, what="pids")
    return [int(p) for p in line.split()[1:]]


def all_gone(pids: list[int]) -> bool:
    return not any(pid_alive(p) for p in pids)


def test_daemons_started_by_a_session_die_when_it_ends(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    s = run(akd, hooks["escapers"])
    assert s["state"] == "completed", s
    pids = printed_pids(akd, s["session_id"])
    assert len(pids) == 2
    wait_for(lambda: all_gone(pids), 10, what=f"the setsid sleeper and the double-forked daemon {pids} to die")


def test_daemons_die_when_the_runner_that_started_them_dies_by_itself(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    s = run(akd, hooks["escapers_die"])
    assert s["state"] == "error" and "exit code 3" in s["error"]["message"], s
    pids = printed_pids(akd, s["session_id"])
    assert len(pids) == 2
    # Re-parented to the fork server (a subreaper), which kills what it did not fork.
    wait_for(lambda: all_gone(pids), 15, what=f"the orphaned sleeper and daemon {pids} to die")


def test_daemons_started_by_a_session_die_when_it_is_stopped(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    sid = session_of(akd, start(hooks["escapers_wait"]))
    pids = printed_pids(akd, sid)
    assert all(pid_alive(p) for p in pids)
    res = akd.akctl("session", "stop", sid, "--force", "--delay", "1s")
    assert res.returncode == 0, res.stderr
    wait_for(lambda: all_gone(pids), 10, what=f"the setsid sleeper and the double-forked daemon {pids} to die")


def test_all_output_is_capped_and_kept_out_of_the_runner_log(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    log = akd.data_dir / "logs" / "runners.log"
    before = log.stat().st_size if log.exists() else 0
    s = run(akd, hooks["flood_output"])
    assert s["state"] == "completed" and s["return_value"] == "survived", s
    prints = akd.prints(s["session_id"])
    assert sum(len(p) + 1 for p in prints) < CAP + 70_000  # one line of slack per source
    notices = [p for p in prints if p.startswith(f"[akd: this session printed over {CAP} bytes")]
    assert len(notices) == 1 and prints[-1] == notices[0]
    grown = (log.stat().st_size if log.exists() else 0) - before
    assert grown < 100_000, f"runners.log grew by {grown} bytes"


def test_subprocess_output_and_partial_lines_become_prints(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    s = run(akd, hooks["child_output_shows"])
    assert s["state"] == "completed", s
    prints = akd.prints(s["session_id"])
    # Descriptor output is read by a thread: it may land before or after nearby prints.
    assert {"from a child", "from fd 2", "no newline at the end"} <= set(prints), prints


def test_reserving_address_space_is_not_limited(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    s = run(akd, hooks["big_mapping"])
    assert s["state"] == "completed" and s["return_value"] == 8 << 30, s


@pytest.mark.skipif(shutil.which("java") is None, reason="no java on this machine")
def test_java_starts_under_the_default_limits(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    s = run(akd, hooks["java"])
    assert s["state"] == "completed" and s["return_value"] == 0, s


def test_resident_memory_over_the_limit_ends_the_session(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    s = run(akd, hooks["hog"])
    assert s["state"] == "error" and "memory limit exceeded ([runner] memory_mb)" in s["error"]["message"], s


def test_memory_of_child_processes_counts(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    s = run(akd, hooks["hog_in_child"])
    assert s["state"] == "error" and "memory limit exceeded ([runner] memory_mb)" in s["error"]["message"], s


def test_processes_over_the_limit_end_the_session_and_die(limits: tuple[Akd, dict[str, str]]) -> None:
    akd, hooks = limits
    s = run(akd, hooks["forks"])
    assert s["state"] == "error" and "process limit exceeded ([runner] processes)" in s["error"]["message"], s
    pids = [int(line.split()[1]) for line in akd.prints(s["session_id"]) if line.startswith("pid ")]
    assert len(pids) > 20
    wait_for(lambda: all_gone(pids), 10, what="the session's processes to die")
    assert akd.api("GET", "/health").json()["status"] == "ok"
