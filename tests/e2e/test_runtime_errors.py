"""Clear errors for odd endings (runtime issue, item 8), durable and not.

An exception whose ``str()`` raises, ``sys.exit(n)``, a missing module, and event data
nested hundreds of levels deep: each ends the session with an error a person can act
on (or completes it), and nothing answers 500.
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.harness import Akd
from tests.e2e.test_sdk import deploy, sessions_of, webhook

pytestmark = pytest.mark.e2e

PROGRAM = """\
import sys

class Broken(Exception):
    def __str__(self):
        raise RuntimeError("no words")

def bad_str(event):
    raise Broken("x")

def exit3(event):
    sys.exit(3)

def exit0(event):
    print("bye")
    sys.exit(0)

def missing(event):
    import no_such_package_xyz  # noqa

def deep(event):
    print(len(event.data.body.text), event.data.body.json)
"""

NAMES = ("bad_str", "exit3", "exit0", "missing", "deep")


@pytest.fixture(scope="module", params=["v1", "v2"], ids=["durable", "non-durable"])
def hooks(request: pytest.FixtureRequest, akd_module: Akd, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    version = str(request.param)
    triggers = "".join(webhook(n, f"program.py:{n}") for n in NAMES)
    root = tmp_path_factory.mktemp(f"errs{version}")
    return deploy(akd_module, root, f"errs{version}", PROGRAM, triggers, version=version)


def _run(akd: Akd, url: str, body: bytes = b"{}") -> dict[str, object]:
    resp = httpx.post(url, content=body, timeout=30)
    assert resp.status_code == 202, resp.text
    sid = sessions_of(akd, resp.headers["AutoKitteh-Event-ID"])[0]
    return akd.wait_session(sid)


def test_an_exception_whose_str_raises(akd_module: Akd, hooks: dict[str, str]) -> None:
    s = _run(akd_module, hooks["bad_str"])
    assert s["state"] == "error", s
    err = s["error"]
    assert isinstance(err, dict) and err["type"] == "Broken", err
    assert "str() raised RuntimeError" in err["message"]


def test_sys_exit_with_a_code_is_an_error_and_exit_0_completes(akd_module: Akd, hooks: dict[str, str]) -> None:
    s = _run(akd_module, hooks["exit3"])
    assert s["state"] == "error", s
    err = s["error"]
    assert isinstance(err, dict) and err["type"] == "SystemExit" and "sys.exit(3)" in err["message"], err
    assert "RunnerExited" not in json.dumps(err)
    s = _run(akd_module, hooks["exit0"])
    assert s["state"] == "completed", s
    assert akd_module.prints(str(s["session_id"])) == ["bye"]


def test_a_missing_module_hints_at_requirements(akd_module: Akd, hooks: dict[str, str]) -> None:
    s = _run(akd_module, hooks["missing"])
    assert s["state"] == "error", s
    err = s["error"]
    assert isinstance(err, dict) and err["type"] == "ModuleNotFoundError", err
    assert "no_such_package_xyz" in err["message"] and "requirements.txt" in err["message"], err


@pytest.mark.parametrize("depth", [450, 500, 5000])
def test_deeply_nested_event_data_is_accepted_and_every_read_path_renders_it(
    akd_module: Akd, hooks: dict[str, str], depth: int
) -> None:
    body = ("[" * depth + "]" * depth).encode()
    s = _run(akd_module, hooks["deep"], body)
    assert s["state"] == "completed", s
    sid = str(s["session_id"])
    assert akd_module.prints(sid) == [f"{2 * depth} None"]  # kept as text; json is None
    event_id = str(s["event_id"])
    shown = akd_module.akctl("event", "get", event_id, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["data"]["body"]["text"] == body.decode()
    assert akd_module.akctl("event", "get", event_id).returncode == 0
    auth = {"Authorization": f"Bearer {akd_module.token}"}
    for page in (f"/sessions/{sid}", f"/events/{event_id}"):
        assert httpx.get(akd_module.url + page, headers=auth, timeout=30).status_code == 200, page


def test_moderately_nested_json_is_still_json(akd_module: Akd, hooks: dict[str, str]) -> None:
    body = ("[" * 50 + "]" * 50).encode()
    s = _run(akd_module, hooks["deep"], body)
    assert s["state"] == "completed", s
    expected = "[]"
    for _ in range(49):
        expected = f"[{expected}]"
    assert akd_module.prints(str(s["session_id"])) == [f"100 {expected}"]
