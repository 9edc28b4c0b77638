"""Project lifecycle (issue 4): manifest errors, builds, deployments, vars and secrets, requirements."""

from __future__ import annotations

import json
import stat
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

PROGRAM = """\
import os, time

def on_http(event):
    print("hello", os.environ.get("GREETING"))
    gate = (event.data.body.json or {}).get("slow")
    if gate:  # runs until the test opens the gate (a file it creates), at most a minute
        for _ in range(600):
            if os.path.exists(gate):
                break
            time.sleep(0.1)
        print("slow done")

def on_tick(event):
    pass
"""


def manifest(name: str, triggers: str = "", vars_: str = "", version: str = "v2") -> str:
    text = f"version: {version}\nproject:\n  name: {name}\n"
    if vars_:
        text += "  vars:\n" + vars_
    return text + "  triggers:\n" + (triggers or WEBHOOK)


WEBHOOK = "    - name: hook\n      type: webhook\n      call: program.py:on_http\n"


def project(root: Path, text: str, program: str = PROGRAM, **extra: str) -> Path:
    return write_project(root, {"autokitteh.yaml": text, "program.py": program, **extra})


def post(url: str, body: dict[str, Any] | None = None) -> httpx.Response:
    return httpx.post(url, json=body or {}, timeout=10)


def flat(text: str) -> str:
    """akctl's error lines wrap at spaces; key paths and locations never contain one."""
    return text.replace("\n", "")


# -- malformed manifests ---------------------------------------------------------------

T = "  triggers:\n"
V = "  vars:\n"
# (case, manifest text, the key path its error must name)
MALFORMED = [
    ("missing version", "project:\n  name: bad\n", "version"),
    ("unknown version", "version: v3\nproject:\n  name: bad\n", "version"),
    ("missing project", "version: v1\n", "project"),
    ("bad project name", "version: v1\nproject:\n  name: my-project\n", "project.name"),
    ("unknown top key", "version: v1\nproject:\n  name: bad\nextra: 1\n", "extra"),
    ("unknown project key", "version: v1\nproject:\n  name: bad\n  colour: red\n", "project.colour"),
    ("triggers not a list", "version: v1\nproject:\n  name: bad\n  triggers: 3\n", "project.triggers"),
    ("duplicate trigger", manifest("bad", WEBHOOK + WEBHOOK), "project.triggers[1].name"),
    (
        "schedule and connection",
        manifest("bad", '    - name: t\n      schedule: "@daily"\n      connection: c\n      call: program.py:f\n'),
        "project.triggers[0].connection",
    ),
    ("bad call format", manifest("bad", "    - name: t\n      type: webhook\n      call: program.py\n"),
     "project.triggers[0].call"),
    ("call outside project", manifest("bad", "    - name: t\n      type: webhook\n      call: ../x.py:f\n"),
     "project.triggers[0].call"),
    ("call to missing function", manifest("bad", "    - name: t\n      type: webhook\n      call: program.py:nope\n"),
     "project.triggers[0].call"),
    ("call to missing file", manifest("bad", "    - name: t\n      type: webhook\n      call: other.py:f\n"),
     "project.triggers[0].call"),
    ("invalid CEL filter", manifest("bad", WEBHOOK + "      filter: data.url.path ==\n"), "project.triggers[0].filter"),
    ("invalid cron", manifest("bad", '    - name: t\n      schedule: "61 * * * *"\n      call: program.py:on_tick\n'),
     "project.triggers[0].schedule"),
    ("bad @every", manifest("bad", '    - name: t\n      schedule: "@every soon"\n'), "project.triggers[0].schedule"),
    ("unknown trigger key", manifest("bad", WEBHOOK + "      method: post\n"), "project.triggers[0].method"),
    ("unknown trigger type", manifest("bad", "    - name: t\n      type: email\n"), "project.triggers[0].type"),
    ("sync schedule", manifest("bad", '    - name: t\n      schedule: "@daily"\n      is_sync: true\n'),
     "project.triggers[0].is_sync"),
    ("bad timezone", manifest("bad", '    - name: t\n      schedule: "@daily"\n      timezone: Mars/Base\n'),
     "project.triggers[0].timezone"),
    ("unknown connection", manifest("bad", "    - name: t\n      type: connection\n      connection: slack\n"),
     "project.triggers[0].connection"),
    ("var without name", manifest("bad", vars_="    - value: x\n"), "project.vars[0].name"),
    ("bad var name", manifest("bad", vars_="    - name: my-var\n      value: x\n"), "project.vars[0].name"),
    ("var value list", manifest("bad", vars_="    - name: A\n      value: [1, 2]\n"), "project.vars[0].value"),
    ("duplicate var", manifest("bad", vars_="    - name: A\n    - name: A\n"), "project.vars[1].name"),
    ("secret not a bool", manifest("bad", vars_="    - name: A\n      secret: maybe\n"), "project.vars[0].secret"),
]  # fmt: skip


def check_malformed(akd: Akd, root: Path, case: tuple[str, str, str]) -> list[str]:
    """Problems with one malformed manifest, [] when it is refused properly everywhere."""
    name, text, key = case
    project(root, text)
    problems = []
    validate = akd.akctl("manifest", "validate", str(root / "autokitteh.yaml"))
    deploy = akd.akctl("deploy", "--dir", str(root))
    for what, res in (("validate", validate), ("deploy", deploy)):
        if res.returncode != 40 or key not in flat(res.stderr):
            problems.append(f"{name}: {what} exited {res.returncode}, expected 40 naming {key}: {res.stderr}")
    # The daemon checks on its own too (a client may skip akctl's local checks).
    body = {"manifest": text, "files": {"program.py": _b64(PROGRAM)}}
    resp = akd.api("POST", "/deploy", json=body)
    if resp.status_code != 400 or key not in resp.json()["error"]["message"]:
        problems.append(f"{name}: POST /deploy answered {resp.status_code} {resp.text}")
    return problems


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_malformed_manifests_exit_40_and_leave_nothing(akd_module: Akd, tmp_path: Path) -> None:
    assert len(MALFORMED) >= 20
    before = akd_module.akctl_json("project", "list")
    with ThreadPoolExecutor(8) as pool:
        results = pool.map(lambda c: check_malformed(akd_module, tmp_path / f"c{MALFORMED.index(c)}", c), MALFORMED)
        problems = [p for r in results for p in r]
    assert problems == []
    assert akd_module.akctl_json("project", "list") == before
    assert not [d for d in akd_module.akctl_json("deployment", "list") if d["project"] == "bad"]


def test_validate_reports_line_and_accepts_good_manifest(akd_module: Akd, tmp_path: Path) -> None:
    root = project(tmp_path / "p", manifest("good", WEBHOOK + "    - name: t\n      type: email\n"))
    res = akd_module.akctl("manifest", "validate", str(root / "autokitteh.yaml"))
    assert res.returncode == 40
    assert "autokitteh.yaml:9: project.triggers[1].type" in flat(res.stderr)
    project(root, manifest("good"))
    data = akd_module.akctl_json("manifest", "validate", str(root / "autokitteh.yaml"))
    assert data["valid"] is True and data["project"] == "good" and data["triggers"] == 1
    missing = akd_module.akctl("manifest", "validate", str(tmp_path / "nowhere.yaml"))
    assert missing.returncode == 44


def test_syntax_error_fails_build_and_keeps_previous_deployment(akd_module: Akd, tmp_path: Path) -> None:
    root = project(tmp_path / "p", manifest("syntax"))
    first = akd_module.deploy(root)
    (root / "helpers.py").write_text("def ok():\n    return 1\n\ndef broken(:\n    pass\n")
    res = akd_module.akctl("deploy", "--dir", str(root))
    assert res.returncode == 40
    assert "helpers.py:4:12" in flat(res.stderr), res.stderr
    active = akd_module.akctl_json("deployment", "get", "syntax")
    assert active["deployment_id"] == first["deployment_id"] and active["state"] == "active"
    assert len(akd_module.akctl_json("build", "list", "--project", "syntax")) == 1
    assert post(first["webhooks"]["hook"]).status_code == 202


def test_redeploy_keeps_webhook_url_and_removed_trigger_answers_404(akd_module: Akd, tmp_path: Path) -> None:
    extra = "    - name: other\n      type: webhook\n      call: program.py:on_http\n"
    root = project(tmp_path / "p", manifest("urls", WEBHOOK + extra))
    first = akd_module.deploy(root)
    triggers = {t["name"]: t["trigger_id"] for t in akd_module.akctl_json("project", "get", "urls")["triggers"]}
    second = akd_module.deploy(root)
    assert second["webhooks"] == first["webhooks"]
    assert second["deployment_id"] != first["deployment_id"]
    again = {t["name"]: t["trigger_id"] for t in akd_module.akctl_json("project", "get", "urls")["triggers"]}
    assert again == triggers
    project(root, manifest("urls", WEBHOOK))
    third = akd_module.deploy(root)
    assert third["webhooks"] == {"hook": first["webhooks"]["hook"]}
    assert post(first["webhooks"]["other"]).status_code == 404
    assert post(first["webhooks"]["hook"]).status_code == 202


def test_manifest_plan_shows_changes_and_changes_nothing(akd_module: Akd, tmp_path: Path) -> None:
    tick = '    - name: tick\n      schedule: "@daily"\n      call: program.py:on_tick\n'
    vars_ = "    - name: GREETING\n      value: hi\n    - name: OLD\n      value: x\n"
    root = project(tmp_path / "p", manifest("planned", WEBHOOK + tick, vars_))
    fresh = akd_module.akctl_json("manifest", "plan", str(root / "autokitteh.yaml"))
    assert fresh["project"]["action"] == "create" and fresh["has_changes"]
    assert akd_module.akctl("project", "get", "planned").returncode == 44  # plan created nothing
    deployed = akd_module.deploy(root)
    assert not akd_module.akctl_json("manifest", "plan", str(root / "autokitteh.yaml"))["has_changes"]
    changed_hook = WEBHOOK.replace("on_http", "on_tick") + "      event_type: post\n"
    project(root, manifest("planned", changed_hook, "    - name: GREETING\n      value: hello\n"))
    data = akd_module.akctl_json("manifest", "plan", str(root / "autokitteh.yaml"))
    triggers = {t["name"]: (t["action"], t["changes"]) for t in data["triggers"]}
    assert triggers == {"hook": ("update", ["call", "event_type"]), "tick": ("delete", [])}
    assert {v["name"]: v["action"] for v in data["vars"]} == {"GREETING": "update", "OLD": "delete"}
    human = akd_module.akctl("manifest", "plan", str(root / "autokitteh.yaml"))
    assert human.returncode == 0 and "- trigger tick" in human.stdout and "~ var GREETING" in human.stdout
    assert akd_module.akctl_json("deployment", "get", "planned")["deployment_id"] == deployed["deployment_id"]


# -- deployments -----------------------------------------------------------------------


def session_running(akd: Akd, project_name: str) -> str:
    def running() -> str | None:
        rows = akd.sessions(project=project_name, state="running")
        return rows[0]["session_id"] if rows else None

    return wait_for(running, 20, what=f"a running session of {project_name}")


def test_deployment_lifecycle_and_delete_rules(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    root = project(tmp_path / "p", manifest("lc"))
    d1 = ak.deploy(root)
    url = d1["webhooks"]["hook"]
    gate = tmp_path / "gate"
    assert post(url, {"slow": str(gate)}).status_code == 202
    sid = session_running(ak, "lc")
    d2 = ak.deploy(root)
    assert ak.akctl_json("deployment", "get", d1["deployment_id"])["state"] == "draining"
    for dep in (d1, d2):  # draining and active ones cannot be deleted
        assert ak.akctl("deployment", "delete", dep["deployment_id"], "--yes").returncode == 42
    gate.touch()
    ak.wait_session(sid)
    old = wait_for(
        lambda: (d := ak.akctl_json("deployment", "get", d1["deployment_id"]))["state"] == "inactive" and d,
        20, what="the drained deployment to become inactive",
    )  # fmt: skip
    assert old["sessions"] == {"queued": 0, "created": 0, "running": 0, "completed": 1, "error": 0, "stopped": 0}
    listed = ak.akctl_json("deployment", "list", "--project", "lc")
    assert [d["deployment_id"] for d in listed] == [d2["deployment_id"], d1["deployment_id"]]
    assert {"deployment_id", "build_id", "state", "sessions", "project"} <= set(listed[0])
    assert ak.akctl("deployment", "delete", d1["deployment_id"], "--yes").returncode == 0
    assert ak.akctl("deployment", "get", d1["deployment_id"]).returncode == 44
    off = ak.akctl_json("deployment", "deactivate", d2["deployment_id"])
    assert off["state"] == "inactive"
    assert post(url).status_code == 404
    assert ak.akctl_json("deployment", "activate", d2["deployment_id"])["state"] == "active"
    assert post(url).status_code == 202
    human = ak.akctl("deployment", "list", "--project", "lc")
    assert human.returncode == 0 and d2["deployment_id"] in human.stdout and "active" in human.stdout


def test_activate_rolls_back_to_an_older_build(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    root = project(tmp_path / "p", manifest("rollback"), PROGRAM)
    d1 = ak.deploy(root)
    project(root, manifest("rollback"), PROGRAM.replace('print("hello"', 'print("v2"'))
    ak.deploy(root)
    ak.akctl_json("deployment", "activate", d1["deployment_id"])
    post(d1["webhooks"]["hook"])
    sid = wait_for(lambda: ak.sessions(project="rollback"), 20)[0]["session_id"]
    assert ak.wait_session(sid)["deployment_id"] == d1["deployment_id"]
    assert ak.prints(sid)[0].startswith("hello")
    builds = ak.akctl_json("build", "list", "--project", "rollback")
    assert len(builds) == 2
    build = ak.akctl_json("build", "get", d1["build_id"])
    assert "program.py" in build["files"] and build["deployment_ids"] == [d1["deployment_id"]]


def test_project_delete_refused_while_running_then_removes_everything(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    root = project(tmp_path / "p", manifest("doomed", vars_="    - name: GREETING\n      value: hi\n"))
    url = ak.deploy(root)["webhooks"]["hook"]
    gate = tmp_path / "gate"
    post(url, {"slow": str(gate)})
    sid = session_running(ak, "doomed")
    res = ak.akctl("project", "delete", "doomed", "--yes")
    assert res.returncode == 42 and "live session(s) (queued or running)" in res.stderr
    gate.touch()
    ak.wait_session(sid)
    assert ak.akctl_json("project", "delete", "doomed", "--yes")["deleted"] is True
    assert ak.akctl("project", "get", "doomed").returncode == 44
    assert ak.akctl("var", "list", "--project", "doomed").returncode == 44
    assert post(url).status_code == 404
    assert not [d for d in ak.akctl_json("deployment", "list") if d["project"] == "doomed"]
    assert ak.akctl("project", "delete", "doomed", "--yes").returncode == 44


# -- vars and secrets ------------------------------------------------------------------

MANIFEST_SECRET = "manifest-s3cret-4f9a17"
USER_SECRET = "user-s3cret-77c1d2"
SECRET_VARS = (
    f'    - name: GREETING\n      value: 24\n    - name: TOKEN\n      value: "{MANIFEST_SECRET}"\n      secret: true\n'
)


def test_var_commands(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    ak.deploy(project(tmp_path / "p", manifest("vars", vars_=SECRET_VARS)))
    assert ak.akctl_json("var", "get", "GREETING", "--project", "vars")["value"] == "24"
    assert ak.akctl("var", "get", "TOKEN", "--project", "vars").stdout.strip() == "********"
    assert ak.akctl("var", "get", "TOKEN", "--project", "vars", "--reveal").stdout.strip() == MANIFEST_SECRET
    assert ak.akctl("var", "set", "API_KEY", USER_SECRET, "--secret", "--project", "vars").returncode == 0
    listed = {v["name"]: v for v in ak.akctl_json("var", "list", "--project", "vars")}
    assert listed["API_KEY"]["value"] == "********" and listed["API_KEY"]["origin"] == "user"
    revealed = {v["name"]: v["value"] for v in ak.akctl_json("var", "list", "--project", "vars", "--reveal")}
    assert revealed == {"API_KEY": USER_SECRET, "GREETING": "24", "TOKEN": MANIFEST_SECRET}
    # A var set by hand survives redeploys; one deleted by hand comes back from the manifest.
    ak.akctl("var", "set", "GREETING", "hand", "--project", "vars")
    ak.akctl("var", "delete", "TOKEN", "--project", "vars", "--yes")
    ak.deploy(tmp_path / "p")
    revealed = {v["name"]: v["value"] for v in ak.akctl_json("var", "list", "--project", "vars", "--reveal")}
    assert revealed == {"API_KEY": USER_SECRET, "GREETING": "hand", "TOKEN": MANIFEST_SECRET}
    assert ak.akctl("var", "delete", "NOPE", "--project", "vars", "--yes").returncode == 44
    assert ak.akctl("var", "set", "bad-name", "x", "--project", "vars").returncode == 40
    assert ak.akctl("var", "list", "--project", "nope").returncode == 44
    piped = ak.akctl("var", "set", "FROM_STDIN", "-", "--project", "vars", input="piped-value\n")
    assert piped.returncode == 0
    assert ak.akctl_json("var", "get", "FROM_STDIN", "--project", "vars")["value"] == "piped-value"


@pytest.mark.sqlite_file
def test_secrets_never_leak(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    root = project(tmp_path / "p", manifest("leaky", vars_=SECRET_VARS))
    outputs = [ak.akctl("deploy", "--dir", str(root)), ak.akctl("deploy", "--dir", str(root), "--json")]
    ak.akctl("var", "set", "API_KEY", USER_SECRET, "--secret", "--project", "leaky")
    url = ak.akctl_json("project", "get", "leaky")["triggers"][0]["webhook_url"]
    post(url)
    wait_for(lambda: [s for s in ak.sessions(project="leaky") if s["state"] == "completed"], 20)
    build_id = ak.akctl_json("build", "list", "--project", "leaky")[0]["build_id"]
    project(root, manifest("leaky", vars_=SECRET_VARS.replace(MANIFEST_SECRET, "changed-" + MANIFEST_SECRET)))
    for args in (
        ("var", "list", "--project", "leaky"), ("var", "get", "TOKEN", "--project", "leaky"),
        ("var", "get", "API_KEY", "--project", "leaky"), ("manifest", "plan", str(root / "autokitteh.yaml")),
        ("build", "get", build_id), ("project", "get", "leaky"), ("var", "set", "API_KEY", "-", "-p", "leaky"),
    ):  # fmt: skip
        outputs += [ak.akctl(*args, input=USER_SECRET), ak.akctl(*args, "--json", input=USER_SECRET)]
    for res in outputs:
        assert res.returncode == 0, res.stderr
        for secret in (MANIFEST_SECRET, USER_SECRET):
            assert secret not in res.stdout + res.stderr, res.args
    plan = ak.akctl_json("manifest", "plan", str(root / "autokitteh.yaml"))
    assert [v for v in plan["vars"] if v["name"] == "TOKEN"] == [
        {"name": "TOKEN", "secret": True, "action": "update", "changes": ["value"]}
    ]
    assert_not_in_files(ak.data_dir, [MANIFEST_SECRET, USER_SECRET])
    key = ak.data_dir / "secret.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def assert_not_in_files(data_dir: Path, secrets: list[str]) -> None:
    """Neither the SQLite files, the logs nor the build snapshots hold a secret in clear text."""
    files = [data_dir / "akd.db", data_dir / "akd.db-wal", *(data_dir / "logs").glob("*.log")]
    files += [p for p in (data_dir / "builds").rglob("*") if p.is_file()]
    assert (data_dir / "akd.db").exists() and list((data_dir / "logs").glob("*.log"))
    for path in files:
        if path.exists():
            content = path.read_bytes()
            for secret in secrets:
                assert secret.encode() not in content, f"{secret} found in {path}"


ENV_PROGRAM = """\
import os

def on_http(event):
    print("TOKEN=" + os.environ.get("TOKEN", "?"), "GREETING=" + os.environ.get("GREETING", "?"))
"""


def test_secret_vars_reach_user_code_decrypted(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    url = ak.deploy(project(tmp_path / "p", manifest("envs", vars_=SECRET_VARS), ENV_PROGRAM))["webhooks"]["hook"]
    post(url)
    sid = wait_for(lambda: ak.sessions(project="envs"), 20)[0]["session_id"]
    ak.wait_session(sid)
    assert ak.prints(sid) == [f"TOKEN={MANIFEST_SECRET} GREETING=24"]


# -- requirements.txt ------------------------------------------------------------------

SIX_PROGRAM = """\
import six

def on_http(event):
    print("six", six.__version__)
"""


def venv_marker(akd: Akd, build_id: str) -> Path:
    digest = akd.akctl_json("build", "get", build_id)["requirements"]
    assert digest, "the build records its requirements hash"
    marker = akd.data_dir / "venvs" / digest / "akd-ready"
    assert marker.is_file()
    return marker


def test_requirements_installed_once_and_reused(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    root = project(tmp_path / "p", manifest("reqs"), SIX_PROGRAM, **{"requirements.txt": "six\nautokitteh\n"})
    first = ak.deploy(root)
    marker = venv_marker(ak, first["build_id"])
    stamp = marker.stat().st_mtime_ns
    assert list(marker.parent.glob("lib*/python*/site-packages/six.py")), "six is in the build's environment"
    (root / "other.py").write_text("X = 1\n")  # a new build with the same requirements
    second = ak.deploy(root)
    assert second["build_id"] != first["build_id"]
    assert venv_marker(ak, second["build_id"]) == marker
    assert marker.stat().st_mtime_ns == stamp  # reused, not reinstalled
    # Only `autokitteh` (which akd provides) needs no environment at all.
    (root / "requirements.txt").write_text("autokitteh\n")
    third = ak.deploy(root)
    assert ak.akctl_json("build", "get", third["build_id"])["requirements"] is None


def test_failing_install_fails_the_deploy_with_pips_error(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    root = project(tmp_path / "p", manifest("badreqs"))
    first = ak.deploy(root)
    venvs = sorted((ak.data_dir / "venvs").glob("[!.]*"))
    (root / "requirements.txt").write_text("./no-such-package-dir\n")
    res = ak.akctl("deploy", "--dir", str(root))
    assert res.returncode == 40
    assert "requirements.txt" in res.stderr and "no-such-package-dir" in res.stderr
    assert ak.akctl_json("deployment", "get", "badreqs")["deployment_id"] == first["deployment_id"]
    assert len(ak.akctl_json("build", "list", "--project", "badreqs")) == 1
    assert sorted((ak.data_dir / "venvs").glob("[!.]*")) == venvs  # a failed install leaves nothing


def test_session_imports_an_installed_requirement(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    root = project(tmp_path / "p", manifest("usesix"), SIX_PROGRAM, **{"requirements.txt": "six\n"})
    post(ak.deploy(root)["webhooks"]["hook"])
    sid = wait_for(lambda: ak.sessions(project="usesix"), 20)[0]["session_id"]
    done = ak.wait_session(sid)
    assert done["state"] == "completed", done
    assert ak.prints(sid)[0].startswith("six 1.")


def test_lifecycle_commands_answer_json_lists(akd_module: Akd) -> None:
    for args in (("project", "list"), ("build", "list"), ("deployment", "list")):
        res = akd_module.akctl(*args, "--json")
        assert res.returncode == 0 and isinstance(json.loads(res.stdout), list)
    assert akd_module.akctl("build", "get", "bld_" + "0" * 26).returncode == 44
    assert akd_module.akctl("deployment", "activate", "dep_" + "0" * 26).returncode == 44
