"""Several akd nodes on one Postgres and one Temporal (issue 19, steps 4 and 5).

Two akd processes with their own data dirs and ports share a store (a throwaway Postgres
from tests/pgserver.py), a Temporal (a separate dev server standing in for the cluster),
the API token and the secret key. Each serves the API and webhooks and runs a worker on
the shared task queue. A session whose node is killed with ``kill -9`` goes on on the
other one, repeating at most the one step it was in; a session parked (a durable sleep,
``next_event``) when its node dies wakes on the other one and repeats nothing.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.cluster import cluster_node, connect, node_env, temporal_cluster
from tests.e2e.harness import Akd, children_of, descendants_of, wait_for, write_project
from tests.e2e.marking import marking_project, read_marks
from tests.pgserver import find_bin_dir, pg_server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(find_bin_dir() is None, reason="initdb is not installed (dev.py test installs postgresql)"),
]


@pytest.fixture(scope="module")
def shared() -> Iterator[tuple[object, str]]:
    with pg_server() as pg, temporal_cluster() as address:
        yield pg, address


def _post(node: Akd, slug: str, **body: object) -> str:
    res = httpx.post(f"{node.url}/webhooks/{slug}", json=body, timeout=10)
    assert res.status_code == 202, res.text
    event: str = res.headers["AutoKitteh-Event-ID"]
    ids: list[str] = wait_for(lambda: node.api("GET", f"/events/{event}").json().get("session_ids"), 30)
    return ids[0]


@pytest.fixture
def two_nodes(shared: tuple[object, str], tmp_path: Path) -> Iterator[tuple[Akd, Akd, Path, str]]:
    pg, address = shared
    url = pg.new_database()  # type: ignore[attr-defined]
    a = cluster_node(tmp_path, "node-a", url, address)
    b = None
    try:
        marks = tmp_path / "marks.txt"
        project = marking_project(tmp_path / "p", "shared", marks, greeting="hi", count=True)
        slug = a.deploy(project)["webhooks"]["go"].rsplit("/webhooks/", 1)[1]  # makes node-a's secret key
        b = cluster_node(tmp_path, "node-b", url, address, key_from=a)
        yield a, b, marks, slug
    finally:
        for node in (a, b):
            if node is not None:
                node.down()


def test_two_nodes_share_the_work_and_the_state(two_nodes: tuple[Akd, Akd, Path, str]) -> None:
    a, b, marks, slug = two_nodes
    sids = [_post(node, slug) for node in (a, b) * 6]
    for sid in sids:
        done = a.wait_session(sid, timeout=60)
        assert done["state"] == "completed", done
    # One store: each node lists every session, and every session ran once.
    assert {s["session_id"] for s in b.sessions(project="shared", limit=100)} == set(sids)
    lines = marks.read_text().splitlines()
    assert sorted(lines) == sorted(f"{sid} 0 hi" for sid in sids)  # the secret var, decrypted on both
    workers = {b.session(sid)["worker"] for sid in sids}
    assert workers == {"node-a", "node-b"}, workers


def test_a_session_goes_on_on_the_other_node_after_kill9(two_nodes: tuple[Akd, Akd, Path, str]) -> None:
    a, b, marks, slug = two_nodes
    steps = 8
    sid = _post(a, slug, steps=steps, pause=0.4)
    assert wait_for(lambda: a.session(sid).get("worker"), 30) == "node-a"
    wait_for(lambda: marks.exists() and len(marks.read_text().splitlines()) >= 3, 30, what="three steps on node-a")
    a.kill9()
    killed_at, before = time.monotonic(), len(marks.read_text().splitlines())
    wait_for(lambda: len(marks.read_text().splitlines()) > before, 60, what="node-b to go on")
    took = time.monotonic() - killed_at
    done = b.wait_session(sid, timeout=90)
    assert done["state"] == "completed", done
    assert done["worker"] == "node-b"
    lines = marks.read_text().splitlines()
    counts = {i: lines.count(f"{sid} {i} hi") for i in range(steps)}
    # Every step ran; only the one in flight when node-a died may have run twice.
    assert all(n >= 1 for n in counts.values()), counts
    assert sum(n - 1 for n in counts.values()) <= 1, counts
    # Prints and the KV counter, recorded with the journal, are not repeated by the take-over.
    assert b.prints(sid) == [f"after step {i}" for i in range(steps)]
    assert b.api("GET", f"/store/{sid}", params={"project": "shared"}).json()["value"] == steps
    print(f"node-b went on {took:.1f} s after kill -9 of node-a")


def _parked_on(node: Akd, sid: str, kind: str) -> dict[str, object]:
    """Wait until the session waits on ``kind`` with no runner of ``node`` left: parked,
    its workflow waiting on Temporal alone. Its ``waiting``."""
    waiting: dict[str, object] = wait_for(lambda: node.session(sid).get("waiting"), 30, what=f"a {kind} wait")
    assert waiting["kind"] == kind, waiting
    wait_for(lambda: node.api("GET", "/health").json()["runners"] == 0, 30, what="no runner while parked")
    return waiting


def _kill9_while_parked(node: Akd, other: Akd, sid: str) -> None:
    """``kill -9`` of ``node`` while its session is parked; it is parked still after."""
    assert node.session(sid)["worker"] == node.env["AKD_SERVER_NODE"]
    node.kill9()
    after = other.session(sid)
    assert after["state"] == "running" and after["waiting"], f"the wait ended before the kill: {after}"


def test_a_session_parked_on_a_timer_wakes_on_the_other_node_after_kill9(two_nodes: tuple[Akd, Akd, Path, str]) -> None:
    """node-a dies while its session sleeps durably (a Temporal timer, no runner); the
    timer's workflow task goes to node-b, which replays the journal and runs the rest:
    nothing was in flight, so every step runs exactly once."""
    a, b, marks, slug = two_nodes
    steps = 4
    sid = _post(a, slug, steps=steps, sleep=6)
    _parked_on(a, sid, "sleep")
    assert read_marks(marks) == [f"{sid} 0 hi"]
    _kill9_while_parked(a, b, sid)
    done = b.wait_session(sid, timeout=90)
    assert done["state"] == "completed", done
    assert done["worker"] == "node-b"
    assert read_marks(marks) == [f"{sid} {i} hi" for i in range(steps)]
    assert b.prints(sid) == [f"after step {i}" for i in range(steps)]
    assert b.api("GET", f"/store/{sid}", params={"project": "shared"}).json()["value"] == steps


WAITER_MANIFEST = """\
version: v2
project:
  name: waiter
  triggers:
    - name: start
      type: webhook
      call: program.py:wait
      is_durable: true
    - name: poke
      type: webhook
"""

WAITER_PROGRAM = """\
import autokitteh as ak

MARKS = {marks!r}

@ak.activity
def mark(what):
    with open(MARKS, "a") as f:
        f.write(what + "\\n")
    return what

def wait(event, session_id):
    sub = ak.subscribe("poke")
    mark(f"{{session_id}} subscribed")
    print("waiting")
    got = ak.next_event(sub, timeout=120)
    mark(f"{{session_id}} got {{got.body.text}}")
    print("got", got.body.text)
"""


def test_a_session_parked_on_next_event_gets_an_event_posted_to_the_other_node_after_kill9(
    two_nodes: tuple[Akd, Akd, Path, str], tmp_path: Path
) -> None:
    """node-a dies while its session waits on ``next_event`` (parked); the event, posted to
    node-b, is delivered to it there, and node-b runs the rest of the session."""
    a, b, _, _ = two_nodes
    marks = tmp_path / "waiter-marks.txt"
    project = write_project(tmp_path / "w", {"autokitteh.yaml": WAITER_MANIFEST,
                                             "program.py": WAITER_PROGRAM.format(marks=str(marks))})  # fmt: skip
    hooks = a.deploy(project)["webhooks"]
    sid = _post(a, hooks["start"].rsplit("/webhooks/", 1)[1])
    _parked_on(a, sid, "event")
    assert read_marks(marks) == [f"{sid} subscribed"]
    _kill9_while_parked(a, b, sid)
    res = httpx.post(f"{b.url}/webhooks/{hooks['poke'].rsplit('/webhooks/', 1)[1]}", content=b"hello", timeout=10)
    assert res.status_code == 202, res.text
    done = b.wait_session(sid, timeout=90)
    assert done["state"] == "completed", done
    assert done["worker"] == "node-b"
    assert read_marks(marks) == [f"{sid} subscribed", f"{sid} got hello"]
    assert b.prints(sid) == ["waiting", "got hello"]


def test_an_api_only_node_takes_events_that_the_workers_run(shared: tuple[object, str], tmp_path: Path) -> None:
    pg, address = shared
    url = pg.new_database()  # type: ignore[attr-defined]
    worker = cluster_node(tmp_path, "node-a", url, address)
    api = None
    try:
        marks = tmp_path / "marks.txt"
        project = marking_project(tmp_path / "p", "shared", marks, greeting="hi", count=True)
        slug = worker.deploy(project)["webhooks"]["go"].rsplit("/webhooks/", 1)[1]
        api = cluster_node(tmp_path, "api", url, address, key_from=worker, worker=False)
        sids = [_post(api, slug) for _ in range(3)]
        for sid in sids:
            done = api.wait_session(sid, timeout=60)
            assert done["state"] == "completed" and done["worker"] == "node-a", done
        assert sorted(marks.read_text().splitlines()) == sorted(f"{sid} 0 hi" for sid in sids)
        # It runs no session, hence no runner and no fork server of its own.
        assert api.api("GET", "/health").json()["runners"] == 0

        def runners(node: Akd) -> list[int]:
            return [p for p in children_of(node.pid) if b"akd.runner" in Path(f"/proc/{p}/cmdline").read_bytes()]

        assert runners(worker) and not runners(api)  # the worker node has its fork server
    finally:
        for node in (worker, api):
            if node is not None:
                node.down()


SYNC_MANIFEST = """\
version: v2
project:
  name: answers
  triggers:
    - name: ask
      type: webhook
      call: program.py:answer
      is_sync: true
"""

SYNC_PROGRAM = """\
import autokitteh as ak

def answer(event):
    name = (event.data.body.json or dict()).get("name", "?")
    ak.http_outcome(status_code=201, json={"hello": name})
"""


def test_a_sync_webhook_on_an_api_node_gets_the_answer_of_a_session_on_a_worker(
    shared: tuple[object, str], tmp_path: Path
) -> None:
    pg, address = shared
    url = pg.new_database()  # type: ignore[attr-defined]
    worker = cluster_node(tmp_path, "node-a", url, address)
    api = None
    try:
        project = write_project(tmp_path / "p", {"autokitteh.yaml": SYNC_MANIFEST, "program.py": SYNC_PROGRAM})
        slug = worker.deploy(project)["webhooks"]["ask"].rsplit("/webhooks/", 1)[1]
        api = cluster_node(tmp_path, "api", url, address, key_from=worker, worker=False)
        for name in ("Ada", "Grace"):
            res = httpx.post(f"{api.url}/webhooks/{slug}", json={"name": name}, timeout=30)
            assert res.status_code == 201, res.text
            assert res.json() == {"hello": name}
            sid = api.api("GET", f"/events/{res.headers['AutoKitteh-Event-ID']}").json()["session_ids"][0]
            assert api.session(sid)["worker"] == "node-a"  # answered across akd nodes
    finally:
        for node in (worker, api):
            if node is not None:
                node.down()


def _freeze_inside_a_transaction(node: Akd, deadline: float = 60.0) -> list[int]:
    """Stop ``node`` and everything below it (SIGSTOP, as a stalled machine) at a moment
    its store connection is inside a transaction, holding row locks the other nodes need:
    the worst moment to stall. Tries again (SIGCONT, a short random wait) until it is so."""
    rng = random.Random(7)
    ends = time.monotonic() + deadline
    tries = 0
    while time.monotonic() < ends:
        frozen = [node.pid, *descendants_of(node.pid)]
        for pid in frozen:
            os.kill(pid, signal.SIGSTOP)
        tries += 1
        time.sleep(0.02)  # a statement the server was running when akd stopped ends meanwhile
        holding = node.query(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name=? AND state LIKE 'idle in transaction%'",
            (f"akd {node.env['AKD_SERVER_NODE']}",),
        )[0][0]
        if holding:
            return frozen
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
        time.sleep(rng.uniform(0, 0.03))
    raise AssertionError(f"{node.env['AKD_SERVER_NODE']} was never inside a transaction in {tries} tries")


def test_a_frozen_node_is_taken_over_and_repeats_nothing_when_it_thaws(two_nodes: tuple[Akd, Akd, Path, str]) -> None:
    """node-a stalls (SIGSTOP of akd and its runners) inside a store transaction; node-b
    goes on with its session (the server ends node-a's idle transaction and its row
    locks), and node-a, thawed, neither runs another step nor stores anything of it."""
    a, b, marks, slug = two_nodes
    steps = 150
    sid = _post(a, slug, steps=steps, pause=0.02)
    assert wait_for(lambda: a.session(sid).get("worker"), 30) == "node-a"
    wait_for(lambda: marks.exists() and len(marks.read_text().splitlines()) >= 3, 30, what="three steps on node-a")
    frozen = _freeze_inside_a_transaction(a)
    try:
        before = len(marks.read_text().splitlines())
        assert before < steps, "the session ended before node-a froze"
        wait_for(lambda: len(marks.read_text().splitlines()) > before, 60, what="node-b to go on")
        assert b.session(sid)["worker"] == "node-b"
    finally:
        for pid in frozen:
            os.kill(pid, signal.SIGCONT)
    done = b.wait_session(sid, timeout=120)
    assert done["state"] == "completed", done
    time.sleep(2)  # node-a, thawed, must not go on with the session it lost
    lines = marks.read_text().splitlines()
    counts = {i: lines.count(f"{sid} {i} hi") for i in range(steps)}
    assert all(n >= 1 for n in counts.values()), counts
    assert sum(n - 1 for n in counts.values()) <= 1, {i: n for i, n in counts.items() if n > 1}
    assert len(lines) == sum(counts.values()), "a mark of another session"
    assert b.prints(sid) == [f"after step {i}" for i in range(steps)]
    # Each step's add_values is a journaled call, stored once: node-a stored none after it lost the session.
    assert b.query("SELECT value FROM kv WHERE key=?", (sid,)) == [(str(steps),)]
    assert b.session(sid)["steps"] == 3 * steps  # mark, add_values and the sleep of each step, each journaled once


def test_a_node_without_the_stores_secret_key_refuses_to_start(shared: tuple[object, str], tmp_path: Path) -> None:
    pg, address = shared
    url = pg.new_database()  # type: ignore[attr-defined]
    first = cluster_node(tmp_path, "node-a", url, address)
    try:
        for name, key in (("no-key", None), ("other-key", b"x" * 43 + b"=")):
            other = Akd(tmp_path / name)
            other.env.update(node_env(name, url, address))
            if key is not None:
                other.data_dir.mkdir(parents=True)
                (other.data_dir / "secret.key").write_bytes(key)
            res = other.akctl("up", "--detach", "--port", "0", timeout=120)
            try:
                assert res.returncode != 0, f"{name}: started"
                assert "copy secret.key from an akd of this store" in res.stdout + res.stderr, res.stderr
            finally:
                other.down()
    finally:
        first.down()


TICK_MANIFEST = """\
version: v2
project:
  name: ticks
  triggers:
    - name: yearly
      type: schedule
      schedule: "0 0 1 1 *"
      call: program.py:tick
"""

TICK_PROGRAM = """\
def tick(event):
    print("tick")
"""


def test_a_schedule_of_two_nodes_exists_once_and_each_fire_starts_one_session(
    shared: tuple[object, str], tmp_path: Path
) -> None:
    pg, address = shared
    url = pg.new_database()  # type: ignore[attr-defined]
    a = cluster_node(tmp_path, "node-a", url, address)
    b: Akd | None = None
    try:
        a.deploy(write_project(tmp_path / "p", {"autokitteh.yaml": TICK_MANIFEST, "program.py": TICK_PROGRAM}))
        b = cluster_node(tmp_path, "node-b", url, address, key_from=a)  # its start reconciles the schedules too

        async def schedules() -> list[str]:
            client = await connect(address)
            return [s.id async for s in await client.list_schedules()]

        assert len(wait_for(lambda: asyncio.run(schedules()), 30)) == 1
        for firing in (a, b, a):
            fired = firing.akctl("trigger", "fire", "ticks/yearly")
            assert fired.returncode == 0, fired.stderr
            time.sleep(1.1)  # a tick's id is its trigger's and its second: one a second
        wait_for(lambda: len(b.sessions(project="ticks", limit=100)) >= 3, 60, what="three ticks' sessions")
        time.sleep(2)  # a duplicate would show up by now
        ticks = b.sessions(project="ticks", limit=100)
        assert len(ticks) == 3, ticks
        for s in ticks:
            assert b.wait_session(s["session_id"], timeout=60)["state"] == "completed"
        assert len(asyncio.run(schedules())) == 1
    finally:
        for node in (a, b):
            if node is not None:
                node.down()
