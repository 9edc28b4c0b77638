"""The VS Code extension's client layer against a real akd: ``node --test`` over
``vscode/test`` (discovery, connect, version and token errors, deploy with diagnostics,
the views' data, sessions as documents, the manifest schema), plus the schema route
against the file the extension ships."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from akd.api.schema import manifest_schema, schema_text
from akd.manifest import TRIGGER_TYPES, VERSIONS
from tests.e2e.harness import ROOT, Akd

SHIPPED_SCHEMA = ROOT / "vscode" / "schemas" / "autokitteh.schema.json"


def _build_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vscode_build_and_test", ROOT / "vscode" / "build_and_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def akd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Akd]:
    daemon = Akd(tmp_path_factory.mktemp("vscode") / "data")
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
