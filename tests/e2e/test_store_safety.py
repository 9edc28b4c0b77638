"""The event store under attack: a database deleted or replaced under a running akd,
webhook floods (event quotas) and a disk filling up (the free-space reserve).

Each case has a row in docs/hostile-inputs.md.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.e2e import test_disk
from tests.e2e.harness import ROOT, Akd, wait_for, write_project

pytestmark = [pytest.mark.e2e, pytest.mark.sqlite_file]

small_disk = test_disk.small_disk  # the tmpfs fixture (needs root; skipped elsewhere)

MANIFEST = """\
version: v2
project:
  name: {name}
  triggers:
{triggers}
"""

PROGRAM = """\
import os, time

def hit(event):
    pass

def wait(event):
    path = event.data.body.json["path"]
    deadline = time.time() + 120
    while not os.path.exists(path) and time.time() < deadline:
        time.sleep(0.05)
    print("released" if os.path.exists(path) else "never released")
"""


def project(root: Path, name: str, triggers: dict[str, str]) -> Path:
    lines = "".join(f"    - name: {t}\n      type: webhook\n      call: program.py:{f}\n" for t, f in triggers.items())
    return write_project(root, {"autokitteh.yaml": MANIFEST.format(name=name, triggers=lines), "program.py": PROGRAM})


def start_with(data_dir: Path, config: str) -> Akd:
    data_dir.mkdir(parents=True)
    (data_dir / "akd.toml").write_text(config)
    akd = Akd(data_dir)
    akd.up()
    return akd


def akd_log(akd: Akd) -> str:
    return (akd.data_dir / "logs" / "akd.log").read_text(errors="replace")


# -- the database file --------------------------------------------------------------


def test_deleted_database_refuses_events_and_a_restart_does_not_start_over(akd: Akd, tmp_path: Path) -> None:
    url = akd.deploy(ROOT / "examples" / "hello")["webhooks"]["on_webhook"]
    first = httpx.post(url, content=b'{"name": "before"}', timeout=10)
    assert first.status_code == 202
    akd.wait_session(akd.api("GET", f"/events/{first.headers['AutoKitteh-Event-ID']}").json()["session_ids"][0])
    db = akd.data_dir / "akd.db"
    db.unlink()
    answers = [httpx.post(url, content=b'{"name": "after"}', timeout=10) for _ in range(5)]
    assert [r.status_code for r in answers] == [503] * 5, [r.text for r in answers]
    message = answers[0].json()["error"]["message"]
    assert f"{db} was deleted" in message and "nothing was accepted" in message, message
    wait_for(lambda: f"the database file {db} was deleted under the running akd" in akd_log(akd), 10,
             what="the log line naming the file")  # fmt: skip
    akd.down()

    cmd = [sys.executable, "-m", "akd", "--data-dir", str(akd.data_dir), "--port", "0"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=akd.env)
    assert res.returncode == 42, res.stderr
    assert f"the database {db} is missing" in res.stderr and "--allow-new-database" in res.stderr, res.stderr
    assert "Traceback" not in res.stderr and not db.exists()

    proc = subprocess.Popen([*cmd, "--allow-new-database"], env=akd.env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    akd.pids.append(proc.pid)
    wait_for(lambda: (akd.data_dir / "daemon.json").exists() and akd.pid == proc.pid, 90, what="akd to start")
    assert akd.api("GET", "/projects").json() == []  # started over, as asked
    akd.down()
    assert proc.wait(30) == 0


def test_replaced_database_refuses_events_until_the_file_is_back(akd: Akd) -> None:
    url = akd.deploy(ROOT / "examples" / "hello")["webhooks"]["on_webhook"]
    assert httpx.post(url, content=b"{}", timeout=10).status_code == 202
    db = akd.data_dir / "akd.db"
    kept, copy = akd.data_dir / "kept.db", akd.data_dir / "copy.db"
    os.link(db, kept)
    with sqlite3.connect(db) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)  # a good copy of the same data: still another file
    os.replace(copy, db)
    answers = [httpx.post(url, content=b"{}", timeout=10) for _ in range(3)]
    assert [r.status_code for r in answers] == [503] * 3, [r.text for r in answers]
    assert "replaced by another file" in answers[0].json()["error"]["message"]
    os.replace(kept, db)  # the file akd opened is back under its name
    back = httpx.post(url, content=b'{"name": "back"}', timeout=10)
    assert back.status_code == 202, back.text
    session = akd.api("GET", f"/events/{back.headers['AutoKitteh-Event-ID']}").json()["session_ids"][0]
    assert akd.wait_session(session)["state"] == "completed"


# -- event quotas -------------------------------------------------------------------

QUOTA_CONFIG = """\
[events]
trigger_events_per_minute = 20
trigger_mb_per_minute = 1
total_events_per_minute = 40
total_mb_per_minute = 0
"""


def flood(url: str, n: int, body: bytes) -> list[httpx.Response]:
    with httpx.Client(timeout=10) as client:
        return [client.post(url, content=body) for _ in range(n)]


def test_webhook_flood_gets_429_with_retry_after(tmp_path: Path) -> None:
    akd = start_with(tmp_path / "data", QUOTA_CONFIG)
    try:
        hooks = akd.deploy(project(tmp_path / "p", "quota", {"a": "hit", "b": "hit", "big": "hit"}))["webhooks"]
        answers = flood(hooks["a"], 25, b"{}")
        assert [r.status_code for r in answers] == [202] * 20 + [429] * 5, [r.status_code for r in answers]
        refused = answers[-1]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        error = refused.json()["error"]
        assert error["code"] == "resource_exhausted" and "20 events per minute" in error["message"], error
        assert "AutoKitteh-Event-ID" not in refused.headers

        big = [r.status_code for r in flood(hooks["big"], 8, b"\xff" * 200 * 1024)]  # ~200 KiB stored each
        accepted_big = big.count(202)
        assert 3 <= accepted_big <= 5 and big == [202] * accepted_big + [429] * (8 - accepted_big), big

        rest = flood(hooks["b"], 25, b"{}")  # all webhooks together: 40 a minute
        accepted_b = [r.status_code for r in rest].count(202)
        assert accepted_b == 40 - 20 - accepted_big, [r.status_code for r in rest]
        assert "all webhooks" in rest[-1].json()["error"]["message"]

        stored = akd.api("GET", "/events", params={"project": "quota", "limit": 1000}).json()
        assert len(stored) == 40  # only what got 202
        assert "over the quota" in akd_log(akd)
    finally:
        akd.down()


# -- the free-space reserve ---------------------------------------------------------


def free_mib(path: Path) -> float:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize / (1024 * 1024)


def test_filling_the_disk_stops_at_the_reserve_and_running_sessions_finish(small_disk: Path, tmp_path: Path) -> None:
    akd = start_with(small_disk / "data", "[events]\nmin_free_mb = 40\n")
    try:
        hooks = akd.deploy(project(tmp_path / "p", "reserve", {"wait": "wait", "hit": "hit"}))["webhooks"]
        release = tmp_path / "release"
        waiting = httpx.post(hooks["wait"], json={"path": str(release)}, timeout=10)
        assert waiting.status_code == 202
        event = waiting.headers["AutoKitteh-Event-ID"]
        session = wait_for(lambda: akd.api("GET", f"/events/{event}").json()["session_ids"], 30)[0]
        akd.wait_session(session, ("running",))
        filler = small_disk / "filler"
        # Freed at the end, to show events come back: 30 MiB, because one run here ended the
        # flood with under 20 MiB free (akd's own writes after the last accepted event), and
        # freeing 20 MiB then left the disk under the 40 MiB reserve.
        filler.write_bytes(b"\0" * (30 << 20))

        statuses: list[int] = []
        with httpx.Client(timeout=10) as client:
            while 503 not in statuses and len(statuses) < 1000:
                statuses.append(client.post(hooks["hit"], content=b"\xff" * 256 * 1024).status_code)
            refused = client.post(hooks["hit"], content=b"x")
        assert 503 in statuses and set(statuses) == {202, 503}, statuses
        assert statuses.count(202) > 10  # the flood was accepted up to the reserve
        assert "free disk space" in refused.json()["error"]["message"] and refused.status_code == 503
        # The reserve held: without it the flood filled the disk to 0. Seen here: 28-39 MiB left of
        # the 40, and once under 20 (akd's own writes after the last accepted event: WAL, Temporal).
        assert free_mib(small_disk) > 16, free_mib(small_disk)

        release.touch()
        done = akd.wait_session(session)
        assert done["state"] == "completed" and akd.prints(session) == ["released"]
        filler.unlink()
        # Free space is sampled every 0.25 s; 30 MiB freed lifts it over the reserve.
        answers: list[str] = []

        def accepted() -> bool:
            res = httpx.post(hooks["hit"], content=b"x", timeout=10)
            answers.append(f"{res.status_code} {res.text[:200]} (free {free_mib(small_disk):.0f} MiB)")
            return res.status_code == 202

        try:
            wait_for(accepted, 10, what="events to be accepted again once space was freed")
        except AssertionError:
            raise AssertionError(f"still refused after 10 s; the last answers: {answers[-3:]}") from None
        assert "min_free_mb reserve" in akd_log(akd)
    finally:
        akd.down()
