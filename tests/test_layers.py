"""The package's layers and their one-way arrows (docs/architecture.md), checked on the source.

Imports go down only: daemon > app > mcp > web > api > services > engine > store. Modules
directly in ``akd/`` (errors, ids, config, manifest, secrets, ...) are shared helpers
below all of them and import none of the layers. SQL and ``sqlite3`` live only in
``akd/store/``. The runner side (``akd/runner``, ``akd/sdk``) runs in the user's process
and imports nothing of the daemon's layers.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

AKD = Path(__file__).resolve().parent.parent / "akd"
ORDER = ("daemon", "app", "mcp", "web", "api", "services", "engine", "store")
TOP = {"daemon": "daemon", "cli": "daemon", "__main__": "daemon", "app": "app"}
RUNNER_SIDE = ("runner", "sdk")
SQL = re.compile(r"""["'][^"']*\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM)\b""")


def _module(path: Path) -> str:
    parts = path.relative_to(AKD.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> str:
    """The layer of ``akd.x.y``: one of ORDER, 'runner', or 'shared' for akd's own helpers."""
    parts = module.split(".")
    if len(parts) < 2:
        return "shared"
    if parts[1] in TOP:
        return TOP[parts[1]]
    if parts[1] in ORDER:
        return parts[1]
    return "runner" if parts[1] in RUNNER_SIDE else "shared"


def _imports(path: Path) -> Iterator[tuple[int, str]]:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            if node.module == "akd":  # from akd import web
                yield from ((node.lineno, f"akd.{a.name}") for a in node.names)


def _sources() -> list[Path]:
    return sorted(p for p in AKD.rglob("*.py") if "fixtures" not in p.parts)


def _wrong_way(mine: str, theirs: str) -> bool:
    if mine == theirs or (theirs == "runner" and mine == "engine"):
        return False  # the engine speaks the runner's wire protocol (akd.runner.protocol)
    if mine in ("shared", "runner"):
        return theirs in ORDER or (mine == "shared" and theirs == "runner")
    return theirs in ORDER and ORDER.index(theirs) < ORDER.index(mine)


def test_imports_point_down_only() -> None:
    wrong = []
    for path in _sources():
        mine = _layer(_module(path))
        for line, name in _imports(path):
            if name.startswith("akd.") and _wrong_way(mine, _layer(name)):
                wrong.append(f"{path.relative_to(AKD.parent)}:{line} ({mine}) imports {name} ({_layer(name)})")
    assert not wrong, "imports against the layers' order:\n" + "\n".join(wrong)


def test_sql_and_sqlite_only_in_the_store() -> None:
    found = []
    for path in _sources():
        if _layer(_module(path)) == "store":
            continue
        text = path.read_text()
        found += [f"{path.relative_to(AKD.parent)}:{n} SQL" for n, line in enumerate(text.splitlines(), 1)
                  if SQL.search(line)]  # fmt: skip
        found += [f"{path.relative_to(AKD.parent)}:{line} imports sqlite3" for line, name in _imports(path)
                  if name == "sqlite3" and _layer(_module(path)) != "app"]  # fmt: skip
    assert not found, "SQL outside akd/store:\n" + "\n".join(found)


@pytest.mark.parametrize(("mine", "theirs", "wrong"), [
    ("api", "services", False), ("services", "api", True), ("engine", "services", True),
    ("store", "engine", True), ("shared", "store", True), ("web", "api", False), ("runner", "engine", True),
])  # fmt: skip
def test_the_rule_itself(mine: str, theirs: str, wrong: bool) -> None:
    assert _wrong_way(mine, theirs) is wrong


def test_the_sql_pattern_finds_the_stores_statements() -> None:
    for module in ("events", "sessions", "vars", "kv"):
        lines = (AKD / "store" / f"{module}.py").read_text().splitlines()
        assert any(SQL.search(line) for line in lines), module
