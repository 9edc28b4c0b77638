"""Vendor libraries without a requirements.txt (connections issue, item 7): real akd, real pip.

Every project gets requests, PyYAML, beautifulsoup4 and tenacity, plus the SDKs of its
connections' integrations, installed once per set from the package index into a layer
under the project's own requirements (akd.vendor_layers).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from akd.manifest import parse_manifest
from akd.vendor_layers import layer_for, layer_home
from akd.vendor_pins import COMMON, PINS
from tests.e2e.harness import Akd, wait_for, write_project

pytestmark = pytest.mark.e2e

PINNED = dict(line.split("==") for line in (*COMMON, *PINS["slack"]))

REQUESTS_PROGRAM = """\
import requests, yaml, bs4, tenacity

def on_http(event):
    print("requests", requests.__version__, requests.__file__)
    print("bs4", bs4.__version__)
"""

SLACK_PROGRAM = """\
import requests, slack_sdk
from slack_sdk.version import __version__

def on_http(event):
    print("slack_sdk", __version__, slack_sdk.__file__.split("/lib/")[0])
"""


def manifest(name: str, *integrations: str) -> str:
    text = f"version: v2\nproject:\n  name: {name}\n"
    if integrations:
        text += "  connections:\n" + "".join(f"    - name: c_{i}\n      integration: {i}\n" for i in integrations)
    return text + "  triggers:\n    - name: hook\n      type: webhook\n      call: program.py:on_http\n"


def project(root: Path, text: str, program: str, **extra: str) -> Path:
    return write_project(root, {"autokitteh.yaml": text, "program.py": program, **extra})


def run_session(ak: Akd, deployed: dict[str, Any], project_name: str) -> list[str]:
    before = {s["session_id"] for s in ak.sessions(project=project_name)}
    assert httpx.post(deployed["webhooks"]["hook"], json={}, timeout=10).status_code < 300
    new = wait_for(lambda: [s for s in ak.sessions(project=project_name) if s["session_id"] not in before], 20)
    done = ak.wait_session(new[0]["session_id"])
    assert done["state"] == "completed", done
    return ak.prints(new[0]["session_id"])


def layer_marker(ak: Akd, text: str) -> Path:
    home = Path(ak.env["XDG_CACHE_HOME"]) / "akd" if "XDG_CACHE_HOME" in ak.env else layer_home()
    return home / "venvs" / layer_for(parse_manifest(text)).key / "akd-ready"


def vendor_installs(ak: Akd) -> list[str]:
    log = (ak.data_dir / "logs" / "akd.log").read_text()
    return [line for line in log.splitlines() if "installed vendor layer" in line]


def test_requests_without_requirements_and_the_second_deploy_is_cached(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    text = manifest("plain")
    root = project(tmp_path / "p", text, REQUESTS_PROGRAM)
    first = ak.deploy(root)
    marker = layer_marker(ak, text)
    assert marker.is_file(), "the common layer is ready after the deploy"
    prints = run_session(ak, first, "plain")
    assert prints[0].startswith(f"requests {PINNED['requests']} {marker.parent}/lib/")
    assert prints[1] == f"bs4 {PINNED['beautifulsoup4']}"
    stamp, installs = marker.stat().st_mtime_ns, vendor_installs(ak)
    # Installed by this deploy, or by an earlier data dir of this user (layers are shared).
    assert len([line for line in installs if "the common libraries" in line]) <= 1, installs

    (root / "other.py").write_text("X = 1\n")  # a new build with the same (empty) connection set
    res = ak.akctl("deploy", "--dir", str(root))
    assert res.returncode == 0, res.stderr
    assert marker.stat().st_mtime_ns == stamp and vendor_installs(ak) == installs, "no reinstall"


def test_a_slack_connection_brings_slack_sdk(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    text = manifest("slacky", "slack")
    deployed = ak.deploy(project(tmp_path / "p", text, SLACK_PROGRAM))
    layer = layer_marker(ak, text).parent
    assert layer != layer_marker(ak, manifest("plain")).parent, "its own layer: the common set plus slack-sdk"
    # From the layer (akd's own environment may hold another copy: the layer comes first).
    assert run_session(ak, deployed, "slacky") == [f"slack_sdk {PINNED['slack-sdk']} {layer}"]


def test_the_projects_own_pin_wins(akd_module: Akd, tmp_path: Path) -> None:
    ak = akd_module
    assert PINNED["requests"] != "2.31.0"
    text = manifest("ownpin")
    root = project(tmp_path / "p", text, REQUESTS_PROGRAM, **{"requirements.txt": "requests==2.31.0\n"})
    prints = run_session(ak, ak.deploy(root), "ownpin")
    digest = ak.akctl_json("build", "list", "--project", "ownpin")[0]["requirements"]
    assert prints[0].startswith(f"requests 2.31.0 {ak.data_dir / 'venvs' / digest}/lib/"), prints
    assert prints[1] == f"bs4 {PINNED['beautifulsoup4']}", "the layer is still under the project's environment"


def test_offline_deploy_fails_clearly_and_the_previous_deployment_stays(tmp_path: Path) -> None:
    ak = Akd(tmp_path / "data")
    ak.env["XDG_CACHE_HOME"] = str(tmp_path / "cache")  # its own layer home: the slack layer is not there yet
    ak.up()
    try:
        root = project(tmp_path / "p", manifest("offline"), REQUESTS_PROGRAM)
        first = ak.deploy(root)  # the common layer, from the package index
        ak.down()
        # No package index: only an unreachable one, and none of this machine's pip config.
        ak.env.update(PIP_CONFIG_FILE="/dev/null", PIP_INDEX_URL="http://127.0.0.1:9/simple")
        ak.env.pop("PIP_FIND_LINKS", None)
        ak.env.pop("PIP_EXTRA_INDEX_URL", None)
        ak.up()
        (root / "autokitteh.yaml").write_text(manifest("offline", "slack"))
        res = ak.akctl("deploy", "--dir", str(root), timeout=120)
        assert res.returncode == 40, (res.stdout, res.stderr)
        flat = " ".join(res.stderr.split())
        assert "installing the libraries of slack (5 packages) failed" in flat, flat
        assert "the previous deployment stays active" in flat and "slack-sdk==" in flat
        assert "127.0.0.1" in flat or "No matching distribution" in flat, flat  # pip's own words
        assert ak.akctl_json("deployment", "get", "offline")["deployment_id"] == first["deployment_id"]
        # The restarted daemon listens on another port; the webhook slug is the same.
        hook = f"{ak.url}/webhooks/{first['webhooks']['hook'].split('/webhooks/')[1]}"
        assert run_session(ak, {"webhooks": {"hook": hook}}, "offline")[0].startswith(f"requests {PINNED['requests']}")
    finally:
        ak.down()


def test_all_pins_resolve_together_on_this_python(tmp_path: Path) -> None:
    """A project may name every integration at once: the whole pins file is one installable set."""
    lines = sorted({*COMMON, *(line for pins in PINS.values() for line in pins)})
    report = tmp_path / "report.json"
    pip = [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet", "--report"]
    res = subprocess.run([*pip, str(report), *lines], capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-3000:]
    chosen = {i["metadata"]["name"].lower().replace("_", "-"): i["metadata"]["version"]
              for i in json.loads(report.read_text())["install"]}  # fmt: skip
    for line in lines:
        name, version = line.split("==")
        assert chosen[name.lower().replace("_", "-")] == version, line
