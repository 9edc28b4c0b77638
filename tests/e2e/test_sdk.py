"""The autokitteh SDK and the event model (issue 5), end to end on a real akd."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: {version}
project:
  name: {name}
  triggers:
{triggers}
"""


def webhook(name: str, call: str = "", sync: bool = False) -> str:
    lines = f"    - name: {name}\n      type: webhook\n"
    if call:
        lines += f"      call: {call}\n"
    if sync:
        lines += "      is_sync: true\n"
    return lines


def deploy(akd: Akd, root: Path, name: str, program: str, triggers: str, version: str = "v1") -> dict[str, str]:
    manifest = MANIFEST.format(version=version, name=name, triggers=triggers)
    write_project(root, {"autokitteh.yaml": manifest, "program.py": program})
    hooks: dict[str, str] = akd.deploy(root)["webhooks"]
    return hooks


def sessions_of(akd: Akd, event_id: str) -> list[str]:
    ev = akd.api("GET", f"/events/{event_id}", params={"wait": "final", "timeout": 30}).json()
    return list(ev["session_ids"])


SYNC_WAITS_FOR_SECOND = """\
import autokitteh as ak

def ask(event):
    sub = ak.subscribe("answer")
    print("subscribed")
    ak.http_outcome(200, ak.next_event(sub, timeout=60).body.text)
"""


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_sync_webhook_answers_with_a_later_events_body(akd_module: Akd, tmp_path: Path, version: str) -> None:
    hooks = deploy(akd_module, tmp_path / "p", f"relay_{version}", SYNC_WAITS_FOR_SECOND,
                   webhook("ask", "program.py:ask", sync=True) + webhook("answer"), version=version)  # fmt: skip
    result: dict[str, Any] = {}

    def ask() -> None:
        result["resp"] = httpx.post(hooks["ask"], timeout=60)

    asker = threading.Thread(target=ask)
    asker.start()

    # The answer must come after the subscription exists ("only later events").
    def subscribed() -> bool:
        resp = akd_module.api("GET", f"/sessions/relay_{version}/prints")  # the project's latest session
        return resp.status_code == 200 and [p["text"] for p in resp.json()["prints"]] == ["subscribed"]

    wait_for(subscribed, 20, what="the subscription")
    if version == "v1":  # a durable session waits without a process
        wait_for(lambda: akd_module.api("GET", "/health").json()["runners"] == 0, 20)
    assert httpx.post(hooks["answer"], content=b"hello", timeout=10).status_code == 202
    asker.join(60)
    assert result["resp"].status_code == 200
    assert result["resp"].text == "hello"
    assert result["resp"].headers["AutoKitteh-Event-ID"].startswith("evt_")


OUTCOMES = """\
import autokitteh as ak

def with_json(event):
    ak.http_outcome(201, json={"ok": True}, headers={"X-Custom": "yes"})

def positional(event):
    ak.http_outcome(202, "plain body")

def silent(event):
    pass

def broken(event):
    raise ValueError("nope")

def slow(event):
    import time
    time.sleep(5)
"""


def test_sync_webhook_outcomes_and_fallbacks(akd: Akd, tmp_path: Path) -> None:
    (akd.data_dir / "akd.toml").write_text("[sessions]\nsync_timeout = 2\n")
    akd.akctl("down", timeout=60)
    akd.up()
    triggers = "".join(webhook(n, f"program.py:{n}", sync=True) for n in ("with_json", "positional", "silent",
                                                                           "broken", "slow"))  # fmt: skip
    triggers += webhook("nothing", "", sync=True)
    hooks = deploy(akd, tmp_path / "p", "outcomes", OUTCOMES, triggers, version="v2")
    r = httpx.post(hooks["with_json"], timeout=30)
    assert (r.status_code, r.json(), r.headers["X-Custom"]) == (201, {"ok": True}, "yes")
    assert r.headers["Content-Type"] == "application/json"
    r = httpx.post(hooks["positional"], timeout=30)
    assert (r.status_code, r.text) == (202, "plain body")
    assert httpx.post(hooks["silent"], timeout=30).status_code == 204
    assert httpx.post(hooks["broken"], timeout=30).status_code == 500
    assert httpx.post(hooks["slow"], timeout=30).status_code == 504
    assert httpx.post(hooks["nothing"], timeout=30).status_code == 502


WAITER = """\
import autokitteh as ak

def wait(event):
    sub = ak.subscribe("poke", filter='data.body.text != "ignored"')
    print("waiting")
    first = ak.next_event(sub, timeout=120, full=True)
    print("got", first.event_type, first.data.body.text)
    none = ak.next_event(sub, timeout=0.5)
    print("then", none)
    ak.unsubscribe(sub)
"""


def test_next_event_survives_kill9_and_gets_an_event_sent_after_restart(akd: Akd, tmp_path: Path) -> None:
    hooks = deploy(akd, tmp_path / "p", "waiter", WAITER, webhook("start", "program.py:wait") + webhook("poke"))
    sid = sessions_of_started(akd, httpx.post(hooks["start"]).headers["AutoKitteh-Event-ID"])
    wait_for(lambda: akd.prints(sid) == ["waiting"], 20)
    wait_for(lambda: akd.api("GET", "/health").json()["runners"] == 0, 20, what="no runner while waiting")
    akd.kill9()
    akd.up()
    poke = akd.url + "/webhooks/" + hooks["poke"].rsplit("/webhooks/", 1)[1]
    assert httpx.post(poke, content=b"ignored").status_code == 202  # filtered out by the subscription
    assert httpx.post(poke, content=b"after restart").status_code == 202
    done = akd.wait_session(sid, timeout=60)
    assert done["state"] == "completed", done
    assert akd.prints(sid) == ["waiting", "got post after restart", "then None"]


def sessions_of_started(akd: Akd, event_id: str) -> str:
    def found() -> str | None:
        ev = akd.api("GET", f"/events/{event_id}").json()
        return ev["session_ids"][0] if ev["session_ids"] else None

    return wait_for(found, 20)


GAME = """\
import autokitteh as ak

def play(event):
    while True:
        stored = ak.get_value("game")
        state = stored or {"moves": 0, "players": []}
        new = {"moves": state["moves"] + 1, "players": state["players"] + [event.data.body.text]}
        if ak.check_and_set_value("game", stored, new):
            return new["moves"]
"""


def test_check_and_set_keeps_state_consistent_under_concurrency(akd_module: Akd, tmp_path: Path) -> None:
    hooks = deploy(akd_module, tmp_path / "p", "game", GAME, webhook("move", "program.py:play"), version="v2")
    events = []

    def send(i: int) -> None:
        events.append(httpx.post(hooks["move"], content=f"p{i}".encode(), timeout=30).headers["AutoKitteh-Event-ID"])

    threads = [threading.Thread(target=send, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sids = [s for e in events for s in sessions_of(akd_module, e)]
    assert len(sids) == 20
    assert all(akd_module.session(s)["state"] == "completed" for s in sids)
    game = akd_module.akctl_json("store", "get", "game", "--project", "game")["value"]
    assert game["moves"] == 20 and sorted(game["players"]) == sorted(f"p{i}" for i in range(20))
    assert sorted(akd_module.session(s)["return_value"] for s in sids) == list(range(1, 21))


KV = """\
import json
import autokitteh as ak
from autokitteh import AutoKittehError

def run(event):
    out = {}
    out["missing"] = ak.get_value("k")
    ak.set_value("k", {"a": [1, 2]})
    out["get"] = ak.get_value("k")
    out["add"] = [ak.add_values("n", 2**70), ak.add_values("n", 1)]
    out["cas_bad"] = ak.check_and_set_value("k", "other", 1)
    out["cas_ok"] = ak.check_and_set_value("k", {"a": [1, 2]}, "new")
    out["mutate"] = ak.mutate_value("m", "set", 5), ak.mutate_value("m", "add", 1), ak.mutate_value("m", "get")
    out["keys"] = ak.list_values_keys()
    out["del"] = ak.del_value("k")
    ak.set_value("m", None)
    out["keys_after"] = ak.list_values_keys()
    for bad in (lambda: ak.set_value("big", "x" * 70000), lambda: ak.mutate_value("k", "explode"),
                lambda: ak.set_value("s", {1, 2})):
        try:
            bad()
        except AutoKittehError as e:
            out.setdefault("errors", []).append(str(e)[:40])
    print(json.dumps(out))
"""


def test_key_value_store_functions(akd_module: Akd, tmp_path: Path) -> None:
    hooks = deploy(akd_module, tmp_path / "p", "kvproj", KV, webhook("go", "program.py:run"))
    sid = sessions_of(akd_module, httpx.post(hooks["go"]).headers["AutoKitteh-Event-ID"])[0]
    assert akd_module.session(sid)["state"] == "completed", akd_module.session(sid)
    out = json.loads(akd_module.prints(sid)[0])
    assert out["missing"] is None and out["get"] == {"a": [1, 2]}
    assert out["add"] == [2**70, 2**70 + 1]
    assert (out["cas_bad"], out["cas_ok"]) == (False, True)
    assert out["mutate"] == [None, 6, 6]
    assert out["keys"] == ["k", "m", "n"] and out["del"] == "new" and out["keys_after"] == ["n"]
    assert len(out["errors"]) == 3
    assert out["errors"][0].startswith("value is 70002 bytes")
    assert "unknown op" in out["errors"][1] and "JSON" in out["errors"][2]
    listed = akd_module.akctl_json("store", "list", "--project", "kvproj")
    assert [(r["key"], r["value"]) for r in listed] == [("n", 2**70 + 1)]
    assert akd_module.akctl("store", "set", "x", '{"y": 1}', "--project", "kvproj").returncode == 0
    assert akd_module.akctl_json("store", "get", "x", "--project", "kvproj") == {"key": "x", "value": {"y": 1}}
    assert akd_module.akctl("store", "get", "nope", "--project", "kvproj").returncode == 44


FAMILY = """\
import autokitteh as ak

def parent(event):
    child = ak.start("program.py:child", data={"n": 21}, memo={"why": "test"})
    result = ak.next_signal(child, timeout=60)
    print("child said", result.payload["completed"], result.payload["value"])
    print("payload", result.payload)
    failing = ak.start("program.py:failing_child")
    print("failed child said", ak.next_signal(failing, timeout=60).payload)
    ak.signal(child, "late", {"x": 1})  # a signal to an ended session is stored, not an error
    timed_out = ak.next_signal("never", timeout=0.5)
    print("timeout gives", timed_out)

def child(event):
    return event.data.n * 2

def failing_child(event):
    raise ValueError("no")

def pinger(event):
    target = event.data.body.text
    ak.signal(target, "ping", {"from": "pinger"})

def ponger(event):
    got = ak.next_signal(["ping", "other"], timeout=60)
    print("got", got.name, got.payload["from"])
"""


@pytest.mark.parametrize("version", ["v1", "v2"], ids=["durable", "non-durable"])
def test_child_sessions_and_signals(akd_module: Akd, tmp_path: Path, version: str) -> None:
    triggers = "".join(webhook(n, f"program.py:{n}") for n in ("parent", "pinger", "ponger"))
    project = f"family{version}"
    hooks = deploy(akd_module, tmp_path / "p", project, FAMILY, triggers, version=version)
    parent = sessions_of(akd_module, httpx.post(hooks["parent"]).headers["AutoKitteh-Event-ID"])[0]
    assert akd_module.prints(parent) == [
        "child said True 42",
        "payload {'completed': True, 'value': 42}",  # AutoKitteh's shape, nothing more
        "failed child said {'completed': False}",
        "timeout gives None",
    ]
    children = [s for s in akd_module.sessions(project=project) if s["parent_session_id"] == parent]
    assert len(children) == 2 and sorted(str(c["return_value"]) for c in children) == ["42", "None"]
    ponger = sessions_of_started(akd_module, httpx.post(hooks["ponger"]).headers["AutoKitteh-Event-ID"])
    httpx.post(hooks["pinger"], content=ponger.encode())
    assert akd_module.wait_session(ponger)["state"] == "completed"
    assert akd_module.prints(ponger) == ["got ping pinger"]


ERRORS = """\
import autokitteh as ak
from autokitteh import AutoKittehError

def run(event):
    for bad in (lambda: ak.subscribe("no_such_trigger"), lambda: ak.subscribe("go", filter="data.("),
                lambda: ak.next_event("sub_unknown", timeout=1), lambda: ak.start("nofile:fn"),
                lambda: ak.signal("ses_nope", "x"), lambda: ak.get_webhook_url("nope")):
        try:
            bad()
            print("no error")
        except AutoKittehError as e:
            print(type(e).__name__, str(e).split(":")[0])
    print("url", ak.get_webhook_url("go").split("/webhooks/")[0] != "")
"""


def test_sdk_errors_are_clear(akd_module: Akd, tmp_path: Path) -> None:
    hooks = deploy(akd_module, tmp_path / "p", "sdkerr", ERRORS, webhook("go", "program.py:run"))
    sid = sessions_of(akd_module, httpx.post(hooks["go"]).headers["AutoKitteh-Event-ID"])[0]
    assert akd_module.prints(sid) == [
        "AutoKittehError subscribe", "AutoKittehError subscribe", "AutoKittehError next_event",
        "AutoKittehError start", "AutoKittehError signal",
        "AutoKittehError no webhook trigger named 'nope' in this project",
        "url True",
    ]  # fmt: skip


def test_event_commands_dispatch_and_redispatch(akd_module: Akd, tmp_path: Path) -> None:
    program = "def run(event):\n    print('data', dict(event.data), event.event_type)\n"
    deploy(akd_module, tmp_path / "p", "evts", program, webhook("go", "program.py:run"))
    ev = akd_module.akctl_json("event", "dispatch", "--trigger", "go", "--project", "evts", "--type", "custom",
                               "--data", "a=1", "--data", "b=text")  # fmt: skip
    assert ev["trigger"] == "go" and len(ev["session_ids"]) == 1
    sid = ev["session_ids"][0]
    assert akd_module.wait_session(sid)["state"] == "completed"
    assert akd_module.prints(sid) == ["data {'a': 1, 'b': 'text'} custom"]
    again = akd_module.akctl_json("event", "redispatch", ev["event_id"])
    assert again["event_id"] != ev["event_id"] and len(again["session_ids"]) == 1
    assert akd_module.wait_session(again["session_ids"][0])["state"] == "completed"
    listed = akd_module.akctl_json("event", "list", "--project", "evts")
    assert {e["event_id"] for e in listed} >= {ev["event_id"], again["event_id"]}
    got = akd_module.akctl_json("event", "get", ev["event_id"])
    assert got["data"] == {"a": 1, "b": "text"} and got["session_ids"] == [sid]
    human = akd_module.akctl("event", "list", "--project", "evts")
    assert ev["event_id"] in human.stdout
    assert akd_module.akctl("event", "dispatch", "--trigger", "nope").returncode == 44
    assert akd_module.akctl("event", "get", "evt_00000000000000000000000000").returncode == 44


def test_manual_session_start_with_watch(akd_module: Akd, tmp_path: Path) -> None:
    program = "def run(event):\n    print('hi', event.data.who)\n    return event.data.n + 1\n"
    deploy(akd_module, tmp_path / "p", "manual", program, webhook("go", "program.py:run"))
    res = akd_module.akctl("session", "start", "--project", "manual", "--entrypoint", "program.py:run",
                           "--input", "who=\"Ada\"", "--input", "n=41", "--watch")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "hi Ada" in res.stdout
    sid = akd_module.akctl_json("session", "start", "--project", "manual", "--entrypoint", "program.py:run",
                                "--input", "who=1", "--input", "n=1")["session_id"]  # fmt: skip
    assert akd_module.wait_session(sid)["return_value"] == 2
    bad = akd_module.akctl("session", "start", "--project", "manual", "--entrypoint", "nonsense")
    assert bad.returncode == 40
