"""The VS Code extension's client layer against a real akd: ``node --test`` over
``vscode/test`` (discovery, connect, version and token errors, deploy with diagnostics,
the views' data, sessions as documents, the manifest schema), plus the schema route
against the file the extension ships."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from akd import integrations
from akd.api.schema import manifest_schema, schema_text
from akd.manifest import TRIGGER_TYPES, VERSIONS
from tests.e2e.harness import ROOT, Akd, write_project
from tests.standins.base import Answer, Recorded, StandIn
from tests.standins.oauth import OAuthStandIn

SHIPPED_SCHEMA = ROOT / "vscode" / "schemas" / "autokitteh.schema.json"


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vscode_build_and_test", ROOT / "vscode" / "build_and_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET = "cid-editor", "csecret-editor"
OAUTH_VENDOR_HOST = "oauth-vendor.test"


@pytest.fixture(scope="module")
def oauth_vendor() -> Iterator[OAuthStandIn]:
    with OAuthStandIn(OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET) as server:
        yield server


@pytest.fixture(scope="module")
def akd(tmp_path_factory: pytest.TempPathFactory, oauth_vendor: OAuthStandIn) -> Iterator[Akd]:
    daemon = Akd(tmp_path_factory.mktemp("vscode") / "data")
    daemon.data_dir.mkdir(parents=True)
    # GitHub's OAuth endpoints at a local stand-in: the editor's "Init connection" authorizes for
    # real. The browser reaches the stand-in by a host name of its own (see editor_host.check_connections).
    browser_side = oauth_vendor.url.replace("127.0.0.1", OAUTH_VENDOR_HOST)
    endpoints = f'authorize_url = "{browser_side}/authorize"\ntoken_url = "{oauth_vendor.url}/token"\n'
    (daemon.data_dir / "akd.toml").write_text(f"[oauth.github]\n{endpoints}")
    daemon.up()
    yield daemon
    daemon.down()


def test_shipped_schema_is_generated_from_the_parser() -> None:
    assert SHIPPED_SCHEMA.read_text() == schema_text(), (
        "vscode/schemas/autokitteh.schema.json is out of date; regenerate it from akd.api.schema.schema_text()"
    )
    schema = manifest_schema()
    assert schema["properties"]["version"]["enum"] == list(VERSIONS)
    assert schema["$defs"]["trigger"]["properties"]["type"]["enum"] == list(TRIGGER_TYPES)
    assert schema["additionalProperties"] is False


def test_schema_route_serves_the_shipped_schema(akd: Akd) -> None:
    res = akd.api("GET", "/schema/manifest")
    assert res.status_code == 200
    assert res.json() == json.loads(SHIPPED_SCHEMA.read_text())
    assert httpx.get(f"{akd.url}/api/v1/schema/manifest", timeout=30).status_code == 401


def test_extension_client_against_real_akd(akd: Akd, tmp_path: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not installed: the VS Code extension needs Node 20 to build and test")
    build = _build_module()
    build.ensure_built()
    assert build.VSIX.is_file()
    result = build.node_tests(akd.data_dir, tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    passed = re.search(r"^\S pass (\d+)$", result.stdout, re.MULTILINE)
    failed = re.search(r"^\S fail (\d+)$", result.stdout, re.MULTILINE)
    assert passed and failed, output[-3000:]
    assert int(failed.group(1)) == 0 and int(passed.group(1)) >= 20, output[-3000:]


def _editor_host() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vscode_editor_host", ROOT / "vscode" / "editor_host.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EDITOR_MANIFEST = """\
version: v1
project:
  name: editor_demo
  triggers:
    - name: hello
      type: webhook
      call: program.py:hello
"""


def _editor_or_skip() -> tuple[ModuleType, str, ModuleType]:
    host = _editor_host()
    binary = host.code_server()
    if binary is None or not host.CHROMIUM.exists() or not host.CHROMEDRIVER.exists():
        pytest.skip(
            "no editor host: set AKD_CODE_SERVER to code-server's binary (see docs/vscode.md) and install chromium"
        )
    build = _build_module()
    build.ensure_built()
    return host, binary, build


def test_extension_in_a_real_editor(akd: Akd, tmp_path: Path) -> None:
    """code-server + headless Chromium: the akd view, the status bar and a deploy from the palette."""
    host, binary, build = _editor_or_skip()
    program = "def hello(event):\n    print('hi', event.data.body.json['who'])\n"
    project = write_project(tmp_path / "editor_demo", {"autokitteh.yaml": EDITOR_MANIFEST, "program.py": program})
    settings = {
        "akd.dataDir": str(akd.data_dir), "workbench.startupEditor": "none", "telemetry.telemetryLevel": "off",
        "extensions.autoCheckUpdates": False, "workbench.tips.enabled": False, "akd.deployOnSave": True,
    }  # fmt: skip
    shot = tmp_path / "vscode.png"

    def start_session(body: dict[str, str]) -> str:
        hook = next(t for t in akd.api("GET", "/triggers", params={"project": "editor_demo"}).json())
        event_id = httpx.post(str(hook["webhook_url"]), json=body, timeout=30).headers["AutoKitteh-Event-ID"]
        event = akd.api("GET", f"/events/{event_id}", params={"wait": "final", "timeout": "30"}).json()
        return str(event["session_ids"][0])

    with host.running_code_server(binary, build.VSIX, tmp_path / "cs", settings) as url:
        seen = host.check_editor(url, project, "editor_demo", shot, tmp_path / "chromium", start_session)
    assert seen["status"].endswith("akd 0.1.0"), seen
    assert "hello" in seen["trigger"] and "/webhooks/" in seen["trigger"], seen
    assert "[completed]" in seen["document"] and "hi editor" in seen["document"], seen
    assert seen["traceback_target"] == "program.py Ln 2, Col 1", seen  # print('hi', ...['who']): KeyError
    assert "go to hello" in seen["lens"], seen
    assert re.search(r"akd\W+\[Ln 1, Col \d+\]", seen["problem"]), seen
    deployments = akd.api("GET", "/deployments", params={"project": "editor_demo"}).json()
    assert len(deployments) == 2, deployments  # the palette's deploy, then the save's (the broken one made none)
    latest = max(deployments, key=lambda d: str(d["created_at"]))
    assert latest["state"] == "active"
    digest = akd.api("GET", f"/builds/{latest['build_id']}").json()["digest"]
    assert (akd.data_dir / "builds" / digest / "program.py").read_text() == "def hello(event): print('fixed')"
    assert seen["after_save"].split()[0] == "0", seen
    assert shot.stat().st_size > 10_000
    projects = akd.api("GET", "/projects").json()
    assert [p["root_dir"] for p in projects if p["name"] == "editor_demo"] == [str(project.resolve())]


def test_real_editor_offers_to_start_akd(tmp_path: Path) -> None:
    """No daemon in the configured data dir: a notification says so; its Start akd runs
    ``akctl up --detach`` and the status bar shows the daemon that came up."""
    host, binary, build = _editor_or_skip()
    data_dir = tmp_path / "fresh-data"
    daemon = Akd(data_dir)
    # The configured akctl, with --port 0 so the daemon it starts cannot collide with another.
    akctl = tmp_path / "akctl"
    akctl.write_text(f'#!/bin/sh\nPYTHONPATH={ROOT} exec {sys.executable} -m akctl.main "$@" --port 0\n')
    akctl.chmod(0o755)
    files = {"autokitteh.yaml": EDITOR_MANIFEST, "program.py": "def hello(e): pass\n"}
    project = write_project(tmp_path / "proj", files)
    settings = {"akd.dataDir": str(data_dir), "akd.akctlPath": str(akctl), "telemetry.telemetryLevel": "off"}
    try:
        with host.running_code_server(binary, build.VSIX, tmp_path / "cs", settings) as url:
            seen = host.check_start_offer(url, project, tmp_path / "failed.png", tmp_path / "chromium")
        assert f"akd is not running (no {data_dir / 'daemon.json'})" in seen["message"], seen
        assert "not connected" in seen["before"], seen
        assert seen["after"].endswith("akd 0.1.0"), seen
        assert daemon.info()["url"].startswith("http://127.0.0.1:")
    finally:
        daemon.down()


CONNECTIONS_MANIFEST = """\
version: v2
project:
  name: editor_conns
  connections:
    - name: tw
      integration: twilio
    - name: gh
      integration: github
  triggers:
    - name: hook
      type: webhook
      call: program.py:hook
"""


class TwilioStandIn(StandIn):
    """The call akd's Twilio connection test makes: the account list, with Basic auth."""

    def __init__(self, username: str, password: str) -> None:
        super().__init__()
        self.expected = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
        self.route("GET", r"/2010-04-01/Accounts\.json", self._accounts)

    def _accounts(self, req: Recorded, _: re.Match[str]) -> Answer:
        return (200, {"accounts": []}) if req.auth == self.expected else (401, {"message": "Authenticate"})


def _revealed_vars(akd: Akd, ref: str) -> dict[str, dict[str, object]]:
    return {v["name"]: v for v in akd.api("GET", f"/connections/{ref}/vars", params={"reveal": "1"}).json()}


def _mode_label(integration: str, mode: str) -> str:
    return next(m.label for m in integrations.get(integration).modes if m.name == mode)


def test_real_editor_inits_connections_and_copies_webhook_urls(
    akd: Akd, oauth_vendor: OAuthStandIn, tmp_path: Path
) -> None:
    """The context menus of a trigger and of connections, in code-server: the webhook URL
    copied; Twilio's token prompts (the secret one a password box) stored and tested by akd
    against a stand-in; GitHub's OAuth opened in a browser tab, through a stand-in vendor
    back to akd, which stores the tokens."""
    host, binary, build = _editor_or_skip()
    project = write_project(tmp_path / "editor_conns", {"autokitteh.yaml": CONNECTIONS_MANIFEST,
                                                         "program.py": "def hook(event): pass\n"})  # fmt: skip
    webhook_url = akd.deploy(project)["webhooks"]["hook"]
    res = akd.akctl("integration", "configure", "github", "--client-id", OAUTH_CLIENT_ID, "--client-secret", "-",
                    input=OAUTH_CLIENT_SECRET + "\n")  # fmt: skip
    assert res.returncode == 0, res.stderr
    typed = {"AccountSID": "AC0123editor", "Username": "SKeditor", "Password": "pw-typed-in-the-editor"}
    modes = {"tokens": f"tw={_mode_label('twilio', 'apiToken')}", "oauth": f"gh={_mode_label('github', 'oauth')}"}
    settings = {
        "akd.dataDir": str(akd.data_dir), "workbench.startupEditor": "none", "telemetry.telemetryLevel": "off",
        "remote.autoForwardPorts": False,  # its notification about the test's many ports would cover the others
    }  # fmt: skip
    with TwilioStandIn(typed["Username"], typed["Password"]) as twilio:
        put = akd.api("PUT", "/connections/editor_conns/tw/vars/base_url", json={"value": twilio.url})
        assert put.status_code == 200, put.text
        shot, hosts = tmp_path / "conns.png", {OAUTH_VENDOR_HOST: "127.0.0.1"}
        with host.running_code_server(binary, build.VSIX, tmp_path / "cs", settings) as url:
            seen = host.check_connections(url, project, shot, tmp_path / "chromium", modes, typed, hosts)
        tested = [r.auth for r in twilio.requests]
    assert seen["copied"] == f"akd: copied {webhook_url}", seen
    assert seen["clipboard"] == webhook_url, seen
    assert seen["prompts"] == [
        "editor_conns/tw: AccountSID|text", "editor_conns/tw: Username|text", "editor_conns/tw: Password|password"
    ], seen  # fmt: skip
    assert "akd: editor_conns/tw is ok" in str(seen["tokens_result"]), seen
    assert tested == [twilio.expected], tested  # init tested the typed credentials with the "vendor"
    shown = _revealed_vars(akd, "editor_conns/tw")
    assert {k: shown[k]["value"] for k in typed} == typed, shown
    assert [k for k in typed if shown[k]["secret"]] == ["Password"], shown
    page = seen["oauth_page"]
    assert isinstance(page, dict) and page["url"].startswith(f"{akd.url}/oauth/github/callback?"), seen
    assert OAUTH_VENDOR_HOST in page["asked"], seen  # the editor asked before opening the vendor's site
    assert "akd: editor_conns/gh: ok" in str(seen["oauth_result"]), seen
    gh = akd.api("GET", "/connections/editor_conns/gh").json()
    assert gh["status"] == "ok", gh
    tokens = _revealed_vars(akd, "editor_conns/gh")
    assert tokens["oauth_access_token"]["value"] == oauth_vendor.access_tokens[-1], tokens
