"""The SDK's surface matches AutoKitteh's (issue "Session runtime", item 5), end to end.

``store``, published values, ``outcome``, ``Signal``, the submodules and
``register_no_activity`` over methods and classes, in durable (v1) and non-durable
(v2) sessions where it applies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Akd
from tests.e2e.test_sdk import deploy, sessions_of, webhook

pytestmark = pytest.mark.e2e

VERSIONS = pytest.mark.parametrize("version", ["v1", "v2"])


def run_once(akd: Akd, root: Path, name: str, program: str, version: str, entry: str = "run") -> str:
    """Deploy ``program`` with one webhook calling ``entry``, fire it, wait for the session to end."""
    hooks = deploy(akd, root, name, program, webhook("go", f"program.py:{entry}"), version=version)
    sid = sessions_of(akd, httpx.post(hooks["go"], timeout=30).headers["AutoKitteh-Event-ID"])[0]
    done = akd.wait_session(sid, timeout=60)
    assert done["state"] == "completed", done
    return sid


def printed_json(akd: Akd, sid: str) -> Any:
    return json.loads(akd.prints(sid)[-1])


def step_names(akd: Akd, sid: str) -> list[str]:
    records = akd.api("GET", f"/sessions/{sid}/log").json()["records"]
    return [r["name"] for r in records if r["kind"] == "step"]


STORE = """\
import json
import autokitteh as ak
from autokitteh import store
from autokitteh.store import Store

def run(event):
    del store["never_there"]          # deleting a missing key is not an error
    store["a"] = {"x": [1, 2]}
    store["b"] = 2
    ak.set_value("c", "three")        # the dict and the functions are one store
    out = {
        "is_store": isinstance(store, Store),
        "a": store["a"], "missing": store["missing"], "default": store.get("missing", 7),
        "keys": list(store), "len": len(store), "in": ["a" in store, "zz" in store],
    }
    del store["a"]
    out["after_del"] = sorted(store)
    out["get_value_a"] = ak.get_value("a")
    print(json.dumps(out))
"""


@VERSIONS
def test_store_is_a_dict_over_the_project_store(akd_module: Akd, tmp_path: Path, version: str) -> None:
    sid = run_once(akd_module, tmp_path / "p", f"store_{version}", STORE, version)
    out = printed_json(akd_module, sid)
    assert out == {
        "is_store": True, "a": {"x": [1, 2]}, "missing": None, "default": 7,
        "keys": ["a", "b", "c"], "len": 3, "in": [True, False],
        "after_del": ["b", "c"], "get_value_a": None,
    }  # fmt: skip
    listed = akd_module.akctl_json("store", "list", "--project", f"store_{version}")
    assert [(r["key"], r["value"]) for r in listed] == [("b", 2), ("c", "three")]


STORE_REPLAY = """\
import json, time
from autokitteh import store

def run(event):
    store["count"] = (store["count"] or 0) + 1
    store["trail"] = (store["trail"] or []) + ["before"]
    del store["scratch"]
    store["scratch"] = "x"
    time.sleep(3)   # parks the session: the rest runs in a new runner, after a replay
    store["count"] = store["count"] + 1
    store["trail"] = store["trail"] + ["after"]
    print(json.dumps({"count": store["count"], "trail": store["trail"], "len": len(store),
                      "scratch": "scratch" in store}))
"""


def test_store_ops_are_not_repeated_when_a_durable_session_replays(akd_module: Akd, tmp_path: Path) -> None:
    sid = run_once(akd_module, tmp_path / "p", "store_replay", STORE_REPLAY, "v1")
    log = akd_module.api("GET", f"/sessions/{sid}/log").json()["records"]
    assert any(r["kind"] == "sleep" for r in log), log  # it did park, so the code before replayed
    assert printed_json(akd_module, sid) == {"count": 2, "trail": ["before", "after"], "len": 3, "scratch": True}
    assert akd_module.akctl_json("store", "get", "count", "--project", "store_replay")["value"] == 2
    assert akd_module.akctl_json("store", "get", "trail", "--project", "store_replay")["value"] == ["before", "after"]


PUBLISHED = """\
import json
import autokitteh as ak
from autokitteh.store import get_store_public_url, publish_value, unpublish_value

def run(event):
    ak.set_value("pub", {"n": 1})
    ak.set_value("private", "secret")
    publish_value("pub")
    ak.set_value("pub", {"n": 2})     # a new value stays published
    ak.set_value("gone", 1)
    publish_value("gone")
    ak.del_value("gone")              # deleting drops the flag with the value
    ak.set_value("unp", 3)
    publish_value("unp")
    unpublish_value("unp")
    errors = []
    for bad in (lambda: publish_value("no_such_key"), lambda: unpublish_value("no_such_key")):
        try:
            bad()
        except ak.AutoKittehError as e:
            errors.append(str(e).split(":")[0])
    print(json.dumps({"url": get_store_public_url(), "errors": errors}))
"""


@VERSIONS
def test_published_values_are_served_without_a_token(akd_module: Akd, tmp_path: Path, version: str) -> None:
    name = f"pub_{version}"
    sid = run_once(akd_module, tmp_path / "p", name, PUBLISHED, version)
    project_id = akd_module.api("GET", f"/projects/{name}").json()["project_id"]
    out = printed_json(akd_module, sid)
    assert out == {"url": f"{akd_module.url}/store/{project_id}", "errors": ["publish_value", "unpublish_value"]}
    base = out["url"]
    got = httpx.get(f"{base}/pub", timeout=30)
    assert (got.status_code, got.json()) == (200, {"n": 2})
    assert got.headers["content-type"].startswith("application/json")
    for key in ("private", "gone", "unp", "no_such_key"):
        assert httpx.get(f"{base}/{key}", timeout=30).status_code == 404, key
    assert akd_module.akctl("store", "set", "gone", "5", "--project", name).returncode == 0
    assert httpx.get(f"{base}/gone", timeout=30).status_code == 404  # set again, but not published again
    assert httpx.get(f"{akd_module.url}/store/prj_nope/pub", timeout=30).status_code == 404
    assert httpx.post(f"{base}/pub", json={"n": 9}, timeout=30).status_code == 405  # read-only
    assert httpx.get(f"{base}/pub", timeout=30).json() == {"n": 2}


OUTCOME = """\
import autokitteh as ak
from autokitteh.outcomes import outcome

def ask(event):
    try:
        outcome("not a dict")
    except ak.AutoKittehError as e:
        print("refused", str(e).split(":")[0])
    outcome({"status_code": 201, "json": {"ok": True}, "headers": {"X-Answer": "yes"}})
"""


@VERSIONS
def test_outcome_answers_a_sync_webhook(akd_module: Akd, tmp_path: Path, version: str) -> None:
    hooks = deploy(akd_module, tmp_path / "p", f"outcome_{version}", OUTCOME,
                   webhook("ask", "program.py:ask", sync=True), version=version)  # fmt: skip
    res = httpx.post(hooks["ask"], timeout=60)
    assert (res.status_code, res.json(), res.headers["x-answer"]) == (201, {"ok": True}, "yes")
    sid = akd_module.wait_session(sessions_of(akd_module, res.headers["AutoKitteh-Event-ID"])[0])
    assert akd_module.prints(sid["session_id"]) == ["refused outcome"]


SIGNAL = """\
import dataclasses, json
import autokitteh as ak
from autokitteh.signals import Signal, next_signal

def run(event):
    child = ak.start("program.py:child", data={"n": 4})
    got = next_signal(child, timeout=60)
    print(json.dumps({
        "class": [type(got) is Signal, ak.Signal is Signal, dataclasses.is_dataclass(got)],
        "fields": [f.name for f in dataclasses.fields(got)],
        "name": got.name == child,
        "payload": [got.payload.completed, got.payload["value"]],
        "mapping_shape": got["payload"]["value"],
        "timeout": next_signal("never", timeout=0.2),
    }))

def child(event):
    return event.data.n * 10
"""


@VERSIONS
def test_next_signal_returns_autokittehs_signal_dataclass(akd_module: Akd, tmp_path: Path, version: str) -> None:
    sid = run_once(akd_module, tmp_path / "p", f"signal_{version}", SIGNAL, version)
    assert printed_json(akd_module, sid) == {
        "class": [True, True, True], "fields": ["name", "payload"], "name": True,
        "payload": [True, 40], "mapping_shape": 40, "timeout": None,
    }  # fmt: skip


# What AutoKitteh's py-sdk modules export, and the parameters of its functions.
AK_NAMES = {
    "activities": ["ACTIVITY_ATTR", "INHIBIT_ACTIVITIES_ATTR", "activity", "inhibit_activities",
                   "register_no_activity"],
    "events": ["AttrDict", "Event", "next_event", "start", "subscribe", "unsubscribe"],
    "signals": ["Signal", "next_signal", "signal"],
    "store": ["Op", "Store", "add_values", "check_and_set_value", "del_value", "get_store_public_url", "get_value",
              "list_values_keys", "mutate_value", "publish_value", "set_value", "store", "unpublish_value"],
    "triggers": ["get_webhook_url"],
    "outcomes": ["http_outcome", "outcome"],
    "event": ["Event"],
    "attr_dict": ["AttrDict"],
    "errors": ["AtlassianOAuthError", "AuthenticationError", "AutoKittehError", "ConnectionInitError",
               "EnvVarError", "OAuthRefreshError"],
    "": ["AttrDict", "AutoKittehError", "Event", "Signal", "activity", "add_values", "check_and_set_value",
         "del_value", "errors", "get_store_public_url", "get_value", "get_webhook_url", "http_outcome",
         "inhibit_activities", "list_values_keys", "mutate_value", "next_event", "next_signal", "outcome",
         "publish_value", "register_no_activity", "set_value", "signal", "start", "store", "subscribe",
         "unpublish_value", "unsubscribe"],
}  # fmt: skip
AK_PARAMS = {
    "add_values": ["key", "value"], "check_and_set_value": ["key", "expected_value", "new_value"],
    "del_value": ["key"], "get_value": ["key"], "set_value": ["key", "value"], "list_values_keys": [],
    "mutate_value": ["key", "op", "*args"], "publish_value": ["key"], "unpublish_value": ["key"],
    "get_store_public_url": [], "get_webhook_url": ["trigger_name"],
    "outcome": ["v", "*event_id"], "next_signal": ["name", "*timeout"], "signal": ["session_id", "name", "payload"],
    "next_event": ["subscription_id", "*timeout", "*full"], "subscribe": ["source", "filter"],
    "unsubscribe": ["subscription_id"], "start": ["loc", "data", "memo", "project"], "register_no_activity": ["items"],
}  # fmt: skip

SUBMODULES = """\
import importlib, inspect, json
import autokitteh as ak

NAMES = {names}
PARAMS = {params}

def shown(p):
    return {{"VAR_POSITIONAL": "*", "KEYWORD_ONLY": "*"}}.get(p.kind.name, "") + p.name

@ak.activity
def survey():
    missing = {{}}
    for sub, names in NAMES.items():
        mod = importlib.import_module("autokitteh" + ("." + sub if sub else ""))
        lost = [n for n in names if not hasattr(mod, n)]
        if lost:
            missing[sub] = lost
    store_mod = importlib.import_module("autokitteh.store")
    same = [store_mod.store is ak.store, isinstance(ak.store, store_mod.Store),
            importlib.import_module("autokitteh.activities").activity is ak.activity,
            importlib.import_module("autokitteh.signals").Signal is ak.Signal]
    params = {{n: [shown(p) for p in inspect.signature(getattr(ak, n)).parameters.values()] for n in PARAMS}}
    wrong = {{n: got for n, got in params.items() if got != PARAMS[n]}}
    return {{"missing": missing, "same": same, "wrong_params": wrong}}

def run(event):
    print(json.dumps(survey()))
"""


@VERSIONS
def test_submodules_and_signatures_match_autokitteh(akd_module: Akd, tmp_path: Path, version: str) -> None:
    program = SUBMODULES.format(names=repr(AK_NAMES), params=repr(AK_PARAMS))
    sid = run_once(akd_module, tmp_path / "p", f"submods_{version}", program, version)
    assert printed_json(akd_module, sid) == {"missing": {}, "same": [True, True, True, True], "wrong_params": {}}


NO_ACTIVITY = """\
import random, time
from autokitteh.activities import register_no_activity

def by_function(event):
    register_no_activity([random.Random.randint])   # covers every Random's bound randint
    r = random.Random(1)
    r.randint(1, 6)
    r.random()

def by_bound_method(event):
    r = random.Random(2)
    register_no_activity([r.randint])                # covers this object's randint only
    r.randint(1, 6)
    other = random.Random(3)
    other.randint(1, 6)

def by_class(event):
    register_no_activity(random.Random)              # the class, its methods, its instances' methods
    r = random.Random(4)
    r.random()
    r.randint(1, 6)
    r.choice([1, 2, 3])
    random.Random.randint(r, 1, 6)
    time.time()
"""


def test_register_no_activity_covers_methods_and_classes(akd_module: Akd, tmp_path: Path) -> None:
    triggers = "".join(webhook(n, f"program.py:{n}") for n in ("by_function", "by_bound_method", "by_class"))
    hooks = deploy(akd_module, tmp_path / "p", "noact", NO_ACTIVITY, triggers, version="v1")
    steps = {}
    for name, url in hooks.items():
        sid = sessions_of(akd_module, httpx.post(url, timeout=30).headers["AutoKitteh-Event-ID"])[0]
        assert akd_module.wait_session(sid, timeout=60)["state"] == "completed", akd_module.session(sid)
        steps[name] = step_names(akd_module, sid)
    assert steps["by_function"] == ["random.Random", "Random.random"], steps
    assert steps["by_bound_method"] == ["random.Random", "random.Random", "random.Random.randint"], steps
    assert steps["by_class"] == ["time.time"], steps
