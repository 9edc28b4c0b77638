"""Replay equivalence (runtime issue, items 1-4): a durable session ends the same way
whether it runs in one go or is parked and replayed after every journaled step.

Each case runs on two daemons: one as usual, one with ``[sessions] replay_each_step``
(after every step or SDK call the session parks and a fresh runner replays its journal,
as after a restart). State, error type and message, prints and the journal's steps must
be identical. The cases are the durable programs of ``test_durable.py`` plus programs
that raise vendor SDK exceptions (``openai``, ``slack_sdk``) and awkward ones from
steps, use ``open()`` and do work at module level.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import test_durable as durable
from tests.e2e import test_sdk as sdk_tests
from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

MANIFEST = """\
version: v1
project:
  name: {name}
  triggers:
    - name: go
      type: webhook
      call: program.py:{entry}
"""

VENDOR_ERRORS = """\
import httpx, json, openai
from autokitteh import activity
from slack_sdk.errors import SlackApiError

class KeywordOnly(Exception):
    def __init__(self, *, code):
        super().__init__(f"failed with code {{code}}")
        self.code = code

class Unpicklable(Exception):
    def __init__(self, message):
        super().__init__(message)
        self.lock = __import__("threading").Lock()
        self.detail = "kept"

class Loop(Exception):
    def __init__(self):
        super().__init__("loops")
        self.me = self

@activity
def rate_limited():            # one step that raises, as a vendor client call does
    req = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    resp = httpx.Response(429, request=req, json={{"error": {{"message": "slow down"}}}})
    raise openai.RateLimitError("slow down", response=resp, body={{"error": {{"message": "slow down"}}}})

def keyword_only():
    raise KeywordOnly(code=7)

@activity
def unpicklable():
    raise Unpicklable("has a lock")

@activity
def loop():
    raise Loop()

def made_here():               # the constructor is the step: it returns the exception
    req = httpx.Request("GET", "http://127.0.0.1:9/")
    raise openai.APIStatusError("made", response=httpx.Response(500, request=req), body=None)

def slack_fails():
    # A SlackApiError as slack_sdk builds it for a failed API call.
    from slack_sdk.web import SlackResponse
    resp = SlackResponse(client=None, http_verb="POST", api_url="chat.postMessage", req_args={{}},
                         data={{"ok": False, "error": "channel_not_found"}}, headers={{}}, status_code=200)
    raise SlackApiError("The request to the Slack API failed.", resp)

def run(event):
    for fn in (rate_limited, made_here, keyword_only, unpicklable, loop, slack_fails):
        try:
            fn()
        except openai.APIStatusError as e:
            print("openai", type(e).__name__, isinstance(e, openai.APIStatusError), e.status_code, str(e))
        except KeywordOnly as e:
            print("keyword-only", str(e), e.code)
        except Unpicklable as e:
            print("unpicklable", str(e), getattr(e, "detail", None), hasattr(e, "lock"))
        except Loop as e:
            print("loop", str(e))
        except SlackApiError as e:
            print("slack", type(e).__name__, str(e).splitlines()[0])
    rate_limited()   # uncaught: the session's error
"""

FILES = """\
import os

DATA = {data!r}
CONFIG = DATA + ".config"
if not os.path.exists(CONFIG):      # module level: runs directly at every import
    with open(CONFIG, "w") as f:
        f.write("seed\\n")
with open(CONFIG) as f:
    SEED = f.read().strip()

def run(event):
    with open(DATA, "a") as f:
        f.write("more\\n")
    with open(DATA) as f:
        lines = f.read().splitlines()
    print("seed", SEED, "lines", lines)
    print("exists", os.path.exists(DATA))
"""

MODULE_LEVEL = """\
import time, random

def make_client():
    return {{"made_at": time.time() > 0, "n": random.randint(1, 1)}}

CLIENT = make_client()              # top-level code, and what it calls, is not journaled

def run(event):
    print("client", CLIENT)
    time.sleep(0.1)
    print("again", CLIENT["n"])
"""

SDK_CALLS = """\
import autokitteh as ak

def run(event):
    ak.set_value("k", 1)
    ak.add_values("k", 2)
    print("k", ak.get_value("k"))
    store = ak.store
    store["x"] = {{"a": 1}}
    print("x", store["x"], len(list(store)) >= 2)
    child = ak.start("program.py:child", data={{"n": 4}})
    print("child", ak.next_signal(child, timeout=60).payload)

def child(event):
    return event.data.n * 10
"""


@dataclass(frozen=True)
class Case:
    name: str
    program: str  # format fields: {out}, {data}, {flaky_path}, {step_sleep}, {sleep}, {path}, {version}
    manifest: str = MANIFEST
    same_prints: bool = True  # False where prints show the clock or randomness
    entry: str = "run"
    template: bool = True  # the program has format fields (and doubled braces)


CASES = [
    Case("side_effects", durable.SIDE_EFFECTS),
    Case("nondet", durable.NONDETERMINISTIC, same_prints=False),
    Case("errors", durable.ERRORS),
    Case("retries", durable.FLAKY, manifest=durable.DEFAULT_RETRY),
    Case("pinned", durable.PINNED),
    Case("vendor", VENDOR_ERRORS),
    Case("files", FILES),
    Case("module", MODULE_LEVEL),
    Case("sdk", SDK_CALLS),
    Case("family", sdk_tests.FAMILY, entry="parent", template=False),
]

_names = itertools.count()


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Akd, Akd]]:
    straight = Akd(tmp_path_factory.mktemp("straight"))
    replaying = Akd(tmp_path_factory.mktemp("replaying"))
    replaying.env["AKD_SESSIONS_REPLAY_EACH_STEP"] = "true"
    try:
        straight.up()
        replaying.up()
        yield straight, replaying
    finally:
        straight.down()
        replaying.down()


def _run(akd: Akd, case: Case, root: Path) -> dict[str, Any]:
    name = f"{case.name}{next(_names)}"
    fields = {"out": str(root / "out.txt"), "data": str(root / "data.txt"), "flaky_path": str(root / "flaky.txt"),
              "path": str(root / "flaky.txt"), "step_sleep": 0, "sleep": 3, "version": 1}  # fmt: skip
    manifest = case.manifest.replace("name: retries", f"name: {name}").format(name=name, entry=case.entry)
    program = case.program.format(**fields) if case.template else case.program
    write_project(root / "p", {"autokitteh.yaml": manifest, "program.py": program})
    url = akd.deploy(root / "p")["webhooks"]["go"]
    event = httpx.post(url, content=b"{}", timeout=30).headers["AutoKitteh-Event-ID"]
    sid = wait_for(lambda: akd.api("GET", f"/events/{event}").json().get("session_ids"), 30)[0]
    done = akd.wait_session(sid, timeout=180)
    log = akd.api("GET", f"/sessions/{sid}/log").json()["records"]
    journaled = ("step", "sleep", "call")
    steps = [(r["kind"], r["name"], r.get("ok"), r.get("attempt", 1)) for r in log if r["kind"] in journaled]
    error = done.get("error") or {}
    return {
        "state": done["state"],
        "error": (error.get("type"), error.get("message")),
        "prints": akd.prints(sid),
        "steps": steps,
        "segments": sum(1 for r in log if r["kind"] == "state" and r.get("state") == "running"),
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_a_durable_session_ends_the_same_when_replayed_after_every_step(
    pair: tuple[Akd, Akd], case: Case, tmp_path: Path
) -> None:
    straight, replaying = pair
    one_go = _run(straight, case, tmp_path / "straight")
    replayed = _run(replaying, case, tmp_path / "replaying")
    assert one_go["state"] == replayed["state"], (one_go, replayed)
    assert one_go["error"] == replayed["error"], (one_go, replayed)
    assert one_go["steps"] == replayed["steps"], (one_go, replayed)
    if case.same_prints:
        assert one_go["prints"] == replayed["prints"], (one_go, replayed)
    else:
        assert len(one_go["prints"]) == len(replayed["prints"])


def test_vendor_exceptions_keep_their_class_and_message(pair: tuple[Akd, Akd], tmp_path: Path) -> None:
    straight, _ = pair
    got = _run(straight, CASES[5], tmp_path)
    assert got["prints"] == [
        "openai RateLimitError True 429 slow down",
        "openai APIStatusError True 500 made",
        "keyword-only failed with code 7 7",
        "unpicklable has a lock kept False",
        "loop loops",
        "slack SlackApiError The request to the Slack API failed.",
    ], got
    assert got["state"] == "error" and got["error"] == ("RateLimitError", "slow down"), got


def test_open_and_module_level_code_run_directly(pair: tuple[Akd, Akd], tmp_path: Path) -> None:
    straight, _ = pair
    files = _run(straight, CASES[6], tmp_path / "f")
    assert files["state"] == "completed", files
    assert files["prints"] == ["seed seed lines ['more']", "exists True"]
    # open() is not a step; the reads and writes on the file are.
    names = [name for _, name, _, _ in files["steps"]]
    assert not any(n in ("open", "io.open") for n in names) and any("write" in n for n in names), names
    module = _run(straight, CASES[7], tmp_path / "m")
    assert module["state"] == "completed", module
    assert module["prints"] == ["client {'made_at': True, 'n': 1}", "again 1"]
    # Only the entry function's own sleep is journaled: nothing from the import.
    assert [name for _, name, _, _ in module["steps"]] == ["sleep"], module["steps"]
