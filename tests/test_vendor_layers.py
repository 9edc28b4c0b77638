"""akd.vendor_layers and akd.vendor_pins: which libraries a project gets, their key, their place on sys.path."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from akd import integrations
from akd.build import Snapshot, requirements_hash
from akd.manifest import parse_manifest
from akd.vendor_layers import layer_for, layer_key, layer_lines, runner_site_dirs
from akd.vendor_pins import COMMON, PINS
from akd.venvs import READY_MARKER, venv_dir


def manifest_with(*connections: tuple[str, str]) -> str:
    text = "version: v2\nproject:\n  name: p\n"
    if connections:
        text += "  connections:\n" + "".join(f"    - name: {n}\n      integration: {i}\n" for n, i in connections)
    return text


def fake_env(data_dir: Path, digest: str, ready: bool = True) -> str:
    """An environment directory as akd.venvs leaves it (pip is not what is tested here)."""
    site = venv_dir(data_dir, digest) / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    if ready:
        (venv_dir(data_dir, digest) / READY_MARKER).write_text("1\n")
    return str(site.resolve())


# -- the set ----------------------------------------------------------------------------


def test_a_project_without_connections_gets_the_common_set() -> None:
    layer = layer_for(parse_manifest(manifest_with()))
    assert layer.integrations == ()
    assert layer.lines == tuple(sorted(COMMON))
    assert {Requirement(line).name for line in layer.lines} == {"requests", "PyYAML", "beautifulsoup4", "tenacity"}
    assert layer.describe() == "the common libraries (4 packages)"


def test_integrations_add_their_pins_once_under_canonical_names() -> None:
    text = manifest_with(("a", "slack"), ("b", "slack"), ("c", "openai"), ("d", "gmail"), ("e", "googlesheets"))
    layer = layer_for(parse_manifest(text))
    assert layer.integrations == ("chatgpt", "gmail", "googlesheets", "slack")  # "openai" is chatgpt's alias
    assert list(layer.lines) == sorted(set(layer.lines)), "sorted, each line once"
    expected = {*COMMON, *PINS["slack"], *PINS["chatgpt"], *PINS["gmail"], *PINS["googlesheets"]}
    assert set(layer.lines) == expected
    assert "slack-sdk==3.48.0" in layer.lines and "gspread==6.2.1" in layer.lines
    assert layer.describe() == f"the libraries of chatgpt, gmail, googlesheets, slack ({len(expected)} packages)"


def test_unpinned_integrations_get_the_common_set_only() -> None:
    assert layer_lines(["no-such-integration"]) == tuple(sorted(COMMON))


# -- the cache key ----------------------------------------------------------------------


def test_the_key_is_the_sorted_set_of_lines() -> None:
    one = layer_for(parse_manifest(manifest_with(("a", "slack"), ("b", "github"))))
    other = layer_for(parse_manifest(manifest_with(("x", "github"), ("y", "slack"), ("z", "github"))))
    assert one.key == other.key == layer_key(reversed(one.lines))
    assert one.key != layer_for(parse_manifest(manifest_with(("a", "slack")))).key
    assert one.key != layer_for(parse_manifest(manifest_with())).key
    assert re.fullmatch(r"[0-9a-f]{64}", one.key) and venv_dir(Path("/d"), one.key) == Path("/d/venvs") / one.key


def test_a_requirements_file_with_the_same_lines_shares_the_environment() -> None:
    layer = layer_for(parse_manifest(manifest_with(("a", "twilio"))))
    text = "\n".join(reversed(layer.lines)) + "\n# same packages, other order\n"
    snapshot = Snapshot({"requirements.txt": text.encode()}, "d", len(text))
    assert requirements_hash(snapshot) == layer.key


# -- layering on sys.path ---------------------------------------------------------------


def test_the_projects_environment_comes_before_the_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # layers live in the user's cache
    text = manifest_with(("a", "slack"))
    layer = layer_for(parse_manifest(text))
    own = fake_env(tmp_path, "ab" * 32)
    under = fake_env(tmp_path / "cache" / "akd", layer.key)
    assert runner_site_dirs(tmp_path, "ab" * 32, text) == [own, under]
    assert runner_site_dirs(tmp_path, None, text) == [under]


def test_a_layer_that_is_not_ready_is_left_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    text = manifest_with(("a", "github"))
    fake_env(tmp_path / "cache" / "akd", layer_for(parse_manifest(text)).key, ready=False)  # an interrupted install
    own = fake_env(tmp_path, "cd" * 32)
    assert runner_site_dirs(tmp_path, "cd" * 32, text) == [own]
    assert runner_site_dirs(tmp_path, None, text) == []


def test_an_unreadable_manifest_gets_no_layer(tmp_path: Path) -> None:
    fake_env(tmp_path, layer_for(parse_manifest(manifest_with())).key)
    assert runner_site_dirs(tmp_path, None, "version: v2\nproject: [") == []


# -- the pins file ----------------------------------------------------------------------


def test_every_known_integration_has_pins_and_every_pin_a_known_integration() -> None:
    assert set(PINS) == set(integrations.known_names())


@pytest.mark.parametrize("line", sorted({*COMMON, *(line for lines in PINS.values() for line in lines)}))
def test_every_line_is_an_exact_pin(line: str) -> None:
    req = Requirement(line)
    assert str(req) == line, "written the way pip would print it"
    (spec,) = req.specifier
    assert spec.operator == "==" and re.fullmatch(r"\d+(\.\d+)+", spec.version), line
    assert Version(spec.version) >= Version("0.2") and not req.marker and not req.url and not req.extras
    assert req.name.lower() != "autokitteh", "akd provides autokitteh itself"


def test_each_package_is_pinned_at_one_version() -> None:
    versions: dict[str, set[str]] = {}
    for line in {*COMMON, *(line for lines in PINS.values() for line in lines)}:
        req = Requirement(line)
        versions.setdefault(re.sub(r"[-_.]+", "-", req.name).lower(), set()).add(str(req.specifier))
    assert {name: v for name, v in versions.items() if len(v) > 1} == {}
